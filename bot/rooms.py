"""Carrying out room tasks: what the bot must do in experiments' rooms on a platform.

Handlers store a task (an invite, hiding a message, a mute, its end, a ban, lifting it) in
the same transaction as the decision; this worker, one per adapter that can do room
operations, takes the due ones and asks the adapter:

    room_tasks ──due()──► adapter (RoomOperations) ──ok──► task deleted (an invite link is
        ▲                        │                          queued to the person privately)
        └── retried later ◄──────┤ failed, may pass (network, 429)
                                 └ failed for good (no admin, gone) ──► dropped, logged, audit; the
                                                   connectors told

The database is the source of truth: a restart between a decision and the platform call
finds the task still there; a mute's end is a task due at that moment. A removal is noted
as tried before the platform is asked: a restart after the platform took the person out,
before that was recorded, finds them out already and still does what follows (told, a
mute put back), once. A mute or its end is
never carried out on an account banned in that room (in the bot's records; the adapters also
ask the platform): on Telegram it would replace the ban. Someone who may no longer be in
a room (left the experiment, banned from the bot, erased) is taken out of it, told so in
private, unless they may be there again by then or a ban from that room holds (it took
them out already). An invite is made only for someone
who still takes part in the experiment and is banned neither from the bot nor from the room
(leaving also deletes an invite still waiting). The same holds at the door: on Telegram an
invite link needs the bot's approval, asked when someone uses it (:func:`may_enter`), so a
link forwarded to someone else, or used after leaving or being banned, lets nobody in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.logs import pseudonym, scrubbed
from handlers.catalog import Catalog
from handlers.contract import Reply, Role, RoomError, RoomOperations
from handlers.experiments.rooms import tell_own_report_left
from handlers.profile import Profile
from storage import Repositories
from storage.community.moderation import SanctionKind
from storage.experiments.rooms import Room, RoomOp, RoomTask

log = logging.getLogger(__name__)

#: Tries of a task that keeps failing in ways that may pass, before it is given up.
ATTEMPTS = 6
FIRST_WAIT = timedelta(seconds=5)
#: How long after the connectors heard that invites to a room fail they hear it again.
TOLD_AGAIN = timedelta(days=1)


async def may_enter(
    repos: Repositories, room: Room, user_id: int, account: str, now: datetime
) -> bool:
    """Whether a person may come into an experiment's room with their platform ``account``:
    they take part in the experiment, and are banned neither from the bot nor from that
    room."""
    if not await repos.experiments.takes_part(room.experiment_id, user_id):
        return False
    sanction = await repos.sanctions.active(user_id, now)
    if sanction is not None and sanction.kind is SanctionKind.BAN:
        return False
    return not await repos.rooms.banned(room.id, account, now)


class RoomWorker:
    """Carries out one platform's room tasks through its adapter."""

    def __init__(
        self,
        repos: Repositories,
        catalog: Catalog,
        platform: str,
        operations: RoomOperations,
        *,
        profile: Profile,
        clock: Callable[[], datetime],
        poll: float = 5.0,
    ):
        self.repos = repos
        self.catalog = catalog
        self.profile = profile
        self.platform = platform
        self.operations = operations
        self.clock = clock
        self.poll = poll
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unwire: Callable[[], None] | None = None

    async def start(self) -> None:
        self._unwire = self.repos.rooms.on_queued(self.wake)
        self._task = asyncio.create_task(self._run(), name=f"rooms-{self.platform}")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._unwire is not None:
            self._unwire()
            self._unwire = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("room tasks failed platform=%s", self.platform)
            await self._sleep()

    async def _sleep(self) -> None:
        wait = self.poll
        due = await self.repos.rooms.next_due(self.platform)
        if due is not None:
            wait = max(0.0, min(wait, (due - self.clock()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def run_due(self) -> int:
        """Carry out every due task; returns how many were settled (done or given up)."""
        settled = 0
        while True:
            tasks = await self.repos.rooms.due(self.platform, self.clock())
            if not tasks:
                return settled
            progressed = False
            for task in tasks:
                if await self._carry_out(task):
                    settled += 1
                    progressed = True
            if not progressed:
                return settled

    async def _carry_out(self, task: RoomTask) -> bool:
        """One task; whether it is settled (False: it waits for another try)."""
        ops, room = self.operations, task.room.chat_id
        link: str | None = None
        if task.op in (RoomOp.MUTE, RoomOp.UNMUTE) and await self.repos.rooms.banned(
            task.room.id, task.target, self.clock()
        ):
            # Never restrict or give rights back to someone banned there: on Telegram either
            # replaces the ban (they could come back). Lifting the ban puts the mute right.
            async with self.repos.db.transaction():
                await self._settle(task)
            log.info("room task skipped under a ban op=%s room=%s", task.op.value, pseudonym(room))
            return True
        if task.op is RoomOp.REMOVE and await self._stays(task):
            async with self.repos.db.transaction():
                await self._settle(task)
            log.info("room removal skipped room=%s", pseudonym(room))
            return True
        if task.op is RoomOp.INVITE and not await self._may_enter(task):
            # They left the experiment, or were banned, after the invite was queued.
            async with self.repos.db.transaction():
                await self._settle(task)
            log.info("room invite skipped room=%s", pseudonym(room))
            return True
        if task.op is RoomOp.INVITE and not await self.repos.rooms.queued(task.id):
            # Dropped while the tasks before it were done: the group was unlinked.
            log.info("room invite dropped meanwhile room=%s", pseudonym(room))
            return False
        removed = False
        if task.op is RoomOp.REMOVE and not task.tried:
            # Recorded first: a stop after the platform took them out, before the outcome
            # below is committed, leaves the next try to find them out already.
            async with self.repos.db.transaction():
                await self.repos.rooms.trying(task.id, self.clock())
        try:
            if task.op is RoomOp.INVITE:
                link = await ops.invite(room, task.target)
            elif task.op is RoomOp.REMOVE:
                # Out already after an earlier try: that try may have taken them out, and
                # what follows (told, a mute put back) was not done, or the task would be
                # gone; it is done now (a person who left by themselves meanwhile is told
                # they are out, which they are).
                removed = await ops.remove(room, task.target) or task.tried
            elif task.op is RoomOp.HIDE:
                await ops.hide(room, task.target)
            elif task.op is RoomOp.MUTE:
                await ops.mute(room, task.target, task.until)
            elif task.op is RoomOp.UNMUTE:
                await ops.mute(room, task.target, None)
            elif task.op is RoomOp.BAN:
                await ops.ban(room, task.target)
            elif task.op is RoomOp.UNBAN:
                await ops.unban(room, task.target)
        except RoomError as exc:
            return await self._failed(task, exc, lasting=exc.lasting)
        except Exception as exc:
            log.warning(
                "room task error op=%s error=%s: %s",
                task.op.value,
                type(exc).__name__,
                scrubbed(str(exc), task.target),
            )
            return await self._failed(task, exc, lasting=False)
        async with self.repos.db.transaction():
            # Dropped while the platform made it (the group was unlinked): no link is sent.
            still = await self._settle(task)
            # Asked again: they may have left while the platform made the invite.
            if (
                task.op is RoomOp.INVITE
                and still
                and task.user_id is not None
                and await self._may_enter(task)
            ):
                await self._send_invite(task, link)
            if removed:
                await self._after_removal(task)
        log.info("room task done op=%s room=%s", task.op.value, pseudonym(room))
        return True

    async def _may_enter(self, task: RoomTask) -> bool:
        """Whether the person an invite is for may still come in: they take part in the
        experiment, and are banned neither from the bot nor from that room."""
        if task.user_id is None:
            return True
        return await may_enter(self.repos, task.room, task.user_id, task.target, self.clock())

    async def _stays(self, task: RoomTask) -> bool:
        """Whether someone to be taken out stays after all: they may be there again (took
        part again, their ban from the bot lifted), or a ban from that room holds (the ban
        took them out; on Telegram the unban of a removal would end it)."""
        if await self.repos.rooms.banned(task.room.id, task.target, self.clock()):
            return True
        return task.user_id is not None and await self._may_enter(task)

    async def _own_report(self, task: RoomTask) -> bool:
        """Whether a hide takes a reporter's own ``/melden`` (or reaction) out of the room,
        not a message a connector decided about: it is the reporter's (``user_id``), or,
        after the reporter erased their data, nobody's, and for no reported message (a
        connector's hide is for the message of a report, and is theirs until they are
        erased). A connector's hide that lost both its connector and its report (the
        author erased too) counts as a reporter's: in the log and the audit log only."""
        if task.user_id is not None:
            return True
        if task.by_user_id is not None:
            return False
        return not await self.repos.rooms.reported(task.room.id, task.target)

    async def _after_removal(self, task: RoomTask) -> None:
        """They are out: told so in private (nothing is said in the room), unless they were
        erased. A mute of theirs that holds there is put back (on Telegram the removal
        ended it), for when they come back."""
        now = self.clock()
        until = await self.repos.rooms.muted_until(task.room.id, task.target, now)
        if until is not None:
            await self.repos.rooms.queue(task.room, RoomOp.MUTE, task.target, now, until=until)
        if task.user_id is None:
            return
        sanction = await self.repos.sanctions.active(task.user_id, now)
        banned = sanction is not None and sanction.kind is SanctionKind.BAN
        key = "rooms.removed_banned" if banned else "rooms.removed"
        await self._tell([task.user_id], task, key)

    async def _settle(self, task: RoomTask) -> bool:
        """The task is over (done, skipped or given up). The account of an erased person is
        kept only while a mute or ban of theirs holds there: one that ended goes now.
        False when the task was dropped meanwhile (the group was unlinked)."""
        still = await self.repos.rooms.done(task.id)
        if task.op is not RoomOp.HIDE:
            await self.repos.rooms.forget_accounts(task.room.id, task.target, self.clock())
        return still

    async def _tell(self, user_ids: list[int], task: RoomTask, key: str) -> None:
        """A message about a room task, with the experiment's title in their language."""
        experiment = await self.repos.experiments.get(task.room.experiment_id)
        groups = await self.repos.recipients.by_language(user_ids, self.catalog.default)
        for lang, told in groups.items():
            title = experiment.title(lang) if experiment else ""
            reply = Reply(key=key, params={"title": title})
            for user_id in told:
                await self.repos.outbox.enqueue(
                    user_id, [reply.model_dump(mode="json")], kind="room", now=self.clock()
                )

    async def _send_invite(self, task: RoomTask, link: str | None) -> None:
        """The invite in the person's private chat: their own link, or where to look."""
        experiment = await self.repos.experiments.get(task.room.experiment_id)
        assert task.user_id is not None
        groups = await self.repos.recipients.by_language([task.user_id], self.catalog.default)
        for lang in groups:
            title = experiment.title(lang) if experiment else ""
            reply = (
                Reply(key="rooms.invite", params={"title": title, "link": link})
                if link
                else Reply(key="rooms.invited", params={"title": title})
            )
            await self.repos.outbox.enqueue(
                task.user_id, [reply.model_dump(mode="json")], kind="room", now=self.clock()
            )

    async def _tell_invite_failed(self, user_id: int) -> None:
        """The invite did not work: who to ask, by name, in their language."""
        groups = await self.repos.recipients.by_language([user_id], self.catalog.default)
        for lang in groups:
            failed = Reply(
                key="rooms.invite_failed", params={"connector": self.profile.connector(lang)}
            )
            await self.repos.outbox.enqueue(
                user_id, [failed.model_dump(mode="json")], kind="room", now=self.clock()
            )

    async def _failed(self, task: RoomTask, error: Exception, *, lasting: bool) -> bool:
        now = self.clock()
        # The platform's words may name the person (a Matrix homeserver's do): neither the
        # log nor the audit log nor the task keeps their id, only its pseudonym.
        said = scrubbed(str(error), task.target)
        async with self.repos.db.transaction():
            room = await self.repos.rooms.of_chat(self.platform, task.room.chat_id)
            if room is not None and room.gone:
                # The bot is no longer in that group: the invite waits for the group that
                # replaces it (/koppel there), instead of failing; taking someone out, a
                # mute, a ban and their ends wait for the bot to be back in that group (in
                # another group the mutes and bans in force are carried out afresh).
                await self.repos.rooms.retry(task.id, said, now, FIRST_WAIT)
                return False
            if lasting or task.attempts + 1 >= ATTEMPTS:
                await self._settle(task)
                if task.op is RoomOp.INVITE and task.user_id is not None:
                    # They were told an invite was coming.
                    await self._tell_invite_failed(task.user_id)
                if task.op is RoomOp.INVITE and not await self.repos.audit.noted_since(
                    "room.task_failed", f"room:{task.room.id}", now - TOLD_AGAIN, op="invite"
                ):
                    # Nobody can get into the room: the connectors hear it (once a day a
                    # room, not for everyone who joins meanwhile), not only the residents.
                    told = await self.repos.users.in_charge(None, Role.CONNECTOR)
                    await self._tell(told, task, "rooms.failed_invite")
                if task.op is RoomOp.REMOVE:
                    # Someone who should be out (left, banned, erased) is still in.
                    told = await self.repos.users.in_charge(None, Role.CONNECTOR)
                    await self._tell(told, task, "rooms.failed_remove")
                own_report = task.op is RoomOp.HIDE and await self._own_report(task)
                if own_report:
                    # Left in the room, it shows who reported: the reporter hears it in
                    # private, to take it away themselves (nobody else is bothered).
                    await tell_own_report_left(
                        self.repos,
                        self.catalog.default,
                        task.room,
                        task.user_id,
                        task.report_id,
                        now,
                    )
                if task.op not in (RoomOp.INVITE, RoomOp.REMOVE) and not own_report:
                    # The connector who decided it was told it is being done: now they
                    # hear it is not. Someone who is no connector any more (or erased), or
                    # nobody (a ban carried out afresh in a new group, a mute put back),
                    # leaves it to the connectors of now, so that somebody acts on it. A
                    # reporter's own /melden left in the room is nobody's decision: the
                    # connectors are not told of it (the reporter is, above).
                    told = await self.repos.users.in_charge(task.by_user_id, Role.CONNECTOR)
                    await self._tell(told, task, f"rooms.failed_{task.op.value}")
                await self.repos.audit.record(
                    "room.task_failed",
                    now=now,
                    actor="bot",
                    subject=f"room:{task.room.id}",
                    subject_user_id=task.user_id,
                    detail={"op": task.op.value, "error": said[:200]},
                )
                log.warning(
                    "room task given up op=%s room=%s error=%s",
                    task.op.value,
                    pseudonym(task.room.chat_id),
                    said,
                )
                return True
            wait = FIRST_WAIT * (2**task.attempts)
            await self.repos.rooms.retry(task.id, said, now, wait)
        return False
