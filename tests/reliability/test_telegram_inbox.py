"""A kill at the worst moment of a Telegram update loses neither the update nor its answer.

``samenspel run`` runs as its own process against the loopback Bot API server and is killed
(SIGKILL) at two moments a resident's press "Versturen" (submit the idea) passes:

* after Telegram was told the update arrived (the offset of the bot's next getUpdates), but
  before it was handled: the bot's callback answer (its first call for a press) is held;
* after the idea was saved, but before the answer was sent: its messages are held.

Held calls never reach Telegram. After the restart the resident gets the answer exactly
once and the idea is saved once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.e2e.botapi import BotApiServer, FakeUser
from tests.e2e.telegram_support import labels, onboard, wait_for_text
from tests.reliability.bot_process import BotProcess

pytestmark = pytest.mark.e2e

TITLE = "Een bankje bij de haven van IJmuiden"
DESCRIPTION = "Zodat ouderen onderweg even kunnen uitrusten bij het water."
SUBMITTED = "ingestuurd als"


async def _to_the_preview(server: BotApiServer, anna: FakeUser) -> None:
    """Onboard and write an idea up to its preview, with the button "Versturen"."""
    await onboard(server, anna)
    await anna.send_text("/idee")
    await wait_for_text(server, anna.chat_id, "Woningbeleid")
    await anna.press("Woningbeleid")
    await wait_for_text(server, anna.chat_id, "korte titel")
    await anna.send_text(TITLE)
    await wait_for_text(server, anna.chat_id, "20 tot 2.000 tekens")
    await anna.send_text(DESCRIPTION)
    await wait_for_text(server, anna.chat_id, "Over welke wijk")
    await anna.press("Sla over")
    await wait_for_text(server, anna.chat_id, "Geen foto")
    await anna.press("Geen foto")
    await wait_for_text(server, anna.chat_id, "Versturen")


def _ideas(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(
            conn.execute("SELECT count(*) FROM ideas WHERE title = ?", (TITLE,)).fetchone()[0]
        )


def _submitted(server: BotApiServer, anna: FakeUser) -> int:
    """How many messages in Anna's chat say her idea was submitted (an edit counts once)."""
    return sum(
        SUBMITTED in "\n".join([m.get("text") or "", *labels(m)])
        for m in server.messages(anna.chat_id)
    )


@pytest.mark.parametrize(
    ("held", "saved_at_the_kill"),
    [
        pytest.param(("answerCallbackQuery",), 0, id="confirmed-not-handled"),
        pytest.param(("sendMessage", "editMessageText"), 1, id="saved-not-answered"),
    ],
)
async def test_a_kill_at_the_worst_moment_loses_neither_the_press_nor_its_answer(
    server: BotApiServer, tmp_path: Path, held: tuple[str, ...], saved_at_the_kill: int
) -> None:
    db = tmp_path / "bot.db"
    bot = BotProcess(server, db)
    anna = server.user(8101, first_name="Anna")
    try:
        await bot.start()
        await _to_the_preview(server, anna)

        server.hold(*held)
        pressed = anna.press("Versturen")
        await server.wait_for(
            lambda: (
                server.held and server.is_confirmed(pressed) and _ideas(db) == saved_at_the_kill
            ),
            30,
            description="the press confirmed to Telegram and held",
        )
        await bot.kill()
        server.release()
        assert bot.inbox() == [pressed.update_id], "the press waits in the inbox"
        assert _submitted(server, anna) == 0

        await bot.start()  # returns once the inbox is handled and empty
        await wait_for_text(server, anna.chat_id, SUBMITTED)
        assert _submitted(server, anna) == 1
        assert _ideas(db) == 1
    finally:
        await bot.end()
