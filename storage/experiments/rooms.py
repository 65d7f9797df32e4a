"""Experiment rooms: the linked group or room, who was welcomed, reported messages, room
sanctions, and the platform work still to do there (``room_tasks``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import StrEnum

import aiosqlite
from pydantic import BaseModel, ConfigDict

from storage.clock import iso, parse
from storage.db import Database


class Room(BaseModel):
    """A group or room linked to an experiment."""

    model_config = ConfigDict(frozen=True)

    id: int
    experiment_id: int
    platform: str
    chat_id: str
    #: The bot was removed from it: nobody is invited there, and /koppel elsewhere moves it.
    gone: bool = False


class RoomOp(StrEnum):
    """What the bot does in a room on the platform."""

    INVITE = "invite"
    HIDE = "hide"
    MUTE = "mute"
    UNMUTE = "unmute"
    BAN = "ban"
    UNBAN = "unban"
    #: Take someone out who may no longer be there (left the experiment, banned from the
    #: bot, erased): not a ban, they may come back if they may again.
    REMOVE = "remove"


class RoomTask(BaseModel):
    """One thing to do in a room, due at ``due_at``."""

    model_config = ConfigDict(frozen=True)

    id: int
    room: Room
    op: RoomOp
    target: str
    user_id: int | None
    by_user_id: int | None
    until: datetime | None
    attempts: int
    #: A removal the platform was asked for before (:meth:`Rooms.trying`): whatever that
    #: try did, the platform may have done it without its outcome being recorded.
    tried: bool = False
    #: The report a reporter's own ``/melden`` was for (a hide of it; else None).
    report_id: int | None = None


class RoomReport(BaseModel):
    """A reported room message and who reported it."""

    model_config = ConfigDict(frozen=True)

    id: int
    room: Room
    message_id: str
    #: The group or room the message is in: the room's own, unless the room moved to
    #: another group since (:attr:`elsewhere`).
    chat_id: str
    author_platform_id: str
    author_user_id: int | None
    #: Its text as the room showed it when reported (the latest edit, if edited).
    body: str
    #: Its text as first written, when it was edited before it was reported (else None).
    original_body: str | None = None
    link: str | None
    created_at: datetime
    reporters: list[int]
    decided: bool

    @property
    def elsewhere(self) -> bool:
        """Whether the message is in a group the room has left (it moved to another one
        after the bot was removed): out of the bot's reach, it cannot be hidden."""
        return self.chat_id != self.room.chat_id


class RoomSanction(BaseModel):
    """A mute or ban in a room, in force: whom (the account of the reported message), why,
    and until when (a ban has no end).

    After its person erased their data only the account is left (``pseudonym`` set; no
    person, message or reason): it can still be listed and lifted.
    """

    model_config = ConfigDict(frozen=True)

    id: int
    room: Room
    kind: str
    target: str
    user_id: int | None
    body: str
    reason: str | None
    created_at: datetime
    ends_at: datetime | None
    pseudonym: str | None = None


#: A room mute or ban that holds now (bound: the moment, as ISO text).
_IN_FORCE = (
    "s.kind IN ('mute', 'ban') AND s.lifted_at IS NULL AND (s.ends_at IS NULL OR s.ends_at > ?)"
)

#: A task that may be carried out now: in a room the bot was removed from, every task waits
#: until the room is linked again (in the same group, where the person may still be and the
#: decision still stands, or in the one that replaces it, see :meth:`Rooms._move_gone`).
_MAY_RUN = "r.gone_at IS NULL"

_ROOM = "r.id AS rid, r.experiment_id, r.platform, r.chat_id, r.gone_at IS NOT NULL AS gone"


def _room(row: aiosqlite.Row) -> Room:
    return Room(
        id=row["rid"],
        experiment_id=row["experiment_id"],
        platform=row["platform"],
        chat_id=row["chat_id"],
        gone=bool(row["gone"]),
    )


