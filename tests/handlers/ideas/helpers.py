"""Helpers for the idea journeys: submit through the chat, or seed ideas straight in storage."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from storage.clock import utcnow
from storage.ideas.ideas import Idea
from tests.support import Chat

TITLE = "Meer bankjes in het Velserbeekpark"
DESCRIPTION = "Ouderen willen onderweg even kunnen uitrusten, vooral bij de vijver."


async def submit_idea(
    chat: Chat,
    title: str = TITLE,
    description: str = DESCRIPTION,
    *,
    category: str = "Ruimtelijke inrichting",
    neighbourhood: str = "Sla over",
    photo: bytes | None = None,
) -> None:
    """Go through the whole submit dialog up to and including 'Versturen'."""
    await chat.send("/idee")
    await chat.press(category)
    await chat.send(title)
    await chat.send(description)
    await chat.press(neighbourhood)
    if photo is None:
        await chat.press("Geen foto")
    else:
        await chat.photo(photo)
    await chat.press("Versturen")


async def seed_idea(
    app: App,
    title: str,
    *,
    category: str = "wonen",
    neighbourhood: str | None = "ijmuiden",
    author: int | None = None,
    description: str = "Een beschrijving die lang genoeg is voor een idee.",
    minutes: int = 0,
) -> Idea:
    """An idea stored directly, as if sent in ``minutes`` after now."""
    async with app.db.transaction():
        return await app.repos.ideas.create(
            category=category,
            title=title,
            description=description,
            neighbourhood=neighbourhood,
            photo_id=None,
            author_user_id=author,
            now=utcnow() + timedelta(minutes=minutes),
        )
