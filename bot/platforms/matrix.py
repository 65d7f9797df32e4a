"""Matrix through matrix-nio: the same bot for residents in Element or any Matrix app.

    start: log in on the kept device ──► first sync (the very first one skips the backlog)
                                              │
    ┌──► /sync (long poll) ──► decrypt, join invites ──► events to the router, each sender
    │                                                    in order, senders at once
    └──── store the sync token (only now: a crash before this replays the sync) ◄──┘

Residents open a direct chat and the bot joins; in a room with more people it answers only
when named or given a command. Encrypted rooms work like plain ones: messages are decrypted
on arrival, replies encrypted for every device in the room (devices are trusted on first
use; a device whose key changes is not). A message whose key has not arrived waits for it
(across restarts too) and after a while the resident is asked to send it again.

No replays, no lost messages: the router records each event id with its writes and skips
an event it has seen; replies carry transaction ids made from the event id, so a reply sent
again after a crash is not posted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import ClientError
from nio import (
    AsyncClient,
    DownloadResponse,
    JoinError,
    LocalProtocolError,
    MatrixRoom,
    MegolmEvent,
    RoomEncryptedAudio,
    RoomEncryptedFile,
    RoomEncryptedImage,
    RoomEncryptedVideo,
    RoomMemberEvent,
    RoomMessage,
    RoomMessageAudio,
    RoomMessageEmote,
    RoomMessageFile,
    RoomMessageImage,
    RoomMessageNotice,
    RoomMessageText,
    RoomMessageUnknown,
    RoomMessageVideo,
    RoomSendResponse,
    StickerEvent,
    SyncResponse,
    UploadResponse,
)
from nio.api import Api
from nio.crypto.attachments import decrypt_attachment, encrypt_attachment
from nio.exceptions import EncryptionError

from bot.app import App
from bot.logs import pseudonym
from bot.platforms import _matrix_session as session
from bot.platforms._matrix_events import (
    addressing,
    is_edit,
    is_reply,
    parse_command,
    parse_geo_uri,
    strip_reply_fallback,
)
from bot.platforms._matrix_render import Outgoing, render, transaction_id
from bot.platforms.base import Blocked, DeliveryError, RetryLater, StartError
from handlers.contract import Document, Event, Location, Photo, Reply, Sender
from storage.clock import iso, parse, utcnow

log = logging.getLogger(__name__)

PLATFORM = "matrix"
SYNC_POLL_MS = 30_000
MAX_PHOTO_BYTES = 10 * 1024 * 1024
#: How long an encrypted message may wait for its key before the resident is asked again.
KEY_PATIENCE = timedelta(minutes=2)
#: Direct replies wait out a rate limit this many times; the outbox gets RetryLater at once.
RATE_LIMIT_WAITS = 5

_QUIET: dict[str, Any] = {"not_types": ["*"]}
SYNC_FILTER: dict[str, Any] = {
    "presence": _QUIET,
    "account_data": _QUIET,
    "room": {"timeline": {"limit": 50}, "ephemeral": _QUIET, "account_data": _QUIET},
}
#: The very first sync: room state and invites, but none of the messages from before.
FIRST_SYNC_FILTER: dict[str, Any] = {
    **SYNC_FILTER,
    "room": {"timeline": {"limit": 0}, "ephemeral": _QUIET, "account_data": _QUIET},
}
_MEDIA_KINDS: list[tuple[tuple[type, ...], str]] = [
    ((RoomMessageFile, RoomEncryptedFile), "document"),
    ((RoomMessageAudio, RoomEncryptedAudio), "audio"),
    ((RoomMessageVideo, RoomEncryptedVideo), "video"),
    ((StickerEvent,), "sticker"),
]


@dataclass
class _Waiting:
    """An encrypted message whose room key has not arrived (yet)."""

    room_id: str
    source: dict[str, Any]
    since: datetime
    requested: bool = False


class Matrix:
    """One bot account on a Matrix homeserver, wired to the router."""

    name = PLATFORM

    def __init__(
        self, app: App, *, poll_ms: int = SYNC_POLL_MS, key_patience: timedelta = KEY_PATIENCE
    ):
        self.app = app
        self.poll_ms = poll_ms
        self.key_patience = key_patience
        self.client: AsyncClient | None = None
        self.names: set[str] = set()
        self._since: str | None = None
        self._waiting: list[_Waiting] = []
        #: Rooms joined on an invite: the inviter is greeted if they do not speak first.
        self._joined: dict[str, tuple[str | None, int]] = {}
        self._task: asyncio.Task[None] | None = None
        self._poll: asyncio.Task[Any] | None = None
        self._stopping = asyncio.Event()

    @property
    def user_id(self) -> str:
        return self._client.user_id

    @property
    def device_id(self) -> str:
        return str(self._client.device_id)

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
        self.client = await session.connect(settings, self.app.db, repos.platform_state)
        try:
            self.names = await self._own_names()
            saved = await repos.platform_state.get_all(PLATFORM)
            self._since = saved.get("sync_token")
            self._waiting = _load_waiting(saved.get("undecrypted"))
            await self._first_sync()
        except BaseException:
            await self.client.close()
            self.client = None
            raise
        self._task = asyncio.create_task(self._run(), name="matrix-sync")
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
        await self.app.router.drain()
        if self.client is not None:
            await self.client.close()
            self.client = None

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
            await self._process(response)

    async def _run(self) -> None:
        backoff = 1.0
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
                backoff = min(backoff * 2, 60.0)
                continue
            if not isinstance(response, SyncResponse):
                log.warning("matrix sync refused: %s", response)
                if getattr(response, "status_code", None) == "M_UNKNOWN_TOKEN":
                    await self._log_in_again()
                await self._pause(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            backoff = 1.0
            await self._process(response)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _log_in_again(self) -> None:
        try:
            await session.log_in_again(
                self._client, self.app.settings, self.app.db, self.app.repos.platform_state
            )
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

        async def request() -> Any:
            answer = await client.send(
                method, _without_token(path), headers=headers, timeout=timeout_ms / 1000 + 30
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
        decrypted, given_up = self._retry_waiting()
        incoming = [*decrypted, *_timeline(response)]
        await self._dispatch(incoming)
        for waiting in given_up:
            await self._give_up(waiting)
        await self._greet(response, incoming)
        await self._follow_members(response)
        await self._save_position(response.next_batch)

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
        waiting = [
            {"room_id": w.room_id, "source": w.source, "since": iso(w.since)}
            for w in self._waiting
        ]
        try:
            async with self.app.db.transaction():
                now = utcnow()
                await state.set(PLATFORM, "sync_token", token, now)
                if waiting:
                    await state.set(PLATFORM, "undecrypted", json.dumps(waiting), now)
                else:
                    await state.delete(PLATFORM, "undecrypted")
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
        client = self._client
        for room_id in response.rooms.invite:
            invited = client.invited_rooms.get(room_id)
            inviter = invited.inviter if invited is not None else None
            answer = await client.join(room_id)
            if isinstance(answer, JoinError):
                log.warning("matrix could not join room=%s: %s", pseudonym(room_id), answer)
                continue
            self._joined[room_id] = (inviter, 0)
            log.info("matrix joined room=%s", pseudonym(room_id))

    async def _greet(self, response: SyncResponse, incoming: list[tuple[str, Any]]) -> None:
        """Welcome someone who opened a direct chat and has not said anything yet."""
        for room_id, (inviter, syncs) in list(self._joined.items()):
            if room_id not in response.rooms.join:
                if syncs < 3:
                    self._joined[room_id] = (inviter, syncs + 1)
                else:
                    del self._joined[room_id]
                continue
            del self._joined[room_id]
            room = self._client.rooms.get(room_id)
            if room is None or inviter is None or inviter == self.user_id or _is_group(room):
                continue
            spoke = any(
                rid == room_id
                and getattr(event, "sender", None) == inviter
                and isinstance(event, (RoomMessage, MegolmEvent, StickerEvent))
                for rid, event in incoming
            )
            if spoke or any(w.room_id == room_id for w in self._waiting):
                continue
            greeting = Event(
                platform=PLATFORM,
                chat_id=room_id,
                sender=_sender(room, inviter),
                command="start",
                received_at=utcnow(),
                event_id=f"greeting:{room_id}",
            )
            await self.app.router.handle(greeting, self._deliver)

    async def _follow_members(self, response: SyncResponse) -> None:
        """Leave a chat the resident left; nobody there can be reached any more."""
        client = self._client
        gone = set(response.rooms.leave)
        for room_id, info in response.rooms.join.items():
            left = any(
                isinstance(event, RoomMemberEvent)
                and event.membership in ("leave", "ban")
                and event.state_key != client.user_id
                for event in info.timeline.events
            )
            room = client.rooms.get(room_id)
            if left and room is not None and not _others(room, client.user_id):
                answer = await client.room_leave(room_id)
                log.info("matrix left room=%s (%s)", pseudonym(room_id), type(answer).__name__)
                gone.add(room_id)
        for room_id in gone:
            self._joined.pop(room_id, None)
            await self._unreachable(room_id)

    async def _unreachable(self, room_id: str) -> None:
        try:
            async with self.app.db.transaction():
                await self.app.repos.users.mark_unreachable(PLATFORM, room_id, utcnow())
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
        if room is None:
            return
        if isinstance(native, MegolmEvent):
            await self._wait_for_key(room_id, native)
            return
        content = native.source.get("content") if isinstance(native, RoomMessage) else None
        if isinstance(content, dict) and is_edit(content):
            if not _is_group(room):
                await self._notice(room_id, native.sender, native.event_id, "matrix.edit_not_read")
            return
        event = await self._event(room, native)
        if event is not None:
            await self.app.router.handle(event, self._deliver)

    async def _event(self, room: MatrixRoom, native: Any) -> Event | None:
        """The Event for a room event, or None for what the bot leaves alone."""
        group = _is_group(room)
        base: dict[str, Any] = {
            "platform": PLATFORM,
            "chat_id": room.room_id,
            "sender": _sender(room, native.sender),
            "is_group": group,
            "received_at": utcnow(),
            "event_id": native.event_id,
        }
        if isinstance(native, RoomMessageNotice):
            return None  # notices are what bots send: answering them makes loops
        if isinstance(native, (RoomMessageText, RoomMessageEmote)):
            content = native.source.get("content", {})
            text = strip_reply_fallback(native.body) if is_reply(content) else native.body
            if group:
                addressed, text = addressing(text, content, self.user_id, self.names)
                if not addressed:
                    return None
            command = parse_command(text)
            if command is not None:
                return Event(**base, command=command[0], args=command[1])
            return Event(**base, text=text)
        if group:
            return None  # in a group the bot reads only what is addressed to it
        if isinstance(native, (RoomMessageImage, RoomEncryptedImage)):
            photo = await self._download_photo(native)
            return Event(**base, photo=photo) if photo else Event(**base, unsupported="photo")
        for kinds, kind in _MEDIA_KINDS:
            if isinstance(native, kinds):
                return Event(**base, unsupported=kind)
        if isinstance(native, RoomMessageUnknown):
            if native.msgtype == "m.location":
                point = parse_geo_uri(native.content.get("geo_uri"))
                if point is not None:
                    location = Location(latitude=point[0], longitude=point[1])
                    return Event(**base, location=location)
            return Event(**base, unsupported="other")
        return None  # reactions, redactions, state, calls and custom events

    async def _download_photo(self, native: Any) -> Photo | None:
        content = native.source.get("content", {})
        info = content.get("info") if isinstance(content.get("info"), dict) else {}
        size = info.get("size")
        if isinstance(size, int) and size > MAX_PHOTO_BYTES:
            return None
        mime = str(info.get("mimetype") or getattr(native, "mimetype", None) or "image/jpeg")
        if not mime.startswith("image/"):
            return None
        answer = await self._client.download(mxc=native.url)
        if not isinstance(answer, DownloadResponse):
            log.warning("matrix photo download failed: %s", answer)
            return None
        data = answer.body if isinstance(answer.body, bytes) else b""
        if isinstance(native, RoomEncryptedImage):
            try:
                key, digest = native.key["k"], native.hashes["sha256"]
                data = decrypt_attachment(data, key, digest, native.iv)
            except (EncryptionError, KeyError, ValueError) as exc:
                log.warning("matrix photo could not be decrypted: %s", exc)
                return None
        if not data or len(data) > MAX_PHOTO_BYTES:
            return None
        return Photo(data=data, mime_type=mime, platform_ref=native.url)

    # Encrypted messages waiting for their key ----------------------------------------------

    async def _wait_for_key(self, room_id: str, native: MegolmEvent) -> None:
        waiting = _Waiting(room_id, native.source, utcnow())
        self._waiting.append(waiting)
        log.info("matrix message waits for its key room=%s", pseudonym(room_id))
        try:
            await self._client.request_room_key(native)
            waiting.requested = True
        except (LocalProtocolError, ClientError, TimeoutError) as exc:
            log.info("matrix key request not sent: %s", exc)

    def _retry_waiting(self) -> tuple[list[tuple[str, Any]], list[_Waiting]]:
        """Messages whose key arrived since, and those that waited too long for it."""
        ready: list[tuple[str, Any]] = []
        given_up: list[_Waiting] = []
        still: list[_Waiting] = []
        for waiting in self._waiting:
            decrypted = self._decrypt(waiting)
            if decrypted is not None:
                ready.append((waiting.room_id, decrypted))
            elif utcnow() - waiting.since > self.key_patience:
                given_up.append(waiting)
            else:
                still.append(waiting)
        self._waiting = still
        return ready, given_up

    async def _give_up(self, waiting: _Waiting) -> None:
        """Ask the resident to send again what could not be decrypted."""
        room = self._client.rooms.get(waiting.room_id)
        sender, event_id = waiting.source.get("sender"), waiting.source.get("event_id")
        log.info("matrix message never decrypted room=%s", pseudonym(waiting.room_id))
        if room is None or _is_group(room) or not isinstance(sender, str):
            return
        if isinstance(event_id, str):
            await self._notice(waiting.room_id, sender, event_id, "matrix.undecryptable")

    def _decrypt(self, waiting: _Waiting) -> Any:
        native = MegolmEvent.from_dict(waiting.source)
        if not isinstance(native, MegolmEvent):
            return None
        native.room_id = waiting.room_id
        try:
            decrypted = self._client.decrypt_event(native)
        except EncryptionError:
            return None
        return decrypted if isinstance(decrypted, RoomMessage) else None

    async def _notice(self, room_id: str, sender: str, event_id: str, key: str) -> None:
        """A word from the adapter itself (about an edit, say), in the resident's language."""
        user = await self.app.repos.users.find(PLATFORM, sender)
        lang = (user.language if user else None) or self.app.catalog.default
        try:
            await self._send_all(room_id, lang, [Reply(key=key)], key=event_id, patient=True)
        except DeliveryError as exc:
            log.info("matrix notice not sent room=%s: %s", pseudonym(room_id), exc)

    # Sending -----------------------------------------------------------------------------

    async def _deliver(self, event: Event, lang: str, replies: list[Reply]) -> None:
        """Answer an event; a resident who left the chat is marked unreachable."""
        answer_to = event.event_id if event.is_group else None
        try:
            await self._send_all(
                event.chat_id,
                lang,
                replies,
                key=event.event_id or uuid.uuid4().hex,
                answer_to=answer_to,
                patient=True,
            )
        except Blocked:
            log.info("matrix chat unreachable room=%s", pseudonym(event.chat_id))
            await self._unreachable(event.chat_id)

    async def send(
        self, chat_id: str, lang: str, replies: list[Reply], *, dedupe_key: str | None = None
    ) -> None:
        """Send outside a conversation (the outbox).

        ``dedupe_key`` (an outbox row id, say) makes the transaction ids stable, so sending
        the same row again after a crash does not post it twice.

        Raises:
            Blocked: the bot is not in the room, or nobody else is.
            RetryLater: the homeserver asked to slow down.
            DeliveryError: anything else.
        """
        await self._send_all(chat_id, lang, replies, key=dedupe_key or uuid.uuid4().hex)

    async def _send_all(
        self,
        room_id: str,
        lang: str,
        replies: list[Reply],
        *,
        key: str,
        answer_to: str | None = None,
        patient: bool = False,
    ) -> None:
        room = self._client.rooms.get(room_id)
        if room is None:
            raise Blocked("the bot is not in this room")
        if not _others(room, self._client.user_id):
            raise Blocked("nobody else is in this room")
        for index, message in enumerate(render(self.app.catalog, lang, replies)):
            content = await self._content(room, message, patient)
            if index == 0 and answer_to is not None:
                content["m.relates_to"] = {"m.in_reply_to": {"event_id": answer_to}}
            await self._put(room_id, content, transaction_id(key, index), patient)

    async def _content(self, room: MatrixRoom, message: Outgoing, patient: bool) -> dict[str, Any]:
        if message.photo_id is not None:
            return await self._image(room, message.photo_id, patient)
        if message.document is not None:
            return await self._file(room, message.document, patient)
        return message.text_content()

    async def _image(self, room: MatrixRoom, media_id: int, patient: bool) -> dict[str, Any]:
        """An ``m.image``, uploaded once per kind of room and remembered."""
        media = self.app.repos.media
        stored = await media.get(media_id)
        if stored is None:
            raise DeliveryError(f"photo {media_id} is gone")
        name = f"foto-{media_id}{mimetypes.guess_extension(stored.mime_type) or '.jpg'}"
        content: dict[str, Any] = {
            "msgtype": "m.image",
            "body": name,
            "info": {"mimetype": stored.mime_type, "size": len(stored.data)},
        }
        ref_name = f"{PLATFORM}:encrypted" if room.encrypted else PLATFORM
        ref = await media.platform_ref(media_id, ref_name)
        if ref is not None:
            content.update({"file": json.loads(ref)} if room.encrypted else {"url": ref})
            return content
        uploaded = await self._upload(stored.data, stored.mime_type, name, room.encrypted, patient)
        content.update(uploaded)
        remembered = json.dumps(uploaded["file"]) if room.encrypted else uploaded["url"]
        async with self.app.db.transaction():
            await media.remember_ref(media_id, ref_name, remembered)
        return content

    async def _file(self, room: MatrixRoom, document: Document, patient: bool) -> dict[str, Any]:
        uploaded = await self._upload(
            document.data, document.mime_type, document.filename, room.encrypted, patient
        )
        return {
            "msgtype": "m.file",
            "body": document.filename,
            "filename": document.filename,
            "info": {"mimetype": document.mime_type, "size": len(document.data)},
            **uploaded,
        }

    async def _upload(
        self, data: bytes, mime: str, name: str, encrypted: bool, patient: bool
    ) -> dict[str, Any]:
        """Upload to the media repository: ``{"url": ...}``, or ``{"file": ...}`` encrypted."""
        body, keys = encrypt_attachment(data) if encrypted else (data, {})
        kind = "application/octet-stream" if encrypted else mime
        for _ in range(RATE_LIMIT_WAITS):
            try:
                answer, _keys = await self._client.upload(
                    lambda *_: body, kind, name, filesize=len(body)
                )
            except (ClientError, TimeoutError, OSError) as exc:
                raise DeliveryError(f"upload failed: {exc}") from exc
            if isinstance(answer, UploadResponse):
                if encrypted:
                    return {"file": {"url": answer.content_uri, "mimetype": mime, **keys}}
                return {"url": answer.content_uri}
            await self._rate_limited(answer, patient)
        raise DeliveryError("upload kept being rate limited")

    async def _put(self, room_id: str, content: dict[str, Any], txn: str, patient: bool) -> None:
        """Send one message (encrypted in an encrypted room) under a stable transaction id."""
        for _ in range(RATE_LIMIT_WAITS):
            try:
                answer = await self._client.room_send(
                    room_id, "m.room.message", content, tx_id=txn, ignore_unverified_devices=True
                )
            except LocalProtocolError as exc:
                if "No such room" in str(exc):
                    raise Blocked(str(exc)) from exc
                raise DeliveryError(str(exc)) from exc
            except (ClientError, TimeoutError, OSError) as exc:
                raise DeliveryError(f"send failed: {type(exc).__name__}: {exc}") from exc
            if isinstance(answer, RoomSendResponse):
                return
            if answer.status_code in ("M_FORBIDDEN", "M_NOT_FOUND"):
                raise Blocked(str(answer))
            await self._rate_limited(answer, patient)
        raise DeliveryError("sending kept being rate limited")

    async def _rate_limited(self, answer: Any, patient: bool) -> None:
        """Wait out a rate limit (direct replies) or pass it on (the outbox); else fail."""
        if getattr(answer, "status_code", None) != "M_LIMIT_EXCEEDED":
            raise DeliveryError(str(answer))
        seconds = (getattr(answer, "retry_after_ms", None) or 1000) / 1000
        if not patient:
            raise RetryLater(seconds, str(answer))
        await asyncio.sleep(min(seconds, 30.0))


def _timeline(response: SyncResponse) -> list[tuple[str, Any]]:
    return [
        (room_id, event)
        for room_id, info in response.rooms.join.items()
        for event in info.timeline.events
    ]


def _is_group(room: MatrixRoom) -> bool:
    """More than the resident and the bot: answer only when addressed."""
    return int(room.member_count) > 2


def _others(room: MatrixRoom, own: str) -> list[str]:
    return [user for user in room.users if user != own]


def _sender(room: MatrixRoom, user_id: str) -> Sender:
    member = room.users.get(user_id)
    name = getattr(member, "display_name", None) if member is not None else None
    return Sender(platform_user_id=user_id, display_name=name or None)


def _without_token(path: str) -> str:
    """The request path without ``access_token`` (it goes in a header, not in server logs)."""
    parts = urlsplit(path)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = [(name, value) for name, value in pairs if name != "access_token"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _load_waiting(raw: str | None) -> list[_Waiting]:
    if not raw:
        return []
    try:
        return [
            _Waiting(item["room_id"], item["source"], parse(item["since"]) or utcnow(), True)
            for item in json.loads(raw)
        ]
    except (ValueError, KeyError, TypeError):
        log.warning("matrix waiting messages unreadable: dropped")
        return []
