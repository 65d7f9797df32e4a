"""A request to connect two residents when one of them erases their data while the other
still waits for it: for an answer, or for the erased person's contact line. The other hears
that it ended because the other is no longer on Samenspel, with nothing of the erased
person; a late answer changes nothing; the connector sees it ended. And the connector hears
that the two have each other's details only once both actually got them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.admin.retention import run_retention
from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.settings import Settings
from handlers.privacy.your_data import erase_person
from storage.clock import iso, utcnow
from storage.community.connections import ConnectionStatus
from storage.privacy.personal import Cause, ContentChoice
from storage.privacy.retention import months_before
from tests.bot.delivery_support import FakeAdapter
from tests.bot.delivery_support import payload as queued_payload
from tests.handlers.ideas.helpers import seed_idea
from tests.people import audit_actions, banned_over_reports, connector, for_user, person, row
from tests.privacy import traces
from tests.support import Chat
from tests.waiting import until

ANNA_TITLE = "Zonnepanelen op de sporthal"
BOB_TITLE = "Moestuin achter de school"
ANNA_LINE = "anna.vd.berg@example.org"
BOB_LINE = "@bob_ijmuiden"


async def _two_with_ideas(app: App) -> tuple[Chat, Chat]:
    """Anna sent in idea #1, Bob idea #2."""
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    await seed_idea(app, ANNA_TITLE, author=(await row(app, anna)).id)
    await seed_idea(app, BOB_TITLE, author=(await row(app, bob)).id)
    return anna, bob


async def _delivered(app: App) -> None:
    """Everything queued reached its person, as delivery marks it."""
    rows = await app.db.fetchall("SELECT id FROM outbox WHERE status = 'pending'")
    await app.repos.outbox.record_sent([int(r["id"]) for r in rows], utcnow())


async def _away(app: App, chat: Chat) -> None:
    """The person blocked the bot, and the bot knows."""
    async with app.db.transaction():
        await app.repos.outbox.mark_chat_unreachable(chat.platform, chat.user_id, utcnow())


async def _says_yes(app: App, chat: Chat, line: str) -> None:
    ask = [q for q in await for_user(app, chat, "connect") if q.replies[0].key == "connect.ask"]
    await chat.press_payload(ask[-1].payloads()[0])
    await chat.send(line)


async def _erase(app: App, chat: Chat) -> None:
    """``chat`` erases their data; what they sent in stays without their name."""
    await chat.send("/vergeetmij")
    if any("zonder naam" in label for label, _ in chat.buttons()):
        await chat.press("zonder naam")
    await chat.press("Ja")
    assert chat.keys == ["privacy.forget.done"]
    await app.db.settled()


async def _keys(app: App, chat: Chat) -> list[str]:
    """The connect messages for this person, every status, oldest first (not one whose
    words were forgotten when it was cancelled)."""
    return [q.replies[0].key for q in await for_user(app, chat, "connect") if q.replies]


async def _connected_with_a_line_for_bob(app: App, *, bob_away: bool) -> tuple[Chat, Chat, Chat]:
    """Ria asks Anna and Bob; both questions arrive. Bob says yes first; with ``bob_away``
    he then blocks the bot. Anna says yes after him: she gets his line at once, and hers is
    queued for Bob (or kept for his return)."""
    anna, bob = await _two_with_ideas(app)
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    await _delivered(app)
    await _says_yes(app, bob, BOB_LINE)
    assert bob.keys == ["connect.waiting"]
    if bob_away:
        await _away(app, bob)
    await _says_yes(app, anna, ANNA_LINE)
    assert anna.keys == ["connect.made"] and BOB_LINE in anna.text
    return anna, bob, ria


def _says_nothing_of_anna(text: str) -> None:
    for hers in ("Anna", ANNA_TITLE, ANNA_LINE, "#1"):
        assert hers not in text, hers


async def _lines_for_bob(app: App) -> list[str]:
    rows = await app.db.fetchall(
        "SELECT status FROM outbox WHERE payload LIKE ? ORDER BY id", (f"%{ANNA_LINE}%",)
    )
    return [r["status"] for r in rows]


# Bob waits for Anna's line ------------------------------------------------------------------


