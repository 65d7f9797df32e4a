"""The features, one module per area, and the neutral contract they speak.

Nothing here imports a platform library or the runtime (``bot``): handlers receive an Event
in a Context and return a Response.
"""

from handlers import (
    civil_servants,
    comments,
    composer,
    connections,
    experiments,
    general,
    idea_submit,
    ideas,
    inbox,
    moderation,
    news,
    onboarding,
    oversight,
    posters,
    privacy,
    proposals,
    questions,
    reporting,
    roles,
    triage,
)
from handlers.feature import Feature, Registry

FEATURES: list[Feature] = [
    general.feature,
    onboarding.feature,
    privacy.feature,
    roles.feature,
    ideas.feature,
    idea_submit.feature,
    comments.feature,
    experiments.feature,
    proposals.feature,
    news.feature,
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
]


def registry() -> Registry:
    """Every feature's commands, buttons, dialogs and menu entries together."""
    return Registry(FEATURES)
