"""A mute or ban outlives /vergeetmij: kept as a keyed hash of the account, no personal data,
and in force again when the same account takes part once more."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from handlers import when
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from tests.handlers.ideas.helpers import seed_idea
from tests.people import TimerLog, audit_actions, connector, row
from tests.privacy import traces
from tests.support import Chat

REASON = "Annabel scheldt steeds op de buren"


def annabel(app: App) -> Chat:
    return Chat(app, "70011122233", name="Annabel Zwartkruis", chat_id="c-70011122233")


async def _sanctioned(app: App, kind: SanctionKind, ends_in: timedelta | None = None) -> Chat:
    """Annabel, onboarded and commenting, then muted or banned by the connector."""
    await seed_idea(app, "Een speeltuin in Zeewijk")
    anna = annabel(app)
    await anna.onboard()
    ria = await connector(app)
    now = utcnow()
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, anna)).id,
            kind,
            reason=REASON,
            by_user_id=(await row(app, ria)).id,
            now=now,
            ends_at=now + ends_in if ends_in else None,
        )
    return anna


async def _forget(anna: Chat) -> None:
    await anna.send("/vergeetmij")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]


async def test_a_ban_is_not_lifted_by_forget_me(app: App) -> None:
    anna = await _sanctioned(app, SanctionKind.BAN)
    await _forget(anna)

    # Nothing of Annabel is left, not even the connector's words about her ...
    assert await traces(app.db, [anna.user_id, anna.chat_id or "", anna.name, REASON]) == []
    assert await app.repos.users.find("test", anna.user_id) is None
    # ... but her account's ban is, as a hash that her id alone does not give away.
    [kept] = await app.db.fetchall("SELECT account, kind, ends_at FROM kept_sanctions")
    assert (kept["kind"], kept["ends_at"]) == ("ban", None)
    assert len(kept["account"]) == 64 and anna.user_id not in kept["account"]

    # The same account comes back and agrees again: the ban is in force once more.
    await anna.send("/start")
    assert anna.keys == ["onboarding.welcome", "onboarding.consent_question"]
    await anna.press("Ja")
    await anna.send("/idee")
    assert anna.keys == ["moderation.banned"]
    assert "voordat je gegevens werden gewist" in anna.text
    await anna.press_payload("idea.comment:1")
    assert anna.keys == ["moderation.banned"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM kept_sanctions") == 0
    restored = await app.repos.sanctions.active((await row(app, anna)).id, utcnow())
    assert restored is not None and restored.kind is SanctionKind.BAN
    assert (await audit_actions(app))[-1] == "user.sanction_restored"
    # Its connector can lift it as any other (and sees why it has no reason of its own).
    ria = Chat(app, "ria")
    await ria.send("/beperkingen")
    assert "voordat je gegevens werden gewist" in ria.text


async def test_a_mute_comes_back_with_its_end_and_its_timer(app: App) -> None:
    timers = TimerLog(app)
    anna = await _sanctioned(app, SanctionKind.MUTE, timedelta(days=3))
    [(_, ends_at)] = await app.repos.sanctions.pending()
    await _forget(anna)

    await anna.onboard()
    assert anna.keys == ["onboarding.done"]  # a muted person may still finish onboarding
    await anna.send("/idee")
    assert anna.keys == ["moderation.muted"]
    until = when.moment(ends_at.astimezone(app.settings.zone), "nl")
    assert f"gedempt tot {until}" in anna.text
    [mute] = await app.repos.sanctions.of_user((await row(app, anna)).id)
    assert mute.ends_at == ends_at and mute.by_user_id is None
    assert timers.armed[-1].job == f"mute:{mute.id}" and timers.armed[-1].at == ends_at


async def test_a_mute_that_ended_meanwhile_is_forgotten(app: App) -> None:
    anna = await _sanctioned(app, SanctionKind.MUTE, timedelta(days=3))
    await _forget(anna)
    assert await app.db.fetchval("SELECT COUNT(*) FROM kept_sanctions") == 1

    later = utcnow() + timedelta(days=4)
    app.router.clock = lambda: later
    await anna.onboard()
    await anna.send("/idee")
    assert anna.keys == ["ideas.ask_category"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM kept_sanctions") == 0
    assert await app.repos.sanctions.of_user((await row(app, anna)).id) == []


async def test_a_warning_or_a_lifted_ban_is_not_kept(app: App) -> None:
    anna = await _sanctioned(app, SanctionKind.WARNING)
    bob = Chat(app, "bob")
    await bob.onboard()
    async with app.db.transaction():
        user = await row(app, bob)
        await app.repos.sanctions.add(
            user.id, SanctionKind.BAN, reason="x", by_user_id=None, now=utcnow()
        )
        await app.repos.sanctions.lift_all(user.id, by_user_id=None, now=utcnow())
    await _forget(anna)
    await _forget(bob)
    assert await app.db.fetchval("SELECT COUNT(*) FROM kept_sanctions") == 0


async def test_the_privacy_statement_says_a_mute_or_ban_outlives_an_erasure(app: App) -> None:
    anna = Chat(app, "anna")
    await anna.send("/privacy")
    assert "Ben je gedempt of geblokkeerd? Dan blijft dat gelden" in anna.text
    assert "geen naam en geen berichten" in anna.text
    bob = Chat(app, "bob", language_hint="en")
    await bob.send("/privacy")
    assert "Were you muted or banned? Then that still applies" in bob.text
