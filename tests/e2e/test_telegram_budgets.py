"""A budget round ("Velsen kiest") through the real Telegram adapter and the real scheduler,
with the bot restarted between opening, the reminder and the close.

The scheduler triggers on real time, so instead of waiting days the test moves the round's
closing moment while the bot is stopped, as if those days had passed."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.budgets.rounds import MAX_PROJECTS
from handlers.contract import Role
from storage.budgets.rounds import NewProject
from storage.clock import iso
from tests.e2e.botapi import BotApiServer
from tests.e2e.telegram_support import labels, onboard, telegram_settings, texts, wait_for_text
from tests.e2e.test_telegram_residents import png

pytestmark = pytest.mark.e2e


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[App]:
    """The whole bot with its scheduler."""
    app = await App.open(settings)
    try:
        runtime = Runtime(app)
        await runtime.start()
        try:
            yield app
        finally:
            await runtime.stop()
    finally:
        await app.close()


def move_closing(settings: Settings, closes: datetime) -> None:
    """Move every round's period (the bot is stopped) so it closes at ``closes``, as if the
    days in between had passed."""
    with sqlite3.connect(settings.db) as db:
        db.execute(
            "UPDATE budget_rounds SET opens_at = ?, closes_at = ?",
            (iso(closes - timedelta(days=10)), iso(closes)),
        )


async def test_a_budget_round_over_telegram_survives_restarts_and_reminds_and_closes(
    server: BotApiServer, tmp_path: Path
) -> None:
    settings = telegram_settings(server, tmp_path / "bot.db")
    ria = server.user(4001, first_name="Ria")
    anna = server.user(4002, first_name="Anna")
    bob = server.user(4003, first_name="Bob")
    cees = server.user(4004, first_name="Cees")
    closes_local = (datetime.now(UTC) + timedelta(days=10)).astimezone(settings.zone)
    closes_typed = closes_local.strftime("%d-%m-%Y 17:00")

    async with running(settings) as app:
        for someone in (ria, anna, bob, cees):
            await onboard(server, someone)
        user = await app.repos.users.find("telegram", str(ria.id))
        assert user is not None
        async with app.db.transaction():
            await app.repos.users.set_role(user.id, Role.CONNECTOR)

        ria.send_text("/nieuweronde")
        await wait_for_text(server, ria.chat_id, "Hoe heet de stemronde?")
        ria.send_text("Velsen kiest <b>2027</b>")
        await wait_for_text(server, ria.chat_id, "Hoeveel geld")
        ria.send_text("10.000")
        await wait_for_text(server, ria.chat_id, "Geen wijkbudgetten")
        ria.press("Geen wijkbudgetten")
        await wait_for_text(server, ria.chat_id, "titel | kosten")
        ria.send_text("Speeltuin | 6000 | Nieuwe toestellen & een <bank> | IJmuiden")
        await wait_for_text(server, ria.chat_id, "Toegevoegd: <b>Speeltuin</b> · €\u00a06.000")
        ria.send_photo(png())
        await wait_for_text(server, ria.chat_id, "De foto hoort nu bij <b>Speeltuin</b>")
        ria.send_text("Bankjes | 3000 | Bankjes langs het water")
        await wait_for_text(server, ria.chat_id, "Toegevoegd: <b>Bankjes</b>")
        ria.send_text("Moestuin | 3000 | Een moestuin bij de school")
        await wait_for_text(server, ria.chat_id, "Toegevoegd: <b>Moestuin</b>")
        await wait_for_text(server, ria.chat_id, "Klaar met projecten")
        ria.press("Klaar met projecten")
        await wait_for_text(server, ria.chat_id, "Wanneer begint")
        ria.press("Nu")
        await wait_for_text(server, ria.chat_id, "Wanneer stopt")
        ria.send_text(closes_typed)
        await wait_for_text(server, ria.chat_id, "Wie mag stemmen?")
        ria.press("📮 Postcode in de gemeente")
        await wait_for_text(server, ria.chat_id, "evenveel stemmen")
        ria.press("💶 Goedkoopste project eerst")
        await wait_for_text(server, ria.chat_id, "Klopt alles?")
        assert any(
            "Wie: alleen inwoners met een postcode in 1951" in t
            for t in texts(server, ria.chat_id)
        )
        ria.press("Openen")
        await wait_for_text(server, ria.chat_id, "is open tot")
        [round_] = await app.repos.budgets.all()
        ids = {p.title: p.id for p in await app.repos.budgets.projects(round_.id)}

        def add(title: str) -> str:
            return f"bv.add:{round_.id}:{ids[title]}"

        # A postcode round: first the four digits, nothing more.
        anna.send_text("/stemmen")
        await wait_for_text(server, anna.chat_id, "vier cijfers")
        anna.send_text("1971 AB")
        await wait_for_text(server, anna.chat_id, "zonder de letters")
        anna.send_text("🏠")
        await wait_for_text(server, anna.chat_id, "Dat is geen postcode")
        anna.send_text("1971")
        await wait_for_text(server, anna.chat_id, "Stem uitbrengen")
        assert any(
            "Velsen kiest &lt;b&gt;2027&lt;/b&gt;" in t for t in texts(server, anna.chat_id)
        )
        # A project's name opens its card: its photo, then what it is, staff's text escaped.
        anna.press("Speeltuin")
        await wait_for_text(server, anna.chat_id, "Nieuwe toestellen &amp; een &lt;bank&gt;")
        [photo] = [m for m in server.messages(anna.chat_id) if m.get("photo")]
        assert "<b>Speeltuin</b>" in photo["caption"]
        anna.press_data(add("Speeltuin"))
        await wait_for_text(server, anna.chat_id, "Over: €\u00a04.000")
        anna.press_data(add("Moestuin"))
        await wait_for_text(server, anna.chat_id, "Over: €\u00a01.000")
        anna.press_data(add("Bankjes"))
        await wait_for_text(server, anna.chat_id, "Dat past niet")
        anna.press("🗳️ Stem uitbrengen")
        await wait_for_text(server, anna.chat_id, "Klopt dat?")
        anna.press("Ja, stem uitbrengen")
        await wait_for_text(server, anna.chat_id, "Bedankt!")

        bob.send_text("/stemmen")
        await wait_for_text(server, bob.chat_id, "vier cijfers")
        bob.send_text("1951")
        await wait_for_text(server, bob.chat_id, "Stem uitbrengen")
        bob.press_data(add("Bankjes"))
        await wait_for_text(server, bob.chat_id, "Over: €\u00a07.000")
        bob.press("🗳️ Stem uitbrengen")
        await wait_for_text(server, bob.chat_id, "Klopt dat?")
        bob.press("Ja, stem uitbrengen")
        await wait_for_text(server, bob.chat_id, "Bedankt!")
        bob.press_data(add("Moestuin"))
        await wait_for_text(server, bob.chat_id, "Stem opnieuw")
        bob.press("🗳️ Stem uitbrengen")
        await wait_for_text(server, bob.chat_id, "op deze projecten, samen €\u00a06.000")
        bob.press("Ja, stem uitbrengen")
        await wait_for_text(server, bob.chat_id, "Je nieuwe keuze")

        cees.send_text("/stemmen")
        await wait_for_text(server, cees.chat_id, "vier cijfers")
        cees.send_text("2011")  # Haarlem: not in this round
        await wait_for_text(server, cees.chat_id, "kun je helaas niet stemmen")
        # Only the postcodes that let someone vote are kept: Anna's and Bob's.
        kept = await app.db.fetchall("SELECT postcode FROM budget_ballots ORDER BY postcode")
        assert [r[0] for r in kept] == ["1951", "1971"]
        before = len(server.messages(cees.chat_id))
        cees.press("✏️ Ik heb me vergist")
        await wait_for_text(server, cees.chat_id, "vier cijfers", after=before)
        cees.send_text("1985")
        await wait_for_text(server, cees.chat_id, "Stem uitbrengen")
        cees.press_data(add("Speeltuin"))
        await wait_for_text(server, cees.chat_id, "Over: €\u00a04.000")
        # A forged button (a project of no round, an overlong id) changes nothing.
        cees.press_data(f"bv.add:{round_.id}:999999")
        await wait_for_text(server, cees.chat_id, "kan ik niet vinden")

    # Restarted two days before closing: the scheduler finds the reminder due, once.
    move_closing(settings, datetime.now(UTC) + timedelta(days=2) - timedelta(minutes=1))
    cees_before = len(server.messages(cees.chat_id))
    async with running(settings):
        await wait_for_text(server, cees.chat_id, "nog niet gestemd", after=cees_before)
        # Cees's choice (and postcode) survived the restart: no question again.
        cees.send_text("/stemmen")
        await wait_for_text(server, cees.chat_id, "Over: €\u00a04.000", after=cees_before)
    reminders = [t for t in texts(server, cees.chat_id) if "gekozen in" in t]
    assert len(reminders) == 1 and "1 project gekozen" in reminders[0]
    assert not any(
        "nog niet gestemd." in t and "gekozen in" in t for t in texts(server, anna.chat_id)
    )

    # Restarted after closing: the round closes and the result reaches the voters.
    move_closing(settings, datetime.now(UTC) - timedelta(minutes=1))
    async with running(settings) as app:
        for voter in (anna, bob):
            shown = await wait_for_text(server, voter.chat_id, "Uitslag")
            # Two voters: fewer than Velsen's 5, so the winners without their votes.
            assert "Er hebben minder dan 5 mensen gestemd." in shown
            assert "stemmen:" not in shown and "Aantal stemmers" not in shown
            # 1 vote each for Bankjes and Speeltuin: the cheaper wins the tie, and then
            # Speeltuin (€ 6.000) no longer fits the € 4.000 left.
            assert "🏆 Moestuin" in shown and "🏆 Bankjes" in shown
            assert "• Speeltuin" in shown and "samen €\u00a06.000 van €\u00a010.000" in shown
            assert "wint het goedkoopste project" in shown
        projects = {p.title: p for p in await app.repos.budgets.projects(round_.id)}
        assert {t: (p.votes, p.winner) for t, p in projects.items()} == {
            "Speeltuin": (1, False),
            "Moestuin": (2, True),
            "Bankjes": (1, True),
        }
        anna_before = len(server.messages(anna.chat_id))
        anna.press_data(add("Bankjes"))
        await wait_for_text(server, anna.chat_id, "is gesloten", after=anna_before)
    assert not any("Uitslag" in t for t in texts(server, cees.chat_id))
    # Every button the bot sent fits Telegram's 64 bytes of callback data.
    for chat in (ria.chat_id, anna.chat_id, bob.chat_id, cees.chat_id):
        for message in server.messages(chat):
            markup = message.get("reply_markup") or {}
            for line in markup.get("inline_keyboard", []):
                for button in line:
                    assert len(button.get("callback_data", "").encode()) <= 64


GROUP = -5002


async def test_a_round_opened_now_invites_residents_over_telegram_with_a_working_button(
    server: BotApiServer, tmp_path: Path
) -> None:
    settings = telegram_settings(server, tmp_path / "bot.db")
    server.group(GROUP, title="Buurtgroep Zeewijk")
    ria = server.user(4101, first_name="Ria")
    anna = server.user(4102, first_name="Anna")
    closes_local = (datetime.now(UTC) + timedelta(days=10)).astimezone(settings.zone)

    async with running(settings) as app:
        for someone in (ria, anna):
            await onboard(server, someone)
        # Anna talks in a neighbourhood group with the bot too.
        anna.send_text("/stemmen@test_bot", chat_id=GROUP)
        await server.wait_for_messages(GROUP, 1)
        user = await app.repos.users.find("telegram", str(ria.id))
        assert user is not None
        async with app.db.transaction():
            await app.repos.users.set_role(user.id, Role.CONNECTOR)

        ria.send_text("/nieuweronde")
        await wait_for_text(server, ria.chat_id, "Hoe heet de stemronde?")
        ria.send_text("Velsen kiest <b>2027</b>")
        await wait_for_text(server, ria.chat_id, "Hoeveel geld")
        ria.send_text("10.000")
        await wait_for_text(server, ria.chat_id, "Geen wijkbudgetten")
        ria.press("Geen wijkbudgetten")
        await wait_for_text(server, ria.chat_id, "titel | kosten")
        ria.send_text("Speeltuin | 6000 | Nieuwe toestellen")
        await wait_for_text(server, ria.chat_id, "Klaar met projecten")
        ria.press("Klaar met projecten")
        await wait_for_text(server, ria.chat_id, "Wanneer begint")
        ria.press("Nu")
        await wait_for_text(server, ria.chat_id, "Wanneer stopt")
        ria.send_text(closes_local.strftime("%d-%m-%Y 17:00"))
        await wait_for_text(server, ria.chat_id, "Wie mag stemmen?")
        ria.press("Alle inwoners die meedoen")
        await wait_for_text(server, ria.chat_id, "evenveel stemmen")
        ria.press("💶 Goedkoopste project eerst")
        await wait_for_text(server, ria.chat_id, "Klopt alles?")
        ria.press("Openen")
        await wait_for_text(server, ria.chat_id, "We nodigen 2 inwoners uit om te stemmen.")
        [round_] = await app.repos.budgets.all()

        # The invitation reaches Anna's own chat, the round's name escaped, with its button.
        shown = await wait_for_text(server, anna.chat_id, "is begonnen!")
        assert "🗳️ <b>Velsen kiest &lt;b&gt;2027&lt;/b&gt;</b> is begonnen!" in shown
        assert "Je mag meebeslissen waar €\u00a010.000 naartoe gaat." in shown
        [invitation] = [m for m in server.messages(anna.chat_id) if "is begonnen" in m["text"]]
        buttons = {
            b["text"]: b["callback_data"]
            for line in invitation["reply_markup"]["inline_keyboard"]
            for b in line
        }
        assert buttons["🗳️ Stemmen"] == f"bv.round:{round_.id}"
        assert all(len(data.encode()) <= 64 for data in buttons.values())
        # The connector gets the report at the end, as for a broadcast (and her own
        # invitation: she may vote too).
        await wait_for_text(server, ria.chat_id, "Aangekomen: 2")
        await wait_for_text(server, ria.chat_id, "is begonnen!")

        # Tapped, it opens the ballot.
        before = len(server.messages(anna.chat_id))
        anna.press("🗳️ Stemmen", invitation)
        await wait_for_text(server, anna.chat_id, "Stem uitbrengen", after=before)
        assert any("Je mag €\u00a010.000 verdelen" in t for t in texts(server, anna.chat_id))
        # Nothing of it went to the group.
        assert not any("begonnen" in t for t in texts(server, GROUP))


@pytest.mark.parametrize("count", [25, MAX_PROJECTS])
async def test_a_round_of_many_projects_reaches_a_voter_as_one_ballot_changed_in_place(
    server: BotApiServer, tmp_path: Path, count: int
) -> None:
    """Telegram lets a bot send one chat about one message a second: a message per project
    kept a voter waiting half a minute for "Stem uitbrengen", and what they sent meanwhile
    waited behind it."""
    settings = telegram_settings(server, tmp_path / "bot.db")
    anna = server.user(4201, first_name="Anna")
    async with running(settings) as app:
        await onboard(server, anna)
        now = datetime.now(UTC)
        async with app.db.transaction():
            round_id = await app.repos.budgets.create(
                name="Velsen kiest 2027",
                total_cents=1_000_000,
                hood_budgets={},
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(days=10),
                hood_only=False,
                projects=[
                    NewProject(title=f"Project {n}", description="Wat we doen.", cost_cents=n)
                    for n in range(1, count + 1)
                ],
                now=now,
            )
        ids = [p.id for p in await app.repos.budgets.projects(round_id)]
        before = len(server.messages(anna.chat_id))
        anna.send_text("/stemmen")
        await wait_for_text(server, anna.chat_id, "Stem uitbrengen", after=before)
        # Whatever she sends next is answered after the whole ballot: count what came.
        anna.send_text("/menu")
        await wait_for_text(server, anna.chat_id, "Wat wil je doen?", after=before)
        rules, page, menu = server.messages(anna.chat_id)[before:]
        assert "Je mag €\u00a010.000 verdelen" in rules["text"]
        pages = -(-count // 5)
        assert f"pagina 1 van {pages}" in page["text"] and "• Project 5 · " in page["text"]
        shown = labels(page)
        assert "🗳️ Stem uitbrengen" in shown and shown.count("➕ Toevoegen") == 5
        keyboard = page["reply_markup"]["inline_keyboard"]
        assert sum(len(line) for line in keyboard) <= 100
        assert all(len(b["callback_data"].encode()) <= 64 for line in keyboard for b in line)

        # ➕ and "Volgende" change that message; nothing new arrives.
        sent = len(server.messages(anna.chat_id))
        anna.press_data(f"bv.add:{round_id}:{ids[2]}", page["message_id"])
        await server.wait_for(
            lambda: "✅ <b>Project 3</b>" in page["text"], 20, description="Project 3 chosen"
        )
        assert page["edited"] and "staat in je keuze" in page["text"]
        assert labels(page).count("➖ Weghalen") == 1 and "✅ Project 3" in labels(page)
        anna.press("Volgende ➡️", page)
        await server.wait_for(
            lambda: f"pagina 2 van {pages}" in page["text"], 20, description="the next page"
        )
        assert "Project 6 · " in page["text"] and "Project 3 · " not in page["text"]
        assert len(server.messages(anna.chat_id)) == sent
        assert menu["text"] is not None and "Wat wil je doen?" in menu["text"]
