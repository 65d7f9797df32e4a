"""End-to-end checks of the Synapse harness with matrix-nio clients.

Proves that the throwaway homeserver from :mod:`tests.e2e.synapse` works for real
Matrix traffic: shared-secret registration, room creation, invites and joins, plain
messages, and Megolm-encrypted messages in a direct room, decrypted on the other end,
also after the receiving client (a bot, say) restarts from its persisted nio store.

The clients behave like a bot would: they connect with an access token, keep their
nio store on disk, and after every sync upload, query and claim keys as needed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    JoinError,
    MegolmEvent,
    RoomCreateError,
    RoomMessageText,
    RoomSendError,
    SyncError,
    SyncResponse,
    WhoamiError,
)

from tests.e2e.synapse import SynapseServer, synapse  # noqa: F401
from tests.waiting import until

pytestmark = pytest.mark.e2e

#: Seconds to wait for any one condition to become true.
WAIT_SECONDS = 30.0

#: Server-side long-poll timeout of a single /sync, in milliseconds.
SYNC_POLL_MS = 1000

#: Initial state that makes a room Megolm-encrypted from its creation.
ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


def _localpart(prefix: str) -> str:
    """Make a localpart that is unique within the shared test session.

    Args:
        prefix: Readable prefix.

    Returns:
        ``<prefix>-<random hex>``.
    """
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _connect(server: SynapseServer, access_token: str, store_path: Path) -> AsyncClient:
    """Connect an E2EE-capable nio client with an access token, as a bot would.

    The client adopts the token's device, loads (or creates) its nio store, syncs once
    and uploads its device keys if it has not yet done so.

    Args:
        server: The running Synapse.
        access_token: Token of an existing device.
        store_path: Directory of the nio store; reused across restarts.

    Returns:
        The logged-in client; the caller must close it.
    """
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
    client = AsyncClient(server.base_url, store_path=str(store_path), config=config)
    try:
        client.access_token = access_token
        whoami = await client.whoami()
        assert not isinstance(whoami, WhoamiError), whoami
        assert whoami.device_id, "the access token has no device"
        client.restore_login(whoami.user_id, whoami.device_id, access_token)
        assert client.olm is not None, "nio E2EE support (vodozemac) is not active"
        await _sync_once(client, poll_ms=0)
    except BaseException:
        await client.close()
        raise
    return client


@asynccontextmanager
async def _client(
    server: SynapseServer, prefix: str, store_dir: Path
) -> AsyncIterator[AsyncClient]:
    """Register a user and yield a connected client for the registration's device.

    Args:
        server: The running Synapse.
        prefix: Prefix for the user's localpart.
        store_dir: Parent directory for the client's nio store.

    Yields:
        The logged-in client, closed on exit.
    """
    user_id, token = await server.register_user_async(_localpart(prefix), "correct horse")
    store_path = store_dir / user_id.strip("@").replace(":", "_")
    store_path.mkdir(parents=True)
    client = await _connect(server, token, store_path)
    try:
        yield client
    finally:
        await client.close()


async def _sync_once(client: AsyncClient, poll_ms: int = SYNC_POLL_MS) -> SyncResponse:
    """Run one /sync and the key maintenance a bot does after each sync.

    Args:
        client: A logged-in client.
        poll_ms: How long the server may hold the request when nothing is new; 0
            answers at once.

    Returns:
        The sync response.
    """
    response = await client.sync(timeout=poll_ms)
    assert not isinstance(response, SyncError), response
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
    await client.send_to_device_messages()
    return response


async def _sync_until(
    client: AsyncClient, condition: Callable[[SyncResponse], bool], what: str
) -> None:
    """Sync until a condition holds, failing after :data:`WAIT_SECONDS`.

    Args:
        client: A logged-in client.
        condition: Checked after every sync, with that sync's response.
        what: Description of the awaited state, for the failure message.
    """
    responses: list[SyncResponse] = []

    async def sync(_: float) -> None:
        responses.append(await _sync_once(client))

    await sync(WAIT_SECONDS)
    await until(
        lambda: condition(responses[-1]),
        WAIT_SECONDS,
        what=f"{client.user_id}: {what}",
        between=sync,
    )


async def _open_room(alice: AsyncClient, bob: AsyncClient, *, encrypted: bool) -> str:
    """Let Alice create a direct room, invite Bob, and wait until both are in.

    Args:
        alice: Creator of the room.
        bob: Invitee, who joins.
        encrypted: Whether the room is created with Megolm encryption.

    Returns:
        The room ID.
    """
    created = await alice.room_create(
        is_direct=True,
        invite=[bob.user_id],
        initial_state=[ENCRYPTION_STATE] if encrypted else [],
    )
    assert not isinstance(created, RoomCreateError), created
    room_id = str(created.room_id)

    await _sync_until(bob, lambda _: room_id in bob.invited_rooms, "the invite")
    joined = await bob.join(room_id)
    assert not isinstance(joined, JoinError), joined
    await _sync_until(bob, lambda _: room_id in bob.rooms, "own join")

    def bob_is_member(_: SyncResponse) -> bool:
        room = alice.rooms.get(room_id)
        return room is not None and bob.user_id in room.users

    await _sync_until(alice, bob_is_member, f"{bob.user_id} to join")
    assert alice.rooms[room_id].encrypted is encrypted
    assert bob.rooms[room_id].encrypted is encrypted
    return room_id


async def _send_text(client: AsyncClient, room_id: str, body: str) -> str:
    """Send a text message, encrypting it if the room is encrypted.

    Args:
        client: The sending client.
        room_id: Target room.
        body: Message body.

    Returns:
        The event ID.
    """
    sent = await client.room_send(
        room_id,
        "m.room.message",
        {"msgtype": "m.text", "body": body},
        ignore_unverified_devices=True,
    )
    assert not isinstance(sent, RoomSendError), sent
    return str(sent.event_id)


async def _receive_text(client: AsyncClient, room_id: str, body: str) -> RoomMessageText:
    """Sync until a text message with a given body arrives in a room.

    Encrypted events that cannot be decrypted yet (the room key may arrive in a later
    sync) are retried after every sync.

    Args:
        client: The receiving client.
        room_id: Room to watch.
        body: Expected message body.

    Returns:
        The (decrypted) message event.
    """
    pending: list[MegolmEvent] = []
    found: list[RoomMessageText] = []

    def arrived(response: SyncResponse) -> bool:
        joined = response.rooms.join.get(room_id)
        events = [] if joined is None else list(joined.timeline.events)
        for event in [*pending, *events]:
            if isinstance(event, MegolmEvent):
                try:
                    event = client.decrypt_event(event)
                except EncryptionError:  # room key not there yet; retry later
                    if event not in pending:
                        pending.append(event)
                    continue
            if isinstance(event, RoomMessageText) and event.body == body:
                found.append(event)
        return bool(found)

    await _sync_until(client, arrived, f"message {body!r} in {room_id}")
    return found[0]


@pytest.mark.asyncio
async def test_plain_message_roundtrip(
    synapse: SynapseServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A message in an unencrypted room reaches the other user."""
    async with (
        _client(synapse, "alice", tmp_path) as alice,
        _client(synapse, "bob", tmp_path) as bob,
    ):
        room_id = await _open_room(alice, bob, encrypted=False)
        body = f"plain hello {uuid.uuid4().hex}"
        await _send_text(alice, room_id, body)

        event = await _receive_text(bob, room_id, body)

        assert event.sender == alice.user_id
        assert event.decrypted is False


