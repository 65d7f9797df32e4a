"""Sending Replies into Matrix rooms: rendered, uploaded, encrypted, never posted twice.

Each message goes out under a transaction id made from a key (the incoming event's id), so
the homeserver turns a repeat after a crash into the event it already has. Pictures are
uploaded once per kind of room (plain or encrypted) and the reference is remembered.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
from typing import Any

from aiohttp import ClientError
from nio import AsyncClient, LocalProtocolError, MatrixRoom, RoomSendResponse, UploadResponse
from nio.crypto.attachments import encrypt_attachment

from bot.platforms._matrix_render import Outgoing, render, transaction_id
from bot.platforms.base import Blocked, DeliveryError, RetryLater
from handlers.catalog import Catalog
from handlers.contract import Document, Reply
from storage import Repositories

PLATFORM = "matrix"
#: Direct replies wait out a rate limit this many times; the outbox gets RetryLater at once.
RATE_LIMIT_WAITS = 5


class RoomSender:
    """Turns Replies into room messages for one logged-in client."""

    def __init__(self, client: AsyncClient, catalog: Catalog, repos: Repositories):
        self.client = client
        self.catalog = catalog
        self.repos = repos

    async def send(
        self,
        room_id: str,
        lang: str,
        replies: list[Reply],
        *,
        key: str,
        answer_to: str | None = None,
        patient: bool = False,
    ) -> str | None:
        """Send replies as messages, under transaction ids made from ``key``; returns the
        event id of the last message.

        ``answer_to`` marks the first message as a reply to that event; ``patient`` waits
        out rate limits instead of raising RetryLater.

        Raises:
            Blocked: the bot is not in the room, or nobody else is.
            RetryLater: the homeserver asked to slow down (only when not patient).
            DeliveryError: anything else.
        """
        room = self.client.rooms.get(room_id)
        if room is None:
            raise Blocked("the bot is not in this room")
        if not [user for user in room.users if user != self.client.user_id]:
            raise Blocked("nobody else is in this room")
        last = None
        for index, message in enumerate(render(self.catalog, lang, replies)):
            content = await self._content(room, message, patient)
            if index == 0 and answer_to is not None:
                content["m.relates_to"] = {"m.in_reply_to": {"event_id": answer_to}}
            last = await self._put(room_id, content, transaction_id(key, index), patient)
        return last

    async def edit(
        self, room_id: str, event_id: str, lang: str, reply: Reply, *, key: str
    ) -> None:
        """Replace the text of a message sent before (``m.replace``), as Element shows it.

        Raises:
            Blocked: the bot is not in the room.
            DeliveryError: the reply needs more than one text message (a text too long for
                one, a picture): an edit replaces one message, and showing only a part of
                it would say something else. As on Telegram, delivery then sends it anew.
        """
        if room_id not in self.client.rooms:
            raise Blocked("the bot is not in this room")
        messages = render(self.catalog, lang, [reply])
        if len(messages) != 1 or messages[0].photo_id is not None or messages[0].document:
            raise DeliveryError("too long for one message")
        new = messages[0].text_content()
        content = {
            **new,
            "body": f"* {new['body']}",
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        }
        await self._put(room_id, content, transaction_id(key, 0), patient=False)

    async def _content(self, room: MatrixRoom, message: Outgoing, patient: bool) -> dict[str, Any]:
        if message.photo_id is not None:
            return await self._image(room, message.photo_id, patient)
        if message.document is not None:
            return await self._file(room, message.document, patient)
        return message.text_content()

    async def _image(self, room: MatrixRoom, media_id: int, patient: bool) -> dict[str, Any]:
        """An ``m.image``, uploaded once per kind of room and remembered."""
        media = self.repos.media
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
        async with self.repos.db.transaction():
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
                answer, _keys = await self.client.upload(
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

    async def _put(self, room_id: str, content: dict[str, Any], txn: str, patient: bool) -> str:
        """Send one message (encrypted in an encrypted room) under a stable transaction id;
        returns its event id."""
        for _ in range(RATE_LIMIT_WAITS):
            try:
                answer = await self.client.room_send(
                    room_id, "m.room.message", content, tx_id=txn, ignore_unverified_devices=True
                )
            except LocalProtocolError as exc:
                if "No such room" in str(exc):
                    raise Blocked(str(exc)) from exc
                raise DeliveryError(str(exc)) from exc
            except (ClientError, TimeoutError, OSError) as exc:
                raise DeliveryError(f"send failed: {type(exc).__name__}: {exc}") from exc
            if isinstance(answer, RoomSendResponse):
                return str(answer.event_id)
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
