"""Moderation: residents report comments, the connector decides, the author is always told."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App
from bot.settings import Settings
from handlers import when
from handlers.community.mutes import expire_mutes
from handlers.contract import Event, Reply, Timer
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from storage.community.reports import Flag
from storage.users import Role
from tests.handlers.ideas.helpers import seed_idea
from tests.meetings import ZONE
from tests.people import (
    TimerLog,
    audit_actions,
    connector,
    for_user,
    person,
    row,
    with_role,
)
from tests.privacy import traces
from tests.support import Chat


async def _reported_comment(app: App, *, reporters: int = 3) -> tuple[Chat, list[Chat]]:
    """Anna comments on idea #1; ``reporters`` residents report it with the buttons."""
    await seed_idea(app, "Een speeltuin in Zeewijk")
    anna = await person(app, "anna")
    await anna.press_payload("idea.comment:1")
    await anna.send("Wat een onzin, jullie zijn allemaal gek.")
    others = []
    for n in range(reporters):
        other = await person(app, f"r{n}")
        await other.press_payload("idea.comments:1")
        await other.press("Meld 1")
        assert other.keys == ["reporting.ask_reason"]
        await other.press("Schelden of beledigend")
        assert other.keys == ["reporting.thanks"]
        others.append(other)
    return anna, others


async def test_reports_hide_a_comment_at_the_threshold_and_its_author_is_told(app: App) -> None:
    anna, (bob, carl) = await _reported_comment(app, reporters=2)
    assert await app.repos.comments.count(1) == 1  # two reports: still visible
    # One report per person per comment.
    await bob.press_payload("idea.comments:1")
    await bob.press("Meld 1")
    assert bob.keys == ["reporting.already"]
    # Your own comment has no report button, and its payload is refused kindly.
    await anna.press_payload("idea.comments:1")
    assert not any("Meld" in label for label in anna.last[0].labels())
    await anna.press_payload("cm.report:1")
    assert anna.keys == ["reporting.own"]

    dora = await person(app, "dora")
    await dora.press_payload("idea.comments:1")
    await dora.press("Meld 1")
    await dora.press("Iets anders")
    assert dora.keys == ["reporting.ask_note"]
    await dora.send("Dit is niet aardig naar de buren.")
    assert dora.keys == ["reporting.thanks"]
    assert await app.repos.comments.count(1) == 0
    await dora.press_payload("idea.comments:1")
    assert "onzin" not in dora.text
    [told] = await for_user(app, anna, "moderation")
    assert "door meerdere mensen gemeld" in told.text(app, "nl")
    assert (await audit_actions(app))[-1] == "comment.auto_hide"
    # Once hidden, it cannot be reported again.
    await carl.press_payload("cm.report:1")
    assert carl.keys == ["reporting.already_hidden"]


DECISIONS = {
    "keep": (["Laten staan"], "Het mag scherp, dit is niet beledigend.", True, None),
    "hide": (["Verbergen"], "Houd het vriendelijk.", False, None),
    "warn": (["Waarschuwen"], "Schelden hoort hier niet.", False, SanctionKind.WARNING),
    "mute": (["Dempen", "1 week"], "Een week pauze.", False, SanctionKind.MUTE),
    "ban": (["Blokkeren"], "Dit is de derde keer.", False, SanctionKind.BAN),
}
TOLD = {
    "keep": "hij blijft staan",
    "hide": "is verborgen door Burgerbeest",
    "warn": "Een waarschuwing van Burgerbeest",
    "mute": "kun je niet reageren en niets insturen",
    "ban": "heeft je geblokkeerd",
}


@pytest.mark.parametrize("decision", list(DECISIONS))
async def test_each_decision_of_the_connector_reaches_the_author_with_the_reason(
    app: App, decision: str
) -> None:
    timers = TimerLog(app)
    anna, _ = await _reported_comment(app)
    ria = await connector(app)
    await ria.send("/meldingen")
    assert ria.keys == ["moderation.card"]
    assert "Wat een onzin" in ria.text and "verborgen" in ria.text
    assert "schelden of beledigend: 3" in ria.text
    presses, reason, visible, kind = DECISIONS[decision]
    for label in presses:
        await ria.press(label)
    assert ria.keys == [f"moderation.ask_reason_{decision}"]
    await ria.send(reason)
    assert ria.keys == [f"moderation.done_{decision}", "moderation.empty"]

    assert (await app.repos.comments.count(1) == 1) is visible
    assert await app.repos.reports.open_count(Flag.COMMENT, 1) == 0
    author = (await row(app, anna)).id
    sanctions = await app.repos.sanctions.of_user(author)
    assert [s.kind for s in sanctions] == ([kind] if kind else [])
    told = (await for_user(app, anna, "moderation"))[-1]
    text = told.text(app, "nl")
    assert TOLD[decision] in text and reason in text
    entry = (await app.repos.logbook.page(limit=1))[0]
    assert entry.reason == reason and entry.actor_user_id == (await row(app, ria)).id
    assert entry.subject_user_id == author
    if kind is SanctionKind.MUTE:
        ends = sanctions[0].ends_at
        assert ends is not None
        assert timers.armed[-1].job == f"mute:{sanctions[0].id}" and timers.armed[-1].at == ends
        # The end time is shown in Amsterdam time.
        local = when.moment(ends.astimezone(app.settings.zone), "nl")
        assert f"Tot {local}" in text