async def test_a_yes_waiting_for_the_line_of_someone_who_erased_hears_the_request_ended(
    app: App,
) -> None:
    """Anna's line is on its way to Bob when she erases her data: it goes no further, and
    Bob hears that the request ended, naming only his own idea. Ria sees it ended too."""
    anna, bob, ria = await _connected_with_a_line_for_bob(app, bob_away=False)
    assert await _lines_for_bob(app) == ["pending"]
    await _erase(app, anna)

    assert await _lines_for_bob(app) == []
    told = (await for_user(app, bob, "connect"))[-1]
    assert [r.key for r in told.replies] == ["connect.ended_told"]
    text = told.text(app, "nl")
    assert "jouw idee #2" in text and "doet niet meer mee aan Samenspel" in text
    _says_nothing_of_anna(text)
    assert "no longer on Samenspel" in told.text(app, "en")

    staff = (await for_user(app, ria, "connect"))[-1]
    assert [r.key for r in staff.replies] == ["connect.ended_staff"]
    assert "#2" in staff.text(app, "nl") and "gestopt" in staff.text(app, "nl")
    _says_nothing_of_anna(staff.text(app, "nl"))

    ended = await app.repos.connections.get(1)
    assert ended is not None and ended.status is ConnectionStatus.ENDED
    bob_id = (await row(app, bob)).id
    assert (ended.user_a, ended.idea_a, ended.answer_a, ended.contact_a) == (None,) * 4
    assert (ended.user_b, ended.idea_b, ended.answer_b) == (bob_id, 2, "yes")
    assert await traces(app.db, [ANNA_LINE, BOB_LINE]) == []
    assert "connection.end" in await audit_actions(app)

    # His data file says it ended, without the other's idea.
    await bob.send("/mijngegevens")
    [file] = [s.reply.document for s in bob.last if s.reply.document is not None]
    assert b'"status": "ended"' in file.data and b'"other_idea": null' in file.data


async def test_a_line_kept_for_someone_away_becomes_the_word_that_it_ended_across_a_restart(
    settings: Settings,
) -> None:
    """Bob blocked the bot; Anna's line waits for his return. She erases her data, the bot
    restarts, and Bob comes back: the welcome back tells him the request ended, once, and
    nothing of Anna. Ria never heard the two got each other's details."""
    app = await App.open(settings)
    try:
        anna, bob, ria = await _connected_with_a_line_for_bob(app, bob_away=True)
        assert await _lines_for_bob(app) == ["unreachable"]
        await _erase(app, anna)
        assert await _lines_for_bob(app) == []
        # Nothing reached Bob: he is away.
        assert await _keys(app, bob) == ["connect.ask", "connect.ended_told"]
        [kept] = await app.db.fetchall(
            "SELECT status FROM outbox WHERE user_id = ? AND status != 'sent'",
            ((await row(app, bob)).id,),
        )
        assert kept["status"] == "unreachable"
    finally:
        await app.close()

    app = await App.open(settings)
    try:
        bob = Chat(app, user_id="bob", name="Bob")
        await bob.send("/help")
        assert bob.keys[0] == "returning.title"
        assert "jouw idee #2" in bob.text and "doet niet meer mee aan Samenspel" in bob.text
        _says_nothing_of_anna(bob.text)
        await bob.send("/help")
        assert "returning.title" not in bob.keys and "jouw idee #2" not in bob.text

        ria = Chat(app, user_id="ria", name="Ria")
        staff = await _keys(app, ria)
        assert "connect.made_staff" not in staff
        assert staff[-1] == "connect.ended_staff"
    finally:
        await app.close()


async def test_someone_banned_is_not_told_when_the_other_erases(app: App) -> None:
    """Bob said yes, wrote something nasty and was banned while Anna's line was on its way
    to him: it goes no further, and Ria hears it did not reach him. Anna erases her data:
    Bob hears nothing more of the request, and nothing of her is left."""
    anna, bob = await _two_with_ideas(app)
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    await _delivered(app)
    await _says_yes(app, bob, BOB_LINE)
    await bob.press_payload("idea.comment:1")
    await bob.send("Wat een onzin, jullie zijn allemaal gek.")
    await _says_yes(app, anna, ANNA_LINE)
    await banned_over_reports(app, ria, 1, reporters="r")
    before = await _keys(app, bob)

    await _erase(app, anna)
    assert await _keys(app, bob) == [k for k in before if k != "connect.made"]
    assert "connect.ended_told" not in await _keys(app, bob)
    assert (await _keys(app, ria))[-1] == "connect.kept_lost_staff"
    assert await traces(app.db, [ANNA_LINE]) == []


