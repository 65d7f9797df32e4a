"""Throwaway Synapse homeserver for end-to-end tests.

The harness starts a real Synapse (the Matrix reference homeserver) from its own
virtualenv, on ``127.0.0.1`` and a free port, with a configuration tuned for tests:
SQLite, no federation, no presence, no metrics, every rate limit raised far out of
reach, and fast password hashing. Users are registered through the shared-secret
admin API, which is much faster than spawning ``register_new_matrix_user``.

Locating Synapse:
    * ``SAMENSPEL_SYNAPSE_PYTHON``: path of a Python interpreter that can import
      ``synapse``;
    * otherwise ``<repo>/.synapse-venv/bin/python``, as created by
      ``.ci/install-synapse``.

If neither exists, the ``synapse`` fixture skips the tests that use it, except on
CI (env ``CI`` set to anything but ``""``, ``0``, ``false`` or ``no``), where it
fails them, because CI must prove the Matrix path.

Set ``SAMENSPEL_SYNAPSE_DATABASE=homeserver.db`` to use an SQLite file instead of the
default in-memory database.

Usage in a test module (or, later, a ``conftest.py``)::

    from tests.e2e.synapse import SynapseServer, synapse  # noqa: F401

    def test_something(synapse: SynapseServer) -> None:
        user_id, token = synapse.register_user("alice", "secret")

Synapse runs once per test session; a bot under test can be stopped and started
again against the same server, and registered users persist until the session ends.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

__all__ = [
    "REPO_ROOT",
    "SynapseError",
    "SynapseServer",
    "find_synapse_python",
    "running_on_ci",
    "synapse",
]

#: Root of the repository (``tests/e2e/synapse.py`` -> two levels up).
REPO_ROOT: Path = Path(__file__).resolve().parents[2]

#: Environment variable naming the Python interpreter of a Synapse installation.
PYTHON_ENV_VAR = "SAMENSPEL_SYNAPSE_PYTHON"

#: Environment variable choosing the SQLite database: ``:memory:`` (default) or a
#: file name inside the server's temporary directory.
DATABASE_ENV_VAR = "SAMENSPEL_SYNAPSE_DATABASE"

#: Default Synapse virtualenv, as created by ``.ci/install-synapse``.
DEFAULT_VENV: Path = REPO_ROOT / ".synapse-venv"

#: A rate limit nobody reaches in a test.
_UNLIMITED: dict[str, float] = {"per_second": 100_000, "burst_count": 1_000_000}

#: Lines of log shown in error messages.
_LOG_TAIL_LINES = 60

#: HTTP opener that ignores ``http_proxy`` & co: Synapse is always on loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SynapseError(RuntimeError):
    """Synapse failed to start, answer, or register a user."""


def running_on_ci() -> bool:
    """Tell whether the tests run on CI.

    Returns:
        True when the ``CI`` environment variable is set to a truthy value.
    """
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def find_synapse_python() -> Path | None:
    """Locate the Python interpreter of the Synapse installation.

    Returns:
        The interpreter named by ``SAMENSPEL_SYNAPSE_PYTHON`` if that variable is
        set, else ``<repo>/.synapse-venv/bin/python``; None if the file is missing.
    """
    configured = os.environ.get(PYTHON_ENV_VAR, "").strip()
    candidate = Path(configured).expanduser() if configured else DEFAULT_VENV / "bin" / "python"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    return None


def _missing_synapse_reason() -> str:
    """Explain why no Synapse interpreter was found.

    Returns:
        A human-readable reason, including how to install Synapse.
    """
    configured = os.environ.get(PYTHON_ENV_VAR, "").strip()
    where = (
        f"{PYTHON_ENV_VAR}={configured!r} is not an executable file"
        if configured
        else f"{DEFAULT_VENV / 'bin' / 'python'} does not exist"
    )
    return (
        f"Synapse is not available ({where}); run .ci/install-synapse "
        f"or set {PYTHON_ENV_VAR} to a Python that can import synapse"
    )


def _free_port() -> int:
    """Ask the kernel for a currently unused TCP port on 127.0.0.1.

    Returns:
        The port number.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """Read the last lines of a text file.

    Args:
        path: File to read; a missing file yields a placeholder.
        lines: Number of lines to keep.

    Returns:
        The tail of the file.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"<{path.name} not readable>"
    return "\n".join(text.splitlines()[-lines:]) or f"<{path.name} is empty>"


def _ed25519_signing_key() -> str:
    """Create a Synapse signing key line without importing Synapse.

    Synapse reads ``<algorithm> <version> <unpadded base64 seed>``, so a fresh random
    32-byte seed is a valid key; this saves spawning ``--generate-keys``.

    Returns:
        The signing key in Synapse's one-line format.
    """
    seed = base64.b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
    return f"ed25519 a_{secrets.token_hex(2)} {seed}"


class SynapseServer:
    """A Synapse homeserver running as a subprocess, for tests.

    Attributes:
        python: Interpreter of the Synapse installation.
        server_name: Matrix server name; user IDs end in ``:<server_name>``.
        port: TCP port of the client listener; 0 until started.
        registration_shared_secret: Secret for the shared-secret admin API.
        workdir: Temporary directory with config, database, media and logs.
    """

    def __init__(
        self,
        python: Path | str,
        *,
        server_name: str = "localhost",
        startup_timeout: float = 60.0,
        log_level: str = "INFO",
        database: str = ":memory:",
    ) -> None:
        """Prepare (but do not start) a server.

        Args:
            python: Interpreter of the Synapse installation.
            server_name: Matrix server name.
            startup_timeout: Seconds to wait for the client API to answer.
            log_level: Root log level of Synapse's log file (``INFO``, ``WARNING``).
            database: ``":memory:"`` (the default: fast, no fsync), or the name of a
                SQLite file inside the work directory, which helps when debugging.
        """
        self.python = Path(python)
        self.server_name = server_name
        self.startup_timeout = startup_timeout
        self.log_level = log_level
        self.database = database
        self.port = 0
        self.registration_shared_secret = secrets.token_hex(32)
        self.workdir: Path | None = None
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- properties ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Base URL of the client-server API, e.g. ``http://127.0.0.1:8008``."""
        if not self.port:
            raise SynapseError("Synapse has not been started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the Synapse process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_file(self) -> Path:
        """Synapse's own log file (Python logging)."""
        return self._require_workdir() / "homeserver.log"

    @property
    def output_file(self) -> Path:
        """Stdout and stderr of the Synapse process."""
        return self._require_workdir() / "synapse.out"

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Return the last lines of Synapse's log, e.g. to explain a failing test.

        Args:
            lines: Number of lines.

        Returns:
            The tail of the log file.
        """
        return _tail(self.log_file, lines)

    def user_id(self, localpart: str) -> str:
        """Build the full Matrix user ID for a localpart on this server.

        Args:
            localpart: User name without ``@`` and server.

        Returns:
            ``@<localpart>:<server_name>``.
        """
        return f"@{localpart}:{self.server_name}"

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Write the configuration, start Synapse and wait until it answers.

        Retries with a new port if the chosen one was taken in the meantime.

        Raises:
            SynapseError: Synapse exited or did not answer within the timeout; the
                message carries the tail of its log.
        """
        if self.running:
            return
        self.stop()  # clean up after a previous run whose process died
        self.workdir = Path(tempfile.mkdtemp(prefix="samenspel-synapse-"))
        atexit.register(self.stop)
        try:
            for attempt in range(3):
                self.port = _free_port()
                config = self._write_config()
                began = time.monotonic()
                self._spawn(config)
                try:
                    self._wait_until_ready()
                except SynapseError as error:
                    self._terminate()
                    if attempt < 2 and "Address already in use" in str(error):
                        self.log_file.unlink(missing_ok=True)
                        self.output_file.unlink(missing_ok=True)
                        continue
                    raise
                self.startup_seconds = time.monotonic() - began
                return
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop Synapse (SIGTERM, then SIGKILL) and delete the work directory."""
        atexit.unregister(self.stop)
        self._terminate()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        self.port = 0

    async def start_async(self) -> None:
        """Run :meth:`start` in a worker thread, not blocking the event loop."""
        await asyncio.to_thread(self.start)

    async def stop_async(self) -> None:
        """Run :meth:`stop` in a worker thread, not blocking the event loop."""
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> SynapseServer:
        """Start the server for a ``with`` block.

        Returns:
            The started server.
        """
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server at the end of a ``with`` block.

        Args:
            exc_type: Exception type, if the block raised.
            exc: Exception, if the block raised.
            tb: Traceback, if the block raised.
        """
        self.stop()

    # -- users -----------------------------------------------------------------------

    def register_user(
        self,
        localpart: str,
        password: str,
        admin: bool = False,
        displayname: str | None = None,
    ) -> tuple[str, str]:
        """Register a user through the shared-secret admin API.

        See https://element-hq.github.io/synapse/latest/admin_api/register_api.html.
        The registration also logs in one device, whose token is returned.

        Args:
            localpart: User name without ``@`` and server.
            password: Password for later logins.
            admin: Whether the user becomes a server admin.
            displayname: Display name; Synapse defaults to the localpart.

        Returns:
            The full user ID and an access token.

        Raises:
            SynapseError: Synapse refused the registration.
        """
        url = f"{self.base_url}/_synapse/admin/v1/register"
        nonce = str(self._request_json("GET", url)["nonce"])
        mac = hmac.new(
            self.registration_shared_secret.encode("utf-8"),
            b"\x00".join(
                [
                    nonce.encode("utf-8"),
                    localpart.encode("utf-8"),
                    password.encode("utf-8"),
                    b"admin" if admin else b"notadmin",
                ]
            ),
            hashlib.sha1,
        ).hexdigest()
        body: dict[str, Any] = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac,
        }
        if displayname is not None:
            body["displayname"] = displayname
        reply = self._request_json("POST", url, body)
        return str(reply["user_id"]), str(reply["access_token"])

    def request_json(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        access_token: str | None = None,
    ) -> dict[str, Any]:
        """Call a client-server or admin API endpoint directly.

        Useful to inspect server-side state (raw events, admin APIs) from tests.

        Args:
            method: HTTP method.
            path: URL path with an already percent-encoded query, e.g.
                ``/_matrix/client/v3/account/whoami``.
            body: JSON body, if any.
            access_token: Bearer token, if the endpoint needs authentication.

        Returns:
            The decoded JSON object.

        Raises:
            SynapseError: The reply was not a 2xx JSON object.
        """
        return self._request_json(method, f"{self.base_url}{path}", body, access_token)

    async def register_user_async(
        self,
        localpart: str,
        password: str,
        admin: bool = False,
        displayname: str | None = None,
    ) -> tuple[str, str]:
        """Run :meth:`register_user` in a worker thread.

        Args:
            localpart: User name without ``@`` and server.
            password: Password for later logins.
            admin: Whether the user becomes a server admin.
            displayname: Display name; Synapse defaults to the localpart.

        Returns:
            The full user ID and an access token.
        """
        return await asyncio.to_thread(self.register_user, localpart, password, admin, displayname)

    # -- internals -------------------------------------------------------------------

    def _require_workdir(self) -> Path:
        """Return the work directory, failing if the server was never started.

        Returns:
            The work directory.

        Raises:
            SynapseError: The server has no work directory.
        """
        if self.workdir is None:
            raise SynapseError("Synapse has not been started")
        return self.workdir

    def _config(self) -> dict[str, Any]:
        """Build the homeserver configuration.

        Returns:
            The configuration as a JSON-compatible mapping (JSON is valid YAML).
        """
        workdir = self._require_workdir()
        database = self.database if self.database == ":memory:" else str(workdir / self.database)
        return {
            "server_name": self.server_name,
            "public_baseurl": f"{self.base_url}/",
            "pid_file": str(workdir / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": database}},
            "log_config": str(workdir / "log.config.yaml"),
            "media_store_path": str(workdir / "media_store"),
            "signing_key": _ed25519_signing_key(),
            "macaroon_secret_key": secrets.token_hex(32),
            "form_secret": secrets.token_hex(32),
            "registration_shared_secret": self.registration_shared_secret,
            "enable_registration": False,
            "bcrypt_rounds": 4,
            "report_stats": False,
            "enable_metrics": False,
            "url_preview_enabled": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "presence": {"enabled": False},
            "serve_server_wellknown": False,
            "federation_domain_whitelist": [],
            "background_updates": {"sleep_enabled": False},
            "rc_message": _UNLIMITED,
            "rc_registration": _UNLIMITED,
            "rc_registration_token_validity": _UNLIMITED,
            "rc_login": {
                "address": _UNLIMITED,
                "account": _UNLIMITED,
                "failed_attempts": _UNLIMITED,
            },
            "rc_admin_redaction": _UNLIMITED,
            "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
            "rc_joins_per_room": _UNLIMITED,
            "rc_key_requests": _UNLIMITED,
            "rc_3pid_validation": _UNLIMITED,
            "rc_invites": {
                "per_room": _UNLIMITED,
                "per_user": _UNLIMITED,
                "per_issuer": _UNLIMITED,
            },
            "rc_third_party_invite": _UNLIMITED,
            "rc_media_create": _UNLIMITED,
            "rc_presence": {"per_user": _UNLIMITED},
            "rc_delayed_event_mgmt": _UNLIMITED,
            "rc_room_creation": _UNLIMITED,
            "rc_reports": _UNLIMITED,
            "rc_user_directory": _UNLIMITED,
            "rc_profile": _UNLIMITED,
            "rc_federation": {
                "window_size": 1000,
                "sleep_limit": 100_000,
                "sleep_delay": 1,
                "reject_limit": 100_000,
                "concurrent": 1000,
            },
        }

    def _log_config(self) -> dict[str, Any]:
        """Build the Python logging configuration: everything to a file, nothing to stdout.

        Returns:
            A ``logging.config.dictConfig`` mapping.
        """
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "precise": {
                    "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s"
                    " - %(request)s - %(message)s"
                }
            },
            "filters": {"context": {"()": "synapse.logging.context.LoggingContextFilter"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "precise",
                    "filename": str(self.log_file),
                    "encoding": "utf-8",
                    "filters": ["context"],
                }
            },
            "loggers": {
                "synapse.storage.SQL": {"level": "WARNING"},
                "twisted": {"level": "WARNING"},
            },
            "root": {"level": self.log_level, "handlers": ["file"]},
        }

    def _write_config(self) -> Path:
        """Write ``homeserver.yaml`` and the log config into the work directory.

        Returns:
            Path of ``homeserver.yaml``.
        """
        workdir = self._require_workdir()
        (workdir / "media_store").mkdir(exist_ok=True)
        (workdir / "log.config.yaml").write_text(
            json.dumps(self._log_config(), indent=2), encoding="utf-8"
        )
        config_path = workdir / "homeserver.yaml"
        config_path.write_text(json.dumps(self._config(), indent=2), encoding="utf-8")
        return config_path

    def _spawn(self, config_path: Path) -> None:
        """Start the Synapse process.

        Args:
            config_path: Path of ``homeserver.yaml``.
        """
        workdir = self._require_workdir()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PYTHON", "VIRTUAL_ENV", "SYNAPSE_"))
        }
        env["PYTHONUNBUFFERED"] = "1"
        with self.output_file.open("ab") as output:
            self._process = subprocess.Popen(
                [str(self.python), "-m", "synapse.app.homeserver", "-c", str(config_path)],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def _wait_until_ready(self) -> None:
        """Poll ``/_matrix/client/versions`` until Synapse answers.

        Raises:
            SynapseError: The process exited, or the timeout passed.
        """
        url = f"{self.base_url}/_matrix/client/versions"
        deadline = time.monotonic() + self.startup_timeout
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise SynapseError(self._failure(f"Synapse exited with code {code}"))
            try:
                with _OPENER.open(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise SynapseError(
                    self._failure(f"Synapse did not answer {url} in {self.startup_timeout} s")
                )
            time.sleep(0.1)

    def _failure(self, headline: str) -> str:
        """Compose an error message with the tails of Synapse's output and log.

        Args:
            headline: What went wrong.

        Returns:
            The message.
        """
        return (
            f"{headline}\n--- {self.output_file} ---\n{_tail(self.output_file, 20)}"
            f"\n--- {self.log_file} ---\n{_tail(self.log_file)}"
        )

    def _terminate(self) -> None:
        """Stop the process: SIGTERM, wait up to 15 s, then SIGKILL."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)

    def _request_json(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None = None,
        access_token: str | None = None,
    ) -> dict[str, Any]:
        """Send an HTTP request and decode the JSON reply.

        Args:
            method: HTTP method.
            url: Absolute URL.
            body: JSON body, if any.
            access_token: Bearer token, if any.

        Returns:
            The decoded JSON object.

        Raises:
            SynapseError: The reply was not a 2xx JSON object.
        """
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if access_token is not None:
            headers["Authorization"] = f"Bearer {access_token}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with _OPENER.open(request, timeout=30) as response:
                reply = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", errors="replace")
            raise SynapseError(f"{method} {url} failed: {error.code} {detail}") from error
        except (OSError, ValueError) as error:
            raise SynapseError(f"{method} {url} failed: {error}") from error
        if not isinstance(reply, dict):
            raise SynapseError(f"{method} {url} returned non-object JSON: {reply!r}")
        return reply


@pytest.fixture(scope="session")
def synapse() -> Iterator[SynapseServer]:
    """Provide a Synapse homeserver shared by the whole test session.

    Skips the requesting test when Synapse is not installed, or fails it on CI.

    Yields:
        The running server.
    """
    python = find_synapse_python()
    if python is None:
        reason = _missing_synapse_reason()
        if running_on_ci():
            pytest.fail(f"{reason} (CI is set, so this is an error)", pytrace=False)
        pytest.skip(reason)
    database = os.environ.get(DATABASE_ENV_VAR, "").strip() or ":memory:"
    server = SynapseServer(python, database=database)
    server.start()
    try:
        yield server
    finally:
        server.stop()