class Rooms:
    """The experiment_rooms, room_welcomes, room_reports, room_reporters, room_sanctions and
    room_tasks tables."""

    def __init__(self, db: Database):
        self.db = db
        self._queued: list[Callable[[], None]] = []

    def on_queued(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after a commit that queued room tasks; returns its remover."""
        self._queued.append(listener)
        return lambda: self._queued.remove(listener)

    # Links ------------------------------------------------------------------------------

    async def link(
        self,
        experiment_id: int,
        platform: str,
        chat_id: str,
        by_user_id: int | None,
        now: datetime,
    ) -> Room | None:
        """Link a room to an experiment; None when the room or the experiment's room on this
        platform is linked already.

        An experiment whose room the bot was removed from gets this one instead: the room
        moves here with its reports, mutes and bans (:meth:`_move_gone`)."""
        moved = await self._move_gone(experiment_id, platform, chat_id, by_user_id, now)
        if moved is not None:
            return moved
        room_id = await self.db.execute(
            "INSERT INTO experiment_rooms (experiment_id, platform, chat_id, linked_by,"
            " linked_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (experiment_id, platform, chat_id, by_user_id, iso(now)),
        )
        found = await self.of_chat(platform, chat_id)
        if found is None or found.id != room_id or found.experiment_id != experiment_id:
            return None
        return found

    async def _move_gone(
        self,
        experiment_id: int,
        platform: str,
        chat_id: str,
        by_user_id: int | None,
        now: datetime,
    ) -> Room | None:
        """The experiment's room the bot was removed from, moved to ``chat_id`` (or back in
        the same group, where the bot was added again); None when it has none gone.

        In another group the old one's messages are out of reach (their hiding is dropped:
        a reporter whose own ``/melden`` stays there hears so, see
        :func:`handlers.experiments.rooms.link`),
        nobody waiting to be taken out of the old one was ever let into it (that is dropped
        too), everyone is welcomed afresh, and the mutes and bans in force are carried out
        there too, in place of those that waited (a ban lifted meanwhile has nothing to
        lift there): a ban from the room holds in the group that replaces it; a mute's end
        still waits for its moment. Back in the same group, whatever waited for the bot (a
        removal, a mute, a ban decided meanwhile) is done now."""
        old = await self.db.fetchone(
            f"SELECT {_ROOM} FROM experiment_rooms r WHERE r.experiment_id = ?"
            " AND r.platform = ? AND r.gone_at IS NOT NULL",
            (experiment_id, platform),
        )
        if old is None:
            return None
        await self.db.execute(
            "UPDATE experiment_rooms SET chat_id = ?, gone_at = NULL, linked_by = ?,"
            " linked_at = ? WHERE id = ?",
            (chat_id, by_user_id, iso(now), old["rid"]),
        )
        room = await self.of_chat(platform, chat_id)
        assert room is not None
        if old["chat_id"] == chat_id:
            return room
        await self.db.execute(
            "DELETE FROM room_tasks WHERE room_id = ?"
            " AND op IN ('hide', 'remove', 'mute', 'ban', 'unban')",
            (room.id,),
        )
        await self.db.execute("DELETE FROM room_welcomes WHERE room_id = ?", (room.id,))
        held = await self.db.fetchall(
            "SELECT s.kind, s.target, MAX(s.ends_at) AS ends_at FROM room_sanctions s"
            f" WHERE s.room_id = ? AND s.target IS NOT NULL AND {_IN_FORCE}"
            " GROUP BY s.kind, s.target",
            (room.id, iso(now)),
        )
        for row in held:
            if row["kind"] == "ban":
                await self.queue(room, RoomOp.BAN, row["target"], now)
            elif not await self.banned(room.id, row["target"], now):
                await self.queue(
                    room, RoomOp.MUTE, row["target"], now, until=parse(row["ends_at"])
                )
        return room

    async def unlink_waits_for(self, room_id: int) -> str | None:
        """What keeps a room from being unlinked now: ``"reports"`` (reports from it still
        to be decided), ``"tasks"`` (work still to do there on the platform other than
        invites: a message to take away, someone to take out, a mute, a ban or their ends);
        None when nothing does."""
        reports = await self.db.fetchval(
            "SELECT 1 FROM room_reports WHERE room_id = ? AND decided_at IS NULL LIMIT 1",
            (room_id,),
        )
        if reports is not None:
            return "reports"
        tasks = await self.db.fetchval(
            "SELECT 1 FROM room_tasks WHERE room_id = ? AND op != 'invite' LIMIT 1", (room_id,)
        )
        return "tasks" if tasks is not None else None

    async def unlink(self, room_id: int) -> int | None:
        """The group or room is no longer the experiment's: it goes with what the bot kept
        about it (welcomes, decided reports, mutes and bans that ended or hold only on the
        platform now) and the invites still to be made there. Returns how many invites were
        dropped; None when it was not linked (any more)."""
        invites = int(
            await self.db.fetchval(
                "SELECT COUNT(*) FROM room_tasks WHERE room_id = ? AND op = 'invite'", (room_id,)
            )
        )
        deleted = await self.db.execute_rowcount(
            "DELETE FROM experiment_rooms WHERE id = ?", (room_id,)
        )
        return invites if deleted == 1 else None

    async def gone(self, platform: str, chat_id: str, now: datetime) -> Room | None:
        """The bot was removed from a linked group or room: nobody is invited there any
        more (the invites still to be made wait for the group that replaces it). Returns
        the room; None when none is linked there or it was gone already."""
        changed = await self.db.execute_rowcount(
            "UPDATE experiment_rooms SET gone_at = ? WHERE platform = ? AND chat_id = ?"
            " AND gone_at IS NULL",
            (iso(now), platform, chat_id),
        )
        return await self.of_chat(platform, chat_id) if changed == 1 else None

    async def linked_by(self, room_id: int) -> int | None:
        """Who linked the room (last), if they are still known."""
        found = await self.db.fetchval(
            "SELECT linked_by FROM experiment_rooms WHERE id = ?", (room_id,)
        )
        return int(found) if found is not None else None

    async def of_chat(self, platform: str, chat_id: str) -> Room | None:
        row = await self.db.fetchone(
            f"SELECT {_ROOM} FROM experiment_rooms r WHERE r.platform = ? AND r.chat_id = ?",
            (platform, chat_id),
        )
        return _room(row) if row else None

    async def moved(self, platform: str, chat_id: str, new_chat_id: str) -> Room | None:
        """A room the platform gave a new id (a Telegram group upgraded to a supergroup):
        its link, tasks, reports and sanctions move with it. Returns the room now at
        ``new_chat_id`` (None when neither id is a room)."""
        changed = await self.db.execute_rowcount(
            "UPDATE experiment_rooms SET chat_id = ? WHERE platform = ? AND chat_id = ?"
            " AND NOT EXISTS (SELECT 1 FROM experiment_rooms WHERE platform = ? AND chat_id = ?)",
            (new_chat_id, platform, chat_id, platform, new_chat_id),
        )
        room = await self.of_chat(platform, new_chat_id)
        if changed and room is not None:
            # The same group under a new id: its reported messages are still the room's.
            await self.db.execute(
                "UPDATE room_reports SET chat_id = ? WHERE room_id = ? AND chat_id = ?",
                (new_chat_id, room.id, chat_id),
            )
        return room

    async def of_experiment(self, experiment_id: int) -> list[Room]:
        rows = await self.db.fetchall(
            f"SELECT {_ROOM} FROM experiment_rooms r WHERE r.experiment_id = ? ORDER BY r.id",
            (experiment_id,),
        )
        return [_room(row) for row in rows]

    async def all(self, platform: str | None = None) -> list[Room]:
        rows = await self.db.fetchall(
            f"SELECT {_ROOM} FROM experiment_rooms r WHERE ? IS NULL OR r.platform = ?"
            " ORDER BY r.id",
            (platform, platform),
        )
        return [_room(row) for row in rows]

    # Welcomes ---------------------------------------------------------------------------

    async def welcome(self, room_id: int, user_id: int, now: datetime) -> bool:
        """Note that someone is welcomed; False when they were before."""
        changed = await self.db.execute_rowcount(
            "INSERT INTO room_welcomes (room_id, user_id, welcomed_at)"
            " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (room_id, user_id, iso(now)),
        )
        return changed == 1

    async def invite_waiting(self, room_id: int, user_id: int) -> bool:
        """Whether an invite for this person to this room is still to be made."""
        found = await self.db.fetchval(
            "SELECT 1 FROM room_tasks WHERE room_id = ? AND user_id = ? AND op = 'invite'",
            (room_id, user_id),
        )
        return found is not None

    async def drop_invites(self, experiment_id: int, user_id: int) -> int:
        """Forget the invites still to be made for this person to the experiment's rooms
        (they stopped taking part); returns how many."""
        return await self.db.execute_rowcount(
            "DELETE FROM room_tasks WHERE user_id = ? AND op = 'invite' AND room_id IN"
            " (SELECT id FROM experiment_rooms WHERE experiment_id = ?)",
            (user_id, experiment_id),
        )

    async def take_out(
        self, room: Room, target: str, now: datetime, *, user_id: int | None
    ) -> bool:
        """Queue taking an account out of a room (:attr:`RoomOp.REMOVE`); False when that is
        on its way already. ``user_id`` is the person, told once it is done (None after an
        erasure: the task then holds the account alone, until it ran)."""
        waiting = await self.db.fetchval(
            "SELECT 1 FROM room_tasks WHERE room_id = ? AND target = ? AND op = 'remove'",
            (room.id, target),
        )
        if waiting is not None:
            return False
        await self.queue(room, RoomOp.REMOVE, target, now, user_id=user_id)
        return True

    async def drop_removal(self, room_id: int, target: str) -> int:
        """Forget taking an account out of a room (they may be there again); returns how
        many such tasks were waiting."""
        return await self.db.execute_rowcount(
            "DELETE FROM room_tasks WHERE room_id = ? AND target = ? AND op = 'remove'",
            (room_id, target),
        )

    # Reports ----------------------------------------------------------------------------

    async def report(
        self,
        room_id: int,
        *,
        message_id: str,
        author_platform_id: str,
        author_user_id: int | None,
        body: str,
        link: str | None,
        reporter_user_id: int,
        now: datetime,
        original_body: str | None = None,
    ) -> tuple[int, bool]:
        """Report a message; returns its report id and whether this reporter is new to it.

        ``body`` is its text as the room shows it now, ``original_body`` its text as first
        written if it was edited. Reported again while still open, the report takes the
        text as it is now (edited since?), and keeps the first text it saw of an edited one.
        A message decided about before is open again when someone new reports it (the same
        reporter again changes nothing: they heard the outcome). A message
        is known by its number in the group the room is in now: the same number in a group
        the room was in before is another message.
        """
        await self.db.execute(
            "INSERT INTO room_reports (room_id, chat_id, message_id, author_platform_id,"
            " author_user_id, body, original_body, link, created_at)"
            " SELECT r.id, r.chat_id, ?, ?, ?, ?, ?, ?, ? FROM experiment_rooms r"
            " WHERE r.id = ?"
            " ON CONFLICT (room_id, chat_id, message_id) DO UPDATE SET body = excluded.body,"
            " original_body = coalesce(room_reports.original_body, excluded.original_body)"
            " WHERE room_reports.decided_at IS NULL AND room_reports.body IS NOT NULL",
            (
                message_id,
                author_platform_id,
                author_user_id,
                body,
                original_body,
                link,
                iso(now),
                room_id,
            ),
        )
        report_id = int(
            await self.db.fetchval(
                "SELECT q.id FROM room_reports q JOIN experiment_rooms r ON r.id = q.room_id"
                " WHERE q.room_id = ? AND q.chat_id = r.chat_id AND q.message_id = ?",
                (room_id, message_id),
            )
        )
        added = await self.db.execute_rowcount(
            "INSERT INTO room_reporters (report_id, reporter_user_id, reported_at)"
            " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (report_id, reporter_user_id, iso(now)),
        )
        if added == 1:
            # Someone new reports a message decided about before: they are told the
            # connector looks at it, so it is open again, as the room shows it now, and
            # reported now (retention counts an open report from when it was made).
            await self.db.execute(
                "UPDATE room_reports SET decided_at = NULL, decision = NULL, body = ?,"
                " original_body = coalesce(original_body, ?), created_at = ?"
                " WHERE id = ? AND decided_at IS NOT NULL AND body IS NOT NULL",
                (body, original_body, iso(now), report_id),
            )
        return report_id, added == 1

    async def reported(self, room_id: int, message_id: str) -> bool:
        """Whether the message with this number in the room's group is reported (open or
        decided)."""
        found = await self.db.fetchval(
            "SELECT 1 FROM room_reports q JOIN experiment_rooms r ON r.id = q.room_id"
            " WHERE q.room_id = ? AND q.chat_id = r.chat_id AND q.message_id = ?",
            (room_id, message_id),
        )
        return found is not None

    async def get_report(self, report_id: int) -> RoomReport | None:
        row = await self.db.fetchone(
            "SELECT q.id, q.message_id, q.chat_id AS message_chat_id, q.author_platform_id,"
            " q.author_user_id, q.body, q.original_body, q.link, q.created_at, q.decided_at,"
            f" {_ROOM} FROM room_reports q"
            " JOIN experiment_rooms r ON r.id = q.room_id WHERE q.id = ?",
            (report_id,),
        )
        if row is None:
            return None
        reporters = await self.db.fetchall(
            "SELECT reporter_user_id FROM room_reporters WHERE report_id = ? ORDER BY reported_at",
            (report_id,),
        )
        return RoomReport(
            id=row["id"],
            room=_room(row),
            message_id=row["message_id"],
            chat_id=row["message_chat_id"],
            author_platform_id=row["author_platform_id"],
            author_user_id=row["author_user_id"],
            body=row["body"] or "",
            original_body=row["original_body"],
            link=row["link"],
            created_at=parse(row["created_at"]),
            reporters=[int(r[0]) for r in reporters],
            decided=row["decided_at"] is not None,
        )

    async def next_open(self, after: int | None) -> int | None:
        """The open report after ``after`` (oldest first), or the first one."""
        found = await self.db.fetchval(
            "SELECT id FROM room_reports WHERE decided_at IS NULL AND id > ? ORDER BY id LIMIT 1",
            (after or 0,),
        )
        return int(found) if found is not None else None

    async def waiting(self) -> int:
        return int(
            await self.db.fetchval("SELECT COUNT(*) FROM room_reports WHERE decided_at IS NULL")
        )

    async def forget_strangers(self, before: datetime, *, now: datetime) -> int:
        """Delete reports about people who never used the bot, decided (or, still open,
        made) before then, with the decisions about them (their reasons may name them):
        nobody can ask for them or have them erased. Returns how many reports.

        A mute or ban that still holds on the platform stays, listable and liftable, as
        the account alone under a random pseudonym (as after an erasure)."""
        strangers = (
            "SELECT id FROM room_reports WHERE author_user_id IS NULL"
            " AND coalesce(decided_at, created_at) < ?"
        )
        await self.db.execute(
            "UPDATE room_sanctions AS s SET report_id = NULL, reason = NULL,"
            " pseudonym = 'anon-' || lower(hex(randomblob(8)))"
            f" WHERE s.user_id IS NULL AND s.target IS NOT NULL AND {_IN_FORCE}"
            f" AND s.report_id IN ({strangers})",
            (iso(now), iso(before)),
        )
        await self.db.execute(
            f"DELETE FROM room_sanctions WHERE user_id IS NULL AND report_id IN ({strangers})",
            (iso(before),),
        )
        return await self.db.execute_rowcount(
            f"DELETE FROM room_reports WHERE id IN ({strangers})", (iso(before),)
        )

    async def decide(self, report_id: int, decision: str, now: datetime) -> bool:
        """Close a report with the connector's decision; False when it was closed already."""
        changed = await self.db.execute_rowcount(
            "UPDATE room_reports SET decided_at = ?, decision = ?"
            " WHERE id = ? AND decided_at IS NULL",
            (iso(now), decision, report_id),
        )
        return changed == 1

    # Sanctions --------------------------------------------------------------------------

    async def sanction(
        self,
        room_id: int,
        *,
        report_id: int,
        user_id: int | None,
        kind: str,
        reason: str,
        by_user_id: int,
        now: datetime,
        ends_at: datetime | None = None,
        target: str | None = None,
    ) -> None:
        """Record a decision about a reported message; a mute or ban names the ``target``
        account it holds for on the platform."""
        await self.db.execute(
            "INSERT INTO room_sanctions (room_id, report_id, user_id, kind, reason, by_user_id,"
            " created_at, ends_at, target) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                room_id,
                report_id,
                user_id,
                kind,
                reason,
                by_user_id,
                iso(now),
                iso(ends_at) if ends_at else None,
                target if kind in ("mute", "ban") else None,
            ),
        )

    async def banned(self, room_id: int, target: str, now: datetime) -> bool:
        """Whether a ban on this account holds in this room now (in the bot's records)."""
        found = await self.db.fetchval(
            "SELECT 1 FROM room_sanctions s WHERE s.room_id = ? AND s.target = ?"
            f" AND s.kind = 'ban' AND {_IN_FORCE} LIMIT 1",
            (room_id, target, iso(now)),
        )
        return found is not None

    async def restricted(self, room_id: int, now: datetime) -> bool:
        """Whether a mute or ban holds in this room now (in the bot's records)."""
        found = await self.db.fetchval(
            f"SELECT 1 FROM room_sanctions s WHERE s.room_id = ? AND {_IN_FORCE} LIMIT 1",
            (room_id, iso(now)),
        )
        return found is not None

    async def tell_left_once(self, report_id: int, reporter_user_id: int, now: datetime) -> bool:
        """Whether a reporter is to hear that their ``/melden`` of this report was left in
        the room: the first time only (noted now), however often they reported it."""
        told = await self.db.execute_rowcount(
            "UPDATE room_reporters SET told_left_at = ? WHERE report_id = ?"
            " AND reporter_user_id = ? AND told_left_at IS NULL",
            (iso(now), report_id, reporter_user_id),
        )
        return told == 1

    async def own_reports_waiting(self, room_id: int) -> list[tuple[int, int | None]]:
        """The reporters whose own ``/melden`` (or reaction) still waits to be taken out of
        the room's group, each with the report it made (None for a task from before
        reports were noted on it), oldest first."""
        rows = await self.db.fetchall(
            "SELECT user_id, report_id FROM room_tasks WHERE room_id = ? AND op = 'hide'"
            " AND user_id IS NOT NULL ORDER BY id",
            (room_id,),
        )
        return [(int(row[0]), row[1]) for row in rows]

    async def muted_until(self, room_id: int, target: str, now: datetime) -> datetime | None:
        """The end of the mute on this account in this room that holds now, if any."""
        found = await self.db.fetchval(
            "SELECT MAX(s.ends_at) FROM room_sanctions s WHERE s.room_id = ? AND s.target = ?"
            f" AND s.kind = 'mute' AND {_IN_FORCE}",
            (room_id, target, iso(now)),
        )
        return parse(found) if found else None

    async def _was_muted(self, room_id: int, target: str) -> bool:
        found = await self.db.fetchval(
            "SELECT 1 FROM room_sanctions WHERE room_id = ? AND target = ? AND kind = 'mute'"
            " LIMIT 1",
            (room_id, target),
        )
        return found is not None

    async def forget_accounts(self, room_id: int, target: str, now: datetime) -> None:
        """The account of an erased person is kept only while a mute or ban of theirs holds
        in the room: once each has been lifted or ended, it goes (a task that still has to
        undo it on the platform holds the account itself)."""
        await self.db.execute(
            "UPDATE room_sanctions AS s SET target = NULL WHERE s.room_id = ? AND s.target = ?"
            f" AND s.pseudonym IS NOT NULL AND NOT ({_IN_FORCE})",
            (room_id, target, iso(now)),
        )

    async def count_in_force(self, now: datetime) -> int:
        """How many room mutes and bans hold now (as :meth:`in_force` lists them)."""
        total = await self.db.fetchval(
            "SELECT COUNT(*) FROM room_sanctions s JOIN experiment_rooms r ON r.id = s.room_id"
            f" WHERE {_IN_FORCE} AND s.target IS NOT NULL",
            (iso(now),),
        )
        return int(total)

    async def in_force(
        self,
        now: datetime,
        *,
        sanction_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RoomSanction]:
        """Room mutes and bans that hold now (or the one with ``sanction_id``), newest
        first (``limit`` from ``offset``). One whose author erased themselves (its report
        gone) keeps its account and the erasure's pseudonym only."""
        rows = await self.db.fetchall(
            "SELECT s.id, s.kind, s.user_id, s.reason, s.created_at, s.ends_at, s.target,"
            f" s.pseudonym, q.body, {_ROOM} FROM room_sanctions s"
            " LEFT JOIN room_reports q ON q.id = s.report_id"
            f" JOIN experiment_rooms r ON r.id = s.room_id WHERE {_IN_FORCE}"
            " AND s.target IS NOT NULL AND (? IS NULL OR s.id = ?)"
            " ORDER BY s.id DESC LIMIT ? OFFSET ?",
            (iso(now), sanction_id, sanction_id, limit, offset),
        )
        return [
            RoomSanction(
                id=row["id"],
                room=_room(row),
                kind=row["kind"],
                target=row["target"],
                user_id=row["user_id"],
                body=row["body"] or "",
                reason=row["reason"],
                created_at=parse(row["created_at"]),
                ends_at=parse(row["ends_at"]),
                pseudonym=row["pseudonym"],
            )
            for row in rows
        ]

    async def lift(self, sanction: RoomSanction, *, by_user_id: int, now: datetime) -> list[int]:
        """End a room mute or ban early, with every other one of its kind on the same
        account in that room (the platform holds one): the platform's undoing is queued now
        and what was still to do (the mute itself, its end; the ban, an invite that would
        come before the unban) is dropped. Returns the ids lifted; none when it was lifted
        or ended already.

        Under a ban a mute's end is not undone on the platform (on Telegram restoring a
        banned member's rights would let them back in). The ban's end puts the mute back as
        it should be then: still muted until its end, or with their rights back (a mute's
        end skipped under the ban left them muted on Matrix).
        """
        room, target = sanction.room, sanction.target
        rows = await self.db.fetchall(
            "UPDATE room_sanctions AS s SET lifted_at = ?, lifted_by_user_id = ?"
            f" WHERE s.room_id = ? AND s.kind = ? AND s.target = ? AND {_IN_FORCE}"
            " RETURNING id",
            (iso(now), by_user_id, room.id, sanction.kind, target, iso(now)),
        )
        if not rows:
            return []
        dropped = ("mute", "unmute") if sanction.kind == "mute" else ("ban", "invite")
        await self.db.execute(
            f"DELETE FROM room_tasks WHERE room_id = ? AND target = ?"
            f" AND op IN ({', '.join('?' for _ in dropped)})",
            (room.id, target, *dropped),
        )
        if sanction.kind == "mute":
            if not await self.banned(room.id, target, now):
                await self.queue(room, RoomOp.UNMUTE, target, now, by_user_id=by_user_id)
        else:
            await self.queue(room, RoomOp.UNBAN, target, now, by_user_id=by_user_id)
            until = await self.muted_until(room.id, target, now)
            if until is not None:
                await self.queue(room, RoomOp.MUTE, target, now, until=until)
            elif sanction.pseudonym is not None or await self._was_muted(room.id, target):
                # After an erasure a mute that ended under the ban no longer names the
                # account (or is gone): the unmute then gives rights back only to someone
                # still muted on the platform, and leaves everyone else as they are.
                await self.queue(room, RoomOp.UNMUTE, target, now)
        await self.forget_accounts(room.id, target, now)
        return sorted(int(row[0]) for row in rows)

    # Tasks ------------------------------------------------------------------------------

    async def queue(
        self,
        room: Room,
        op: RoomOp,
        target: str,
        now: datetime,
        *,
        user_id: int | None = None,
        by_user_id: int | None = None,
        until: datetime | None = None,
        due_at: datetime | None = None,
        report_id: int | None = None,
    ) -> int:
        """Store something to do in a room; the runtime carries it out after the commit.
        ``report_id``: the report a reporter's own ``/melden`` (hidden) made."""
        task_id = await self.db.execute(
            "INSERT INTO room_tasks (room_id, op, target, user_id, by_user_id, until, due_at,"
            " created_at, report_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                room.id,
                op.value,
                target,
                user_id,
                by_user_id,
                iso(until) if until else None,
                iso(due_at or now),
                iso(now),
                report_id,
            ),
        )
        for listener in self._queued:
            self.db.after_commit(_call(listener))
        return task_id

    async def due(self, platform: str, now: datetime, limit: int = 20) -> list[RoomTask]:
        rows = await self.db.fetchall(
            f"SELECT t.*, {_ROOM} FROM room_tasks t JOIN experiment_rooms r ON r.id = t.room_id"
            f" WHERE r.platform = ? AND t.due_at <= ? AND {_MAY_RUN}"
            " ORDER BY t.due_at, t.id LIMIT ?",
            (platform, iso(now), limit),
        )
        return [
            RoomTask(
                id=row["id"],
                room=_room(row),
                op=RoomOp(row["op"]),
                target=row["target"],
                user_id=row["user_id"],
                by_user_id=row["by_user_id"],
                until=parse(row["until"]),
                attempts=row["attempts"],
                tried=row["tried_at"] is not None,
                report_id=row["report_id"],
            )
            for row in rows
        ]

    async def next_due(self, platform: str) -> datetime | None:
        found = await self.db.fetchval(
            "SELECT MIN(t.due_at) FROM room_tasks t JOIN experiment_rooms r ON r.id = t.room_id"
            f" WHERE r.platform = ? AND {_MAY_RUN}",
            (platform,),
        )
        return parse(found) if found else None

    async def trying(self, task_id: int, now: datetime) -> None:
        """Note that the platform is being asked to carry out a task (before it is: a stop
        right after the platform did it leaves this to tell the next try)."""
        await self.db.execute(
            "UPDATE room_tasks SET tried_at = coalesce(tried_at, ?) WHERE id = ?",
            (iso(now), task_id),
        )

    async def done(self, task_id: int) -> bool:
        """The task is over; False when it was no longer there (dropped meanwhile: the
        group was unlinked)."""
        deleted = await self.db.execute_rowcount("DELETE FROM room_tasks WHERE id = ?", (task_id,))
        return deleted == 1

    async def queued(self, task_id: int) -> bool:
        """Whether a task is still to be done (not dropped meanwhile)."""
        found = await self.db.fetchval("SELECT 1 FROM room_tasks WHERE id = ?", (task_id,))
        return found is not None

    async def retry(self, task_id: int, error: str, now: datetime, wait: timedelta) -> None:
        await self.db.execute(
            "UPDATE room_tasks SET attempts = attempts + 1, last_error = ?, due_at = ?"
            " WHERE id = ?",
            (error[:500], iso(now + wait), task_id),
        )


def _call(listener: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        listener()

    return run
