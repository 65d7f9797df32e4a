"""Meetings for residents: registering, the waitlist, cancelling.

    a meeting's card (see browse.py), an invitation
        ├─ Ik kom ──► a place (+ calendar file, reminders) or the waitlist
        └─ Ik kom toch niet ──► place freed ──► first on the waitlist moves up, told (+ file)
                               (one who blocked the bot is passed over, and keeps their turn;
                                so is one whose message that they moved up met their block:
                                the place goes on to the next, see jobs.unreachable)
                               (once it began: nothing changes, and the person sees the
                                meeting as it is now, without the button)

Every button carries the meeting's id and is checked against what is stored now: a button
for a cancelled or past meeting, or from someone not registered, changes nothing.

Each calendar file counts the times its person gave up their place there (see
:func:`handlers.meetings.shown.sequence`): after the file that took the meeting out of their
calendar, the one that puts it back must count higher, or their calendar ignores it.
"""

from __future__ import annotations

from handlers.answers import parse_id
from handlers.contract import Button, Reply, Response, Role, respond
from handlers.feature import Context, Feature
from handlers.meetings import jobs
from handlers.meetings.browse import card_after_start
from handlers.meetings.manage import change_notices
from handlers.meetings.shown import calendar_reply, moved_up, reminders_to_come, when
from storage.meetings.meetings import Meeting, Place

feature = Feature("meetings")


async def _meeting(ctx: Context) -> Meeting | Response:
    """The meeting a button names, or the answer for a button that no longer applies."""
    meeting_id = parse_id(ctx.value)
    meeting = await ctx.repos.meetings.get(meeting_id) if meeting_id is not None else None
    if meeting is None:
        return respond(Reply(key="meetings.gone", buttons=_to_list()))
    if meeting.cancelled:
        return respond(Reply(key="meetings.was_cancelled", params={"title": meeting.title}))
    return meeting


def _to_list() -> list[list[Button]]:
    return [
        [
            Button(label="meetings.btn_all", payload="mt.list"),
            Button(label="menu.back", payload="menu"),
        ]
    ]


def _as_it_is_now(ctx: Context, meeting: Meeting) -> Response:
    """The answer to an old "Ik kom" or "Ik kom toch niet" once the meeting began: the
    meeting as it is now, that it began or is over, without the buttons that cannot work.
    A new message, not an edit: the button may sit under a "Wist je dat" page or a notice
    (a reminder), whose words and page buttons must stay."""
    again = card_after_start(ctx, meeting)
    return respond(again.model_copy(update={"buttons": [*again.buttons, *_to_list()]}))


@feature.action("mt.go", role=Role.RESIDENT)
async def register(ctx: Context) -> Response:
    """ "Ik kom": a place while there is one (with the calendar file), else the waitlist;
    either says when the meeting is, which an invitation read before a move does not."""
    found = await _meeting(ctx)
    if isinstance(found, Response):
        return found
    meeting = found
    if meeting.starts_at <= ctx.now:
        return _as_it_is_now(ctx, meeting)
    already = await ctx.repos.meetings.registration(meeting.id, ctx.user.id)
    if already is not None and already.status is Place.WAITING:
        # A place that came free while they could not be reached waited for them (see
        # Meetings.fill): back, and asking again, they get it.
        placed = await ctx.repos.meetings.fill(meeting.id, ctx.now, zone=ctx.timezone)
        others = [other for other in placed if other != ctx.user.id]
        if ctx.user.id in placed:
            return await _placed_reply(ctx, meeting, Place.GOING, others)
        for other in others:
            await tell_moved_up(ctx, meeting.id, other)
        already = await ctx.repos.meetings.registration(meeting.id, ctx.user.id)
    if already is not None:
        key = (
            "meetings.already_going"
            if already.status is Place.GOING
            else "meetings.already_waiting"
        )
        return respond(
            Reply(key=key, params={"title": meeting.title, "position": already.position or 0}),
            timers=[await jobs.timer(ctx.repos, meeting.id, ctx.timezone)],
        )
    registered_now = await ctx.repos.meetings.register(
        meeting.id, ctx.user.id, ctx.now, zone=ctx.timezone
    )
    if registered_now is None:
        current = await ctx.repos.meetings.get(meeting.id)
        if current is not None and current.cancelled:
            return respond(Reply(key="meetings.was_cancelled", params={"title": meeting.title}))
        return respond(Reply(key="meetings.began", params={"title": meeting.title}))
    return await _placed_reply(ctx, meeting, *registered_now)


