"""Logging the bot in to its homeserver, always on the same device.

With a password, the first start logs in and keeps the device id and access token in the
database; later starts reuse them (and, if the token was revoked, log in again on the same
device id, so the device and its encryption keys stay). With an access token, its device is
used. The encryption keys live in a store folder beside the database, pickled under a
passphrase kept in the database (:mod:`._matrix_store`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    DeleteDevicesAuthResponse,
    DeleteDevicesResponse,
    LoginResponse,
    WhoamiError,
    WhoamiResponse,
)

from bot.platforms._matrix_store import pickle_key
from bot.platforms.base import StartError
from bot.settings import Settings
from storage import Database, PlatformState
from storage.clock import utcnow

log = logging.getLogger(__name__)


class CredentialsRefused(StartError):
    """The homeserver refuses the bot's credentials for good (no retry can help)."""


PLATFORM = "matrix"
DEVICE_NAME = "Samenspel"


def client_config(pickle_key: str) -> AsyncClientConfig:
    """Encryption on, keys pickled under ``pickle_key`` (see :mod:`._matrix_store`); 429s
    and timeouts come back to us instead of being retried forever."""
    return AsyncClientConfig(
        encryption_enabled=True,
        store_sync_tokens=False,
        max_limit_exceeded=0,
        max_timeouts=2,
        request_timeout=60,
        pickle_key=pickle_key,
    )


async def connect(settings: Settings, db: Database, state: PlatformState) -> AsyncClient:
    """A logged-in client with its encryption store loaded and its keys uploaded."""
    assert settings.matrix_homeserver and settings.matrix_user
    store = settings.matrix_store_path
    try:
        store.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StartError(f"SAMENSPEL_MATRIX_STORE: cannot create {store}: {exc}") from None
    key = await pickle_key(db, state, store)
    client = AsyncClient(
        settings.matrix_homeserver,
        settings.matrix_user,
        store_path=str(store),
        config=client_config(key),
    )
    try:
        if settings.matrix_access_token is not None:
            await _with_access_token(client, settings, db, state)
        else:
            await _with_password(client, settings, db, state, store)
        if client.should_upload_keys:
            uploaded = await client.keys_upload()
            log.info("matrix device keys uploaded result=%s", type(uploaded).__name__)
    except (ClientError, TimeoutError) as exc:
        await client.close()
        raise StartError(
            f"SAMENSPEL_MATRIX_HOMESERVER: cannot reach {settings.matrix_homeserver}:"
            f" {exc or type(exc).__name__}"
        ) from None
    except BaseException:
        await client.close()
        raise
    log.info("matrix logged in device=%s", client.device_id)
    return client


async def _whoami(client: AsyncClient, token: str) -> WhoamiResponse | WhoamiError:
    client.access_token = token
    answer = await client.whoami()
    client.access_token = ""
    return answer


async def _with_access_token(
    client: AsyncClient, settings: Settings, db: Database, state: PlatformState
) -> None:
    assert settings.matrix_access_token is not None
    token = settings.matrix_access_token.get_secret_value()
    answer = await _whoami(client, token)
    if isinstance(answer, WhoamiError):
        raise StartError(f"SAMENSPEL_MATRIX_ACCESS_TOKEN: the homeserver refused it ({answer})")
    if answer.user_id != settings.matrix_user:
        raise StartError(
            f"SAMENSPEL_MATRIX_ACCESS_TOKEN: belongs to {answer.user_id},"
            f" not to SAMENSPEL_MATRIX_USER {settings.matrix_user}"
        )
    if not answer.device_id:
        raise StartError("SAMENSPEL_MATRIX_ACCESS_TOKEN: has no device; create one by logging in")
    client.restore_login(answer.user_id, answer.device_id, token)
    async with db.transaction():
        await _remember(state, answer.user_id, answer.device_id, None)


async def _with_password(
    client: AsyncClient, settings: Settings, db: Database, state: PlatformState, store: Path
) -> None:
    assert settings.matrix_password is not None and settings.matrix_user is not None
    saved = await state.get_all(PLATFORM)
    device = saved.get("device_id") if saved.get("user_id") == settings.matrix_user else None
    lost = None
    if device and not (store / f"{settings.matrix_user}_{device}.db").exists():
        # Without its keys the old device cannot read or write encrypted rooms: start anew.
        log.warning("matrix encryption store for device %s is missing: new device", device)
        lost, device = device, None
    token = saved.get("access_token") if device else None
    if device and token:
        answer = await _whoami(client, token)
        if isinstance(answer, WhoamiResponse) and answer.device_id == device:
            client.restore_login(settings.matrix_user, device, token)
            return
        log.info("matrix stored access token no longer works: logging in again")
    client.device_id = device or ""
    login = await client.login(settings.matrix_password.get_secret_value(), DEVICE_NAME)
    if not isinstance(login, LoginResponse):
        raise StartError(f"SAMENSPEL_MATRIX_PASSWORD: login refused ({login})")
    async with db.transaction():
        await _remember(state, settings.matrix_user, login.device_id, login.access_token)
    if lost is not None:
        await _delete_device(client, settings, lost)


async def _delete_device(client: AsyncClient, settings: Settings, device: str) -> None:
    """Remove a device whose keys are gone, so residents' apps stop encrypting for it."""
    assert settings.matrix_password is not None
    auth: dict[str, Any] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": settings.matrix_user},
        "password": settings.matrix_password.get_secret_value(),
    }
    try:
        answer = await client.delete_devices([device])
        if isinstance(answer, DeleteDevicesAuthResponse):
            answer = await client.delete_devices([device], {**auth, "session": answer.session})
    except (ClientError, TimeoutError) as exc:
        answer = exc
    if isinstance(answer, DeleteDevicesResponse):
        log.info("matrix removed the device without keys device=%s", device)
    else:
        log.warning("matrix could not remove device %s: %s", device, answer)


async def _remember(
    state: PlatformState, user_id: str, device_id: str, access_token: str | None
) -> None:
    now = utcnow()
    if await state.get(PLATFORM, "user_id") not in (None, user_id):
        # Another account: where the old one stopped reading means nothing for this one.
        # (Encrypted messages waiting for keys were for the old device's eyes only: they
        # are dropped when the adapter loads them for the new device.)
        await state.delete(PLATFORM, "sync_token")
    await state.set(PLATFORM, "user_id", user_id, now)
    await state.set(PLATFORM, "device_id", device_id, now)
    if access_token is not None:
        await state.set(PLATFORM, "access_token", access_token, now)
    else:
        await state.delete(PLATFORM, "access_token")


async def log_in_again(
    client: AsyncClient, settings: Settings, db: Database, state: PlatformState
) -> None:
    """The homeserver forgot the access token: log in on the same device with the password."""
    if settings.matrix_password is None:
        raise CredentialsRefused(
            "SAMENSPEL_MATRIX_ACCESS_TOKEN: the homeserver no longer accepts it; set a new one"
        )
    assert settings.matrix_user is not None
    login = await client.login(settings.matrix_password.get_secret_value(), DEVICE_NAME)
    if not isinstance(login, LoginResponse):
        # A wrong password or a deactivated account; anything else may pass (a rate limit).
        refused = getattr(login, "status_code", None) in {"M_FORBIDDEN", "M_USER_DEACTIVATED"}
        error = CredentialsRefused if refused else StartError
        raise error(f"SAMENSPEL_MATRIX_PASSWORD: login refused ({login})")
    async with db.transaction():
        await _remember(state, settings.matrix_user, login.device_id, login.access_token)
    log.info("matrix logged in again device=%s", login.device_id)
