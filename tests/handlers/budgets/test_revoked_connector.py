"""A connector who loses the role: the rounds she scheduled never open and nobody is asked;
a round already open runs on; a colleague's round is not touched."""

from __future__ import annotations

from bot.admin.cli import grant, revoke
from bot.app import App
from storage.budgets.rounds import Round, RoundStatus
from storage.users import Role
from tests.handlers.budgets.test_budget_round import START, Clock, exported
from tests.handlers.budgets.test_invitations import CLOSES, OPENS, set_up
from tests.people import connector, outbox, person, row, run_job, subscribe, with_role
from tests.support import Chat


async def schedule_round(staff: Chat, name: str, *, opens: str = OPENS) -> Round:
    """A round of two projects set up with the buttons, opening at ``opens`` ("Nu": now)."""
    made = await set_up(staff, name, opens=opens)
    assert staff.keys == ["budgets.opened" if opens == "Nu" else "budgets.scheduled"]
    return made


async def status(app: App, found: Round) -> RoundStatus:
    now = await app.repos.budgets.get(found.id)
    assert now is not None
    return now.status


async def staff_list(staff: Chat) -> dict[str, str]:
    """The buttons of /rondes: each round's name and the status it shows."""
    await staff.send("/rondes")
    return {
        label.rsplit(" (", 1)[0]: label.rsplit(" (", 1)[1].rstrip(")")
        for label, payload in staff.buttons()
        if payload.startswith("bs.show:")
    }


async def test_revoking_a_connector_cancels_her_scheduled_round_and_nobody_is_asked(
    clocked: App, clock: Clock
) -> None:
    app = clocked
    anna = await person(app, "anna")
    await subscribe(anna)  # "Wist je dat" subscribers hear every round's result
    ria = await with_role(app, await person(app, "4242", platform="telegram"), Role.CONNECTOR)
    sam = await connector(app, "sam")
    hers = await schedule_round(ria, "Velsen kiest 2027")
    his = await schedule_round(sam, "Zomerronde")
    assert await staff_list(sam) == {"Velsen kiest 2027": "gepland", "Zomerronde": "gepland"}

    published = await app.repos.open_data.changes()
    await app.repos.open_data.mark_published(published)
    said = await revoke(app.settings, "telegram", "4242", "vertrokken")
    assert said == (
        "telegram 4242 is now inwoner (was verbinder);"
        f" 1 scheduled budget round cancelled (#{hers.id})"
    )
    assert await status(app, hers) is RoundStatus.CANCELLED
    assert await status(app, his) is RoundStatus.SCHEDULED
    # The open data, which listed it as scheduled, is redone soon.
    assert await app.repos.open_data.stale()
    ria_id, sam_id = (await row(app, ria)).id, (await row(app, sam)).id
    entry = (await app.repos.audit.about_user(ria_id))[-1]
    assert (entry.action, entry.detail["budget_rounds_cancelled"]) == ("role.revoke", [hers.id])
    [cancel] = [
        e for e in await app.repos.audit.about(f"budget:{hers.id}") if e.action == "budget.cancel"
    ]
    assert cancel.detail == {"why": "author_role", "role": "inwoner"}
    # The connector left is told, once; the former one and residents are not.
    [told] = await outbox(app, "budget_cancelled")
    assert told.user_id == sam_id
    text = told.text(app, "nl")
    assert "Velsen kiest 2027" in text and "geen verbinder meer" in text
    assert told.payloads() == ["bs"]
    # Colleagues no longer see it coming; its card says it will not go ahead.
    assert await staff_list(sam) == {
        "Velsen kiest 2027": "gaat niet door",
        "Zomerronde": "gepland",
    }
    await sam.press_payload(f"bs.show:{hers.id}")
    assert sam.keys == ["budgets.round_cancelled"]
    assert "Speeltuin" in sam.text and "stemmen:" not in sam.text
    # No experiment can be made of a project of a round that never opened.
    [first, _] = await app.repos.budgets.projects(hers.id)
    await sam.press_payload(f"bs.exp:{first.id}")
    assert sam.keys == ["budgets.not_a_winner"]

    # Ria's old buttons and commands do nothing for her now.
    for payload in (f"bs.show:{hers.id}", "bs.new", "bs"):
        await ria.press_payload(payload)
        assert ria.keys == ["general.stale_button"], payload
    await ria.send("/nieuweronde")
    assert ria.keys == ["general.unknown_command"]

    # Time passes: the scheduler's job at the opening moment opens only Sam's round.
    clock.now = his.opens_at
    for found in (hers, his):
        await run_job(app, f"budget:{found.id}", clock.now)
    assert await status(app, hers) is RoundStatus.CANCELLED
    assert await status(app, his) is RoundStatus.OPEN
    assert hers.id not in [
        round_id for round_id, _ in await app.repos.budgets.pending(app.settings.zone)
    ]
    await anna.send("/stemmen")
    assert anna.keys[0] == "budgets.intro"
    assert "Zomerronde" in anna.text and "Velsen kiest 2027" not in anna.text
    # A forged button for the cancelled round changes nothing.
    [project, _] = await app.repos.budgets.projects(hers.id)
    for payload in (f"bv.round:{hers.id}", f"bv.add:{hers.id}:{project.id}", f"bv.vote:{hers.id}"):
        await anna.press_payload(payload)
        assert anna.keys == ["budgets.cancelled"], payload
    assert "gaat niet door" in anna.text
    assert (
        await app.db.fetchval("SELECT COUNT(*) FROM budget_ballots WHERE round_id = ?", (hers.id,))
        == 0
    )

    # At closing only Sam's round has a result; nothing about hers reaches anyone.
    clock.now = his.closes_at
    for found in (hers, his):
        await run_job(app, f"budget:{found.id}", clock.now)
    assert await status(app, his) is RoundStatus.CLOSED
    results = await outbox(app, "budget_result")
    assert results and all("Zomerronde" in q.text(app, "nl") for q in results)
    everything = [q.text(app, "nl") for q in await outbox(app)]
    assert [t for t in everything if "Velsen kiest 2027" in t] == [told.text(app, "nl")]


