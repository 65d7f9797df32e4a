"""When a budget round opens, everyone who may vote in it is invited, once, in their own
language, through the outbox: opened at once ("Nu") or by the scheduler at its moment.
Who may not vote (banned, not taking part, no neighbourhood in a neighbourhood round) and
who turned the invitations off hear nothing; an invitation tapped too late changes
nothing; a restart between the opening and the sending sends nothing twice."""

from __future__ import annotations

import asyncio

from bot.admin.cli import revoke
from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.settings import Settings
from handlers import when
from handlers.money import format_euro
from storage.budgets.rounds import Round, RoundStatus
from storage.clock import iso
from storage.community.moderation import SanctionKind
from storage.users import Role
from tests.bot.delivery_support import FakeAdapter, broken
from tests.handlers.budgets.test_budget_round import START, Clock
from tests.people import Queued, connector, outbox, person, row, run_job, with_role
from tests.support import Chat
from tests.waiting import until

#: Opening and closing of the rounds, as staff type them (Velsen's time).
OPENS = "02-12-2026 09:00"
CLOSES = "09-12-2026 17:00"
INVITATION = "budget_invitation"


async def set_up(
    staff: Chat, name: str = "Velsen kiest 2027", *, opens: str = "Nu", who: str = "Alle inwoners"
) -> Round:
    """A round of two projects set up with the buttons, opening at ``opens`` ("Nu": now)."""
    await staff.send("/nieuweronde")
    await staff.send(name)
    await staff.send("10000")
    await staff.press("Geen wijkbudgetten")
    await staff.send("Speeltuin | 6000 | Nieuwe toestellen")
    await staff.send("Bankjes | 3000 | Bankjes langs het water")
    await staff.press("Klaar met projecten")
    if opens == "Nu":
        await staff.press("Nu")
    else:
        await staff.send(opens)
    await staff.send(CLOSES)
    await staff.press(who)
    await staff.press("Goedkoopste project eerst")
    await staff.press("Openen")
    [made] = [r for r in await staff.app.repos.budgets.all() if r.name == name]
    return made


async def invited(app: App) -> list[int]:
    """Who an invitation was queued for, once per row (so twice shows twice)."""
    return [q.user_id for q in await outbox(app, INVITATION)]


async def ids(app: App, *chats: Chat) -> list[int]:
    return sorted([(await row(app, chat)).id for chat in chats])


async def ban(app: App, chat: Chat) -> None:
    user = await row(app, chat)
    async with app.db.transaction():
        await app.repos.sanctions.add(
            user.id, SanctionKind.BAN, reason="schelden", by_user_id=None, now=START
        )


def closes(app: App, found: Round, lang: str) -> str:
    """The closing moment as a reader of ``lang`` reads it."""
    return when.moment(found.closes_at.astimezone(app.router.timezone), lang)


def delivering(app: App, adapter: FakeAdapter, clock: Clock | None = None) -> DeliveryWorker:
    """A delivery worker for the round's invitations and their report."""
    policy = DeliveryPolicy(concurrency=2, poll=0.05, progress=0.05)
    now = (lambda: clock.now) if clock is not None else app.router.clock
    return DeliveryWorker(app.repos, app.catalog, adapter, policy, clock=now)


async def reported_to(adapter: FakeAdapter, chat: str) -> None:
    """Until the batch's author has had the report."""

    async def reported() -> bool:
        return any("delivery.report" in s.keys for s in adapter.to(chat))

    await until(reported)


def rendering(app: App) -> FakeAdapter:
    """An adapter that keeps what it sent as people read it (in Dutch)."""
    return FakeAdapter(render=lambda reply, lang: app.catalog.render(lang, reply, markup=False))


