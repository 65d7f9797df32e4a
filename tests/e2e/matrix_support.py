"""Helpers for end-to-end tests of the Matrix adapter against the test Synapse.

* :class:`MatrixResident`: a resident played by a matrix-nio client with encryption; opens
  a chat with the bot, sends, and waits for the bot's replies (decrypted).
* :class:`MatrixBot`: the bot's Matrix adapter running on an App with a temporary
  database; it can be stopped and started again on the same database and device.
* Fixtures ``matrix_bot`` (a running bot) and ``residents`` (makes residents, closes them).

Usage::

    async def test_x(matrix_bot: MatrixBot, residents: Residents) -> None:
        anna = await residents("anna")
        await anna.open_chat(matrix_bot.user_id)
        await anna.wait_for_reply(containing("Welkom"))
        await anna.send("1")
        reply = await anna.wait_for_reply(containing("In welke taal"))
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinError,
    MegolmEvent,
    RoomCreateError,
    RoomMessage,
    RoomSendError,
    SyncError,
    WhoamiError,
)
from nio.crypto.attachments import decrypt_attachment
from nio.exceptions import EncryptionError

from bot.app import App
from bot.platforms.matrix import Matrix
from bot.router import Router
from bot.settings import Settings
from handlers import FEATURES
from handlers.feature import Feature, Registry
from storage.clock import utcnow
from storage.users import Role
from tests.e2e.synapse import SynapseServer
from tests.waiting import until

#: Generous: a slow shared two-core machine runs Synapse, the bot and the residents.
WAIT_SECONDS = 90.0
PASSWORD = "correct horse battery"
#: Enough events per sync that a burst of messages leaves no gap in what a resident sees.
TIMELINE = {"room": {"timeline": {"limit": 200}}}
ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


def unique(prefix: str) -> str:
    """A localpart nobody else in the shared test session has."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Message:
    """One message in the room as a resident sees it (decrypted where needed)."""

    event_id: str
    sender: str
    content: dict[str, Any]
    decrypted: bool

    @property
    def body(self) -> str:
        return str(self.content.get("body", ""))

    @property
    def html(self) -> str:
        return str(self.content.get("formatted_body", ""))

    @property
    def msgtype(self) -> str:
        return str(self.content.get("msgtype", ""))

    @property
    def answers(self) -> str | None:
        """The event this message replies to, if it is a reply."""
        relates = self.content.get("m.relates_to") or {}
        return (relates.get("m.in_reply_to") or {}).get("event_id")


def containing(text: str) -> Callable[[Message], bool]:
    """A predicate: the message's plain body contains ``text``."""
    return lambda message: text in message.body