async def test_a_muted_resident_reads_but_cannot_post_and_is_told_until_when(app: App) -> None:
    anna, _ = await _reported_comment(app)
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press("Dempen")
    await ria.send("3")
    await ria.send("Even afkoelen.")
    [mute] = await app.repos.sanctions.of_user((await row(app, anna)).id)
    assert mute.ends_at is not None
    until = when.moment(mute.ends_at.astimezone(app.settings.zone), "nl")

    for attempt in ("/idee", "/nieuwexperiment"):
        await anna.send(attempt)
        assert anna.keys == ["moderation.muted"], attempt
        assert f"gedempt tot {until}" in anna.text and "Even afkoelen." in anna.text
        assert "/vraag" in anna.text  # how to object
        assert "Idee insturen" not in " ".join(anna.last[-1].labels())
    await anna.press_payload("idea.comment:1")
    assert anna.keys == ["moderation.muted"]
    # Reading, supporting and following still work, and asking the connector (to object).
    await anna.send("/ideeen")
    assert anna.keys == ["ideas.list_title"]
    await anna.press_payload("idea.support:1")
    assert anna.keys == ["ideas.supported", "ideas.card"]
    await anna.send("/vraag Waarom ben ik gedempt?")
    assert anna.keys == ["questions.sent"]
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert asked.messages[0].text == "Waarom ben ik gedempt?"


async def test_a_mute_ends_by_itself_also_across_a_restart(settings: Settings) -> None:
    app = await App.open(settings)
    try:
        anna, _ = await _reported_comment(app)
        ria = await connector(app)
        await ria.send("/meldingen")
        await ria.press("Dempen")
        await ria.press("1 dag")
        await ria.send("Een dag pauze.")
        await anna.press_payload("idea.comment:1")
        assert anna.keys == ["moderation.muted"]
        [(sanction_id, ends_at)] = await app.repos.sanctions.pending()
    finally:
        await app.close()

    # The bot was down while the mute ended: nothing has told anyone yet.
    later = ends_at + timedelta(minutes=5)
    app = await App.open(settings, clock=lambda: later)
    try:
        anna = Chat(app, "anna")
        await anna.press_payload("idea.comment:1")
        assert anna.keys == ["comments.ask"]  # the stored end time decides, not the timer
        await anna.send("Sorry, dat was niet netjes.")
        assert anna.keys == ["comments.added", "comments.title"]
        # After the restart the scheduler re-arms what is pending: this one is due at once.
        assert await app.repos.sanctions.pending() == [(sanction_id, ends_at)]
        assert await expire_mutes(app.repos, later) == 1
        assert await expire_mutes(app.repos, later) == 0
        assert await app.repos.sanctions.pending() == []
        told = (await for_user(app, anna, "moderation"))[-1]
        assert "Je kunt weer reageren" in told.text(app, "nl")
        assert (await audit_actions(app))[-1] == "user.mute_end"
    finally:
        await app.close()


async def test_a_banned_resident_can_only_use_the_privacy_commands(app: App) -> None:
    anna, _ = await _reported_comment(app)
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press("Blokkeren")
    await ria.send("Herhaaldelijk schelden.")

    await anna.send("/privacy")
    assert anna.keys == ["privacy.statement"]
    await anna.press_payload("privacy")
    assert anna.keys == ["privacy.statement"]
    await anna.send("/mydata")
    assert anna.keys[0] == "privacy.data.summary"
    assert any(seen.reply.document is not None for seen in anna.last)
    await anna.send("/vergeetmij")
    assert anna.keys == ["privacy.forget.choose"]  # the confirmation dialog is open to them
    await anna.send("/annuleer")
    for attempt in ("/start", "/ideeen", "/help", "/menu", "/wachtrij", "hallo"):
        await anna.send(attempt)
        assert anna.keys == ["moderation.banned"], attempt
        assert "Herhaaldelijk schelden." in anna.text and "privacy@velsen.nl" in anna.text
    for payload in ("idea.open:1", "ideas.list", "menu", "lang:en"):
        await anna.press_payload(payload)
        assert anna.keys == ["moderation.banned"], payload


