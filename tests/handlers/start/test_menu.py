"""The always-there parts: the main menu, help per role, a way back from every screen."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from bot.app import App
from handlers.contract import Reply, Role
from storage.clock import utcnow
from tests.people import civil_servant, person, refused_as_unknown, row, subscribe, with_role
from tests.support import Chat

MakeChat = Callable[..., Chat]


async def test_my_questions_is_in_the_main_menu(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/menu")
    assert "📨 Mijn vragen" in anna.last[-1].labels()
    await anna.press("Mijn vragen")
    assert anna.keys == ["questions.none"]


async def test_help_shows_staff_their_own_commands_and_residents_none(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/help")
    assert "/nieuwbericht" not in anna.text and "/wachtrij" not in anna.text
    ria = await civil_servant(app)
    await ria.send("/help")
    assert "Jouw commando's als medewerker" in ria.text
    assert "/nieuwbericht: Een Wist je dat schrijven" in ria.text
    assert "/gepland" in ria.text and "/wachtrij" not in ria.text
    async with app.db.transaction():
        await app.repos.users.set_role((await row(app, "ria")).id, Role.CONNECTOR)
    await ria.send("/help")
    assert "/wachtrij" in ria.text and "/inbox" in ria.text and "/nieuwbericht" in ria.text
    assert "/logboek" not in ria.text


async def test_help_names_staff_commands_as_the_staff_members_language_does(app: App) -> None:
    ria = await with_role(app, await person(app, "ria", language="English"), Role.CONNECTOR)
    await ria.send("/help")
    assert "/queue: " in ria.text and "/connect: Connect two residents" in ria.text
    assert "/inbox: " in ria.text  # no English name of its own
    assert "/wachtrij" not in ria.text and "/verbind" not in ria.text
    await ria.send("/queue")
    assert not ria.keys[0].startswith("general.unknown_command")


@pytest.mark.parametrize(
    "screen",
    ["/privacy", "/mijngegevens", "/wistjedat", "news.page:0", "news.hood", "/taal"],
)
async def test_every_screen_has_a_way_back_to_the_menu(app: App, screen: str) -> None:
    anna = await person(app, "anna", hood="Zeg ik liever niet")
    await subscribe(anna)
    news = [Reply(key="news.item", params={"text": "De speeltuin opent in mei."})]
    async with app.db.transaction():
        await app.repos.news.publish(
            [reply.model_dump(mode="json") for reply in news],
            audience_kind="all",
            audience_value=None,
            now=utcnow(),
        )
    if screen.startswith("/"):
        await anna.send(screen)
    else:
        await anna.press_payload(screen)
    assert "⬅️ Menu" in [label for seen in anna.last for label in seen.labels()], anna.keys


async def test_themes_are_explained_where_residents_pick_them(app: App) -> None:
    anna = await person(app, "anna")
    await subscribe(anna)
    await anna.press("Thema's kiezen")
    assert "Velsen is in trek!: wonen, werken, bedrijven" in anna.text
    assert "Velsen is samenspel: samenwerken" in anna.text


@pytest.mark.parametrize(
    ("language", "named"),
    [
        ("Nederlands", ["/peilingen", "/stemmen", "/privacy", "/bijeenkomsten"]),
        ("English", ["/polls", "/vote", "/privacy", "/meetings"]),
        ("Polski", ["/peilingen", "/stemmen", "/privacy", "/bijeenkomsten"]),
    ],
)
async def test_help_names_what_residents_can_do_and_every_command_it_names_works(
    app: App, language: str, named: list[str]
) -> None:
    anna = await person(app, "anna", language=language)
    await anna.send("/help")
    help_text = anna.text
    for command in named:
        assert command in help_text
    assert "Velsen kiest" in help_text or "Velsen decides" in help_text
    for command in sorted(set(re.findall(r"/[a-z]+", help_text))):
        await anna.send(command)
        assert not anna.keys[0].startswith("general.unknown_command"), command


async def test_a_mistyped_command_is_answered_with_the_one_meant_in_the_readers_language(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await anna.send("/stemen")
    assert anna.keys == ["general.unknown_command_meant"]
    assert "Het commando /stemen ken ik niet. Bedoel je /stemmen?" in anna.text
    await anna.send("/stemmen")  # the command it names works
    assert not anna.keys[0].startswith("general.unknown_command")
    ed = await person(app, "ed", language="English")
    await ed.send("/pols")
    assert "Did you mean /polls?" in ed.text
    # A Dutch name mistyped by an English reader: the command is named as English does.
    await ed.send("/peilinge")
    assert "Did you mean /polls?" in ed.text
    # Nothing alike: the plain answer, no guess.
    await anna.send("/xyzzy")
    assert anna.keys == ["general.unknown_command"]
    await anna.send("/" + "stemmen" * 10)
    assert anna.keys == ["general.unknown_command"]


async def test_a_mistyped_command_never_names_a_command_of_a_role_one_does_not_hold(
    app: App,
) -> None:
    ria = await civil_servant(app)
    await ria.send("/nieuwberict")
    assert "Bedoel je /nieuwbericht?" in ria.text
    anna = await person(app, "anna")
    for typed in ("/bericht", "/nieuwberich", "/stat", "/wachtrj", "/logboe"):
        await anna.send(typed)
        refused_as_unknown(app, anna)
        assert not re.search(r"/(nieuwbericht|stats|wachtrij|logboek)\b", anna.text), typed
    await anna.send("/stat")
    assert "Bedoel je /start?" in anna.text  # a command of hers, not staff's /stats
    # Revoked: the staff command is no longer guessed for her either.
    async with app.db.transaction():
        await app.repos.users.set_role((await row(app, "ria")).id, Role.RESIDENT)
    await ria.send("/nieuwberict")
    assert ria.keys == ["general.unknown_command"]


async def test_a_mistyped_command_in_the_middle_of_an_idea_keeps_the_idea(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/idee")
    await anna.press("Duurzaamheid")
    await anna.send("/stemen")
    assert anna.keys == ["general.unknown_command_meant"]
    # The idea's title is asked still, and taken.
    await anna.send("Zonnepanelen op het gemeentehuis")
    assert anna.keys == ["ideas.ask_description"]
