"""Meetings for staff: who comes (chat names only), the list for the door, moving a meeting
to another time, cancelling it. Whatever changes reaches everyone registered or waiting.

    mt.staff:<id> ─┬─ Aanmeldingen ──► names (coming, then the waitlist)
                   ├─ Deurlijst ──► a CSV file
                   ├─ Verplaatsen ──► starts ──► ends ──► moved: everyone told (+ new file)
                   └─ Afzeggen ──► sure? ──► cancelled: everyone told (+ cancelling file)

Once a meeting has begun it took place (or is taking place): it can no longer be moved or
cancelled, so nobody's calendar is told that a meeting they went to did not happen. Staff
keep the names and the door list. Every step checks the time again, and storage only moves
or cancels a meeting whose start is still ahead, so a button or dialog from before the start
changes nothing after it.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from handlers.answers import parse_id
from handlers.contract import Button, Dialog, Document, Reply, Response, Role, Timer, respond
from handlers.feature import Context, Expects, Feature, menu_reply
from handlers.meetings import jobs
from handlers.meetings.compose import ask_ends, invitation_payload, read_end, read_start
from handlers.meetings.shown import by_given_up, calendar_reply, moved_up, when
from storage.meetings.meetings import Meeting, Place

feature = Feature("meeting-manage")

MOVE = "meeting_move"
move_dialog = feature.dialog(MOVE, role=Role.CIVIL_SERVANT, subject="meetings.draft_move")
#: Names shown in one message (a longer list is in the door list file).
SHOWN_NAMES = 100


async def _meeting(ctx: Context, value: str | None = None) -> Meeting | Response:
    meeting_id = parse_id(ctx.value if value is None else value)
    meeting = await ctx.repos.meetings.get(meeting_id) if meeting_id is not None else None
    if meeting is None:
        return respond(menu_reply(ctx, "meetings.gone"))
    return meeting


async def _planned(ctx: Context) -> Meeting | Response:
    """The meeting a button names, unless it was cancelled: its registrations went with it,
    so an older button for who comes or the door list says that it is off, not "nobody"."""
    found = await _meeting(ctx)
    if isinstance(found, Meeting) and found.cancelled:
        everything = [Button(label="meetings.btn_all", payload="mt.list")]
        was = Reply(key="meetings.was_cancelled", params={"title": found.title})
        return respond(was.model_copy(update={"buttons": [everything]}))
    return found


def _back(meeting_id: int) -> list[Button]:
    return [Button(label="meetings.btn_back", payload=f"mt.staff:{meeting_id}")]


def _too_late(ctx: Context, meeting: Meeting) -> Reply | None:
    """Why a meeting can no longer be moved or cancelled (it began, or is over), if so."""
    if meeting.starts_at > ctx.now:
        return None
    key = "meetings.change_over" if meeting.ends_at <= ctx.now else "meetings.change_began"
    return Reply(key=key, params={"title": meeting.title})


def _refused(meeting: Meeting, why: Reply, *, in_dialog: bool = False) -> Response:
    """A move or cancellation refused because the meeting began: back to what staff can do
    (a move dialog ends; a button pressed outside it leaves any other dialog alone)."""
    return respond(why.model_copy(update={"buttons": [_back(meeting.id)]}), end_dialog=in_dialog)


def _not_movable(ctx: Context, meeting: Meeting) -> Response | None:
    """How a move dialog ends when its meeting was cancelled meanwhile (by a colleague) or
    began: at the next answer, not after both times were typed."""
    if meeting.cancelled:
        was = Reply(key="meetings.was_cancelled", params={"title": meeting.title})
        return respond(was, end_dialog=True)
    late = _too_late(ctx, meeting)
    return _refused(meeting, late, in_dialog=True) if late is not None else None


@feature.action("mt.staff", role=Role.CIVIL_SERVANT)
async def options(ctx: Context) -> Response:
    """What staff can do with a meeting."""
    found = await _planned(ctx)
    if isinstance(found, Response):
        return found
    meeting = found
    buttons = [
        [Button(label="meetings.btn_guests", payload=f"mt.who:{meeting.id}")],
        [Button(label="meetings.btn_door", payload=f"mt.door:{meeting.id}")],
    ]
    late = _too_late(ctx, meeting)
    if late is None:
        buttons += [
            [Button(label="meetings.btn_move", payload=f"mt.move:{meeting.id}")],
            [Button(label="meetings.btn_cancel_meeting", payload=f"mt.end:{meeting.id}")],
        ]
    buttons.append([Button(label="meetings.btn_all", payload="mt.list")])
    return respond(
        Reply(
            key="meetings.staff_options",
            params={
                "title": meeting.title,
                "when": when(meeting, ctx.timezone),
                "going": meeting.going,
                "capacity": meeting.capacity,
                "waiting": meeting.waiting,
            },
            parts=[late] if late is not None else [],
            buttons=buttons,
        )
    )


@feature.action("mt.who", role=Role.CIVIL_SERVANT)
async def guests(ctx: Context) -> Response:
    """Who comes and who waits, by chat name."""
    found = await _planned(ctx)
    if isinstance(found, Response):
        return found
    people = await ctx.repos.meetings.guests(found.id)
    parts = [
        Reply(
            key="meetings.guest_going" if place is Place.GOING else "meetings.guest_waiting",
            params={"number": number, "name": name or "?"},
        )
        for number, (name, place) in enumerate(people[:SHOWN_NAMES], start=1)
    ]
    return respond(
        Reply(
            key="meetings.guests",
            params={"title": found.title, "count": len(people)},
            parts=parts,
            buttons=[_back(found.id)],
        )
    )


@feature.action("mt.door", role=Role.CIVIL_SERVANT)
async def door_list(ctx: Context) -> Response:
    """The list for the door, as a CSV file (number, chat name, coming or waiting, a box)."""
    found = await _planned(ctx)
    if isinstance(found, Response):
        return found
    people = await ctx.repos.meetings.guests(found.id)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    heading = ctx.catalog.text(ctx.lang, "meetings.door_columns", {}, markup=False)
    writer.writerow(heading.split(";"))
    for number, (name, place) in enumerate(people, start=1):
        status = "meetings.door_going" if place is Place.GOING else "meetings.door_waiting"
        # A name starting with = + - @ is not a formula when the file is opened.
        safe = f"'{name}" if name[:1] in ("=", "+", "-", "@", "\t", "\r") else name
        writer.writerow([number, safe, ctx.catalog.text(ctx.lang, status, {}, markup=False), ""])
    await ctx.repos.audit.record(
        "meeting.door_list",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"meeting:{found.id}",
        detail={"people": len(people)},
    )
    return respond(
        Reply(
            key="meetings.door_file",
            params={"title": found.title, "count": len(people)},
            document=Document(
                filename=f"deurlijst-{found.id}.csv",
                data=("\ufeff" + out.getvalue()).encode("utf-8"),
                mime_type="text/csv",
            ),
            buttons=[_back(found.id)],
        )
    )


# Moving ----------------------------------------------------------------------------------------


@feature.action("mt.move", role=Role.CIVIL_SERVANT)
async def move(ctx: Context) -> Response:
    """Give a meeting another time: first the new start."""
    found = await _meeting(ctx)
    if isinstance(found, Response):
        return found
    if found.cancelled:
        return respond(Reply(key="meetings.was_cancelled", params={"title": found.title}))
    late = _too_late(ctx, found)
    if late is not None:
        return _refused(found, late)
    dialog = Dialog(name=MOVE, step="starts", data={"meeting_id": found.id})
    return respond(_ask_starts(ctx, found), dialog=dialog)


def _ask_starts(ctx: Context, meeting: Meeting) -> Reply:
    return Reply(
        key="meetings.ask_move",
        params={"title": meeting.title, "when": when(meeting, ctx.timezone)},
        buttons=[[Button(label="meetings.btn_stop", payload="cancel")]],
    )


@move_dialog.step("starts", expects=Expects.TEXT)
async def move_starts(ctx: Context, dialog: Dialog) -> Response:
    found = await _meeting(ctx, str(dialog.data["meeting_id"]))
    if isinstance(found, Response):
        return found.model_copy(update={"end_dialog": True})
    stopped = _not_movable(ctx, found)
    if stopped is not None:
        return stopped
    moment = read_start(ctx)
    if isinstance(moment, Reply):
        return respond(moment, _ask_starts(ctx, found), dialog=dialog)
    nxt = dialog.to("ends", starts_at=moment.isoformat())
    return respond(ask_ends(nxt), dialog=nxt)


@move_dialog.step("ends", expects=Expects.TEXT)
async def move_ends(ctx: Context, dialog: Dialog) -> Response:
    begins = datetime.fromisoformat(dialog.data["starts_at"])
    moment = read_end(ctx, begins)
    if isinstance(moment, Reply):
        return respond(moment, ask_ends(dialog), dialog=dialog)
    meeting_id = int(dialog.data["meeting_id"])
    if begins <= ctx.now:
        nxt = dialog.to("starts")
        found = await _meeting(ctx, str(meeting_id))
        if isinstance(found, Response):
            return found.model_copy(update={"end_dialog": True})
        return respond(Reply(key="meetings.start_passed"), _ask_starts(ctx, found), dialog=nxt)
    current = await ctx.repos.meetings.get(meeting_id)
    if (
        current is not None
        and not current.cancelled
        and (current.starts_at, current.ends_at) == (begins, moment)
    ):
        # The time it has already: nobody is told it moved, no reminder comes again.
        nxt = dialog.to("starts")
        same = Reply(key="meetings.move_same")
        return respond(same, _ask_starts(ctx, current), dialog=nxt)
    if not await ctx.repos.meetings.move(meeting_id, begins, moment, ctx.now, zone=ctx.timezone):
        # Cancelled, gone, or begun while this dialog was open.
        current = await ctx.repos.meetings.get(meeting_id)
        late = _too_late(ctx, current) if current is not None and not current.cancelled else None
        if current is not None and late is not None:
            return _refused(current, late, in_dialog=True)
        return respond(menu_reply(ctx, "meetings.not_moved"), end_dialog=True)
    meeting = await ctx.repos.meetings.get(meeting_id)
    assert meeting is not None
    await _bring_up_to_date(ctx, meeting)
    told = await _tell_everyone(ctx, meeting, "meetings.moved")
    await ctx.repos.audit.record(
        "meeting.move",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"meeting:{meeting_id}",
        detail={"told": told},
    )
    return respond(
        menu_reply(ctx, "meetings.moved_done", count=told),
        end_dialog=True,
        timers=[await jobs.timer(ctx.repos, meeting_id, ctx.timezone)],
    )


@move_dialog.ask("starts", "ends")
async def move_again(ctx: Context, dialog: Dialog) -> Response:
    """The question of the step the move is at, asked again to go on with it."""
    if dialog.step == "ends":
        return respond(ask_ends(dialog), dialog=dialog)
    found = await _meeting(ctx, str(dialog.data["meeting_id"]))
    if isinstance(found, Response):
        return found.model_copy(update={"end_dialog": True})
    stopped = _not_movable(ctx, found)
    if stopped is not None:
        return stopped
    return respond(_ask_starts(ctx, found), dialog=dialog)


async def _tell_everyone(
    ctx: Context,
    meeting: Meeting,
    key: str,
    people: list[tuple[int, Place]] | None = None,
    given_up: dict[int, int] | None = None,
) -> int:
    """Tell everyone registered or waiting what changed; those with a place get the
    calendar file again (the same UID, a higher SEQUENCE: their calendar updates the entry,
    or removes it when the meeting is cancelled). ``people`` and ``given_up`` (how often
    each gave up a place there) as they were before a cancellation removed them."""
    if people is None:
        people = await _places(ctx, meeting.id)
    message = Reply(
        key=key,
        params={"title": meeting.title, "when": when(meeting, ctx.timezone)},
        buttons=[[Button(label="meetings.btn_all", payload="mt.list")]],
    )
    going = [user_id for user_id, place in people if place is Place.GOING]
    waiting = [user_id for user_id, place in people if place is Place.WAITING]
    if given_up is None:
        given_up = await ctx.repos.meetings.given_up(meeting.id, going)
    batch = f"meeting:{meeting.id}:v{meeting.version}"
    told = 0
    # One file for everyone who gave up a place there as often (most never did).
    for times, group in by_given_up(going, given_up).items():
        calendar = calendar_reply(meeting, ctx.profile, ctx.now, ctx.timezone, given_up=times)
        told += await ctx.repos.outbox.fan_out(
            group,
            [
                message.model_dump(mode="json"),
                calendar.model_dump(mode="json"),
            ],
            kind="meeting",
            batch=batch,
            now=ctx.now,
            expires_at=meeting.starts_at,
        )
    told += await ctx.repos.outbox.fan_out(
        waiting,
        [message.model_dump(mode="json")],
        kind="meeting",
        batch=batch,
        now=ctx.now,
        expires_at=meeting.starts_at,
    )
    return told


# What still waits in the outbox about a meeting that changed ------------------------------


def change_notices(meeting: Meeting, *, up_to: int | None = None) -> list[str]:
    """The batches of the notices of the meeting's changes (moves, its cancellation), those
    before version ``up_to`` (all of them by default)."""
    last = meeting.version + 1 if up_to is None else up_to
    return [f"meeting:{meeting.id}:v{version}" for version in range(last)]


def _superseded(meeting: Meeting) -> list[str]:
    """The batches a change of the meeting makes untrue: its reminders (they start over) and
    the notices of earlier changes (the one about this change is about to go)."""
    prefix = f"meeting:{meeting.id}"
    earlier = change_notices(meeting, up_to=meeting.version)
    return [f"{prefix}:day", f"{prefix}:hour", *earlier]


async def _bring_up_to_date(ctx: Context, meeting: Meeting) -> None:
    """A meeting was moved: invitations and "a place came free" messages not sent yet go
    with the new time (and calendar file); reminders and older notices still waiting go."""
    await ctx.repos.outbox.withdraw(_superseded(meeting))
    if meeting.broadcast_id is not None:
        invited = invitation_payload(ctx, meeting)
        await ctx.repos.outbox.rewrite(
            f"broadcast:{meeting.broadcast_id}", invited, expires_at=meeting.starts_at
        )
        # Read later in "Wist je dat" too: the new time, not the old one.
        await _reshow(ctx, meeting.broadcast_id, invited)
    moved = f"meeting:{meeting.id}:moved"
    waiting = await ctx.repos.outbox.people_waiting(moved)
    given_up = await ctx.repos.meetings.given_up(meeting.id, waiting)
    for times, group in by_given_up(waiting, given_up).items():
        placed = moved_up(meeting, ctx.profile, ctx.now, ctx.timezone, given_up=times)
        await ctx.repos.outbox.rewrite(
            moved,
            [reply.model_dump(mode="json") for reply in placed],
            expires_at=meeting.starts_at,
            people=group,
        )


async def _reshow(ctx: Context, broadcast_id: int, payload: list[dict[str, Any]]) -> None:
    """The invitation as the news shows it from now on (and as the broadcast keeps it)."""
    await ctx.repos.broadcasts.replace_payload(broadcast_id, payload)
    await ctx.repos.news.replace_payload(broadcast_id, payload)


async def _withdraw_all(ctx: Context, meeting: Meeting) -> None:
    """A meeting was cancelled: nothing still waiting to invite, remind or place anyone
    goes out any more (everyone registered or waiting hears it is cancelled)."""
    batches = [*_superseded(meeting), f"meeting:{meeting.id}:moved"]
    if meeting.broadcast_id is not None:
        batches.append(f"broadcast:{meeting.broadcast_id}")
        # "Wist je dat" shows it as cancelled, without "Ik kom".
        await _reshow(ctx, meeting.broadcast_id, invitation_payload(ctx, meeting))
    await ctx.repos.outbox.withdraw(batches)


async def _places(ctx: Context, meeting_id: int) -> list[tuple[int, Place]]:
    found = []
    for user_id in await ctx.repos.meetings.people(meeting_id):
        mine = await ctx.repos.meetings.registration(meeting_id, user_id)
        if mine is not None:
            found.append((user_id, mine.status))
    return found


# Cancelling ------------------------------------------------------------------------------------


@feature.action("mt.end", role=Role.CIVIL_SERVANT)
async def cancel_ask(ctx: Context) -> Response:
    """Are you sure? Everyone registered will be told."""
    found = await _meeting(ctx)
    if isinstance(found, Response):
        return found
    if found.cancelled:
        return respond(Reply(key="meetings.was_cancelled", params={"title": found.title}))
    late = _too_late(ctx, found)
    if late is not None:
        return _refused(found, late)
    return respond(
        Reply(
            key="meetings.cancel_sure",
            params={"title": found.title, "count": found.going + found.waiting},
            buttons=[
                [Button(label="meetings.btn_cancel_yes", payload=f"mt.endok:{found.id}")],
                _back(found.id),
            ],
        )
    )


@feature.action("mt.endok", role=Role.CIVIL_SERVANT)
async def cancel_meeting(ctx: Context) -> Response:
    """Cancel the meeting: everyone registered or waiting is told, their registrations go."""
    found = await _meeting(ctx)
    if isinstance(found, Response):
        return found
    people = await _places(ctx, found.id)
    # Read before the cancellation removes it with the registrations.
    given_up = await ctx.repos.meetings.given_up(found.id, [user_id for user_id, _ in people])
    if await ctx.repos.meetings.cancel(found.id, ctx.now) is None:
        # Cancelled already, or it began (perhaps while "Are you sure?" was open).
        late = _too_late(ctx, found) if not found.cancelled else None
        if late is not None:
            return _refused(found, late)
        return respond(Reply(key="meetings.was_cancelled", params={"title": found.title}))
    meeting = await ctx.repos.meetings.get(found.id)
    assert meeting is not None
    await _withdraw_all(ctx, meeting)
    told = await _tell_everyone(ctx, meeting, "meetings.cancelled_by_staff", people, given_up)
    await ctx.repos.audit.record(
        "meeting.cancel",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"meeting:{meeting.id}",
        detail={"told": told},
    )
    return respond(
        menu_reply(ctx, "meetings.cancelled_done", count=told),
        timers=[Timer(job=jobs.job(meeting.id), at=None)],
    )