# Bob has not answered yet -------------------------------------------------------------------


async def test_an_unanswered_question_of_someone_who_erased_ends_and_a_late_answer_changes_nothing(
    app: App,
) -> None:
    """Both questions arrived; Anna erases before either answered. Bob hears it ended, and
    his old buttons say so and change nothing."""
    anna, bob = await _two_with_ideas(app)
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    await _delivered(app)
    await _erase(app, anna)

    told = (await for_user(app, bob, "connect"))[-1]
    assert [r.key for r in told.replies] == ["connect.ended_asked"]
    assert "jouw idee #2" in told.text(app, "nl")
    _says_nothing_of_anna(told.text(app, "nl"))
    assert (await _keys(app, ria))[-1] == "connect.ended_staff"

    queued = await _keys(app, bob)
    for payload in ("con.yes:1", "con.no:1", "con.show:1"):
        await bob.press_payload(payload)
        assert bob.keys == ["connect.ended"], payload
        assert "gestopt" in bob.text
        assert await app.repos.dialogs.load((await row(app, bob)).id) is None
    ended = await app.repos.connections.get(1)
    assert ended is not None and ended.status is ConnectionStatus.ENDED
    assert ended.answer_b is None and ended.contact_b is None
    assert await _keys(app, bob) == queued


async def test_a_line_typed_after_the_other_erased_is_not_kept(app: App) -> None:
    """Bob pressed yes and is typing his line when Anna erases her data: what he sends is
    not stored, and he is told the request ended."""
    anna, bob = await _two_with_ideas(app)
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    await _delivered(app)
    [ask] = await for_user(app, bob, "connect")
    await bob.press_payload(ask.payloads()[0])
    assert bob.keys == ["connect.ask_contact"]
    await _erase(app, anna)

    await bob.send(BOB_LINE)
    assert bob.keys == ["connect.ended"]
    assert await app.repos.dialogs.load((await row(app, bob)).id) is None
    assert await traces(app.db, [BOB_LINE]) == []


async def test_a_question_that_never_reached_the_other_is_taken_back_without_a_word(
    app: App,
) -> None:
    """Anna erases before the question to Bob was sent: it is not sent any more (it names
    her idea), and Bob hears nothing of a request he never saw. Ria sees it ended."""
    anna, bob = await _two_with_ideas(app)
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    await _erase(app, anna)

    rows = await app.db.fetchall(
        "SELECT status FROM outbox WHERE user_id = ? ORDER BY id", ((await row(app, bob)).id,)
    )
    assert [r["status"] for r in rows] == ["cancelled"]
    assert await _keys(app, bob) == ["connect.ask"]
    assert await _keys(app, ria) == ["connect.ended_staff"]


# The connector in the request ---------------------------------------------------------------


async def test_a_connector_in_their_own_request_hears_it_ended_once(app: App) -> None:
    """Ria sent in idea #2 herself and connects it with Anna's #1. She says yes, then Anna;
    Anna's line is on its way to Ria when Anna erases: Ria hears it ended once, as the one
    who waited, not a second time as the connector who asked."""
    anna = await person(app, "anna")
    ria = await connector(app)
    await seed_idea(app, ANNA_TITLE, author=(await row(app, anna)).id)
    await seed_idea(app, BOB_TITLE, author=(await row(app, ria)).id)
    await ria.send("/verbind #1 #2")
    await ria.press("Ja, graag")
    await ria.send("@ria_velsen")
    assert ria.keys == ["connect.waiting"]
    await _delivered(app)
    await _says_yes(app, anna, ANNA_LINE)
    before = await _keys(app, ria)
    assert before[-2:] == ["connect.made", "connect.made_sent_staff"]

    await _erase(app, anna)
    assert (await _keys(app, ria))[len(before) - 1 :] == ["connect.ended_told"]