@dataclass
class MatrixResident:
    """A resident on their own Matrix client (encryption on), in one room with the bot."""

    server: SynapseServer
    client: AsyncClient
    room_id: str = ""
    #: Whose messages count as replies (the bot, once a chat with it is open).
    bot_id: str = ""
    #: Event ids of the room in timeline order, and the messages among them.
    order: list[str] = field(default_factory=list)
    messages: dict[str, Message] = field(default_factory=dict)
    _undecrypted: list[MegolmEvent] = field(default_factory=list)
    last_sent: str | None = None

    @classmethod
    async def register(
        cls, server: SynapseServer, store_dir: Path, prefix: str = "anna"
    ) -> MatrixResident:
        """A new user on the server with a logged-in, key-uploading client."""
        user_id, token = await server.register_user_async(unique(prefix), PASSWORD)
        store = store_dir / user_id.strip("@").replace(":", "_")
        store.mkdir(parents=True)
        config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
        client = AsyncClient(server.base_url, store_path=str(store), config=config)
        client.access_token = token
        whoami = await client.whoami()
        assert not isinstance(whoami, WhoamiError), whoami
        client.restore_login(whoami.user_id, whoami.device_id, token)
        resident = cls(server, client)
        await resident.sync(0)
        return resident

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    async def close(self) -> None:
        await self.client.close()

    # Rooms -------------------------------------------------------------------------------

    async def open_chat(
        self, bot_id: str, *, encrypted: bool = True, others: list[MatrixResident] | None = None
    ) -> str:
        """Create a room with the bot (and others, who join), and wait for the bot to join."""
        others = others or []
        self.bot_id = bot_id
        for other in others:
            other.bot_id = bot_id
        created = await self.client.room_create(
            is_direct=not others,
            invite=[bot_id, *(other.user_id for other in others)],
            initial_state=[ENCRYPTION] if encrypted else [],
        )
        assert not isinstance(created, RoomCreateError), created
        self.room_id = str(created.room_id)
        for other in others:
            await other.join(self.room_id)
        await self.wait_for_member(bot_id)
        for other in others:
            await self.wait_for_member(other.user_id)
        return self.room_id

    async def join(self, room_id: str) -> None:
        """Accept an invite to ``room_id`` (after it arrived)."""
        await self._sync_until(lambda: room_id in self.client.invited_rooms, "the invite")
        joined = await self.client.join(room_id)
        assert not isinstance(joined, JoinError), joined
        self.room_id = room_id
        await self._sync_until(lambda: room_id in self.client.rooms, "own join")

    async def wait_for_member(self, user_id: str) -> None:
        def joined() -> bool:
            room = self.client.rooms.get(self.room_id)
            return room is not None and user_id in room.users and not room.users[user_id].invited

        await self._sync_until(joined, f"{user_id} to join")

    # Sending -----------------------------------------------------------------------------

    async def send(self, text: str) -> str:
        """Send a text message; returns its event id."""
        return await self.send_content({"msgtype": "m.text", "body": text})

    async def send_content(
        self, content: dict[str, Any], event_type: str = "m.room.message"
    ) -> str:
        """Send any event content (encrypted in an encrypted room); returns its event id."""
        sent = await self.client.room_send(
            self.room_id, event_type, content, ignore_unverified_devices=True
        )
        assert not isinstance(sent, RoomSendError), sent
        self.last_sent = str(sent.event_id)
        return self.last_sent

    async def edit(self, event_id: str, text: str) -> str:
        return await self.send_content(
            {
                "msgtype": "m.text",
                "body": f"* {text}",
                "m.new_content": {"msgtype": "m.text", "body": text},
                "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
            }
        )

    async def redact(self, event_id: str) -> None:
        redacted = await self.client.room_redact(self.room_id, event_id, reason="oops")
        assert hasattr(redacted, "event_id"), redacted
        self.last_sent = str(redacted.event_id)

    async def send_image(self, data: bytes, mime: str = "image/png") -> str:
        """Upload a picture (encrypted in an encrypted room) and send it as ``m.image``."""
        room = self.client.rooms[self.room_id]
        uploaded, keys = await self.client.upload(
            lambda *_: data, mime, "foto.png", encrypt=room.encrypted, filesize=len(data)
        )
        assert hasattr(uploaded, "content_uri"), uploaded
        content: dict[str, Any] = {
            "msgtype": "m.image",
            "body": "foto.png",
            "info": {"mimetype": mime, "size": len(data)},
        }
        if room.encrypted:
            content["file"] = {"url": uploaded.content_uri, "mimetype": mime, **(keys or {})}
        else:
            content["url"] = uploaded.content_uri
        return await self.send_content(content)

    async def react(self, event_id: str, key: str = "👍") -> str:
        relates = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
        return await self.send_content({"m.relates_to": relates}, "m.reaction")

    # Receiving ---------------------------------------------------------------------------

    async def wait_for_reply(
        self,
        predicate: Callable[[Message], bool] = lambda _: True,
        *,
        after: str | None = None,
    ) -> Message:
        """The bot's first message after ``after`` (default: the last one sent) that matches
        ``predicate``; syncs until it arrives."""
        found: list[Message] = []

        def arrived() -> bool:
            found[:] = [m for m in self.replies(after or self.last_sent) if predicate(m)]
            return bool(found)

        await self._sync_until(arrived, "a reply")
        return found[0]

    def replies(self, after: str | None = None) -> list[Message]:
        """The bot's messages after event ``after`` (all when None), in order."""
        if after is not None and after not in self.order:
            return []
        start = self.order.index(after) + 1 if after is not None else 0
        return [
            self.messages[event_id]
            for event_id in self.order[start:]
            if event_id in self.messages and self.messages[event_id].sender == self.bot_id
        ]

    async def download(self, message: Message) -> bytes:
        """The file or picture of a message, decrypted if it was sent encrypted."""
        content = message.content
        if "file" in content:
            file = content["file"]
            answer = await self.client.download(mxc=file["url"])
            key, digest = file["key"]["k"], file["hashes"]["sha256"]
            return bytes(decrypt_attachment(answer.body, key, digest, file["iv"]))
        answer = await self.client.download(mxc=content["url"])
        return bytes(answer.body)

    def raw_event(self, event_id: str) -> dict[str, Any]:
        """The event as the server stores it (ciphertext in an encrypted room)."""
        path = (
            f"/_matrix/client/v3/rooms/{quote(self.room_id, safe='')}"
            f"/event/{quote(event_id, safe='')}"
        )
        return self.server.request_json("GET", path, access_token=self.client.access_token)

    async def sync(self, poll_ms: int = 500) -> None:
        """One /sync with the key upkeep a client does, recording this room's messages."""
        response = await self.client.sync(timeout=poll_ms, sync_filter=TIMELINE)
        assert not isinstance(response, SyncError), response
        client = self.client
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()
        joined = response.rooms.join.get(self.room_id) if self.room_id else None
        for event in [] if joined is None else joined.timeline.events:
            if event.event_id not in self.order:
                self.order.append(event.event_id)
            self._record(event)
        for event in list(self._undecrypted):
            self._record(event)

    def _record(self, event: Any) -> None:
        if isinstance(event, MegolmEvent):
            event.room_id = self.room_id
            try:
                event = self.client.decrypt_event(event)
            except EncryptionError:
                if event not in self._undecrypted:
                    self._undecrypted.append(event)
                return
            self._undecrypted = [e for e in self._undecrypted if e.event_id != event.event_id]
        if isinstance(event, RoomMessage):
            content = dict(event.source.get("content", {}))
            self.messages[event.event_id] = Message(
                event.event_id, event.sender, content, event.decrypted
            )

    async def sync_until(self, condition: Callable[[], bool], what: str) -> None:
        """Sync (as an open app does) until ``condition`` holds."""
        await self._sync_until(condition, what)

    async def _sync_until(self, condition: Callable[[], bool], what: str) -> None:
        async def sync(_: float) -> None:
            await self.sync()

        await until(condition, WAIT_SECONDS, what=f"{self.user_id}: {what}", between=sync)


