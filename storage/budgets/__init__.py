"""Budget rounds ("Velsen kiest"): rounds, projects, ballots and the tally."""