async def test_a_round_opened_now_invites_everyone_who_may_vote_once_in_their_language(
    clocked: App,
) -> None:
    app = clocked
    anna = await person(app, "anna")
    emma = await person(app, "emma", language="English", hood="Driehuis")
    bert = await person(app, "bert")
    await ban(app, bert)
    # Zoe said no to taking part; Kees only ever wrote in a neighbourhood group.
    zoe = Chat(app, user_id="zoe", name="Zoe")
    await zoe.send("/start")
    await zoe.press("Nee, liever niet")
    kees = Chat(app, user_id="kees", name="Kees", chat_id="buurtgroep")
    await kees.handle(kees.event(command="start", is_group=True))
    # Anna talks in that group too: her invitation still goes to her own chat only.
    anna_in_group = Chat(app, user_id="anna", name="Anna", chat_id="buurtgroep")
    await anna_in_group.handle(anna_in_group.event(command="stemmen", is_group=True))
    ria = await connector(app)

    found = await set_up(ria)
    assert found.status is RoundStatus.OPEN
    # The connector hears, truthfully, that residents are being invited, and how many.
    assert ria.keys == ["budgets.opened"]
    assert "We nodigen 3 inwoners uit om te stemmen." in ria.text
    assert sorted(await invited(app)) == await ids(app, anna, emma, ria)
    rows = await app.db.fetchall(
        "SELECT user_id, chat_id, batch, expires_at FROM outbox WHERE kind = ?", (INVITATION,)
    )
    chats = {r["user_id"]: r["chat_id"] for r in rows}
    assert chats[(await row(app, anna)).id] == "anna"
    assert "buurtgroep" not in chats.values()
    assert {r["batch"] for r in rows} == {f"budget:{found.id}:invite"}
    assert {r["expires_at"] for r in rows} == {iso(found.closes_at)}
    # The connector follows the batch as for a broadcast: progress, then a report.
    batch = await app.repos.outbox.batch(f"budget:{found.id}:invite")
    assert batch is not None
    assert batch.author_user_id == (await row(app, ria)).id and batch.total == 3
    [opening] = [
        e for e in await app.repos.audit.about(f"budget:{found.id}") if e.action == "budget.open"
    ]
    assert opening.detail == {"invited": 3}
    # The round's job (its reminder timer, a restart) invites nobody again.
    await run_job(app, f"budget:{found.id}", START)
    assert sorted(await invited(app)) == await ids(app, anna, emma, ria)

    # Each reads it in their own language, with the round's name, budget and closing time.
    by_user = {q.user_id: q for q in await outbox(app, INVITATION)}
    dutch = by_user[(await row(app, anna)).id].text(app, "nl")
    assert dutch == (
        "🗳️ Velsen kiest 2027 is begonnen!\n"
        f"Je mag meebeslissen waar {format_euro(1_000_000, 'nl')} naartoe gaat."
        " Kies de projecten die jij belangrijk vindt.\n"
        f"Stemmen kan tot {closes(app, found, 'nl')}."
    )
    english = by_user[(await row(app, emma)).id].text(app, "en")
    assert english == (
        "🗳️ Velsen kiest 2027 has started!\n"
        f"You can help decide where {format_euro(1_000_000, 'en')} goes."
        " Choose the projects that matter to you.\n"
        f"You can vote until {closes(app, found, 'en')}.\n"
        # The round's name is staff's Dutch, and that is said in the reader's language.
        + app.catalog.text("en", "languages.as_written", {}, markup=False)
    )
    assert "€10,000" in english and "€\u00a010.000" in dutch
    invitation: Queued = by_user[(await row(app, anna)).id]
    assert invitation.payloads() == [f"bv.round:{found.id}", "bv.inv:off"]
    assert all(len(p.encode()) <= 64 for p in invitation.payloads())

    # The button opens the ballot, as /stemmen does.
    await anna.press_payload(f"bv.round:{found.id}")
    assert anna.keys == ["budgets.intro", "budgets.page_single"]
    assert [label for label, _ in anna.buttons()].count("➕ Toevoegen") == 2
    # The banned resident's forged tap is refused by the ban, and changes nothing.
    await bert.press_payload(f"bv.round:{found.id}")
    assert "budgets.intro" not in bert.keys