async def _placed_reply(
    ctx: Context, meeting: Meeting, place: Place, others: list[int]
) -> Response:
    """The answer to "Ik kom" that gave a place (with the calendar file) or a spot on the
    waitlist; ``others``: who else got a place just now, told here."""
    for other in others:
        await tell_moved_up(ctx, meeting.id, other)
    cancel = [
        [Button(label="meetings.btn_not_going", payload=f"mt.no:{meeting.id}")],
        *_to_list(),
    ]
    timers = [await jobs.timer(ctx.repos, meeting.id, ctx.timezone)]
    # The time as it is now: the invitation pressed may be older than a move.
    shown_when = when(meeting, ctx.timezone)
    if place is Place.WAITING:
        mine = await ctx.repos.meetings.registration(meeting.id, ctx.user.id)
        position = mine.position if mine is not None else 0
        return respond(
            Reply(
                key="meetings.waitlisted",
                params={"title": meeting.title, "position": position, "when": shown_when},
                buttons=cancel,
            ),
            timers=timers,
        )
    registered = Reply(
        key="meetings.registered",
        params={"title": meeting.title, "when": shown_when},
        buttons=cancel,
        parts=reminders_to_come(meeting, ctx.timezone, ctx.now),
    )
    given_up = await _given_up(ctx, meeting.id, ctx.user.id)
    return respond(
        registered,
        calendar_reply(meeting, ctx.profile, ctx.now, ctx.timezone, given_up=given_up),
        timers=timers,
    )


@feature.action("mt.ics", role=Role.RESIDENT)
async def calendar_again(ctx: Context) -> Response:
    """The calendar file again, for someone with a place (someone waiting hears their
    number on the waitlist: the file comes with the place)."""
    found = await _meeting(ctx)
    if isinstance(found, Response):
        return found
    mine = await ctx.repos.meetings.registration(found.id, ctx.user.id)
    if mine is not None and mine.status is Place.WAITING:
        params = {"title": found.title, "position": mine.position or 0}
        return respond(Reply(key="meetings.calendar_waiting", params=params))
    if mine is None or mine.status is not Place.GOING:
        return respond(Reply(key="meetings.not_registered", params={"title": found.title}))
    given_up = await _given_up(ctx, found.id, ctx.user.id)
    return respond(calendar_reply(found, ctx.profile, ctx.now, ctx.timezone, given_up=given_up))


# Open to someone banned meanwhile: the reminders they still get ask them to give up a
# place they will not use, and the first waiting should not lose it to the ban.
@feature.action("mt.no", role=Role.RESIDENT, open_to_banned=True)
async def cancel(ctx: Context) -> Response:
    """ "Ik kom toch niet": the place goes to the first on the waitlist, who is told.

    Once the meeting began nothing changes: nobody moves up into a meeting that is going
    on (or over), so the person is not told that someone else gets their place; they see
    the meeting as it is now instead."""
    found = await _meeting(ctx)
    if isinstance(found, Response):
        return found
    meeting = found
    if meeting.starts_at <= ctx.now:
        return _as_it_is_now(ctx, meeting)
    # Counted before this time: the file that takes it out counts one above the last one in.
    given_up = await _given_up(ctx, meeting.id, ctx.user.id)
    result = await ctx.repos.meetings.cancel_registration(
        meeting.id, ctx.user.id, ctx.now, zone=ctx.timezone
    )
    if result is None:
        return respond(Reply(key="meetings.not_registered", params={"title": meeting.title}))
    had, moved = result
    # What still waits to reach them about the place (it came free for them, a reminder)
    # no longer holds: taken back.
    await ctx.repos.outbox.withdraw_pending(ctx.user.id, "meeting", f"mt.no:{meeting.id}")
    # So does news of a move still on its way: its file would put the meeting back in the
    # calendar the file below takes it out of.
    await ctx.repos.outbox.withdraw(change_notices(meeting), people=[ctx.user.id])
    if moved is not None:
        await tell_moved_up(ctx, meeting.id, moved)
    # "Someone else gets your place" only when someone really moved up into it.
    key = "meetings.cancelled_mine" if moved is None else "meetings.cancelled_mine_passed"
    replies = [Reply(key=key, params={"title": meeting.title}, buttons=_to_list())]
    if had is Place.GOING:
        # They had the file that put it in their calendar: this one takes it out.
        taken_out = calendar_reply(
            meeting, ctx.profile, ctx.now, ctx.timezone, given_up=given_up, left=True
        )
        replies.append(taken_out)
    return respond(*replies, timers=[await jobs.timer(ctx.repos, meeting.id, ctx.timezone)])


async def tell_moved_up(ctx: Context, meeting_id: int, user_id: int) -> None:
    """Tell someone from the waitlist they have a place now, with the calendar file."""
    meeting = await ctx.repos.meetings.get(meeting_id)
    assert meeting is not None
    given_up = await _given_up(ctx, meeting_id, user_id)
    told = moved_up(meeting, ctx.profile, ctx.now, ctx.timezone, given_up=given_up)
    payload = [r.model_dump(mode="json") for r in told]
    await ctx.repos.outbox.enqueue(
        user_id,
        payload,
        kind="meeting",
        batch=f"meeting:{meeting_id}:moved",
        now=ctx.now,
        expires_at=meeting.starts_at,
    )


async def _given_up(ctx: Context, meeting_id: int, user_id: int) -> int:
    """How often this person gave up their place at this meeting."""
    return (await ctx.repos.meetings.given_up(meeting_id, [user_id]))[user_id]
