"""Meetings (bijeenkomsten): staff organise them, residents register, wait, get reminded."""
