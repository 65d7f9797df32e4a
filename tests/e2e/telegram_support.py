"""Running the real bot (python-telegram-bot adapter) against the loopback Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.runtime import Runtime
from bot.settings import Settings
from tests.e2e.botapi import BotApiServer


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[BotApiServer]:
    """The loopback Bot API server, started for one test.

    A module or test passes options to :class:`BotApiServer` with a marker:
    ``pytestmark = pytest.mark.botapi(strict_chats=True)``.
    """
    marker = request.node.get_closest_marker("botapi")
    async with BotApiServer(**(marker.kwargs if marker else {})) as started:
        yield started


def telegram_settings(server: BotApiServer, db: Path, **overrides: Any) -> Settings:
    """Settings for a bot that talks to ``server`` and keeps its data in ``db``."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        db=db,
        telegram_token=server.token,
        telegram_api_url=server.base_url,
        **overrides,
    )


@asynccontextmanager
async def running_bot(settings: Settings) -> AsyncIterator[App]:
    """The whole bot with every configured platform started; stopped cleanly afterwards."""
    app = await App.open(settings)
    try:
        runtime = Runtime(app)
        await runtime.start()
        try:
            yield app
        finally:
            await runtime.stop()
    finally:
        await app.close()


def texts(server: BotApiServer, chat_id: int) -> list[str]:
    """Every text (or caption) the bot sent to a chat, in order."""
    return [text or "" for text in server.texts(chat_id)]


def labels(message: dict[str, Any]) -> list[str]:
    """The inline button labels under a bot message."""
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


async def wait_for_text(
    server: BotApiServer, chat_id: int, needle: str, *, after: int = 0, wait: float = 20.0
) -> str:
    """Wait until a bot message (after the first ``after`` ones) shows ``needle``.

    A message shows what its text (or caption) says and what its buttons are labelled.
    """

    def found() -> str | None:
        for message in server.messages(chat_id)[after:]:
            shown = "\n".join(
                [message.get("text") or message.get("caption") or "", *labels(message)]
            )
            if needle in shown:
                return shown
        return None

    result = await server.wait_for(found, wait, description=f"a message with {needle!r}")
    return str(result)


async def onboard(server: BotApiServer, user: Any, hood: str = "IJmuiden") -> None:
    """Take a fake Telegram user through onboarding in Dutch."""
    await user.send_text("/start")
    await wait_for_text(server, user.chat_id, "Ga je akkoord?")
    await user.press("Ja, ik doe mee")
    await wait_for_text(server, user.chat_id, "In welke taal")
    await user.press("Nederlands")
    await wait_for_text(server, user.chat_id, "In welke wijk")
    await user.press(hood)
    await wait_for_text(server, user.chat_id, "Klaar, welkom!")


#: The questions of the idea dialog, in order, as the resident reads them (what each step
#: waits for): the title, the description, the neighbourhood, the photo.
IDEA_QUESTIONS = {
    "title": "korte titel",
    "description": "20 tot 2.000 tekens",
    "neighbourhood": "Over welke wijk",
    "photo": "Geen foto",
}
IDEA_TITLE = "Meer bankjes in het Velserbeekpark"
IDEA_DESCRIPTION = "Ouderen willen onderweg even kunnen uitrusten, bij de vijver."


async def idea_until(server: BotApiServer, user: Any, step: str) -> Any:
    """Begin an idea with the buttons, as an onboarded resident does, until the question of
    ``step`` (see :data:`IDEA_QUESTIONS`); returns the update that sent the title, if any."""
    reach = list(IDEA_QUESTIONS).index(step)
    await user.send_text("/idee")
    await wait_for_text(server, user.chat_id, "Woningbeleid")
    await user.press("Woningbeleid")
    await wait_for_text(server, user.chat_id, IDEA_QUESTIONS["title"])
    title = None
    if reach >= 1:
        title = user.send_text(IDEA_TITLE)
        await wait_for_text(server, user.chat_id, IDEA_QUESTIONS["description"])
    if reach >= 2:
        await user.send_text(IDEA_DESCRIPTION)
        await wait_for_text(server, user.chat_id, IDEA_QUESTIONS["neighbourhood"])
    if reach >= 3:
        await user.press("Sla over")
        await wait_for_text(server, user.chat_id, IDEA_QUESTIONS["photo"])
    return title
