"""Connecting two residents when one of them is banned: no contact line of anyone reaches a
banned person, and nobody is left waiting for an answer that cannot come."""

from __future__ import annotations

from bot.app import App
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from tests.handlers.ideas.helpers import seed_idea
from tests.people import banned_over_reports, connector, for_user, outbox, person, row
from tests.privacy import traces
from tests.support import Chat


async def _two_with_ideas(app: App) -> tuple[Chat, Chat, Chat]:
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    for who, title in ((anna, "Bankjes in het park"), (bob, "Bankjes bij de vijver")):
        await seed_idea(
            app,
            title,
            author=(await row(app, who)).id,
            description="Zet bankjes bij de vijver in het park neer.",
        )
    return anna, bob, await connector(app)


async def _ban(app: App, who: Chat, by: Chat) -> None:
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, who)).id,
            SanctionKind.BAN,
            reason="Bedreigde andere bewoners.",
            by_user_id=(await row(app, by)).id,
            now=utcnow(),
        )


async def test_a_banned_resident_is_not_asked_to_connect(app: App) -> None:
    anna, _, ria = await _two_with_ideas(app)
    await _ban(app, anna, ria)
    await ria.send("/verbind #1 #2")
    assert ria.keys == ["connect.banned"]
    assert await outbox(app, "connect") == []


async def test_no_contact_line_reaches_someone_banned_after_saying_yes(app: App) -> None:
    anna, bob, ria = await _two_with_ideas(app)
    await ria.send("/verbind #1 #2")
    [ask_anna] = await for_user(app, anna, "connect")
    [ask_bob] = await for_user(app, bob, "connect")
    await anna.press_payload(ask_anna.payloads()[0])
    await anna.send("anna@example.org")
    assert anna.keys == ["connect.waiting"]
    await bob.press_payload(ask_bob.payloads()[0])
    assert bob.keys == ["connect.ask_contact"]
    # Anna is banned while Bob types his contact line.
    await _ban(app, anna, ria)
    await bob.send("bob@example.org")
    # Bob hears it does not go ahead (not why: a ban is Anna's own business); neither
    # contact line goes anywhere.
    assert bob.keys == ["connect.not_made"]
    assert "anna@example.org" not in bob.text
    assert not any("bob@example.org" in str(q.replies) for q in await outbox(app))
    assert not any("anna@example.org" in str(q.replies) for q in await outbox(app))
    stored = await app.repos.connections.get(1)
    assert stored is not None and stored.status == "declined"
    assert stored.contact_a is None and stored.contact_b is None
    assert "gaat niet door" in (await for_user(app, ria, "connect"))[-1].text(app, "nl")
    assert len(await for_user(app, anna, "connect")) == 1  # only the question she was asked


async def test_someone_asked_to_connect_with_a_person_banned_since_hears_it_at_once(
    app: App,
) -> None:
    anna, bob, ria = await _two_with_ideas(app)
    await ria.send("/verbind #1 #2")
    [ask_bob] = await for_user(app, bob, "connect")
    await _ban(app, anna, ria)
    await bob.press_payload(ask_bob.payloads()[0])
    assert bob.keys == ["connect.not_made"]
    assert await app.repos.dialogs.load((await row(app, bob)).id) is None
    stored = await app.repos.connections.get(1)
    assert stored is not None and stored.status == "declined"
    # Saying no to what is over already is answered kindly, and changes nothing.
    await bob.press_payload(ask_bob.payloads()[1])
    assert bob.keys == ["connect.closed"]


async def test_a_line_still_on_its_way_to_someone_banned_meanwhile_goes_no_further(
    app: App,
) -> None:
    """Both said yes, Bob last: Anna got nothing yet, Bob's line waits in the queue for her
    (she is slow to be reached). Then she is banned: his line never reaches her, he hears
    it will not (not why), and Ria, told the details were on their way, hears they were not."""
    anna, bob, ria = await _two_with_ideas(app)
    await anna.press_payload("idea.comment:2")
    await anna.send("Wat een onzin, jullie zijn allemaal gek.")
    await ria.send("/verbind #1 #2")
    [ask_anna] = await for_user(app, anna, "connect")
    [ask_bob] = await for_user(app, bob, "connect")
    await anna.press_payload(ask_anna.payloads()[0])
    await anna.send("anna@example.org")
    await bob.press_payload(ask_bob.payloads()[0])
    await bob.send("bob@example.org")
    assert bob.keys == ["connect.made"]
    assert [q.replies[0].key for q in await for_user(app, ria, "connect")] == [
        "connect.made_sent_staff"
    ]

    await banned_over_reports(app, ria, 2, reporters="buur")

    waiting = await app.db.fetchall(
        "SELECT payload FROM outbox WHERE user_id = ? AND status = 'pending'",
        ((await row(app, anna)).id,),
    )
    assert not any("bob@example.org" in r["payload"] for r in waiting)
    assert await traces(app.db, ["bob@example.org"]) == []
    told_bob = (await for_user(app, bob, "connect"))[-1]
    assert [r.key for r in told_bob.replies] == ["connect.kept_lost"]
    text = told_bob.text(app, "nl")
    assert "jouw idee #2" in text and "krijgt ze nu ook niet meer" in text
    assert "#1" not in text and "blokk" not in text.lower()
    assert [q.replies[0].key for q in await for_user(app, ria, "connect")] == [
        "connect.made_sent_staff",
        "connect.kept_lost_staff",
    ]


async def test_a_question_that_never_reached_either_is_taken_back_when_one_is_banned(
    app: App,
) -> None:
    """Ria asks Anna and Bob; neither question has reached them yet when Anna is banned.
    Both are taken back: Anna is not asked what she can no longer answer, and Bob does not
    read of a request and then that it is over."""
    anna, bob, ria = await _two_with_ideas(app)
    await anna.press_payload("idea.comment:2")
    await anna.send("Wat een onzin, jullie zijn allemaal gek.")
    await ria.send("/verbind #1 #2")
    await banned_over_reports(app, ria, 2, reporters="buur")
    for who in (anna, bob):
        waiting = await app.db.fetchall(
            "SELECT payload FROM outbox WHERE user_id = ? AND kind = 'connect'"
            " AND status = 'pending'",
            ((await row(app, who)).id,),
        )
        assert waiting == [], who.user_id
    stored = await app.repos.connections.get(1)
    assert stored is not None and stored.status == "declined"
