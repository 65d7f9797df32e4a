"""Experiment storage: experiments and proposals."""