async def test_a_connector_who_erases_their_own_request_leaves_word_for_the_connectors_now(
    app: App,
) -> None:
    """Ria connected her own idea #2 with Anna's #1. Anna says yes, then Ria: Ria's line is
    on its way to Anna when Ria erases her data. Anna hears it ended; Kees, a connector
    now, sees it ended, with Anna's idea only."""
    anna = await person(app, "anna")
    ria = await connector(app)
    kees = await connector(app, "kees")
    await seed_idea(app, BOB_TITLE, author=(await row(app, anna)).id)
    await seed_idea(app, ANNA_TITLE, author=(await row(app, ria)).id)
    await ria.send("/verbind #1 #2")
    await _delivered(app)
    await _says_yes(app, anna, ANNA_LINE)
    await ria.press("Ja, graag")
    await ria.send("@ria_velsen")
    assert ria.keys == ["connect.made"] and ANNA_LINE in ria.text

    await _erase(app, ria)
    told = (await for_user(app, anna, "connect"))[-1]
    assert [r.key for r in told.replies] == ["connect.ended_told"]
    assert "jouw idee #1" in told.text(app, "nl")
    assert "@ria_velsen" not in told.text(app, "nl")
    staff = (await for_user(app, kees, "connect"))[-1]
    assert [r.key for r in staff.replies] == ["connect.ended_staff"]
    assert "#1" in staff.text(app, "nl") and "#2" not in staff.text(app, "nl")
    assert await traces(app.db, ["@ria_velsen"]) == []


# What the connector is told when both said yes ----------------------------------------------


async def test_the_connector_hears_both_have_the_details_once_the_kept_line_was_handed_over(
    settings: Settings,
) -> None:
    """Bob is away when Anna says yes after him: Ria hears both want contact and that
    Bob gets the details when he is back, not that they have them. After a restart Bob
    comes back and sees Anna's line; only then does Ria hear they have each other's
    details, once."""
    app = await App.open(settings)
    try:
        _anna, _bob, ria = await _connected_with_a_line_for_bob(app, bob_away=True)
        staff = await for_user(app, ria, "connect")
        assert [q.replies[0].key for q in staff] == ["connect.made_waiting_staff"]
        text = staff[0].text(app, "nl")
        assert "#1 en #2 willen allebei contact" in text and "#2 kan nu geen berichten" in text
        assert "elkaars gegevens gekregen" not in text
    finally:
        await app.close()

    app = await App.open(settings)
    try:
        bob = Chat(app, user_id="bob", name="Bob")
        ria = Chat(app, user_id="ria", name="Ria")
        await bob.send("/help")
        assert bob.keys[0] == "returning.title" and ANNA_LINE in bob.text
        assert await _keys(app, ria) == ["connect.made_waiting_staff", "connect.made_staff"]
        made = (await for_user(app, ria, "connect"))[-1].text(app, "nl")
        assert "#1 en #2 hebben elkaars gegevens gekregen" in made

        # Away and back again: nothing was waiting any more, nothing is told twice.
        await _away(app, bob)
        await bob.send("/help")
        assert ANNA_LINE not in bob.text
        assert await _keys(app, ria) == ["connect.made_waiting_staff", "connect.made_staff"]
    finally:
        await app.close()


async def test_the_connector_hears_the_details_are_on_their_way_when_nobody_is_away(
    app: App,
) -> None:
    """Both can be reached: the lines go out as both said yes, and Ria hears they are on
    their way (delivery may still find one of them blocked the bot: not "exchanged")."""
    _anna, _bob, ria = await _connected_with_a_line_for_bob(app, bob_away=False)
    assert await _keys(app, ria) == ["connect.made_sent_staff"]
    stored = await app.repos.connections.get(1)
    assert stored is not None and stored.line_kept_for is None


