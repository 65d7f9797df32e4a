"""Consultations ("Velsen vraagt"): polls, short consultations and evaluations of experiments."""