async def test_a_round_opens_at_its_time_through_the_scheduler_and_invites_once(
    clocked: App, clock: Clock
) -> None:
    app = clocked
    anna = await person(app, "anna")
    ria = await connector(app)
    found = await set_up(ria, opens=OPENS)
    assert ria.keys == ["budgets.scheduled"]
    assert "Dan nodigen we iedereen uit die mag stemmen." in ria.text
    assert await invited(app) == []

    # Too early (a timer fired before its moment): nothing yet.
    clock.now = START
    await run_job(app, f"budget:{found.id}", clock.now)
    assert await invited(app) == []

    clock.now = found.opens_at
    await run_job(app, f"budget:{found.id}", clock.now)
    opened = await app.repos.budgets.get(found.id)
    assert opened is not None and opened.status is RoundStatus.OPEN
    assert sorted(await invited(app)) == await ids(app, anna, ria)
    # The connector hears it opened and how many are invited, and follows the batch.
    [told] = await outbox(app, "budget_opened")
    assert told.user_id == (await row(app, ria)).id
    assert "We nodigen 2 inwoners uit om te stemmen." in told.text(app, "nl")
    batch = await app.repos.outbox.batch(f"budget:{found.id}:invite")
    assert batch is not None and batch.author_user_id == (await row(app, ria)).id

    # The job again (a late timer, a restart) invites nobody twice.
    await run_job(app, f"budget:{found.id}", clock.now)
    assert sorted(await invited(app)) == await ids(app, anna, ria)
    assert len(await outbox(app, "budget_opened")) == 1


async def test_a_neighbourhood_round_invites_only_residents_who_chose_their_neighbourhood(
    clocked: App,
) -> None:
    app = clocked
    anna = await person(app, "anna")
    piet = await person(app, "piet", hood="Zeg ik liever niet")
    assert (await row(app, piet)).neighbourhood is None
    ria = await connector(app)
    found = await set_up(ria, who="Alleen inwoners met een wijk")
    assert found.hood_only
    assert sorted(await invited(app)) == await ids(app, anna, ria)
    assert "We nodigen 2 inwoners uit" in ria.text
    # Piet may indeed not vote: he hears why when he tries.
    await piet.send("/stemmen")
    assert piet.keys == ["budgets.need_hood"]


async def test_a_postcode_round_says_who_may_vote_in_its_invitation(clocked: App) -> None:
    app = clocked
    anna = await person(app, "anna")
    ria = await connector(app)
    found = await set_up(ria, who="Postcode in de gemeente")
    assert found.postcodes is not None
    [mine] = [q for q in await outbox(app, INVITATION) if q.user_id == (await row(app, anna)).id]
    assert mine.replies[0].key == "budgets.invitation_postcode"
    assert "met een postcode in 1951" in mine.text(app, "nl")
    # Tapped: the four digits are asked first, as for /stemmen.
    await anna.press_payload(mine.payloads()[0])
    assert anna.keys == ["budgets.ask_postcode"]


async def test_an_invitation_tapped_after_the_round_closed_answers_kindly_and_changes_nothing(
    clocked: App, clock: Clock
) -> None:
    app = clocked
    anna = await person(app, "anna")
    ria = await connector(app)
    found = await set_up(ria)
    [project, _] = await app.repos.budgets.projects(found.id)

    clock.now = found.closes_at
    await run_job(app, f"budget:{found.id}", clock.now)
    closed = await app.repos.budgets.get(found.id)
    assert closed is not None and closed.status is RoundStatus.CLOSED
    # Nothing was sent before the round closed: the invitations are withdrawn, not sent late.
    statuses = await app.db.fetchall(
        "SELECT status, last_error FROM outbox WHERE kind = ?", (INVITATION,)
    )
    assert {(r[0], r[1]) for r in statuses} == {("cancelled", "withdrawn")}

    for tap in (f"bv.round:{found.id}", f"bv.add:{found.id}:{project.id}"):
        await anna.press_payload(tap)
        assert anna.keys == ["budgets.closed"]
        assert "Het stemmen voor Velsen kiest 2027 is gesloten." in anna.text
    assert (await app.repos.budgets.ballot(found.id, (await row(app, anna)).id)).chosen == set()
    assert await app.repos.budgets.voters(found.id) == []