async def test_a_line_on_its_way_to_someone_who_erases_goes_no_further_and_both_hear_it(
    app: App,
) -> None:
    """Anna's line is on its way to Bob when he erases his data: Ria, told the details were
    on their way, hears his never reached him; Anna hears he will not get hers, naming only
    her own idea; nothing keeps her line."""
    anna, bob, ria = await _connected_with_a_line_for_bob(app, bob_away=False)
    assert await _lines_for_bob(app) == ["pending"]
    await _erase(app, bob)
    assert await _lines_for_bob(app) == []
    assert await traces(app.db, [ANNA_LINE]) == []
    assert await _keys(app, ria) == ["connect.made_sent_staff", "connect.kept_lost_staff"]
    told = (await for_user(app, anna, "connect"))[-1]
    assert [r.key for r in told.replies] == ["connect.kept_lost"]
    text = told.text(app, "nl")
    assert "jouw idee #1" in text and "krijgt ze nu ook niet meer" in text
    for his in ("Bob", BOB_TITLE, BOB_LINE, "#2"):
        assert his not in text, his


async def _anna_line_kept_for_bob(app: App) -> tuple[Chat, Chat, Chat]:
    """As :func:`_connected_with_a_line_for_bob` with Bob away, after Bob wrote a rude
    comment under Anna's idea."""
    anna, bob = await _two_with_ideas(app)
    await bob.press_payload("idea.comment:1")
    await bob.send("Wat een onzin, jullie zijn allemaal gek.")
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    await _delivered(app)
    await _says_yes(app, bob, BOB_LINE)
    await _away(app, bob)
    await _says_yes(app, anna, ANNA_LINE)
    assert await _keys(app, ria) == ["connect.made_waiting_staff"]
    return anna, bob, ria


async def test_the_connector_told_a_line_waits_hears_it_never_arrives_when_its_reader_is_erased(
    app: App,
) -> None:
    """Ria was told Bob gets Anna's details when he is back, and that she would hear. Bob
    is erased while away (as retention erases): she hears it will not happen."""
    _anna, bob, ria = await _anna_line_kept_for_bob(app)
    bobs_id = (await row(app, bob)).id
    async with app.db.transaction():
        await erase_person(
            app.repos,
            app.profile,
            app.settings.zone,
            bobs_id,
            content=ContentChoice.KEEP,
            cause=Cause.RETENTION,
            now=utcnow(),
        )
    await app.db.settled()
    told = await for_user(app, ria, "connect")
    assert [q.replies[0].key for q in told] == [
        "connect.made_waiting_staff",
        "connect.kept_lost_staff",
    ]
    text = told[-1].text(app, "nl")
    assert "De indiener van #1 en een andere inwoner" in text and "#2" not in text
    assert (
        await app.db.fetchval(
            "SELECT COUNT(*) FROM connections WHERE line_kept_for = ?", (bobs_id,)
        )
        == 0
    )


async def test_the_connector_told_a_line_waits_hears_it_never_arrives_when_its_reader_is_banned(
    app: App,
) -> None:
    _anna, _bob, ria = await _anna_line_kept_for_bob(app)
    await banned_over_reports(app, ria, 1, reporters="buur")
    told = await for_user(app, ria, "connect")
    assert [q.replies[0].key for q in told] == [
        "connect.made_waiting_staff",
        "connect.kept_lost_staff",
    ]
    # Anna's line for him is gone with the ban (not kept in a message that will never go,
    # nor in his own data's export), and nothing says it was handed over.
    assert await _lines_for_bob(app) == []
    assert await traces(app.db, [ANNA_LINE]) == []
    stored = await app.repos.connections.get(1)
    assert stored is not None and stored.line_kept_for is None


def _says_nothing_of_bob(text: str) -> None:
    """Nothing of the person the line waited for: not his name, idea, words or line, nor
    why it will not reach him."""
    for his in ("Bob", BOB_TITLE, BOB_LINE, "#2", "onzin", "geblokkeerd", "Samenspel"):
        assert his not in text, his


async def _anna_hears_her_line_is_lost(app: App, anna: Chat) -> None:
    """Anna, whose line waited for Bob, hears once, in her own chat, that he will not get
    it, naming only her own idea."""
    told = [q for q in await for_user(app, anna, "connect") if q.replies[0].key != "connect.ask"]
    assert [[r.key for r in q.replies] for q in told] == [["connect.kept_lost"]]
    text = told[0].text(app, "nl")
    assert "jouw idee #1" in text and "krijgt ze nu ook niet meer" in text
    _says_nothing_of_bob(text)
    assert "your idea #1" in told[0].text(app, "en")
    anna_row = await row(app, anna)
    chats = await app.db.fetchall(
        "SELECT chat_id FROM outbox WHERE user_id = ? AND kind = 'connect'", (anna_row.id,)
    )
    assert {r["chat_id"] for r in chats} == {anna_row.chat_id}