async def test_a_role_taken_away_some_other_way_is_caught_when_the_round_would_open(
    clocked: App, clock: Clock
) -> None:
    app = clocked
    anna = await person(app, "anna")
    ria = await connector(app)
    sam = await connector(app, "sam")
    hers = await schedule_round(ria, "Velsen kiest 2027")
    # Not ``samenspel revoke``: made a civil servant by hand, say. Nothing is cancelled yet.
    await with_role(app, ria, Role.CIVIL_SERVANT)
    clock.now = hers.opens_at - (hers.opens_at - START) / 2
    await run_job(app, f"budget:{hers.id}", clock.now)
    assert await status(app, hers) is RoundStatus.SCHEDULED

    clock.now = hers.opens_at
    await run_job(app, f"budget:{hers.id}", clock.now)
    assert await status(app, hers) is RoundStatus.CANCELLED
    await anna.send("/stemmen")
    assert anna.keys == ["budgets.none_open"]
    [cancel] = [
        e for e in await app.repos.audit.about(f"budget:{hers.id}") if e.action == "budget.cancel"
    ]
    assert cancel.detail == {"why": "author_role", "role": "ambtenaar"}
    [told] = await outbox(app, "budget_cancelled")
    assert told.user_id == (await row(app, sam)).id
    # The job again (a restart, a late run) does nothing more.
    await run_job(app, f"budget:{hers.id}", hers.closes_at)
    assert await status(app, hers) is RoundStatus.CANCELLED
    assert len(await outbox(app, "budget_cancelled")) == 1
    assert await outbox(app, "budget_result") == []


async def test_a_round_already_open_runs_on_when_its_connector_is_revoked(
    clocked: App, clock: Clock
) -> None:
    app = clocked
    anna = await person(app, "anna")
    ria = await with_role(app, await person(app, "4242", platform="telegram"), Role.CONNECTOR)
    sam = await connector(app, "sam")
    running = await schedule_round(ria, "Velsen kiest 2027", opens="Nu")
    await anna.send("/stemmen")
    await anna.press("Toevoegen")
    await anna.press("Stem uitbrengen")
    await anna.press("Ja, stem uitbrengen")
    assert anna.keys == ["budgets.voted"]

    said = await revoke(app.settings, "telegram", "4242", None)
    assert said == "telegram 4242 is now inwoner (was verbinder)"
    assert await status(app, running) is RoundStatus.OPEN
    assert await outbox(app, "budget_cancelled") == []
    await anna.send("/stemmen")
    assert anna.keys[0] == "budgets.intro"

    clock.now = running.closes_at
    await run_job(app, f"budget:{running.id}", clock.now)
    assert await status(app, running) is RoundStatus.CLOSED
    # The result reaches the voter; the notice for staff the connector of now, not Ria.
    [result] = await outbox(app, "budget_result")
    assert result.user_id == (await row(app, anna)).id
    [closed] = await outbox(app, "budget_closed")
    assert closed.user_id == (await row(app, sam)).id