async def test_the_connector_lifts_a_mute_early_and_the_resident_is_told(app: App) -> None:
    timers = TimerLog(app)
    anna, _ = await _reported_comment(app)
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press("Dempen")
    await ria.press("1 week")
    await ria.send("Een week pauze.")
    [mute] = await app.repos.sanctions.of_user((await row(app, anna)).id)
    await ria.send("/beperkingen")
    assert ria.keys == ["moderation.active_title"]
    assert "gedempt tot" in ria.text and "Een week pauze." in ria.text
    await ria.press("Opheffen")
    assert ria.keys == ["moderation.lifted"]
    assert timers.armed[-1].job == f"mute:{mute.id}" and timers.armed[-1].at is None
    assert "opgeheven" in (await for_user(app, anna, "moderation"))[-1].text(app, "nl")
    await anna.send("/idee")
    assert anna.keys == ["ideas.ask_category"]
    assert (await audit_actions(app))[-1] == "user.unrestrict"
    assert await app.repos.sanctions.pending() == []


async def test_an_old_lift_button_for_a_mute_does_not_lift_a_ban_given_since(app: App) -> None:
    anna, _ = await _reported_comment(app)
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press("Dempen")
    await ria.press("1 dag")
    await ria.send("Een dag pauze.")
    await ria.send("/beperkingen")
    assert "gedempt tot" in ria.text
    old_list = ria.last
    # Meanwhile another connector bans Anna for something else she wrote.
    anna_id = (await row(app, anna)).id
    async with app.db.transaction():
        await app.repos.sanctions.add(
            anna_id, SanctionKind.BAN, reason="Bedreiging.", by_user_id=None, now=utcnow()
        )
    [(_, payload)] = [b for b in old_list[0].buttons if "Opheffen" in b[0]]
    await ria.press_payload(payload)
    assert ria.keys == ["moderation.lift_changed", "moderation.active_title"]
    assert "geblokkeerd sinds" in ria.text and "Bedreiging." in ria.text
    ban = await app.repos.sanctions.active(anna_id, utcnow())
    assert ban is not None and ban.kind is SanctionKind.BAN
    assert "user.unrestrict" not in await audit_actions(app)
    # The button of the list as it is now lifts the ban.
    await ria.press("Opheffen")
    assert ria.keys == ["moderation.lifted"]
    assert await app.repos.sanctions.active(anna_id, utcnow()) is None
    await ria.press_payload(payload)
    assert ria.keys == ["moderation.nothing_to_lift"]


async def test_a_comment_its_author_changed_while_the_connector_decided_is_shown_again(
    app: App,
) -> None:
    anna, reporters = await _reported_comment(app, reporters=2)  # still visible: editable
    ria = await connector(app)
    await ria.send("/meldingen")
    assert "allemaal gek" in ria.text
    await ria.press("Laten staan")
    # Anna changes her comment into something else before the connector has decided.
    await anna.press_payload("idea.comments:1")
    await anna.press("Pas 1 aan")
    await anna.send("Jullie zijn allemaal sukkels en oplichters.")
    assert anna.keys[0] == "comments.edit_saved"
    await ria.send("Kritiek mag, dit is niet beledigend.")
    assert ria.keys == ["moderation.edited_meanwhile", "moderation.not_sent", "moderation.card"]
    assert "sukkels en oplichters" in ria.text
    assert "Kritiek mag, dit is niet beledigend." in ria.text  # the typed reason comes back
    # Nothing was decided: the reports stay open, nobody was told.
    assert await app.repos.reports.open_count(Flag.COMMENT, 1) == 2
    assert "comment.keep" not in await audit_actions(app)
    assert [q.kind for q in await for_user(app, reporters[0])] == []
    # Deciding on the comment as it is now works.
    await ria.press("Verbergen")
    await ria.send("Schelden hoort hier niet.")
    assert ria.keys[0] == "moderation.done_hide"


