"""Budget rounds ("Velsen kiest"): staff set a round up, residents vote, the tally decides."""
