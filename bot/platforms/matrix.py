"""Matrix through matrix-nio: the same bot for residents in Element or any Matrix app.

    start: log in on the kept device ──► first sync (the very first one skips the backlog)
                                              │
    ┌──► /sync (long poll) ──► decrypt, join invites ──► events to the router, each sender
    │                                                    in order, senders at once
    └──── store the sync token (only now: a crash before this replays the sync) ◄──┘

Residents open a direct chat and the bot joins; a group it joins only when staff invite it
(a room to link to an experiment), and any other invite is declined. A room is private only
when nobody enters it without being let in (join rule invite or knock) nor reads it from
outside (its history is not world readable), it is no space, and at most the resident and
the bot are in it; any other room is a group, however few are in it. In a group the bot
answers only when named or given a command, and then only with a short word: it invites the
person to a direct chat (a group is never anyone's private chat). Nothing is sent to a chat
that has become a group since: what waits for its resident is held, she is invited to a new
direct chat and it goes there once she joins (or back in the room once she is alone there
again). A chat its resident left is nobody's, whoever stays in it.

An experiment's room the bot is kicked or banned from is reported gone; one that is
upgraded (a tombstone names its replacement) is followed into the new room. The bot never
leaves one by itself, not even when everyone else has: whoever takes part later is invited
there.

Encrypted rooms work like plain ones: messages are decrypted on arrival, replies encrypted
for every device in the room (devices are trusted on first use; a device whose key changes
is not). A message whose key has not arrived waits for it (across restarts too) and after a
while the resident is asked to send it again.

No replays, no lost messages: the router records each event id with its writes and skips
an event it has seen; replies carry transaction ids made from the event id, so a reply sent
again after a crash is not posted twice.

A restored backup takes the sync position back, and the homeserver hands over again
everything sent since it was made. What someone erased since then had sent before their
erasure is skipped (the erasure ledger says whose account and when): the bot does not
answer it, nor store anything of them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import ClientError
from nio import (
    AsyncClient,
    JoinError,
    LocalProtocolError,
    MatrixRoom,
    MegolmEvent,
    ReactionEvent,
    RoomCreateError,
    RoomLeaveError,
    RoomMemberEvent,
    RoomMessage,
    RoomMessagesResponse,
    RoomPreset,
    RoomUpgradeEvent,
    StickerEvent,
    SyncResponse,
)
from nio.api import Api

from bot.app import App
from bot.logs import pseudonym, scrubbed
from bot.pacing import Pacing
from bot.platforms import _matrix_rooms
from bot.platforms import _matrix_session as session
from bot.platforms._matrix_events import (
    is_edit,
    is_group,
    is_notice,
    is_private,
    private_when_sent,
    read_event,
    sender_of,
)
from bot.platforms._matrix_keys import KeyWaits, Notice
from bot.platforms._matrix_rooms import replied_to
from bot.platforms._matrix_send import RoomSender
from bot.platforms.base import Blocked, DeliveryError, Lost, Paused, StartError
from bot.router import Undelivered
from handlers.contract import Event, Platform, Reply, RoomError
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from storage.privacy.ledger import LastErasures
from storage.users import Role

log = logging.getLogger(__name__)

PLATFORM = "matrix"
#: What Matrix offers: buttons are numbered options; someone who addresses the bot in a
#: group is invited to a direct chat.
MATRIX = Platform(name=PLATFORM, numbered_options=True, invites_to_private=True)
SYNC_POLL_MS = 30_000
#: Seconds before the first retry of a sync that failed (the homeserver down, a refusal,
#: a malformed answer); each further failure doubles it, up to the second figure.
SYNC_RETRY = (1.0, 60.0)
#: How long an encrypted message may wait for its key before the resident is asked again.
KEY_PATIENCE = timedelta(minutes=2)
FULL_STATE_SECONDS = 300.0
#: Events per room a sync carries; more that arrived while the bot was down are fetched
#: page by page (up to the limit below), so none is lost.
TIMELINE_LIMIT = 50
HISTORY_PAGES = 10

_QUIET: dict[str, Any] = {"not_types": ["*"]}
SYNC_FILTER: dict[str, Any] = {
    "presence": _QUIET,
    "account_data": _QUIET,
    "room": {"timeline": {"limit": TIMELINE_LIMIT}, "ephemeral": _QUIET, "account_data": _QUIET},
}
#: The very first sync: room state and invites, but none of the messages from before.
FIRST_SYNC_FILTER: dict[str, Any] = {
    **SYNC_FILTER,
    "room": {"timeline": {"limit": 0}, "ephemeral": _QUIET, "account_data": _QUIET},
}


#: The commands that link a room or unlink it (the adapter then knows it as an
#: experiment's room, or no longer).
LINK_COMMANDS = frozenset({"koppel", "link", "ontkoppel", "unlink"})
#: Seconds between two outbox messages to one room (a person reads one thing at a time).
MATRIX_ROOM_INTERVAL = 0.5
#: Someone who addresses the bot in a group is invited to a direct chat at most this often.
INVITE_AGAIN = timedelta(hours=1)
#: How long the outbox holds a person's messages while others are in her chat, before it
#: looks again (at first: the longer they wait, the less often it looks, see
#: bot.delivery). They go sooner when the room is hers alone again or she joins a new chat,
#: unless that happened just as the hold was being recorded: then this is how late.
GROUP_PAUSE = timedelta(minutes=1)
#: Direct chats the bot was sent out of, remembered (the latest) until it is asked back.
SENT_OUT_ROOMS = 10_000


class Matrix:
    """One bot account on a Matrix homeserver, wired to the router."""

    name = PLATFORM
    platform = MATRIX

    def __init__(
        self,
        app: App,
        *,
        poll_ms: int = SYNC_POLL_MS,
        key_patience: timedelta = KEY_PATIENCE,
        retry: tuple[float, float] = SYNC_RETRY,
    ):
        self.app = app
        self.poll_ms = poll_ms
        self.key_patience = key_patience
        self.retry = retry
        self.client: AsyncClient | None = None
        self.names: set[str] = set()
        self._since: str | None = None
        self._keys = KeyWaits(app.db, app.repos.undecrypted, key_patience)
        #: "Send it again" notices on their way (sent beside the sync loop, not in it).
        self._notices: set[asyncio.Task[None]] = set()
        self._sender: RoomSender | None = None
        #: Rooms joined on an invite: the inviter is greeted if they do not speak first.
        self._joined: dict[str, tuple[str | None, int]] = {}
        #: Direct chats the bot left or was sent out of since it started, and who was in
        #: each with it: she may ask it back (see :meth:`_welcome_invite`).
        self._sent_out: OrderedDict[str, str] = OrderedDict()
        #: Whether each event of the sync at hand was sent while its room was private.
        self._private_when_sent: dict[str, bool] = {}
        #: Experiments' rooms: always groups, however few are in them.
        self._linked: set[str] = set()
        #: Whether every linked room's replacement (a room upgrade) was looked at since the
        #: start; after that, only those a sync brings news of.
        self._replacements_seen = False
        #: When each person was last invited to a direct chat from a group.
        self._invited: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._poll: asyncio.Task[Any] | None = None
        self._stopping = asyncio.Event()
        #: Who was erased when (read at the start, from the erasure ledger).
        self._erased = LastErasures()
        #: Delivery's budget on this homeserver; a 429 holds back that room only.
        self.pacing = Pacing(app.settings.matrix_rate, chat_interval=MATRIX_ROOM_INTERVAL)
        self.lost = Lost()

    @property
    def user_id(self) -> str:
        return self._client.user_id

    @property
    def device_id(self) -> str:
        return str(self._client.device_id)

    @property
    def _rooms(self) -> RoomSender:
        if self._sender is None:
            raise DeliveryError("matrix is not connected")
        return self._sender

    @property
    def _client(self) -> AsyncClient:
        if self.client is None:
            raise DeliveryError("matrix is not connected")
        return self.client

    # Running -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in, catch up with what happened while stopped, then keep syncing."""
        settings, repos = self.app.settings, self.app.repos
        self._stopping.clear()
        self.app.router.declare(self.platform)
        self.client = await session.connect(settings, self.app.db, repos.platform_state)
        try:
            self.names = await self._own_names()
            saved = await repos.platform_state.get_all(PLATFORM)
            self._since = saved.get("sync_token")
            # Before the first sync, which after a restored backup brings back what erased
            # people sent before their erasure.
            self._erased = await repos.ledger.last_erasures()
            await self._keys.load(self.device_id)
            self._sender = RoomSender(self.client, self.app.catalog, repos)
            await self._load_linked()
            await self._first_sync()
        except BaseException:
            await self.client.close()
            self.client = None
            self._sender = None
            raise
        self._task = asyncio.create_task(self._run(), name="matrix-sync")
        self._task.add_done_callback(_loop_ended)
        log.info("matrix syncing device=%s", self.device_id)

    async def stop(self) -> None:
        """Stop after the sync in hand is handled and stored; then disconnect."""
        self._stopping.set()
        if self._poll is not None:
            self._poll.cancel()  # only the wait for the next sync, never its handling
        if self._task is not None:
            try:
                await self._task
            except Exception:
                log.exception("matrix sync loop ended with an error")
            self._task = None
        if self._notices:
            await asyncio.gather(*self._notices, return_exceptions=True)
        await self.app.router.drain()
        if self.client is not None:
            await self.client.close()
            self.client = None
            self._sender = None

    async def _first_sync(self) -> None:
        first_ever = self._since is None
        response = await self._fetch(
            FIRST_SYNC_FILTER if first_ever else SYNC_FILTER, timeout_ms=0, full_state=True
        )
        if not isinstance(response, SyncResponse):
            raise StartError(f"SAMENSPEL_MATRIX_HOMESERVER: the first sync failed ({response})")
        if first_ever:
            # Nothing from before the bot's first start is answered; invites are accepted.
            await self._client.receive_response(response)
            await self._keep_keys()
            await self._accept_invites(response)
            await self._save_position(response.next_batch)
            log.info("matrix first start: earlier messages skipped")
        else:
            await self._process_safely(response)

    async def _run(self) -> None:
        first, most = self.retry
        backoff = first
        while not self._stopping.is_set():
            try:
                response = await self._fetch(SYNC_FILTER, timeout_ms=self.poll_ms)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                break  # stop() cancelled the wait
            except (ClientError, TimeoutError, OSError) as exc:
                log.warning("matrix sync failed (%s), retry in %ss", type(exc).__name__, backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, most)
                continue
            if not isinstance(response, SyncResponse):
                # Refused, or not a sync nio can read (it validates every answer): the same
                # position is asked for again, so nothing in it is lost.
                # A homeserver that asks to slow down says for how long (at most the limit).
                asked = (getattr(response, "retry_after_ms", None) or 0) / 1000
                pause = max(backoff, min(asked, most))
                log.warning("matrix sync refused (%s), retry in %ss", response, pause)
                if getattr(response, "status_code", None) == "M_UNKNOWN_TOKEN":
                    await self._log_in_again()
                await self._pause(pause)
                backoff = min(backoff * 2, most)
                continue
            backoff = first
            await self._process_safely(response)

    async def _process_safely(self, response: SyncResponse) -> None:
        """Handle a sync; if that fails outside any one event, log it and move past it."""
        try:
            await self._process(response)
        except Exception:
            # Each event is guarded on its own; this is the sync itself (a malformed one):
            # reading it again would fail again, so it is skipped rather than retried.
            log.exception("matrix sync could not be handled; skipping it")
            await self._save_position(response.next_batch)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _log_in_again(self) -> None:
        try:
            await session.log_in_again(
                self._client, self.app.settings, self.app.db, self.app.repos.platform_state
            )
        except session.CredentialsRefused as exc:
            # Nothing the bot can do by itself: the runtime stops it and says why.
            log.error("matrix: %s", exc)
            self.lost.set(f"matrix: {exc}")
        except StartError as exc:
            log.error("matrix: %s", exc)

    async def _fetch(
        self, sync_filter: dict[str, Any], *, timeout_ms: int, full_state: bool = False
    ) -> Any:
        """One /sync request, without touching any state, so it may be cancelled."""
        client = self._client
        method, path = Api.sync(
            client.access_token,
            since=self._since,
            timeout=timeout_ms,
            filter=sync_filter,
            full_state=True if full_state else None,
        )
        headers = {"Authorization": f"Bearer {client.access_token}"}
        # A full-state sync of a busy account can take the server a while to compose.
        seconds = FULL_STATE_SECONDS if full_state else timeout_ms / 1000 + 30

        async def request() -> Any:
            answer = await client.send(
                method, _without_token(path), headers=headers, timeout=seconds
            )
            return await client.create_matrix_response(SyncResponse, answer)

        self._poll = asyncio.create_task(request())
        try:
            return await self._poll
        finally:
            self._poll = None

    async def _process(self, response: SyncResponse) -> None:
        """Everything one sync brought, handled before its token is stored."""
        await self._client.receive_response(response)
        await self._keep_keys()
        await self._accept_invites(response)
        await self._follow_linked(response)
        await self._fill_gaps(response)
        decrypted, notices = await self._keys.retry(self._client)
        left = await self._leave_false_direct_chats(response)
        incoming = [(rid, e) for rid, e in [*decrypted, *_timeline(response)] if rid not in left]
        self._private_when_sent = self._privacy_in_order(response)
        try:
            await self._dispatch(incoming)
        finally:
            self._private_when_sent = {}
        self._ask_again(notices)
        await self._greet(response, incoming)
        await self._follow_members(response)
        self._forget_left(response)
        await self._save_position(response.next_batch)

    def _privacy_in_order(self, response: SyncResponse) -> dict[str, bool]:
        """Whether each event this sync brought was sent while its room was private."""
        found: dict[str, bool] = {}
        for room_id, info in response.rooms.join.items():
            room = self._client.rooms.get(room_id)
            if room is not None:
                found.update(private_when_sent(room, info.timeline.events))
        return found

    async def _fill_gaps(self, response: SyncResponse) -> None:
        """Fetch the events a sync left out (more arrived than it carries): none is lost."""
        if self._since is None:
            return
        for room_id, info in response.rooms.join.items():
            timeline = info.timeline
            if not timeline.limited or not timeline.prev_batch or room_id in self._joined:
                continue  # a room joined just now: its history is not for the bot to answer
            older = await self._history(room_id, timeline.prev_batch, self._since)
            log.info("matrix fetched %s missed events room=%s", len(older), pseudonym(room_id))
            timeline.events[:0] = older

    async def _history(self, room_id: str, start: str, until: str) -> list[Any]:
        """Events of a room from ``until`` up to ``start``, oldest first."""
        found: list[Any] = []
        for _ in range(HISTORY_PAGES):
            try:
                page = await self._client.room_messages(room_id, start, until, limit=100)
            except (ClientError, TimeoutError, OSError) as exc:
                log.warning("matrix history unavailable room=%s: %s", pseudonym(room_id), exc)
                break
            if not isinstance(page, RoomMessagesResponse):
                log.warning("matrix history refused room=%s: %s", pseudonym(room_id), page)
                break
            found.extend(page.chunk)
            if not page.chunk or not page.end:
                break
            start = page.end
        for event in found:
            if isinstance(event, MegolmEvent):
                event.room_id = room_id
        return list(reversed(found))

    async def _keep_keys(self) -> None:
        """Upload, query and claim encryption keys as the last sync asked for."""
        client = self._client
        try:
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
            await client.send_to_device_messages()
        except (LocalProtocolError, ClientError, TimeoutError) as exc:
            log.warning("matrix key upkeep failed: %s", exc)

    async def _save_position(self, token: str) -> None:
        self._since = token
        state = self.app.repos.platform_state
        try:
            async with self.app.db.transaction():
                await state.set(PLATFORM, "sync_token", token, utcnow())
        except Exception:
            # The next sync stores a later token; a crash before that replays, harmlessly.
            log.exception("matrix could not store the sync token")

    async def _own_names(self) -> set[str]:
        client = self._client
        names = {client.user_id.removeprefix("@").split(":")[0]}
        try:
            answer = await client.get_displayname(client.user_id)
            if getattr(answer, "displayname", None):
                names.add(str(answer.displayname))
        except (ClientError, TimeoutError) as exc:
            log.info("matrix display name unknown: %s", exc)
        return names

    # Rooms -------------------------------------------------------------------------------

    async def _accept_invites(self, response: SyncResponse) -> None:
        """Join the rooms the bot is meant to be in, decline the others.

        Joined are a direct chat a person invites the bot to (the invite says so, as
        Element's "start chat" does) or back to (her chat, that she sent it out of), any
        room a civil servant, connector or admin invites it to (a room to link to an
        experiment), an experiment's room and the room that replaces one. Any other invite
        (a group or a public room from anyone else) is declined without a word there.
        Whether a direct chat really is one is seen once the bot is in it: a room with
        others in it, or open to anyone, is left (see :meth:`_greet`)."""
        client = self._client
        for room_id, info in response.rooms.invite.items():
            invited = client.invited_rooms.get(room_id)
            inviter = invited.inviter if invited is not None else None
            if not await self._welcome_invite(room_id, inviter, info.invite_state):
                await self._decline(room_id, inviter, "no direct chat, not from staff")
                continue
            try:
                answer = await client.join(room_id)
            except (ClientError, TimeoutError, OSError) as exc:
                log.warning("matrix could not join room=%s: %s", pseudonym(room_id), exc)
                continue  # the invite is still there in the next full sync
            if isinstance(answer, JoinError):
                log.warning("matrix could not join room=%s: %s", pseudonym(room_id), answer)
                continue
            self._joined[room_id] = (inviter, 0)
            self._sent_out.pop(room_id, None)
            log.info("matrix joined room=%s", pseudonym(room_id))

    async def _welcome_invite(self, room_id: str, inviter: str | None, state: list[Any]) -> bool:
        """Whether the bot accepts this invite (see :meth:`_accept_invites`)."""
        if room_id in self._linked or any(self._replaces(old, room_id) for old in self._linked):
            return True  # an experiment's room (invited back), or the one replacing it
        if inviter is None or inviter == self.user_id:
            return False
        if await self._is_staff(inviter):
            return True
        person = await self.app.repos.users.find(PLATFORM, inviter)
        if person is not None and person.chat_id == room_id:
            return True  # she asks the bot back into her own chat
        if self._sent_out.get(room_id) == inviter:
            return True  # back into a direct chat she sent it out of before she took part
        own = self.user_id
        return any(
            getattr(event, "state_key", None) == own
            and getattr(event, "membership", None) == "invite"
            and getattr(event, "sender", None) == inviter
            and getattr(event, "content", {}).get("is_direct") is True
            for event in state
        )

    def _replaces(self, linked: str, room_id: str) -> bool:
        room = self._client.rooms.get(linked)
        return room is not None and room.replacement_room == room_id

    async def _is_staff(self, user_id: str) -> bool:
        """A civil servant, connector or admin on this account, not banned from the bot."""
        repos = self.app.repos
        user = await repos.users.find(PLATFORM, user_id)
        if user is None or not user.role.allows(Role.CIVIL_SERVANT):
            return False
        sanction = await repos.sanctions.active(user.id, self.app.router.clock())
        return sanction is None or sanction.kind is not SanctionKind.BAN

    async def _decline(self, room_id: str, inviter: str | None, why: str) -> None:
        """Reject an invite (or leave a room just joined): nothing is said there."""
        try:
            answer = await self._client.room_leave(room_id)
        except (ClientError, TimeoutError, OSError) as exc:
            log.warning("matrix could not decline room=%s: %s", pseudonym(room_id), exc)
            return  # the invite is still there in the next full sync: declined then
        if isinstance(answer, RoomLeaveError):
            log.warning("matrix could not decline room=%s: %s", pseudonym(room_id), answer)
            return
        self._client.invited_rooms.pop(room_id, None)
        log.info(
            "matrix declined room=%s from=%s: %s",
            pseudonym(room_id),
            pseudonym(inviter) if inviter else "-",
            why,
        )

    async def _greet(self, response: SyncResponse, incoming: list[tuple[str, Any]]) -> None:
        """Welcome someone who invited the bot to a room of their own and has not said
        anything yet: in a private room, as in any direct chat (it becomes their chat). A
        room that turns out to be a group was left already, unless staff invited the bot
        there (see :meth:`_leave_false_direct_chats`): in one of their own anyone may enter
        (a public room, a space), they hear the short word of a group and get an invite to
        a direct chat. An experiment's room is nobody's chat, and a room with more people
        in it hears from the bot only when they address it."""
        for room_id, (inviter, syncs) in list(self._joined.items()):
            if room_id not in response.rooms.join:
                if syncs < 3:
                    self._joined[room_id] = (inviter, syncs + 1)
                else:
                    del self._joined[room_id]
                continue
            del self._joined[room_id]
            room = self._client.rooms.get(room_id)
            if room is None or inviter is None or inviter == self.user_id:
                continue
            if room_id in self._linked or int(room.member_count) > 2:
                continue
            # What was said before the bot was sent away (it was in the room before) is no
            # first word: it was answered then, and the person who asks it back is greeted.
            earlier = _before_removal(response.rooms.join[room_id].timeline.events, self.user_id)
            spoke = any(
                rid == room_id
                and getattr(event, "event_id", None) not in earlier
                and getattr(event, "sender", None) == inviter
                and isinstance(event, (RoomMessage, MegolmEvent, StickerEvent))
                for rid, event in incoming
            )
            if spoke or self._keys.in_room(room_id):
                continue
            private = is_private(room)
            greeting = Event(
                platform=PLATFORM,
                chat_id=room_id,
                sender=sender_of(room, inviter),
                command="start",
                is_group=not private,
                received_at=utcnow(),
                event_id=f"greeting:{self._join_of(response, room_id)}",
            )
            if private:
                await self._follow_chat(greeting)
            await self.app.router.handle(greeting, self._deliver)
            if not private:
                await self._invite_to_direct_chat(inviter)

    async def _leave_false_direct_chats(self, response: SyncResponse) -> set[str]:
        """Rooms joined just now as someone's direct chat that turn out to be groups (more
        people, or open to anyone): the bot is there for nobody and leaves them before it
        reads a word there (staff may bring it into a group: that one it stays in)."""
        self._recover_joins(response)
        left: set[str] = set()
        for room_id, (inviter, _) in list(self._joined.items()):
            room = self._client.rooms.get(room_id)
            if room_id not in response.rooms.join or room is None or room_id in self._linked:
                continue
            if is_private(room) or (inviter is not None and await self._is_staff(inviter)):
                continue
            del self._joined[room_id]
            await self._decline(room_id, inviter, "a group invited to as a direct chat")
            left.add(room_id)
        return left

    def _recover_joins(self, response: SyncResponse) -> None:
        """Rooms the bot joined on an invite that this sync shows it joining, but that it
        does not remember joining: it stopped (or crashed) after accepting the invite and
        before the welcome, and the sync that carried the invite is not handed over again.
        The inviter is who sent the bot's invite (or, in a room of two, the other one in
        it); the welcome is recorded under the join, so one already sent is not sent again,
        and a group it was invited to as a direct chat is left then too."""
        if self._since is None:
            return  # a first sync: the bot's joins in it are old, their welcome long done
        for room_id, info in response.rooms.join.items():
            if room_id in self._joined:
                continue
            accepted = any(
                isinstance(event, RoomMemberEvent)
                and event.state_key == self.user_id
                and event.membership == "join"
                and event.prev_membership == "invite"
                for event in info.timeline.events
            )
            room = self._client.rooms.get(room_id)
            if not accepted or room is None:
                continue
            inviter = next(
                (
                    event.sender
                    for event in reversed(info.timeline.events)
                    if isinstance(event, RoomMemberEvent)
                    and event.state_key == self.user_id
                    and event.membership == "invite"
                ),
                None,
            )
            others = _others(room, self.user_id)
            if inviter is None and len(others) == 1:
                inviter = others[0]
            if inviter is not None:
                self._joined[room_id] = (inviter, 0)

    def _join_of(self, response: SyncResponse, room_id: str) -> str:
        """What makes this joining the room one of its own: the bot's join event (one per
        invite it accepted, the same when a sync is handed over again after a crash).

        The greeting is recorded under it: a person who invites the bot back to a room it
        was greeted in before (she removed it, left and came back) is greeted again, and
        each invite once."""
        for event in reversed(response.rooms.join[room_id].timeline.events):
            if (
                isinstance(event, RoomMemberEvent)
                and event.state_key == self.user_id
                and event.membership == "join"
                and event.prev_membership != "join"
            ):
                return str(event.event_id)
        return room_id  # not in this sync's part of the timeline: as before, once a room

    async def _follow_members(self, response: SyncResponse) -> None:
        """Follow who comes and goes in the bot's rooms.

        A chat its resident left, even with others staying in it, is nobody's chat any
        more: the bot leaves it and she is marked unreachable (as when nobody is left). An
        experiment's room is never left by the bot, not even when everyone else left it. A
        chat others left is hers alone again: what waited for her goes now. Someone whose
        chat has become a group and who joins a private room with the bot (the direct chat
        it invited her to) is reached there from now on.
        """
        client = self._client
        gone = set(response.rooms.leave)
        for room_id, info in response.rooms.join.items():
            changes = [
                event
                for event in info.timeline.events
                if isinstance(event, RoomMemberEvent) and event.state_key != client.user_id
            ]
            room = client.rooms.get(room_id)
            if not changes or room is None:
                continue
            left = any(event.membership in ("leave", "ban") for event in changes)
            if room_id in self._linked:
                # An experiment's room stays the bot's, however many left it for a while:
                # whoever takes part later is invited there by the bot. Only being removed
                # ends it (:meth:`_follow_linked`).
                continue
            owners = await self.app.repos.users.in_chat(PLATFORM, room_id)
            deserted = bool(owners) and not any(_member(room, o.platform_user_id) for o in owners)
            if (left and not _others(room, client.user_id)) or deserted:
                try:
                    answer = await client.room_leave(room_id)
                except (ClientError, TimeoutError, OSError) as exc:
                    answer = exc
                log.info("matrix left room=%s (%s)", pseudonym(room_id), type(answer).__name__)
                gone.add(room_id)
            elif is_private(room):
                if owners and left:
                    await self._private_again(room_id)
                for event in changes:
                    if event.membership == "join" and not owners:
                        await self._adopt(room_id, event.state_key)
        for room_id in gone:
            self._joined.pop(room_id, None)
            await self._unreachable(room_id)

    def _forget_left(self, response: SyncResponse) -> None:
        """Rooms the bot is out of (it left, or was removed) are no rooms of the bot's.

        matrix-nio keeps a room it has left as it last was, its members and all: such a
        room would still count as someone's private chat with the bot, and she would never
        be invited to a new one. Invited back, the bot joins it afresh. Whoever sent it out
        of a direct chat of the two of them is remembered: she may invite it back there (also
        when it was not yet her chat, as before she agreed to take part), with an invite not
        marked direct. A room the bot left by itself is nobody's to ask it back to.
        """
        own = self.user_id
        for room_id, info in response.rooms.leave.items():
            if room_id in response.rooms.join:
                continue
            room = self._client.rooms.pop(room_id, None)
            if room is None or room_id in self._linked or not is_private(room):
                continue
            others = _others(room, own)
            sent_out_by = next(
                (
                    event.sender
                    for event in reversed(info.timeline.events)
                    if isinstance(event, RoomMemberEvent)
                    and event.state_key == own
                    and event.membership == "leave"
                ),
                None,
            )
            if others == [sent_out_by]:
                self._sent_out[room_id] = others[0]
                self._sent_out.move_to_end(room_id)
                if len(self._sent_out) > SENT_OUT_ROOMS:
                    self._sent_out.popitem(last=False)

    async def _follow_linked(self, response: SyncResponse) -> None:
        """Experiments' rooms the bot was removed from, or that a new room replaced.

        Kicked or banned by someone else, the room is reported gone (the staff member who
        linked it hears so and may link another). A room upgrade leaves a tombstone naming
        the new room: the bot joins it and the experiment's room moves there. Looked at are
        the replacements whose tombstone this sync brought, those the bot was invited to
        just now, and at the first sync after a start all of them: a restart replays
        nothing twice (a room that moved is no longer linked, and a room marked gone stays
        so).
        """
        client = self._client
        own = client.user_id
        for room_id, info in response.rooms.leave.items():
            if room_id in self._linked and _removed_by_others(info.timeline.events, own):
                try:
                    await self.app.room_gone(PLATFORM, room_id)
                except Exception:
                    log.exception("matrix could not note room=%s gone", pseudonym(room_id))
        everything, self._replacements_seen = not self._replacements_seen, True
        if everything:
            await self._removed_while_stopped(response)
        for room_id in sorted(self._linked):
            room = client.rooms.get(room_id)
            new = room.replacement_room if room is not None else None
            if not new or new == room_id or room_id in response.rooms.leave:
                continue
            info = response.rooms.join.get(room_id)
            news = info is not None and any(
                isinstance(event, RoomUpgradeEvent)
                for event in [*info.state, *info.timeline.events]
            )
            if everything or news or new in response.rooms.invite:
                try:
                    await self._follow_replacement(room_id, new)
                except Exception:
                    log.exception("matrix could not follow room=%s", pseudonym(room_id))

    async def _removed_while_stopped(self, response: SyncResponse) -> None:
        """At the start: a linked room the bot is not in, whose removal no sync brought (a
        sync of the whole state names only the rooms one is in), is asked about."""
        client = self._client
        for room in await self.app.repos.rooms.all(PLATFORM):
            chat = room.chat_id
            if room.gone or chat in client.rooms or chat in client.invited_rooms:
                continue
            if chat in response.rooms.leave:
                continue  # the sync brought it: looked at above
            try:
                if await _matrix_rooms.removal(client, chat) is not None:
                    await self.app.room_gone(PLATFORM, chat)
            except Exception:
                log.exception("matrix could not look at room=%s", pseudonym(chat))

    async def _follow_replacement(self, old: str, new: str) -> None:
        """Join the room that replaced an experiment's room and move the room there; if the
        homeserver refuses (the bot is not invited), the staff member who linked it hears
        so, once. Only a room created to replace this one takes its place: a tombstone may
        name any room."""
        client = self._client
        was_in = new in client.rooms and _member(client.rooms[new], client.user_id)
        try:
            answer = await client.join(new)
        except (ClientError, TimeoutError, OSError) as exc:
            log.warning("matrix could not join replacement room=%s: %s", pseudonym(new), exc)
            return  # tried again at the next start, or when the bot is invited there
        if isinstance(answer, JoinError):
            await self._replacement_refused(old, new, str(answer.message))
            return
        if await _matrix_rooms.predecessor(client, new) != old:
            log.warning(
                "matrix room=%s names room=%s as its replacement, which does not replace it",
                pseudonym(old),
                pseudonym(new),
            )
            if not was_in:
                with contextlib.suppress(ClientError, TimeoutError, OSError):
                    await client.room_leave(new)
            return
        await self._carry_mutes(old, new)
        if not await self.app.room_upgraded(PLATFORM, old, new):
            return
        await self._load_linked()
        log.info(
            "matrix experiment room moved from room=%s to room=%s", pseudonym(old), pseudonym(new)
        )
        # The old room is over: the bot leaves it (nobody's chat, no experiment's room).
        with contextlib.suppress(ClientError, TimeoutError, OSError):
            await client.room_leave(old)

    async def _carry_mutes(self, old: str, new: str) -> None:
        """What the mutes in the old room need in the new one (see
        :func:`_matrix_rooms.carry_levels_before_mute`); a failure costs a muted moderator
        their level at the mute's end at worst, so the room moves all the same."""
        try:
            await _matrix_rooms.carry_levels_before_mute(self._client, old, new)
        except (RoomError, ClientError, TimeoutError, OSError) as exc:
            log.warning("matrix mutes not carried to room=%s: %s", pseudonym(new), exc)

    async def _replacement_refused(self, old: str, new: str, why: str) -> None:
        """The bot may not enter the room that replaced an experiment's room: the staff
        member who linked it is told once per replacement (not again at each start)."""
        key = f"replacement_refused:{old}"
        state = self.app.repos.platform_state
        if await state.get(PLATFORM, key) == new:
            return
        await self.app.room_upgrade_failed(PLATFORM, old, why)
        async with self.app.db.transaction():
            await state.set(PLATFORM, key, new, utcnow())

    async def _private_again(self, room_id: str) -> None:
        """Others left a person's chat: what waited for her goes now."""
        self.pacing.release(room_id)
        async with self.app.db.transaction():
            held = await self.app.repos.outbox.release_chat(
                PLATFORM, room_id, self.app.router.clock()
            )
        log.info("matrix room=%s private again, %s released", pseudonym(room_id), held)

    async def _adopt(self, room_id: str, user_id: str) -> None:
        """Someone joined a private room with the bot (the direct chat it invited them to):
        if their chat has become a group, they are reached here from now on, and what
        waited for them goes here."""
        user = await self.app.repos.users.find(PLATFORM, user_id)
        if user is None or not user.consented or user.unreachable_at is not None:
            return
        chat = self._client.rooms.get(user.chat_id) if user.chat_id else None
        if chat is not None and user.chat_id not in self._linked and is_private(chat):
            return  # their chat is still theirs alone: it stays where it is
        async with self.app.db.transaction():
            await self.app.repos.users.move_chat(user.id, room_id, self.app.router.clock())
        log.info("matrix resident moved to room=%s", pseudonym(room_id))

    async def _unreachable(self, room_id: str) -> None:
        try:
            await self.app.chat_unreachable(PLATFORM, room_id, "left the chat")
        except Exception:
            log.exception("matrix could not mark room=%s unreachable", pseudonym(room_id))

    # Receiving ---------------------------------------------------------------------------

    async def _dispatch(self, incoming: list[tuple[str, Any]]) -> None:
        """Hand events to the router: each sender's in order, different senders at once."""
        own = self._client.user_id
        by_sender: dict[str, list[tuple[str, Any]]] = {}
        for room_id, event in incoming:
            sender = getattr(event, "sender", None)
            if isinstance(sender, str) and sender != own:
                by_sender.setdefault(sender, []).append((room_id, event))
        await asyncio.gather(*(self._serve(items) for items in by_sender.values()))

    async def _serve(self, items: list[tuple[str, Any]]) -> None:
        for room_id, native in items:
            try:
                await self._receive(room_id, native)
            except Exception:
                log.exception(
                    "matrix event failed room=%s type=%s",
                    pseudonym(room_id),
                    type(native).__name__,
                )

    async def _receive(self, room_id: str, native: Any) -> None:
        room = self._client.rooms.get(room_id)
        if room is None or self._sent_before_erasure(room_id, native):
            return
        if isinstance(native, MegolmEvent):
            await self._keys.add(self._client, room_id, native)
            return
        # As the room was when it was sent: someone joining later in the same sync does not
        # make a message to the bot alone group chatter (its answer waits, see _deliver).
        private = self._private_when_sent.get(getattr(native, "event_id", ""), is_private(room))
        group = not private or room_id in self._linked
        content = native.source.get("content") if isinstance(native, RoomMessage) else None
        if isinstance(content, dict) and is_edit(content):
            # A notice is never read (bots send them), so neither is a change to one.
            if not group and not is_notice(content) and not self._not_private(room):
                notice = "general.edit_not_read"
                await self._notice(room_id, native.sender, native.event_id, notice)
            return
        event = await self._room_event(room, native) if group else None
        if event is None:
            event = await read_event(
                self._client,
                self.names,
                room,
                native,
                group=group,
                commands=self.app.router.names_command,
            )
        if event is None:
            return
        if event.is_group and event.command is not None:
            # A command in a room (a report, typed or by reaction) may have to go again.
            event = event.model_copy(update={"message_id": native.event_id})
        if event.is_group and event.command is not None and isinstance(content, dict):
            answered = replied_to(content)
            if answered is not None:
                quoted = await _matrix_rooms.quoted(self._client, room_id, answered)
                event = event.model_copy(update={"reply_to": quoted})
        if not event.is_group:
            await self._left_by_its_person(room, event.sender.platform_user_id)
            await self._follow_chat(event)
        await self.app.router.handle(event, self._deliver)
        # Read as the router reads it: /Ontkoppel (a phone's capital) unlinks too.
        if event.is_group and (event.command or "").lower() in LINK_COMMANDS:
            was_linked = room_id in self._linked
            await self._load_linked()
            if was_linked and room_id not in self._linked:
                await self._leave_unlinked(room_id)
        if event.is_group and not event.joined:
            await self._invite_to_direct_chat(event.sender.platform_user_id)

    def _sent_before_erasure(self, room_id: str, native: Any) -> bool:
        """Whether the sender was erased after sending this (handed over again after a
        backup was restored): it is skipped, whoever it came from is not brought back."""
        sender = getattr(native, "sender", None)
        stamp = getattr(native, "server_timestamp", None)
        if not isinstance(sender, str) or not isinstance(stamp, int):
            return False
        sent_at = datetime.fromtimestamp(stamp / 1000, UTC)
        if not self._erased.sent_before(PLATFORM, sender, sent_at):
            return False
        log.info(
            "matrix skipped an event sent before its sender's erasure room=%s", pseudonym(room_id)
        )
        return True

    async def _room_event(self, room: MatrixRoom, native: Any) -> Event | None:
        """In a group: someone who joined (the welcome), or a report by reaction."""
        base: dict[str, Any] = {
            "platform": PLATFORM,
            "chat_id": room.room_id,
            "sender": sender_of(room, native.sender),
            "is_group": True,
            "received_at": utcnow(),
            "event_id": native.event_id,
        }
        if isinstance(native, RoomMemberEvent):
            newcomer = (
                native.membership == "join"
                and native.prev_membership != "join"
                and native.state_key == native.sender
            )
            return Event(**base, joined=True) if newcomer else None
        reaction = self.app.profile.rooms.report_reaction
        if isinstance(native, ReactionEvent) and reaction and _same_emoji(native.key, reaction):
            quoted = await _matrix_rooms.quoted(self._client, room.room_id, native.reacts_to)
            return Event(**base, command="melden", reply_to=quoted)
        return None

    async def _leave_unlinked(self, room_id: str) -> None:
        """A room unlinked from its experiment (``/ontkoppel``, its answer sent) is left:
        no experiment's room any more, and with only one person beside the bot it would
        look like that person's private chat, in a room others were in and may come to."""
        try:
            answer = await self._client.room_leave(room_id)
        except (ClientError, TimeoutError, OSError) as exc:
            log.warning("matrix could not leave unlinked room=%s: %s", pseudonym(room_id), exc)
            return
        if isinstance(answer, RoomLeaveError):
            log.warning("matrix could not leave unlinked room=%s: %s", pseudonym(room_id), answer)
            return
        log.info("matrix left unlinked room=%s", pseudonym(room_id))

    async def _load_linked(self) -> None:
        """The experiments' rooms: groups even when only two are left in them."""
        rooms = await self.app.repos.rooms.all(PLATFORM)
        self._linked = {room.chat_id for room in rooms}

    # Experiments' rooms (handlers.contract.RoomOperations) ------------------------------

    async def invite(self, room: str, person: str) -> str | None:
        await _matrix_rooms.invite(self._client, room, person)
        return None

    async def hide(self, room: str, message_id: str) -> None:
        await _matrix_rooms.hide(self._client, room, message_id)

    async def mute(self, room: str, person: str, until: datetime | None) -> None:
        await _matrix_rooms.mute(self._client, room, person, until)

    async def ban(self, room: str, person: str) -> None:
        await _matrix_rooms.ban(self._client, room, person)

    async def unban(self, room: str, person: str) -> None:
        await _matrix_rooms.unban(self._client, room, person)

    async def remove(self, room: str, person: str) -> bool:
        return await _matrix_rooms.remove(self._client, room, person)

    async def admin_problem(self, room: str) -> str | None:
        return await _matrix_rooms.admin_problem(self._client, room)

    async def _invite_to_direct_chat(self, user_id: str) -> None:
        """Someone addressed the bot in a group: invite them to a direct chat, where the
        bot talks with them, unless they have one with the bot (or were invited lately)."""
        client = self._client
        now = asyncio.get_running_loop().time()
        if now - self._invited.get(user_id, -INVITE_AGAIN.total_seconds()) < (
            INVITE_AGAIN.total_seconds()
        ):
            return
        for room in client.rooms.values():
            if room.room_id in self._linked or not is_private(room):
                continue
            if user_id in room.users or user_id in room.invited_users:
                return
        self._invited = {
            who: when
            for who, when in self._invited.items()
            if now - when < INVITE_AGAIN.total_seconds()
        }
        self._invited[user_id] = now
        try:
            answer = await client.room_create(
                preset=RoomPreset.trusted_private_chat,
                is_direct=True,
                invite=[user_id],
                initial_state=[
                    {
                        "type": "m.room.encryption",
                        "state_key": "",
                        "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                    }
                ],
            )
        except (ClientError, TimeoutError, OSError) as exc:
            answer = exc
        if isinstance(answer, (RoomCreateError, Exception)):
            log.warning("matrix could not open a direct chat: %s", scrubbed(str(answer), user_id))
            return
        log.info("matrix invited to direct chat room=%s", pseudonym(answer.room_id))

    async def _left_by_its_person(self, room: MatrixRoom, sender: str) -> None:
        """Someone writes in a private room that was another person's chat, who left it
        unseen by the bot (it was stopped, and one sync brought her leaving and this
        message): the room is not hers any more. She is unreachable, as if the bot had
        seen her go, so nothing of hers goes to whoever writes there now."""
        owners = await self.app.repos.users.in_chat(PLATFORM, room.room_id)
        others = [owner for owner in owners if owner.platform_user_id != sender]
        if len(others) < len(owners) or any(_member(room, o.platform_user_id) for o in others):
            return  # her own chat (whoever else it was once), or someone else's still
        if any(owner.unreachable_at is None for owner in others):
            await self._unreachable(room.room_id)

    async def _follow_chat(self, event: Event) -> None:
        """A resident who writes from a new direct chat is reached there from now on."""
        users = self.app.repos.users
        user = await users.find(PLATFORM, event.sender.platform_user_id)
        if user is None or not user.consented or user.chat_id == event.chat_id:
            return
        async with self.app.db.transaction():
            await users.move_chat(user.id, event.chat_id, self.app.router.clock())
        log.info("matrix resident moved to room=%s", pseudonym(event.chat_id))

    # Encrypted messages waiting for their key ----------------------------------------------

    def _ask_again(self, notices: list[Notice]) -> None:
        """Ask residents to send again what could not be decrypted: once per direct chat,
        beside the sync loop (so many rooms at once hold nobody else up). A group, an
        experiment's room of two included, is not asked: what the bot could not read there
        was most likely not meant for it."""
        for notice in notices:
            room = self._client.rooms.get(notice.room_id)
            if room is None or self._not_private(room):
                continue
            task = asyncio.create_task(self._ask_again_in(notice))
            self._notices.add(task)
            task.add_done_callback(self._notices.discard)

    async def _ask_again_in(self, notice: Notice) -> None:
        try:
            await self._notice(
                notice.room_id, notice.sender, notice.event_id, "matrix.undecryptable"
            )
        except Exception:
            log.exception("matrix notice failed room=%s", pseudonym(notice.room_id))

    async def _notice(self, room_id: str, sender: str, event_id: str, key: str) -> None:
        """A word from the adapter itself (about an edit, say), in the resident's language."""
        user = await self.app.repos.users.find(PLATFORM, sender)
        lang = (user.language if user else None) or self.app.catalog.default
        try:
            await self._rooms.send(room_id, lang, [Reply(key=key)], key=event_id, patient=True)
        except DeliveryError as exc:
            log.info("matrix notice not sent room=%s: %s", pseudonym(room_id), exc)

    # Sending -----------------------------------------------------------------------------

    async def _deliver(self, event: Event, lang: str, replies: list[Reply]) -> None:
        """Answer an event; a resident who left the chat is marked unreachable.

        Replies the homeserver did not take (unreachable, an error of its own) are raised
        as :class:`Undelivered`, with the key they were sent under: the sync that brought
        the event is done with, so the outbox sends them, and what arrived is recognised
        by its transaction id and not posted twice.
        """
        # In a group the answer says which message it answers (a greeting answers none).
        answered = event.event_id if event.is_group else None
        answer_to = answered if answered and answered.startswith("$") else None
        key = event.event_id or uuid.uuid4().hex
        room = self._client.rooms.get(event.chat_id)
        if not event.is_group and room is not None and self._not_private(room):
            # Sent to the bot alone, but others are in the room now: nothing personal goes
            # there. The outbox holds it, as anything else for her (see _check_private).
            raise Undelivered(replies, "the chat is not private any more", dedupe_key=key)
        try:
            await self._rooms.send(
                event.chat_id, lang, replies, key=key, answer_to=answer_to, patient=True
            )
        except Blocked:
            log.info("matrix chat unreachable room=%s", pseudonym(event.chat_id))
            await self._unreachable(event.chat_id)
        except DeliveryError as exc:
            raise Undelivered(replies, str(exc), dedupe_key=key) from exc

    async def send(
        self,
        chat_id: str,
        lang: str,
        replies: list[Reply],
        *,
        dedupe_key: str | None = None,
        skip: int = 0,
    ) -> str | None:
        """Send outside a conversation (the outbox); returns the last message's event id.

        ``dedupe_key`` (an outbox row id, say) makes the transaction ids stable, so sending
        the same row again after a crash does not post it twice. For the same reason a
        failure never reports parts that arrived, so ``skip`` is always 0 here.

        Raises:
            Blocked: the bot is not in the room, nobody else is, or the person whose chat it
                is is not (she left, others stayed).
            RetryLater: the homeserver asked to slow down.
            Paused: others are in the person's chat (it waits until it is private again,
                or she has a new direct chat; delivery waits only so long).
            DeliveryError: anything else.
        """
        await self._check_private(chat_id)
        return await self._rooms.send(chat_id, lang, replies, key=dedupe_key or uuid.uuid4().hex)

    async def edit(self, chat_id: str, message_id: str, lang: str, reply: Reply) -> None:
        """Replace a message delivery sent before (a progress message counting up)."""
        await self._check_private(chat_id)
        await self._rooms.edit(chat_id, message_id, lang, reply, key=uuid.uuid4().hex)

    async def _check_private(self, chat_id: str) -> None:
        """Refuse to send anything personal to a room that is not its person's alone."""
        room = self._client.rooms.get(chat_id)
        if room is None:
            return  # the room sender says the bot is not in it
        owners = await self.app.repos.users.in_chat(PLATFORM, chat_id)
        if owners and not any(_member(room, owner.platform_user_id) for owner in owners):
            # Whoever else is still in the room: it is not theirs to read.
            raise Blocked("the person whose chat this was left it")
        if self._not_private(room):
            # Others joined the person's chat (her partner looking along, say): nothing
            # personal goes there while they are in it, but nothing is lost either. It
            # waits, and she is invited to a new direct chat, where it goes once she joins
            # (or here, once the room is hers alone again).
            for owner in owners:
                await self._invite_to_direct_chat(owner.platform_user_id)
            raise Paused(GROUP_PAUSE.total_seconds(), "the room is not private (any more)")

    def _not_private(self, room: MatrixRoom) -> bool:
        return room.room_id in self._linked or is_group(room)


def _loop_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.critical(
            "matrix sync loop stopped: no more messages are read", exc_info=task.exception()
        )


def _timeline(response: SyncResponse) -> list[tuple[str, Any]]:
    return [
        (room_id, event)
        for room_id, info in response.rooms.join.items()
        for event in info.timeline.events
    ]


def _same_emoji(key: str, wanted: str) -> bool:
    """Whether a reaction is this emoji, shown as emoji or as text: some apps send "⚠"
    where others send "⚠️" (with U+FE0F)."""
    return _VARIATION.sub("", key) == _VARIATION.sub("", wanted)


#: The signs that ask for an emoji as a picture or as text (the same emoji either way).
_VARIATION = re.compile("[\ufe0e\ufe0f]")


def _member(room: MatrixRoom, user_id: str) -> bool:
    """Whether the person has joined the room (not just been invited)."""
    user = room.users.get(user_id)
    return user is not None and not user.invited


def _removed_by_others(events: list[Any], own: str) -> bool:
    """Whether the bot's last membership change in these events is a kick or ban by
    someone else (not its own leaving)."""
    for event in reversed(events):
        if isinstance(event, RoomMemberEvent) and event.state_key == own:
            return event.membership in ("leave", "ban") and event.sender != own
    return False


def _before_removal(events: list[Any], own: str) -> set[str]:
    """The ids of these events up to the bot's last leaving (or removal) among them."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if (
            isinstance(event, RoomMemberEvent)
            and event.state_key == own
            and event.membership in ("leave", "ban")
        ):
            return {str(e.event_id) for e in events[: index + 1] if hasattr(e, "event_id")}
    return set()


def _others(room: MatrixRoom, own: str) -> list[str]:
    return [user for user in room.users if user != own]


def _without_token(path: str) -> str:
    """The request path without ``access_token`` (it goes in a header, not in server logs)."""
    parts = urlsplit(path)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = [(name, value) for name, value in pairs if name != "access_token"]
    return urlunsplit(parts._replace(query=urlencode(query)))