async def test_staff_comments_can_only_be_kept_or_hidden(app: App) -> None:
    await seed_idea(app, "Een idee")
    ria = await connector(app)
    await ria.press_payload("idea.comment:1")
    await ria.send("Ik kom volgende week kijken.")
    for n in range(3):
        other = await person(app, f"r{n}")
        await other.press_payload("cm.report:1")
        await other.press("Reclame of spam")
    sam = await connector(app, "sam")
    await sam.send("/meldingen")
    labels = " ".join(sam.last[0].labels())
    assert "Laten staan" in labels and "Verbergen" in labels
    assert "Dempen" not in labels and "Blokkeren" not in labels
    await sam.press_payload("mod.do:1:ban")
    assert sam.keys == ["general.stale_button"]
    assert await app.repos.sanctions.of_user((await row(app, ria)).id) == []


async def test_mute_periods_are_checked(app: App) -> None:
    await _reported_comment(app)
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press("Dempen")
    for typed in ("0", "400", "een week"):
        await ria.send(typed)
        assert ria.keys == ["moderation.bad_period", "moderation.ask_period"], typed
    await ria.send("10")
    assert ria.keys == ["moderation.ask_reason_mute"]
    assert "demp je de schrijver 10 dagen?" in ria.text


def _clock(start: datetime) -> tuple[Callable[[], datetime], Callable[[timedelta], None]]:
    now = [start]

    def advance(by: timedelta) -> None:
        now[0] += by

    return (lambda: now[0]), advance


async def test_a_mute_stops_exactly_at_its_end_time(app: App) -> None:
    clock, advance = _clock(utcnow())
    app.router.clock = clock
    anna, _ = await _reported_comment(app)
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press("Dempen")
    await ria.press("1 dag")
    await ria.send("Pauze.")
    [mute] = await app.repos.sanctions.of_user((await row(app, anna)).id)
    assert mute.ends_at is not None
    advance(mute.ends_at - clock() - timedelta(minutes=1))
    await anna.send("/idee")
    assert anna.keys == ["moderation.muted"]
    advance(timedelta(minutes=2))
    await anna.send("/idee")
    assert anna.keys == ["ideas.ask_category"]


#: (when the connector mutes for a week, when the mute ends: on Amsterdam's clock).
MUTED_ACROSS_A_CHANGE = [
    # 7 times 24 hours ended at 18:20 on 1 April's clock.
    pytest.param(
        datetime(2027, 3, 25, 17, 20, tzinfo=ZONE),
        datetime(2027, 4, 1, 17, 20, tzinfo=ZONE),
        id="spring",
    ),
    # 7 times 24 hours ended at 16:20 on 3 November's clock.
    pytest.param(
        datetime(2027, 10, 27, 17, 20, tzinfo=ZONE),
        datetime(2027, 11, 3, 17, 20, tzinfo=ZONE),
        id="autumn",
    ),
]


@pytest.mark.parametrize(("muted", "ends"), MUTED_ACROSS_A_CHANGE)
async def test_a_week_long_mute_ends_at_the_clock_time_it_names_across_a_clock_change(
    app: App, muted: datetime, ends: datetime
) -> None:
    timers = TimerLog(app)
    clock, advance = _clock(muted.astimezone(UTC))
    app.router.clock = clock
    anna, _ = await _reported_comment(app)
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press("Dempen")
    await ria.press("1 week")
    await ria.send("Een week pauze.")
    [mute] = await app.repos.sanctions.of_user((await row(app, anna)).id)
    assert mute.ends_at == ends.astimezone(UTC)
    assert timers.armed[-1] == Timer(job=f"mute:{mute.id}", at=mute.ends_at)
    told = (await for_user(app, anna, "moderation"))[-1]
    assert f"Tot {when.moment(ends, 'nl')} kun je niet" in told.text(app, "nl")

    advance(ends.astimezone(UTC) - muted.astimezone(UTC) - timedelta(minutes=1))
    await anna.send("/idee")
    assert anna.keys == ["moderation.muted"]
    advance(timedelta(minutes=1))
    await anna.send("/idee")
    assert anna.keys == ["ideas.ask_category"]


@pytest.mark.parametrize("meanwhile", ["erased", "staff"])
async def test_a_ban_for_an_author_who_is_gone_or_became_staff_meanwhile_is_not_given(
    app: App, meanwhile: str
) -> None:
    anna, _ = await _reported_comment(app)
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press("Blokkeren")
    assert ria.keys == ["moderation.ask_reason_ban"]
    # While the connector types the reason, Anna erases herself (her comment stays), or
    # the operator makes her a civil servant.
    if meanwhile == "erased":
        await anna.send("/vergeetmij")
        await anna.press("Laten staan zonder naam")
        await anna.press("Ja, wis mijn gegevens")
        assert anna.keys == ["privacy.forget.done"]
    else:
        await with_role(app, anna, Role.CIVIL_SERVANT)

    await ria.send("Dit is de derde keer.")
    # The card as it is now, and her reason back to use with what can still be decided.
    assert ria.keys == ["moderation.card", "moderation.not_sent"]
    assert "Dit is de derde keer." in ria.text
    assert "Blokkeren" not in " ".join(ria.last[0].labels())
    assert await app.db.fetchval("SELECT COUNT(*) FROM sanctions") == 0
    assert await app.repos.dialogs.load((await row(app, ria)).id) is None


