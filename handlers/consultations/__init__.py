"""Consultations ("Velsen vraagt"): the municipality asks, residents answer, results come back.

- ``shown``: how a consultation looks to residents (the invitation, a question, a review)
- ``answer``: residents answer question by question, change answers, list consultations
- ``compose``: civil servants compose a poll, preview it and publish it now or later
- ``manage``: staff follow the counts, close early, edit, review typed answers
- ``results``: counts as text and charts, and the results sent to respondents at closing
- ``jobs``: what the scheduler does: open, remind, close; evaluations of experiments
"""