class MatrixBot:
    """The bot's Matrix adapter on an App over a temporary database, restartable."""

    def __init__(self, settings: Settings, features: list[Feature] | None = None, **options: Any):
        """``features`` join the bot's own; ``options`` go to the adapter (``poll_ms``...)."""
        self.settings = settings
        self.features = features or []
        self.options = options
        self.app: App | None = None
        self.adapter: Matrix | None = None

    @property
    def user_id(self) -> str:
        assert self.settings.matrix_user is not None
        return self.settings.matrix_user

    @property
    def device_id(self) -> str:
        assert self.adapter is not None
        return self.adapter.device_id

    @property
    def running(self) -> App:
        assert self.app is not None, "the bot is not running"
        return self.app

    async def start(self) -> None:
        app = await App.open(self.settings)
        if self.features:
            app.registry = Registry([*FEATURES, *self.features])
            app.router = Router(
                app.repos, app.registry, app.profile, app.catalog, app.settings.zone
            )
        self.app = app
        self.adapter = Matrix(app, **self.options)
        try:
            await self.adapter.start()
        except BaseException:
            await app.close()
            raise

    async def stop(self) -> None:
        if self.adapter is not None:
            await self.adapter.stop()
            self.adapter = None
        if self.app is not None:
            await self.app.close()
            self.app = None


Residents = Callable[..., Awaitable[MatrixResident]]


async def bot_settings(server: SynapseServer, folder: Path, name: str = "Samenspel") -> Settings:
    """Settings for a bot account registered just now, on a database in ``folder``."""
    user_id, _ = await server.register_user_async(unique("samenspel"), PASSWORD, displayname=name)
    return Settings(
        _env_file=None,
        db=folder / "samenspel.db",
        matrix_homeserver=server.base_url,
        matrix_user=user_id,
        matrix_password=PASSWORD,
    )


@pytest.fixture
async def matrix_bot(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[MatrixBot]:
    """The bot, running its Matrix adapter against the test Synapse."""
    bot = MatrixBot(await bot_settings(synapse, tmp_path / "bot"))
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


@pytest.fixture
async def residents(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[Residents]:
    """Make residents: ``anna = await residents("anna")``; all are closed afterwards."""
    made: list[MatrixResident] = []

    async def make(prefix: str = "anna") -> MatrixResident:
        resident = await MatrixResident.register(synapse, tmp_path / "residents", prefix)
        made.append(resident)
        return resident

    try:
        yield make
    finally:
        for resident in made:
            await resident.close()


async def make_staff(
    bot: MatrixBot, resident: MatrixResident, role: Role = Role.CIVIL_SERVANT
) -> None:
    """Give ``resident`` a staff role (as the operator would), known to the bot or not:
    the bot joins only direct chats and the rooms staff invite it to."""
    app = bot.running
    async with app.db.transaction():
        user = await app.repos.users.ensure("matrix", resident.user_id, utcnow())
        await app.repos.users.set_role(user.id, role)
