"""The always-there parts: the main menu, help per role, a way back from every screen."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from bot.app import App
from handlers.contract import Reply, Role
from storage.clock import utcnow
from tests.people import civil_servant, person, row, subscribe, with_role
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
    assert ria.keys != ["general.unknown_command"]


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
        assert anna.keys != ["general.unknown_command"], command