#: A comment longer than its quotes, which show its start cut with "…".
NAMING = (
    "Xjqw Jan de Vries van nummer 4 is een oplichter, hij verkoopt kapotte fietsen aan"
    " iedereen in de straat en niemand durft er iets van te zeggen. Pas op voor hem!"
)


async def test_a_deleted_comment_leaves_the_notices_and_waiting_replies_of_its_reporters(
    app: App,
) -> None:
    """Reporters are told the decision without the comment, and a reply quoting it that
    never arrived (its report's first question) goes when its author deletes it with
    herself: a reporter keeps no words of another."""
    await seed_idea(app, "Een speeltuin in Zeewijk")
    anna = await person(app, "anna")
    await anna.press_payload("idea.comment:1")
    await anna.send(NAMING)
    dirk = await person(app, "dirk")
    await dirk.press_payload("idea.comments:1")

    async def lost(_: Event, __: str, ___: list[Reply]) -> None:
        raise ConnectionError("the network went down")

    await app.router.handle(dirk.event(button="cm.report:1", event_id="u-77"), lost)
    assert "Xjqw Jan de Vries" in await app.db.fetchval("SELECT pending FROM handled_events")
    await dirk.press_payload("cm.report:1")
    await dirk.press("Schelden of beledigend")
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press("Laten staan")
    await ria.send("Mag gezegd worden.")
    [told] = await for_user(app, dirk, "moderation")
    assert "hij blijft staan" in told.text(app, "nl")
    assert "Xjqw" not in json.dumps([reply.params for reply in told.replies])

    await anna.send("/vergeetmij")
    await anna.press("Ook wissen")
    await anna.press("Ja")
    assert anna.keys == ["privacy.forget.done"]
    assert await traces(app.db, ["Xjqw", "oplichter"]) == []
    # Dirk was still told what became of his report.
    assert len(await for_user(app, dirk, "moderation")) == 1


async def test_on_matrix_a_typed_number_of_days_and_a_typed_reason_are_never_buttons(
    app: App,
) -> None:
    """Matrix numbers the options ("1 dag", "1 week", "Stoppen"): "2" typed for the mute's
    days is two days, not the second option (a week); "1" typed as the reason is a reason
    too short, not a button."""
    anna, _ = await _reported_comment(app)
    ria = await with_role(app, await person(app, "ria", platform="matrix"), Role.CONNECTOR)
    await ria.send("/meldingen")
    await ria.press("Dempen")
    assert ria.keys == ["moderation.ask_period"]
    await ria.send("2")
    assert ria.keys == ["moderation.ask_reason_mute"], ria.keys
    assert "demp je de schrijver 2 dagen?" in ria.text
    await ria.send("1")
    assert ria.keys[-1] == "moderation.ask_reason_mute", ria.keys
    assert await app.repos.sanctions.of_user((await row(app, anna)).id) == []
    await ria.send("Schelden tegen andere bewoners.")
    [mute] = await app.repos.sanctions.of_user((await row(app, anna)).id)
    assert mute.ends_at is not None and mute.ends_at - mute.created_at == timedelta(days=2)


async def test_a_muted_author_reads_until_when_in_their_own_language_not_the_connectors(
    app: App,
) -> None:
    anna, _ = await _reported_comment(app)
    author = (await row(app, anna)).id
    async with app.db.transaction():
        await app.repos.users.set_language(author, "en")
    ria = await connector(app)
    async with app.db.transaction():
        await app.repos.users.set_language((await row(app, ria)).id, "ar")
    await ria.send("/meldingen")
    await ria.press_payload(next(p for _, p in ria.buttons() if p.endswith(":mute")))
    await ria.press_payload(next(p for _, p in ria.buttons() if p.endswith(":7")))
    await ria.send("Een week pauze.")
    [mute] = await app.repos.sanctions.of_user(author)
    assert mute.ends_at is not None
    told = (await for_user(app, anna, "moderation"))[-1]
    text = told.text(app, "en")
    assert when.moment(mute.ends_at.astimezone(app.settings.zone), "en") in text
    assert "\u2068" not in text  # nothing of the connector's Arabic
