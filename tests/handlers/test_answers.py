"""Reading what people type: text that shows nothing is no text, and what residents type is
measured as chat platforms count it, so it always fits the card that
shows it: an emoji counts two (UTF-16 units, as Telegram counts 4,096 a message).

2,000 emoji are 2,000 code points but 4,000 units: a description of that many was accepted
and made a card no one could open on Telegram. Each place a resident types text refuses it
with the usual friendly "too long", and stores nothing.
"""

from __future__ import annotations

import unicodedata

from bot.app import App
from handlers.answers import text_length, visible_length
from handlers.ideas.comments import MAX_LENGTH as COMMENT_MAX
from handlers.ideas.submit import DESCRIPTION_LENGTH, TITLE_LENGTH
from tests.handlers.ideas.helpers import seed_idea
from tests.people import person
from tests.people import person as resident

EMOJI = "🌳"


def over(limit: int) -> str:
    """Fewer emoji than ``limit`` (so within it in code points) but over it in units."""
    return EMOJI * (limit // 2 + 1)


def at(limit: int) -> str:
    return EMOJI * (limit // 2)


def test_an_emoji_counts_two_and_an_accent_one() -> None:
    assert text_length(EMOJI) == 2 and text_length("é") == 1 and text_length("") == 0
    assert len(over(2000)) <= 2000 < text_length(over(2000))


async def test_an_idea_title_and_description_are_measured_in_units(app: App) -> None:
    anna = await resident(app, "anna")
    await anna.send("/idee")
    await anna.press("Verkeer")
    await anna.send(over(TITLE_LENGTH[1]))
    assert anna.keys == ["ideas.title_too_long", "ideas.ask_title"]
    assert f"{TITLE_LENGTH[1] + 2} tekens" in anna.text
    await anna.send("Bomen langs de Zeeweg")
    await anna.send(over(DESCRIPTION_LENGTH[1]))
    assert anna.keys == ["ideas.description_too_long", "ideas.ask_description"]
    await anna.send(at(DESCRIPTION_LENGTH[1]))
    assert anna.keys == ["ideas.ask_neighbourhood"]
    await anna.press("Sla over")
    await anna.press("Geen foto")
    await anna.press("Versturen")
    idea = await app.repos.ideas.get(1)
    assert idea is not None and text_length(idea.description) == DESCRIPTION_LENGTH[1]


async def test_a_comment_is_measured_in_units(app: App) -> None:
    anna = await resident(app, "anna")
    idea = await seed_idea(app, "Een bankje bij de vijver")
    await anna.press_payload(f"idea.comment:{idea.id}")
    await anna.send(over(COMMENT_MAX))
    assert anna.keys == ["comments.too_long", "comments.ask"]
    assert await app.repos.comments.count(idea.id) == 0
    await anna.send(at(COMMENT_MAX))
    assert anna.keys[0] == "comments.added"


async def test_a_question_is_measured_in_units(app: App) -> None:
    anna = await resident(app, "anna")
    await anna.send("/vraag")
    await anna.send(over(2000))
    assert anna.keys == ["answers.too_long"]
    assert await app.repos.questions.open_threads() == []
    await anna.send(f"/vraag {over(2000)}")
    assert anna.keys[0] == "answers.too_long"
    assert await app.repos.questions.open_threads() == []


async def test_a_proposal_is_measured_in_units(app: App) -> None:
    anna = await resident(app, "anna")
    await anna.send("/nieuwexperiment")
    await anna.send(over(1000))
    assert anna.keys == ["answers.too_long", "proposals.ask_what"]
    await anna.send("Een buurtbieb in een oude telefooncel")
    await anna.send(over(200))
    assert anna.keys == ["answers.too_long", "proposals.ask_place"]
    assert await app.repos.proposals.queue() == []


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


async def test_too_short_says_the_minimum_in_each_languages_plural_form(app: App) -> None:
    # A question needs 2 characters: "2 znaków" was Polish for 5 and more only ("2 znaki").
    expected = {
        "Nederlands": "minstens 2 tekens",
        "English": "at least 2 characters",
        "Polski": "co najmniej 2 znaki.",
        "Українська": "щонайменше 2 символи.",
        "العربية": "اكتب حرفين على الأقل",
        "Türkçe": "En az 2 karakter",
    }
    for n, (language, words) in enumerate(expected.items()):
        someone = await person(app, f"p{n}", language=language)
        await someone.send("/vraag")
        await someone.send("x")
        assert someone.keys == ["answers.too_short"]
        assert words in someone.text, (language, someone.text)
    assert await app.db.fetchval("SELECT COUNT(*) FROM questions") == 0


async def test_a_question_of_only_spaces_tabs_and_controls_is_not_sent(app: App) -> None:
    # Plain ASCII text is counted without asking for each character's category: the same
    # characters show either way.
    anna = await person(app, "anna")
    await anna.send("/vraag")
    await anna.send(" \t\x0b\x0c\x1f\x7f" * 5)
    assert anna.keys[0] == "answers.empty"
    await anna.send(" \t\x1f~ \x7f")
    assert anna.keys[0] == "answers.too_short"
    assert await app.db.fetchval("SELECT COUNT(*) FROM questions") == 0
    shown = [chr(n) for n in range(128) if unicodedata.category(chr(n))[0] not in "CZ"]
    assert visible_length("".join(chr(n) for n in range(128))) == len(shown) == 94