async def in_batch(app: App, found: Round) -> list[int]:
    rows = await app.db.fetchall(
        "SELECT user_id FROM outbox WHERE batch = ? AND status = 'pending' ORDER BY user_id",
        (f"budget:{found.id}:invite",),
    )
    return [int(r[0]) for r in rows]


async def test_who_turned_invitations_off_is_not_invited_and_one_still_waiting_stops(
    clocked: App,
) -> None:
    app = clocked
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    ria = await connector(app)
    bob_id = (await row(app, bob)).id
    first = await set_up(ria, "Velsen kiest 2027")
    assert bob_id in await in_batch(app, first)
    [waiting] = [q for q in await outbox(app, INVITATION) if q.user_id == bob_id]
    # Bob taps "no more invitations" under it before it was even sent: it stops too.
    await bob.press_payload(waiting.payloads()[1])
    assert bob.keys == ["budgets.invitations_off"]
    assert "Stemmen kan altijd met /stemmen." in bob.text
    assert bob_id not in await in_batch(app, first)
    [mine] = [r for r in await app.repos.outbox.for_user(bob_id) if r.kind == INVITATION]
    assert mine.status == "cancelled"
    # Pressed twice: the same answer, nothing else changes.
    await bob.press_payload("bv.inv:off")
    assert bob.keys == ["budgets.invitations_off"]

    second = await set_up(ria, "Velsen kiest extra")
    assert await in_batch(app, second) == await ids(app, anna, ria)
    assert "We nodigen 2 inwoners uit" in ria.text
    # He still votes when he wants to.
    await bob.send("/stemmen")
    assert bob.keys == ["budgets.choose_round"]
    # Nonsense for the setting changes nothing.
    await bob.press_payload("bv.inv:maybe")
    assert bob.keys == ["budgets.not_found"]
    assert not await app.repos.budgets.invitations_on(bob_id)
    await bob.press_payload("bv.inv:on")
    assert bob.keys == ["budgets.invitations_on"]
    third = await set_up(ria, "Velsen kiest nog eens")
    assert bob_id in await in_batch(app, third)


async def test_stemmen_tells_who_turned_invitations_off_and_offers_them_again(
    clocked: App,
) -> None:
    app = clocked
    bob = await person(app, "bob")
    await bob.send("/stemmen")
    assert bob.keys == ["budgets.none_open"]
    await bob.press_payload("bv.inv:off")
    await bob.send("/stemmen")
    assert bob.keys == ["budgets.none_open_uninvited"]
    await bob.press("Wel uitnodigingen")
    assert bob.keys == ["budgets.invitations_on"]
    await bob.send("/stemmen")
    assert bob.keys == ["budgets.none_open"]


async def test_a_restart_between_opening_and_sending_sends_every_invitation_once(
    settings: Settings, clock: Clock
) -> None:
    app = await App.open(settings, clock=clock)
    try:
        anna = await person(app, "anna")
        emma = await person(app, "emma", language="English")
        ria = await connector(app)
        found = await set_up(ria, opens=OPENS)
        clock.now = found.opens_at
        await run_job(app, f"budget:{found.id}", clock.now)
        people = await ids(app, anna, emma, ria)
    finally:
        await app.close()  # down before anything was sent

    app = await App.open(settings, clock=clock)
    try:
        # At start-up the scheduler runs the round's job again (it is late, or twice).
        await run_job(app, f"budget:{found.id}", clock.now)
        assert sorted(await invited(app)) == people
        adapter = FakeAdapter()
        worker = delivering(app, adapter, clock)
        await worker.start()
        try:
            await reported_to(adapter, "ria")
        finally:
            await worker.stop()
        sent = [s for s in adapter.sent if s.keys == ["budgets.invitation"]]
        assert sorted(s.chat_id for s in sent) == ["anna", "emma", "ria"]
        assert {s.chat_id: s.lang for s in sent}["emma"] == "en"
        batch = await app.repos.outbox.batch(f"budget:{found.id}:invite")
        assert batch is not None and batch.delivered == 3 and batch.finished_at is not None
    finally:
        await app.close()


