"""The features, grouped in one folder per domain, and the neutral contract they speak.

Nothing here imports a platform library or the runtime (``bot``): handlers receive an Event
in a Context and return a Response.

- ``start/``: the welcome and onboarding, the main menu, help and fallbacks, what is typed
  outside any dialog, the welcome back for someone the bot could not reach
- ``ideas/``: submitting, browsing and discussing ideas, and their triage
- ``experiments/``: the running experiments, residents' proposals and their triage
- ``news/``: "Wist je dat", the composer, civil servants' cards, posters
- ``community/``: moderation of reported comments and ideas, questions to the connector,
  the inbox, connections
- ``consultations/``: "Velsen vraagt": polls, consultations and evaluations of experiments
- ``privacy/``: the privacy statement, a person's data export and erasure
- ``staff/``: roles and invites, the audit log, statistics
- ``budgets/``: budget rounds ("Velsen kiest"): set up by staff, voted on by residents
- ``meetings/``: meetings (bijeenkomsten): organised by staff, residents register

Beside them the core: ``contract`` (Event, Context, Response), ``feature`` (the registry),
``review`` (the one pipeline staff decide in: triage, moderation, the inbox), ``catalog``
(texts), ``profile`` (the municipality), and small helpers every feature uses (``answers``,
``phrases``, ``notices``, ``money``, ``when``).
"""

from handlers.budgets import rounds as budget_rounds
from handlers.budgets import voting as budget_voting
from handlers.community import connections, inbox, moderation, questions
from handlers.consultations import answer, compose, manage
from handlers.experiments import join, proposals, rooms
from handlers.feature import Feature, Registry
from handlers.ideas import browse, comments, submit, triage
from handlers.meetings import attend as meeting_attend
from handlers.meetings import browse as meeting_browse
from handlers.meetings import compose as meeting_compose
from handlers.meetings import manage as meeting_manage
from handlers.news import civil_servants, composer, posters, wist_je_dat
from handlers.privacy import your_data
from handlers.staff import oversight, reporting, roles
from handlers.start import menu, onboarding, returning, typed

FEATURES: list[Feature] = [
    menu.feature,
    typed.feature,
    onboarding.feature,
    returning.feature,
    your_data.feature,
    roles.feature,
    browse.feature,
    submit.feature,
    comments.feature,
    join.feature,
    rooms.feature,
    proposals.feature,
    wist_je_dat.feature,
    composer.feature,
    civil_servants.feature,
    questions.feature,
    posters.feature,
    triage.feature,
    moderation.feature,
    reporting.feature,
    inbox.feature,
    connections.feature,
    oversight.feature,
    budget_voting.feature,
    budget_rounds.feature,
    answer.feature,
    compose.feature,
    manage.feature,
    meeting_browse.feature,
    meeting_attend.feature,
    meeting_compose.feature,
    meeting_manage.feature,
]


def registry() -> Registry:
    """Every feature's commands, buttons, dialogs and menu entries together."""
    return Registry(FEATURES)
