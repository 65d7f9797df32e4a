"""Running the real bot (python-telegram-bot adapter) against the loopback Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.app import App
from bot.runtime import Runtime
from bot.settings import Settings
from tests.e2e.botapi import BotApiServer

TOKEN = "123456:TEST-token"


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
    runtime = Runtime(app)
    try:
        await runtime.start()
        yield app
    finally:
        await runtime.stop()
        await app.close()


def texts(server: BotApiServer, chat_id: int) -> list[str]:
    """Every text (or caption) the bot sent to a chat, in order."""
    return [text or "" for text in server.texts(chat_id)]


def labels(message: dict[str, Any]) -> list[str]:
    """The inline button labels under a bot message."""
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
