"""Telegram's command menu over the real adapter: one menu per catalog language, each naming
that language's own commands in its own words, every command in it answered, and no entry
Telegram would refuse costing a language its menu."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.platforms.telegram import Telegram
from bot.router import Router
from handlers import FEATURES
from handlers.catalog import Catalog
from handlers.contract import Role
from handlers.feature import Feature, Registry
from handlers.locales import own_name
from tests.e2e.botapi import BotApiServer, FakeUser
from tests.e2e.telegram_support import running_bot, telegram_settings, texts, wait_for_text

pytestmark = pytest.mark.e2e

CATALOG = Catalog.load()

#: The command menu every resident sees, in this order, in Dutch (everyone's unless their
#: app speaks another catalog language) and English; staff commands are not in it.
MENU = [
    ("menu", "menu", "Hoofdmenu", "Main menu"),
    ("help", "help", "Hulp en uitleg", "Help"),
    ("annuleer", "cancel", "Stoppen met wat je nu doet", "Stop what you are doing"),
    ("taal", "language", "Taal kiezen", "Choose your language"),
    ("privacy", "privacy", "Privacy: wat we bewaren", "Privacy: what we keep"),
    ("mijngegevens", "mydata", "Alles wat we van je bewaren", "Everything we keep about you"),
    ("vergeetmij", "forgetme", "Je gegevens laten wissen", "Have your data erased"),
    ("ideeen", "ideas", "Ideeën bekijken", "Browse ideas"),
    ("mijnideeen", "myideas", "Mijn ideeën en hun status", "My ideas and their status"),
    ("idee", "idea", "Een idee insturen", "Send in an idea"),
    (
        "experimenten",
        "experiments",
        "Experimenten in je gemeente",
        "Experiments in your municipality",
    ),
    (
        "nieuwexperiment",
        "newexperiment",
        "Zelf een experiment voorstellen",
        "Propose an experiment",
    ),
    ("mijnvoorstellen", "myproposals", "Mijn voorstellen volgen", "Follow my proposals"),
    (
        "wistjedat",
        "news",
        "Wist je dat: nieuws van ambtenaren",
        "Wist je dat: news from civil servants",
    ),
    (
        "ambtenaren",
        "civilservants",
        "Ambtenaren en waar ze aan werken",
        "Civil servants and what they work on",
    ),
    ("vraag", "question", "Een vraag stellen", "Ask a question"),
    ("mijnvragen", "myquestions", "Mijn vragen en antwoorden", "My questions and answers"),
    (
        "stemmen",
        "vote",
        "Stemmen over het budget voor experimenten",
        "Vote on the budget for experiments",
    ),
    ("peilingen", "polls", "Peilingen: geef je mening", "Polls: give your opinion"),
    ("bijeenkomsten", "meetings", "Bijeenkomsten: kom langs", "Meetings: come along"),
]
DUTCH = [nl for nl, _, _, _ in MENU]
ENGLISH = [en for _, en, _, _ in MENU]


def menu(server: BotApiServer, lang: str) -> list[tuple[str, str]]:
    """The menu the server holds for ``lang`` ("" for everyone else), as (name, description)."""
    return [(c["command"], c["description"]) for c in server.commands[("default", lang)]]


async def test_each_languages_menu_names_its_own_commands_in_its_own_words(
    server: BotApiServer, tmp_path: Path
) -> None:
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")):
        pass  # stopping waits for the menus
    # Dutch for everyone, each other catalog language for its clients; no other scope.
    others = [lang for lang in CATALOG.languages if lang != "nl"]
    assert sorted(server.commands) == sorted([("default", ""), *(("default", o) for o in others)])
    assert menu(server, "") == [(nl, described) for nl, _, described, _ in MENU]
    assert menu(server, "en") == [(en, described) for _, en, _, described in MENU]
    for lang in set(others) - {"en"}:
        # No names of their own: the Dutch ones, described in the language.
        assert [name for name, _ in menu(server, lang)] == DUTCH, lang
        described = dict(menu(server, lang))
        assert described["taal"] == CATALOG.text(lang, "commands.language", {}, markup=False)
        assert described["taal"] != "Taal kiezen", lang


async def onboard_in(server: BotApiServer, user: FakeUser, lang: str) -> None:
    """Take someone whose app speaks ``lang`` through onboarding, choosing ``lang``."""
    user.send_text("/start")
    yes = CATALOG.text(lang, "onboarding.btn_consent_yes", {}, markup=False)
    await wait_for_text(server, user.chat_id, yes)
    for pressed, count in ((yes, 3), (own_name(lang), 4), ("IJmuiden", 5)):
        user.press(pressed)
        await server.wait_for_messages(user.chat_id, count, timeout=30)


async def sent_and_answered(app: App, server: BotApiServer, user: FakeUser, text: str) -> None:
    """Send ``text`` and wait until the bot has answered it in full (so what comes after is
    the answer to what is sent next)."""
    before = len(server.messages(user.chat_id))
    user.send_text(text)
    await server.wait_for(
        lambda: len(server.messages(user.chat_id)) > before,
        30,
        description=f"an answer to {text}",
    )
    await app.router.drain()


def refusals(lang: str, names: list[str]) -> list[str]:
    """What the bot says to a command it does not take (or not yet, or not now)."""
    unknown = [
        CATALOG.text(lang, "general.unknown_command", {"command": name}, markup=True)
        for name in names
    ]
    # With a command spelled alike named: what comes before that name.
    meant = [
        CATALOG.text(
            lang, "general.unknown_command_meant", {"command": name, "meant": "\0"}, markup=True
        ).split("\0")[0]
        for name in names
    ]
    return [
        *unknown,
        *meant,
        CATALOG.text(lang, "general.consent_needed", {}, markup=True),
        CATALOG.text(lang, "flood.slow_down", {}, markup=True),
    ]


async def test_every_command_in_every_menu_is_answered_in_that_language(
    server: BotApiServer, tmp_path: Path
) -> None:
    async def every_command_answered(user: FakeUser, lang: str) -> None:
        await onboard_in(server, user, lang)
        names = [name for name, _ in menu(server, "" if lang == CATALOG.default else lang)]
        assert names == (ENGLISH if lang == "en" else DUTCH), lang
        for name in names:
            await sent_and_answered(app, server, user, f"/{name}")
        refused = refusals(lang, names)
        assert [
            text for text in texts(server, user.chat_id) if any(r in text for r in refused)
        ] == []
        # What a command the bot does not take gets is recognised by the line above.
        await sent_and_answered(app, server, user, "/bestaatniet")
        assert refusals(lang, ["bestaatniet"])[0] in texts(server, user.chat_id)[-1]

    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await server.wait_for(lambda: len(server.commands) == len(CATALOG.languages), 30)
        people = [
            (server.user(6100 + index, language_code=lang), lang)
            for index, lang in enumerate(CATALOG.languages)
        ]
        await asyncio.gather(*(every_command_answered(user, lang) for user, lang in people))


async def test_telegram_refusing_one_languages_menu_leaves_the_others_theirs(
    server: BotApiServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail_next(
        "setMyCommands",
        error_code=400,
        description="Bad Request: nope",
        where={"language_code": "en"},
    )
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")):
        pass
    others = [lang for lang in CATALOG.languages if lang not in {"en", "nl"}]
    assert sorted(server.commands) == sorted([("default", ""), *(("default", o) for o in others)])
    assert "could not set the command menu in en" in caplog.text


async def test_a_failing_command_menu_is_logged_not_fatal(
    server: BotApiServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    every = len(CATALOG.languages)
    server.fail_next("setMyCommands", times=every, error_code=400, description="Bad Request: nope")
    anna = server.user(1002)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")):
        await anna.send_text("/help")
        await server.wait_for_messages(anna.chat_id, 1)
    assert "command menu" in caplog.text
    assert server.commands == {}


# Names and descriptions Telegram would refuse ----------------------------------------------

#: Over 256 characters, with markup and emoji; the English one is blank.
LONG = "<b>Heel</b> lang &amp; 🎉 " + "woord " * 60


def odd_commands() -> Feature:
    """Commands named and described as a careless declaration or translation might."""
    odd = Feature("odd")
    show_menu = FEATURES[0].commands["menu"].handler
    declared: list[tuple[str, dict[str, str] | None, str]] = [
        ("mijn-lijst", {"en": "my-list"}, "odd.list"),  # no name Telegram takes
        ("overzicht", {"en": "my-overview"}, "odd.overview"),  # the Dutch name fits
        ("x" * 33, None, "odd.list"),  # too long
        ("lang", None, "odd.long"),
    ]
    for name, translations, describe in declared:
        odd.command(
            name, translations=translations, describe=describe, consent=False, role=Role.RESIDENT
        )(show_menu)
    return odd


def odd_catalog() -> Catalog:
    texts: dict[str, dict[str, Any]] = {lang: dict(CATALOG.texts[lang]) for lang in CATALOG.texts}
    texts["nl"].update({"odd.list": "Lijst", "odd.overview": "Overzicht", "odd.long": LONG})
    texts["en"].update({"odd.list": "List", "odd.overview": "Overview", "odd.long": " \n "})
    return Catalog(texts)


@asynccontextmanager
async def bot_with(
    server: BotApiServer, tmp_path: Path, feature: Feature, catalog: Catalog
) -> AsyncIterator[App]:
    """The bot on Telegram with one more feature and another catalog, its menus set."""
    app = await App.open(telegram_settings(server, tmp_path / "bot.db"))
    app.catalog = catalog
    app.registry = Registry([*FEATURES, feature])
    app.router = Router(app.repos, app.registry, app.profile, app.catalog, app.settings.zone)
    adapter = Telegram(app)
    await adapter.start()
    try:
        await server.wait_for(lambda: len(server.commands) == len(CATALOG.languages), 30)
        yield app
    finally:
        await adapter.stop()
        await app.close()


async def test_an_entry_telegram_would_refuse_costs_no_language_its_menu(
    server: BotApiServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "bot.platforms._telegram_menu")
    ann = server.user(6201, language_code="en")
    async with bot_with(server, tmp_path, odd_commands(), odd_catalog()) as app:
        await sent_and_answered(app, server, ann, "/overzicht")
        await wait_for_text(server, ann.chat_id, "What would you like to do?")
    assert menu(server, "")[: len(MENU)] == [(nl, described) for nl, _, described, _ in MENU]
    assert [name for name, _ in menu(server, "")[len(MENU) :]] == ["overzicht", "lang"]
    assert [name for name, _ in menu(server, "en")] == [*ENGLISH, "overzicht", "lang"]
    assert [name for name, _ in menu(server, "pl")] == [*DUTCH, "overzicht", "lang"]
    long = dict(menu(server, ""))["lang"]
    assert len(long) == 256 and long.endswith("…") and long.startswith("Heel lang & 🎉 woord")
    assert dict(menu(server, "en"))["lang"] == long  # blank in English: the Dutch words
    assert "/mijn-lijst left out" in caplog.text and f"/{'x' * 33} left out" in caplog.text
    assert "/my-overview shown as /overzicht" in caplog.text


async def test_a_menu_of_more_than_100_commands_keeps_the_first_100(
    server: BotApiServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    many = Feature("many")
    show_menu = FEATURES[0].commands["menu"].handler
    for number in range(100):
        many.command(f"lijst{number}", describe="odd.list", role=Role.RESIDENT)(show_menu)
    async with bot_with(server, tmp_path, many, odd_catalog()):
        pass
    for lang in CATALOG.languages:
        names = [c["command"] for c in server.commands[("default", "" if lang == "nl" else lang)]]
        assert len(names) == 100, lang
        assert names[: len(MENU)] == (ENGLISH if lang == "en" else DUTCH), lang
        assert names[-1] == f"lijst{99 - len(MENU)}", lang
    assert "the last ones are left out" in caplog.text