async def test_the_one_whose_line_waited_hears_it_will_not_reach_someone_banned(
    app: App,
) -> None:
    """Anna got Bob's line and hers waited for his return; Ria bans him. Anna hears that
    he will not get her details, not why."""
    anna, _bob, ria = await _anna_line_kept_for_bob(app)
    await banned_over_reports(app, ria, 1, reporters="buur")
    await _anna_hears_her_line_is_lost(app, anna)


async def test_away_herself_she_hears_it_when_she_is_back(app: App) -> None:
    """Anna blocked the bot too by the time Bob is banned: the word that her line will not
    reach him waits for her return, in her welcome back; nothing tells Ria it was handed."""
    anna, _bob, ria = await _anna_line_kept_for_bob(app)
    await _away(app, anna)
    await banned_over_reports(app, ria, 1, reporters="buur")
    kept = await app.db.fetchall(
        "SELECT status FROM outbox WHERE user_id = ? AND payload LIKE '%connect.kept_lost%'",
        ((await row(app, anna)).id,),
    )
    assert [r["status"] for r in kept] == ["unreachable"]  # kept for her return
    told_ria = await _keys(app, ria)

    await anna.send("/menu")
    assert anna.keys[0] == "returning.title", anna.keys
    assert "krijgt ze nu ook niet meer" in anna.text
    _says_nothing_of_bob(anna.text)
    assert await _keys(app, ria) == told_ria
    await anna.send("/menu")
    assert anna.keys == ["menu.title"]  # said once


async def test_the_one_whose_line_waited_hears_it_will_not_reach_someone_erased(
    app: App,
) -> None:
    """Bob never comes back and the retention erases him: Anna hears that he will not get
    her details, with nothing of his."""
    anna, bob, ria = await _anna_line_kept_for_bob(app)
    t0 = utcnow()
    silent = months_before(t0, app.settings.retention_months) - timedelta(days=1)
    async with app.db.transaction():
        await app.db.execute(
            "UPDATE users SET last_seen_at = ? WHERE id = ?",
            (iso(silent), (await row(app, bob)).id),
        )
    assert (await run_retention(app, t0)).warned == 1
    assert (await run_retention(app, t0 + timedelta(days=30))).erased == 1
    await app.db.settled()
    await _anna_hears_her_line_is_lost(app, anna)
    assert (await _keys(app, ria))[-1] == "connect.kept_lost_staff"


async def test_a_line_already_taken_for_sending_when_its_owner_erases_goes_no_further(
    app: App,
) -> None:
    """Anna's line was taken by delivery for Bob (it waits behind a message on the wire)
    when she erases her data: it is not sent to him after all; he hears the request ended."""
    anna, bob = await _two_with_ideas(app)
    bea = await person(app, "bea")
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    await _delivered(app)
    await _says_yes(app, bob, BOB_LINE)
    await _delivered(app)
    async with app.db.transaction():
        await app.repos.outbox.enqueue(
            (await row(app, bea)).id, queued_payload(), kind="status", now=utcnow()
        )
    await _says_yes(app, anna, ANNA_LINE)
    assert await _lines_for_bob(app) == ["pending"]
    wire = asyncio.Event()
    adapter = FakeAdapter(gates={"bea": wire})
    worker = DeliveryWorker(
        app.repos, app.catalog, adapter, DeliveryPolicy(concurrency=1, poll=0.05)
    )
    await worker.start()
    try:
        # Bea's message is on the wire; Bob's (Anna's line) was taken and waits behind it.
        await until(lambda: adapter.active == 1 and worker.in_flight >= 2)
        await _erase(app, anna)
        wire.set()
        await until(lambda: bool(adapter.to("bob")))
        await until(lambda: worker.in_flight == 0)
    finally:
        await worker.stop()
    sent_to_bob = [key for sent in adapter.to("bob") for key in sent.keys]
    assert "connect.made" not in sent_to_bob
    assert sent_to_bob == ["connect.ended_told"]
