"""What residents type never changes how a message looks: on Telegram and in the console.

An idea titled ``<b>x</b> & <a href="y">`` with a description full of Markdown, and a comment
with a script tag, are sent through the real adapters. Every message that shows them is
checked against the same message for a plain twin idea: the same markup (the catalog's), and
the resident's text shown literally, character for character.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.platforms.console import Console
from tests.e2e.botapi import BotApiServer, FakeUser
from tests.e2e.telegram_support import onboard, running_bot, telegram_settings, wait_for_text
from tests.markup import assert_user_text_literal

pytestmark = pytest.mark.e2e

TITLE = '<b>x</b> & <a href="y">'
DESCRIPTION = "*bold* _it_ [l](u) en `code`, <i>schuin</i> &amp; </pre> {title} %s"
COMMENT = "<script>alert(1)</script> **vet** &lt;b&gt; </b>"
PLAIN_TITLE = "Gewoon een voorstel"
PLAIN_DESCRIPTION = "Een heel gewoon verhaal over bloemen in de wijk, zonder tekens."
PLAIN_COMMENT = "Een gewone reactie"


def _sent(server: BotApiServer, user: FakeUser, needle: str, after: int = 0) -> dict[str, Any]:
    """The newest bot message in a chat (after the first ``after``) whose HTML has needle."""
    for message in reversed(server.messages(user.chat_id)[after:]):
        if needle in (message.get("text") or ""):
            return message
    raise AssertionError(f"no message with {needle!r}")


def _labels(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


async def _submit(server: BotApiServer, user: FakeUser, title: str, description: str) -> str:
    """Submit an idea; returns the HTML of its preview."""
    await user.send_text("/idee")
    await wait_for_text(server, user.chat_id, "Verkeer")
    await user.press("Verkeer")
    await wait_for_text(server, user.chat_id, "korte titel")
    await user.send_text(title)
    await wait_for_text(server, user.chat_id, "20 tot 2.000 tekens")
    await user.send_text(description)
    await wait_for_text(server, user.chat_id, "Over welke wijk")
    await user.press("Sla over")
    await wait_for_text(server, user.chat_id, "Geen foto")
    before = len(server.messages(user.chat_id))
    await user.press("Geen foto")
    await wait_for_text(server, user.chat_id, "Versturen", after=before)
    preview = _sent(server, user, "Zo ziet je idee eruit", after=before)["text"]
    await user.press("Versturen")
    await wait_for_text(server, user.chat_id, "Dank je wel", after=before)
    return str(preview)


async def _card(server: BotApiServer, user: FakeUser, number: int) -> dict[str, Any]:
    before = len(server.messages(user.chat_id))
    user.press_data(f"idea.open:{number}")
    await wait_for_text(server, user.chat_id, f"#{number}", after=before)
    return _sent(server, user, f"#{number}", after=before)


async def _comment(server: BotApiServer, user: FakeUser, number: int, body: str) -> str:
    """Comment on an idea; returns the HTML of the thread shown after it was placed."""
    before = len(server.messages(user.chat_id))
    user.press_data(f"idea.comment:{number}")
    await wait_for_text(server, user.chat_id, "Typ je reactie", after=before)
    before = len(server.messages(user.chat_id))
    await user.send_text(body)
    await wait_for_text(server, user.chat_id, "Reacties op", after=before)
    return str(_sent(server, user, "Reacties op", after=before)["text"])


async def test_markup_in_ideas_and_comments_stays_literal_text_on_telegram(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna, bram, carla = server.user(4001), server.user(4002), server.user(4003)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")):
        for user in (anna, bram, carla):
            await onboard(server, user)
        evil_preview = await _submit(server, anna, TITLE, DESCRIPTION)
        plain_preview = await _submit(server, bram, PLAIN_TITLE, PLAIN_DESCRIPTION)
        assert_user_text_literal(evil_preview, [TITLE, DESCRIPTION], reference=plain_preview)

        evil_card, plain_card = await _card(server, carla, 1), await _card(server, carla, 2)
        assert_user_text_literal(
            evil_card["text"], [TITLE, DESCRIPTION], reference=plain_card["text"]
        )

        before = len(server.messages(carla.chat_id))
        await carla.send_text("/ideeen")
        await wait_for_text(server, carla.chat_id, "Pagina 1", after=before)
        listing = _sent(server, carla, "Pagina 1", after=before)
        assert_user_text_literal(listing["text"], [TITLE, PLAIN_TITLE])
        # Button labels are plain text on Telegram: the title exactly as typed.
        assert f"#1 {TITLE}" in _labels(listing)

        evil_thread = await _comment(server, carla, 1, COMMENT)
        plain_thread = await _comment(server, carla, 2, PLAIN_COMMENT)
        assert_user_text_literal(evil_thread, [TITLE, COMMENT])
        assert_user_text_literal(plain_thread, [PLAIN_TITLE, PLAIN_COMMENT])
        # Same markup as the plain thread once the titles are the same length of text.
        assert_user_text_literal(
            evil_thread.replace(_escaped(TITLE), _escaped(PLAIN_TITLE)),
            [PLAIN_TITLE, COMMENT],
            reference=plain_thread,
        )
        assert not server.errors, server.errors


def _escaped(text: str) -> str:
    import html

    return html.escape(text, quote=False)


async def test_markup_in_an_idea_stays_literal_text_in_the_console(app: App) -> None:
    lines = [
        "/start",
        "1",
        "Nederlands",
        "IJmuiden",
        "/idee",
        "Verkeer en vervoer / bereikbaarheid",
        TITLE,
        DESCRIPTION,
        "Sla over",
        "Geen foto",
        "Versturen",
        "/ideeen",
        "1",
    ]
    out = io.StringIO()
    console = Console(app, "anna", io.StringIO("\n".join(lines) + "\n"), out)
    await console.run()
    printed = out.getvalue()
    # The card (the last block) shows both texts exactly as typed.
    card = printed.rsplit("> 1\n", 1)[1]
    assert TITLE in card and DESCRIPTION in card
    # Apart from what anna typed (and echoed), nothing looks like markup or an entity.
    rest = printed.replace(TITLE, "").replace(DESCRIPTION, "")
    for leftover in ("<b>", "</b>", "<i>", "&lt;", "&gt;", "&amp;"):
        assert leftover not in rest, f"{leftover!r} in the console output"
