"""Reading what people type: text that shows nothing is no text."""

from __future__ import annotations

from bot.app import App
from tests.people import person

#: Zero-width space, word joiner, right-to-left override, no-break space, zero-width joiner.
INVISIBLE = "\u200b\u2060\u202e\u00a0\u200d" * 4


async def test_a_question_of_only_invisible_characters_is_not_sent(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag")
    assert anna.keys == ["questions.ask"]
    await anna.send(INVISIBLE)
    assert anna.keys[0] == "answers.empty"
    assert await app.db.fetchval("SELECT COUNT(*) FROM questions") == 0
    # Emoji joined by a zero-width joiner are words enough.
    await anna.send("Wanneer komt de 👨\u200d👩\u200d👧 speeltuin?")
    assert anna.keys[0] == "questions.sent"