async def test_the_export_names_the_rounds_one_set_up_and_erasure_keeps_them_unsigned(
    clocked: App,
) -> None:
    app = clocked
    ria = await connector(app)
    hers = await schedule_round(ria, "Velsen kiest 2027")
    await ria.send("/mijngegevens")
    [mine] = exported(ria)["sections"]["budget_rounds"]["rows"]
    assert (mine["name"], mine["status"], mine["total"]) == (
        "Velsen kiest 2027",
        "gepland",
        "€\u00a010.000",
    )
    assert mine["hood_only"] == "nee"
    await with_role(app, ria, Role.RESIDENT)
    await ria.send("/vergeetmij")
    await ria.press("Ja, wis mijn gegevens")
    assert ria.keys == ["privacy.forget.done"]
    # Kept without her name; and as she had lost the role before, it will not open.
    kept = await app.repos.budgets.get(hers.id)
    assert kept is not None and kept.author_user_id is None and kept.name == "Velsen kiest 2027"
    assert kept.status is RoundStatus.CANCELLED
    await run_job(app, f"budget:{hers.id}", hers.opens_at)
    assert await status(app, hers) is RoundStatus.CANCELLED


async def test_a_connector_erased_while_she_holds_the_role_leaves_her_round_to_open(
    clocked: App,
) -> None:
    app = clocked
    ria = await connector(app)
    hers = await schedule_round(ria, "Velsen kiest 2027")
    await ria.send("/vergeetmij")
    await ria.press("Ja, wis mijn gegevens")
    assert ria.keys == ["privacy.forget.done"]
    # The round is the municipality's, set up while she could: it opens, unsigned.
    await run_job(app, f"budget:{hers.id}", hers.opens_at)
    assert await status(app, hers) is RoundStatus.OPEN


async def test_a_lesser_role_granted_cancels_the_rounds_but_an_admin_made_connector_keeps_them(
    clocked: App,
) -> None:
    app = clocked
    ria = await with_role(app, await person(app, "4242", platform="telegram"), Role.CONNECTOR)
    vera = await with_role(app, await person(app, "5151", platform="telegram"), Role.ADMIN)
    hers = await schedule_round(ria, "Velsen kiest 2027")
    theirs = await schedule_round(vera, "Zomerronde")

    said = await grant(app.settings, "telegram", "5151", "verbinder", None)
    assert said == "telegram 5151 is now verbinder (was admin)"
    said = await grant(app.settings, "telegram", "4242", "ambtenaar", "andere taak")
    assert said == (
        "telegram 4242 is now ambtenaar (was verbinder);"
        f" 1 scheduled budget round cancelled (#{hers.id})"
    )
    assert await status(app, hers) is RoundStatus.CANCELLED
    assert await status(app, theirs) is RoundStatus.SCHEDULED
    # Vera, a connector now, is the one told.
    [told] = await outbox(app, "budget_cancelled")
    assert told.user_id == (await row(app, vera)).id
    await run_job(app, f"budget:{theirs.id}", theirs.opens_at)
    assert await status(app, theirs) is RoundStatus.OPEN


async def test_a_round_being_set_up_when_the_role_goes_is_given_back(clocked: App) -> None:
    """Its name and every project typed come with the word that it stopped, not lost."""
    app = clocked
    ria = await connector(app)
    await ria.send("/nieuweronde")
    await ria.send("Velsen kiest 2027")
    await ria.send("10000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("Speeltuin | 6000 | Nieuwe toestellen")
    await ria.send("Bankjes | 3000 | Bankjes langs het water")
    await with_role(app, ria, Role.RESIDENT)
    await ria.press("Klaar met projecten")
    assert ria.keys[0] == "roles.lost.verbinder"
    for written in ("Velsen kiest 2027", "Speeltuin", "Nieuwe toestellen", "Bankjes langs"):
        assert written in ria.text


async def test_a_round_name_typed_over_several_lines_is_one_line(clocked: App) -> None:
    """A round's name is one line wherever it shows (what staff and residents are told)."""
    ria = await connector(clocked)
    await ria.send("/nieuweronde")
    await ria.send("Velsen\n\nkiest   2027")
    await ria.send("10000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("Speeltuin | 6000 | Nieuwe toestellen")
    await ria.send("Bankjes | 3000 | Bankjes langs het water")
    await ria.press("Klaar met projecten")
    await ria.press("Nu")
    await ria.send(CLOSES)
    await ria.press("Alle inwoners")
    await ria.press("Goedkoopste project eerst")
    await ria.press("Openen")
    assert "De stemronde Velsen kiest 2027 is open" in ria.text
    assert [r.name for r in await clocked.repos.budgets.all()] == ["Velsen kiest 2027"]