@pytest.mark.asyncio
async def test_encrypted_direct_message_roundtrip(
    synapse: SynapseServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A Megolm-encrypted message in a direct room is decrypted by the other user."""
    async with (
        _client(synapse, "alice", tmp_path) as alice,
        _client(synapse, "bob", tmp_path) as bob,
    ):
        assert not alice.should_upload_keys
        assert not bob.should_upload_keys
        room_id = await _open_room(alice, bob, encrypted=True)
        body = f"secret hello {uuid.uuid4().hex}"
        event_id = await _send_text(alice, room_id, body)

        event = await _receive_text(bob, room_id, body)

        assert event.sender == alice.user_id
        assert event.decrypted is True
        assert event.session_id is not None
        raw = synapse.request_json(
            "GET",
            f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/event/{quote(event_id, safe='')}",
            access_token=bob.access_token,
        )
        assert raw["type"] == "m.room.encrypted"
        assert raw["content"]["algorithm"] == "m.megolm.v1.aes-sha2"
        assert body not in json.dumps(raw)


@pytest.mark.asyncio
async def test_encrypted_roundtrip_survives_client_restart(
    synapse: SynapseServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A restarted client keeps its device and keys: it decrypts and replies."""
    async with (
        _client(synapse, "alice", tmp_path) as alice,
        _client(synapse, "bot", tmp_path) as bot,
    ):
        room_id = await _open_room(alice, bot, encrypted=True)
        await _send_text(alice, room_id, "before restart")
        await _receive_text(bot, room_id, "before restart")
        token, store_path, device_id = bot.access_token, Path(bot.store_path), bot.device_id
        await bot.close()

        restarted = await _connect(synapse, token, store_path)
        try:
            assert restarted.device_id == device_id
            assert restarted.loaded_sync_token, "the sync token was not persisted"
            await _send_text(alice, room_id, "after restart")
            received = await _receive_text(restarted, room_id, "after restart")
            assert received.decrypted is True

            await _send_text(restarted, room_id, "reply after restart")
            reply = await _receive_text(alice, room_id, "reply after restart")
            assert reply.sender == restarted.user_id
            assert reply.decrypted is True
        finally:
            await restarted.close()