async def test_a_round_whose_time_passed_while_the_bot_was_down_invites_nobody(
    clocked: App, clock: Clock
) -> None:
    app = clocked
    await person(app, "anna")
    ria = await connector(app)
    found = await set_up(ria, opens=OPENS)
    clock.now = found.closes_at
    await run_job(app, f"budget:{found.id}", clock.now)
    closed = await app.repos.budgets.get(found.id)
    assert closed is not None and closed.status is RoundStatus.CLOSED
    assert await invited(app) == []
    assert await outbox(app, "budget_opened") == []


async def test_a_resident_made_staff_is_still_invited_and_a_connector_erased_leaves_no_author(
    clocked: App, clock: Clock
) -> None:
    app = clocked
    anna = await with_role(app, await person(app, "anna"), Role.CIVIL_SERVANT)
    ria = await connector(app)
    sam = await connector(app, "sam")
    found = await set_up(ria, opens=OPENS)
    async with app.db.transaction():
        await app.repos.users.set_role((await row(app, ria)).id, Role.RESIDENT)
        await app.db.execute(
            "UPDATE budget_rounds SET author_user_id = NULL WHERE id = ?", (found.id,)
        )
    clock.now = found.opens_at
    await run_job(app, f"budget:{found.id}", clock.now)
    assert sorted(await invited(app)) == await ids(app, anna, ria, sam)
    # Nobody to follow the batch; the connectors of now hear the round opened.
    batch = await app.repos.outbox.batch(f"budget:{found.id}:invite")
    assert batch is None
    [told] = await outbox(app, "budget_opened")
    assert told.user_id == (await row(app, sam)).id


async def test_an_invitation_still_waiting_for_someone_banned_meanwhile_is_not_sent(
    clocked: App,
) -> None:
    app = clocked
    anna = await person(app, "anna")
    bert = await person(app, "bert")
    ria = await connector(app)
    await set_up(ria)
    await ban(app, bert)
    statuses = {
        r.user_id: r.status
        for r in await app.repos.outbox.for_user((await row(app, bert)).id)
        + await app.repos.outbox.for_user((await row(app, anna)).id)
        if r.kind == INVITATION
    }
    assert statuses == {
        (await row(app, bert)).id: "cancelled",
        (await row(app, anna)).id: "pending",
    }


async def test_a_round_with_nobody_to_invite_says_so_and_starts_no_batch(clocked: App) -> None:
    app = clocked
    ria = await with_role(app, await person(app, "ria", hood="Zeg ik liever niet"), Role.CONNECTOR)
    found = await set_up(ria, who="Alleen inwoners met een wijk")
    assert ria.keys == ["budgets.opened_nobody"]
    assert "Er is nu niemand die we kunnen uitnodigen." in ria.text
    assert await invited(app) == []
    assert await app.repos.outbox.batch(f"budget:{found.id}:invite") is None


async def test_a_connector_revoked_while_the_invitations_go_out_follows_them_no_more(
    clocked: App, clock: Clock
) -> None:
    """The invitations go on (residents are voting); their progress and report are for
    someone who runs budget rounds, which Ria no longer does."""
    app = clocked
    # On Telegram, as the operator's command names people there.
    await person(app, "1001", platform="telegram")
    await person(app, "1002", platform="telegram")
    ria = await with_role(app, await person(app, "4242", platform="telegram"), Role.CONNECTOR)
    await set_up(ria)
    said = await revoke(app.settings, "telegram", "4242", "vertrokken")
    assert said == "telegram 4242 is now inwoner (was verbinder)"
    adapter = FakeAdapter(name="telegram")
    worker = delivering(app, adapter, clock)
    await worker.start()
    try:

        async def done() -> bool:
            # Every invitation out, the batch closed, and nothing left to send (a report).
            sent = [s.chat_id for s in adapter.sent if s.keys == ["budgets.invitation"]]
            closed = await app.db.fetchval(
                "SELECT COUNT(*) FROM outbox_batches WHERE finished_at IS NOT NULL"
            )
            pending = (await app.repos.outbox.status_counts()).get("pending", 0)
            return sorted(sent) == ["1001", "1002", "4242"] and closed == 1 and pending == 0

        await until(done)
    finally:
        await worker.stop()
    assert [s.keys for s in adapter.to("4242")] == [["budgets.invitation"]]
    assert await outbox(app, "report") == []


