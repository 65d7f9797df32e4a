"""Texts that count people, questions, answers or hours read right for one and for many:
"1 vraag", "3 vragen", never "1 vragen" or "vraag/vragen"."""

from __future__ import annotations

import re

import pytest

from bot.app import App
from handlers.catalog import Catalog, placeholders
from tests.meetings import evening
from tests.people import civil_servant
from tests.support import Chat

CATALOG = Catalog.load()

#: key -> (Dutch for 1, Dutch for 3, English for 1, English for 3), as they must appear.
COUNTED = {
    "consultations.item_new": ("1 vraag,", "3 vragen,", "1 question,", "3 questions,"),
    "consultations.ask_more": ("1 vraag (", "3 vragen (", "1 question (", "3 questions ("),
    "consultations.results": ("1 persoon.", "3 mensen.", "1 person.", "3 people."),
    "consultations.chart_subtitle": ("1 antwoord", "3 antwoorden", "1 answer", "3 answers"),
    "consultations.result_question": (
        "(1 antwoord)",
        "(3 antwoorden)",
        "(1 answer)",
        "(3 answers)",
    ),
    "consultations.published": (
        "1 persoon krijgt",
        "3 mensen krijgen",
        "1 person gets",
        "3 people get",
    ),
    "meetings.moved_done": ("aan 1 persoon.", "aan 3 mensen.", "to 1 person.", "to 3 people."),
    "meetings.cancel_sure": (
        "1 persoon krijgt",
        "3 mensen krijgen",
        "1 person will",
        "3 people will",
    ),
    "meetings.cancelled_done": ("aan 1 persoon.", "aan 3 mensen.", "to 1 person.", "to 3 people."),
    "meetings.guests": ("1 aanmelding", "3 aanmeldingen", "1 sign-up", "3 sign-ups"),
    "meetings.door_file": ("1 naam.", "3 namen.", "1 name.", "3 names."),
    "meetings.btn_hours": ("1 uur", "3 uur", "1 hour", "3 hours"),
    "oversight.log_title": ("(1 actie)", "(3 acties)", "(1 action)", "(3 actions)"),
}
#: Texts with more than one number, reworded so each reads right whatever it is.
REWORDED = {
    "inbox.title": ({"open": 1, "waiting": 1}, "1 open, 1 nog zonder antwoord", "1 waiting"),
    "meetings.invitation": ({"capacity": 1}, "Plaatsen: 1.", "Places: 1."),
}
#: Staff texts with several counts: key -> (the counted parameters, Dutch, English), each
#: sentence with ``{n}`` where every count is; other parameters are ``min=5``.
SEVERAL_COUNTS = {
    "moderation.card_history": (
        ("warnings", "mutes", "bans"),
        "Eerder: waarschuwingen {n} · gedempt {n} · geblokkeerd {n}.",
        "Before: warnings {n} · muted {n} · banned {n}.",
    ),
}
#: A noun with its plural ending in brackets: "waarschuwing(en)", "time(s)".
LAZY_PLURAL = re.compile(r"[^\W\d_]\((?:en|s|e|n|es)\)")
#: What a count in front of a noun must never look like.
WRONG = (
    "1 vragen",
    "1 mensen",
    "1 antwoorden",
    "1 acties",
    "1 plaatsen",
    "1 wachten",
    "(en)",
    "/",
    "(s)",
    "1 questions",
    "1 people",
    "1 answers",
    "1 hours",
    "1 places",
    "1 actions",
)


def _filled(lang: str, key: str, count: int, extra: dict[str, int] | None = None) -> str:
    params: dict[str, object] = dict.fromkeys(placeholders(CATALOG.texts[lang][key]), "x")
    params.update({"count": count, **(extra or {})})
    return CATALOG.text(lang, key, params, markup=False)


@pytest.mark.parametrize("key", sorted(COUNTED))
def test_a_counted_text_reads_right_for_one_and_for_three(key: str) -> None:
    nl_one, nl_three, en_one, en_three = COUNTED[key]
    assert nl_one in _filled("nl", key, 1)
    assert nl_three in _filled("nl", key, 3)
    assert en_one in _filled("en", key, 1)
    assert en_three in _filled("en", key, 3)
    for lang in ("nl", "en"):
        assert not any(wrong in _filled(lang, key, 1) for wrong in WRONG), (lang, key)


@pytest.mark.parametrize("key", sorted(REWORDED))
def test_a_text_with_several_numbers_reads_right_for_one(key: str) -> None:
    params, nl, en = REWORDED[key]
    assert nl in _filled("nl", key, 1, params)
    assert en in _filled("en", key, 1, params)
    for lang in ("nl", "en"):
        assert not any(wrong in _filled(lang, key, 1, params) for wrong in WRONG), (lang, key)


@pytest.mark.parametrize("key", sorted(SEVERAL_COUNTS))
@pytest.mark.parametrize("n", [1, 3])
def test_a_text_with_several_counts_reads_right_for_one_and_for_three(key: str, n: int) -> None:
    counted, nl, en = SEVERAL_COUNTS[key]
    params = {"min": 5, **dict.fromkeys(counted, n)}
    assert nl.format(n=n) in _filled("nl", key, n, params)
    assert en.format(n=n) in _filled("en", key, n, params)
    for lang in ("nl", "en"):
        assert not any(wrong in _filled(lang, key, n, params) for wrong in WRONG), (lang, key)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_no_text_puts_a_plural_ending_in_brackets(lang: str) -> None:
    lazy = {
        key: form
        for key, entry in CATALOG.texts[lang].items()
        for form in (entry.values() if isinstance(entry, dict) else [entry])
        if LAZY_PLURAL.search(form)
    }
    assert lazy == {}


async def test_the_meeting_lengths_say_one_hour_and_two_hours(app: App) -> None:
    ria: Chat = await civil_servant(app)
    await ria.send("/nieuwebijeenkomst")
    await ria.send("Buurtavond")
    await ria.send("We praten over de speeltuin.")
    await ria.press("Op een adres")
    await ria.send("Zeewijkplein 1, IJmuiden")
    await ria.press("IJmuiden")
    await ria.press("Geen kaart")
    await ria.send(evening(app.router.clock()).strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["meetings.ask_ends"]
    buttons = [b for seen in ria.last for row in seen.reply.buttons for b in row]
    shown = [app.catalog.label("en", b) for b in buttons]
    assert shown[:3] == ["1 hour", "2 hours", "3 hours"]
    assert ria.last[0].labels()[:3] == ["1 uur", "2 uur", "3 uur"]
