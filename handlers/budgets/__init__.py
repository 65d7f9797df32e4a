"""Budget rounds (the profile's ``[budgets] name``, in Velsen "Velsen kiest"): staff set a
round up, residents vote, the tally decides."""
