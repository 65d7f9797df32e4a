"""Idea storage: ideas, comments, statuses and triage."""