async def test_who_votes_before_their_invitation_went_out_is_not_invited_after(
    clocked: App,
) -> None:
    """A large round's invitations go out at the platform's pace: someone who heard of it
    and voted through /stemmen first is not asked to come and vote afterwards. Who has not
    voted is still invited."""
    app = clocked
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    ria = await connector(app)
    found = await set_up(ria)
    anna_id, bob_id = (await row(app, anna)).id, (await row(app, bob)).id
    assert {anna_id, bob_id} <= set(await in_batch(app, found))
    await anna.send("/stemmen")
    await anna.press_payload(next(p for _, p in anna.buttons() if p.startswith("bv.add:")))
    await anna.press("Stem uitbrengen")
    await anna.press("Ja, stem uitbrengen")
    assert anna.keys == ["budgets.voted"]
    assert anna_id not in await in_batch(app, found)
    assert bob_id in await in_batch(app, found)
    [hers] = [r for r in await app.repos.outbox.for_user(anna_id) if r.kind == INVITATION]
    assert hers.status == "cancelled"
    # Not one that may come back (as one withdrawn while she was away would).
    assert not await app.repos.outbox.withdrawn_from(f"budget:{found.id}:invite", anna_id)

    # The others' go out; the connector's report says hers was not needed, not cancelled.
    adapter = rendering(app)
    worker = delivering(app, adapter)
    await worker.start()
    try:
        await reported_to(adapter, "ria")
    finally:
        await worker.stop()
    assert sorted(s.chat_id for s in adapter.sent if s.keys == ["budgets.invitation"]) == [
        "bob",
        "ria",
    ]
    [report] = [s for s in adapter.to("ria") if "delivery.report" in s.keys]
    text = "\n".join(report.texts)
    assert "Niet meer nodig, al ingevuld of gestemd: 1" in text
    assert "Geannuleerd" not in text and "Aangekomen: 2" in text


async def test_an_invitation_held_up_on_its_way_when_she_votes_counts_as_not_needed(
    clocked: App,
) -> None:
    """Her invitation was on its way when she voted, and did not get through at that try:
    it is not tried again, and the connector's report counts it as not needed, not as
    cancelled."""
    app = clocked
    anna = await person(app, "anna")
    await person(app, "bob")
    ria = await connector(app)
    found = await set_up(ria)
    adapter = rendering(app)
    adapter.gates["anna"] = asyncio.Event()
    adapter.script["anna"] = [broken()]
    worker = delivering(app, adapter)
    await worker.start()
    try:

        async def in_flight() -> bool:
            return adapter.attempts["anna"] == 1

        await until(in_flight)
        await anna.send("/stemmen")
        await anna.press_payload(next(p for _, p in anna.buttons() if p.startswith("bv.add:")))
        await anna.press("Stem uitbrengen")
        await anna.press("Ja, stem uitbrengen")
        assert anna.keys == ["budgets.voted"]
        adapter.gates["anna"].set()
        await reported_to(adapter, "ria")
    finally:
        await worker.stop()
    assert found.id
    assert [s for s in adapter.to("anna") if s.keys == ["budgets.invitation"]] == []
    [report] = [s for s in adapter.to("ria") if "delivery.report" in s.keys]
    text = "\n".join(report.texts)
    assert "Niet meer nodig, al ingevuld of gestemd: 1" in text
    assert "Geannuleerd" not in text and "Aangekomen: 2" in text
