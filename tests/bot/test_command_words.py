"""Words typed after a command that does not read them come back with its answer: nothing a
person wrote is dropped without a word. A command that reads them (a title, an id, a page)
uses them; a stray word or a number is no message to give back; a group shows the person's
words to everyone already."""

from __future__ import annotations

import pytest

from bot.app import App
from handlers import FEATURES
from handlers.contract import Role
from tests.people import person, with_role
from tests.support import Chat

SENTENCE = "ik wil graag meedoen met de peiling over het park <b>nu</b> & snel 🌳"


async def test_a_sentence_after_a_list_command_comes_back_above_the_list(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send(f"/peilingen {SENTENCE}")
    assert anna.keys[0] == "general.words_not_used"
    assert anna.keys[1:] == ["consultations.none"]  # and then her answer, as ever
    assert "Wat je na /peilingen typte, heb ik niet gebruikt." in anna.text
    assert SENTENCE in anna.text  # as typed, markup as text
    # No advice to send it: in an open dialog it would answer the question there.
    assert "zonder commando" not in anna.text
    # In her language, named as she typed it.
    ed = await person(app, "ed", language="English")
    await ed.send(f"/polls {SENTENCE}")
    assert ed.keys[0] == "general.words_not_used"
    assert "I did not use what you typed after /polls." in ed.text


@pytest.mark.parametrize("typed", ["/menu graag", "/mijnvragen 2", "/peilingen", "/help ?"])
async def test_a_stray_word_or_a_number_after_a_command_is_no_message(
    app: App, typed: str
) -> None:
    anna = await person(app, "anna")
    await anna.send(typed)
    assert "general.words_not_used" not in anna.keys


async def test_a_command_that_reads_its_words_uses_them_and_gives_nothing_back(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/idee Meer bankjes langs het strand van IJmuiden")
    assert "general.words_not_used" not in anna.keys
    assert anna.keys[0] == "ideas.from_command_title"


async def test_a_sentence_after_an_unknown_or_not_yet_allowed_command_comes_back_too(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await anna.send(f"/stemen {SENTENCE}")
    assert anna.keys == ["general.words_not_used", "general.unknown_command_meant"]
    assert SENTENCE in anna.text
    # Before consent: the words come back with the question to agree first.
    new = Chat(app, user_id="nieuw", name="Nieuw")
    await new.send(f"/mijnvragen {SENTENCE}")
    assert new.keys == ["general.typed_not_kept", "general.consent_needed"]
    assert SENTENCE in new.text


async def test_a_first_start_with_a_sentence_after_it_gives_the_sentence_back(app: App) -> None:
    """On Matrix or the console people often begin with "/start" and what they want."""
    new = Chat(app, user_id="nieuw", name="Nieuw")
    await new.send(f"/start {SENTENCE}")
    assert new.keys == [
        "general.words_not_used",
        "onboarding.welcome",
        "onboarding.consent_question",
    ]
    assert SENTENCE in new.text


async def test_in_a_group_the_words_are_not_said_back(app: App) -> None:
    anna = await person(app, "anna")
    group = Chat(app, anna.user_id, name=anna.name, chat_id="-1009001")
    await group.handle(group.event(command="regels", args=SENTENCE, is_group=True))
    assert group.keys and "general.words_not_used" not in group.keys
    assert SENTENCE not in group.text


def _silent_commands() -> list[str]:
    """Every command whose answer does not read what is typed after it (its first name)."""
    return sorted(
        {
            spec.first
            for feature in FEATURES
            for spec in feature.commands.values()
            if not spec.words and spec.platforms is None
        }
    )


@pytest.mark.parametrize("command", _silent_commands())
async def test_every_command_that_does_not_read_its_words_gives_a_sentence_back(
    app: App, command: str
) -> None:
    admin = await with_role(app, await person(app, "ada"), Role.ADMIN)
    await admin.send(f"/{command} {SENTENCE}")
    assert admin.keys[0] == "general.words_not_used", command
    assert SENTENCE in admin.text
