"""Experiments: the running experiments and residents' proposals."""
