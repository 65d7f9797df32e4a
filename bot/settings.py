"""Configuration from ``SAMENSPEL_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.outbox import DEFAULT_OUTBOX_KEEP_DAYS
from storage.privacy.ledger import DEFAULT_KEEP_DAYS as DEFAULT_LEDGER_KEEP_DAYS
from storage.privacy.retention import DEFAULT_RETENTION_MONTHS

ENV_PREFIX = "SAMENSPEL_"
#: The shortest webhook secret accepted: guessing it must be out of reach.
WEBHOOK_SECRET_MIN = 32
#: How an operator makes a webhook secret.
MAKE_SECRET = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
_MATRIX_USER = re.compile(r"^@[^\s:@]+:[^\s@/]+$")
#: ``SAMENSPEL_`` names that are no setting of the bot but are read on purpose elsewhere in
#: the project (the tests, the Synapse of the end-to-end tests, .ci/install-synapse), so they
#: are not refused as misspelled settings.
NOT_SETTINGS = frozenset(
    {
        "SAMENSPEL_TEST_WAIT",
        "SAMENSPEL_TEST_HUNG_AFTER",
        "SAMENSPEL_SYNAPSE_PYTHON",
        "SAMENSPEL_SYNAPSE_DATABASE",
        "SAMENSPEL_SYNAPSE_VENV",
        "SAMENSPEL_SYNAPSE_SPEC",
    }
)


class SettingsError(Exception):
    """A setting is missing or wrong; the message names the variable."""


class Settings(BaseSettings):
    """Everything the operator configures. Secrets never reach the logs."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    db: Path = Path("./samenspel.db")
    profile: Path | None = None
    language: str = "nl"
    timezone: str = "Europe/Amsterdam"
    log_format: str = Field(default="text", pattern="^(text|json)$")
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    #: Residents silent this long are warned, then erased 30 days later.
    retention_months: int = Field(default=DEFAULT_RETENTION_MONTHS, ge=2, le=120)
    #: Messages the outbox sent (or gave up on) are deleted this many days later.
    outbox_keep_days: int = Field(default=DEFAULT_OUTBOX_KEEP_DAYS, ge=1, le=3650)
    #: Erasures stay in the erasure ledger this many days: longer than any backup is kept.
    erasure_ledger_keep_days: int = Field(default=DEFAULT_LEDGER_KEEP_DAYS, ge=1, le=3650)
    #: When set, the open-data export is written here every week (for a web server).
    open_data_dir: Path | None = None
    #: Where the web server publishes that folder (https://data.example.org/samenspel/): the
    #: feed's links and the data's identifier then point there; without it they are relative.
    open_data_url: str | None = None

    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_listen: str = "0.0.0.0:8443"
    telegram_webhook_secret: SecretStr | None = None
    #: Messages a second that delivery (broadcasts, notifications) sends on Telegram, direct
    #: replies included; Telegram allows about 30. 0 switches the limit off: only for a
    #: test server, never for api.telegram.org.
    telegram_rate: float = Field(default=25.0, ge=0, le=100_000)

    #: Messages delivery sends at once per platform.
    delivery_concurrency: int = Field(default=8, ge=1, le=1024)
    #: Messages delivery may have in flight per platform (sent, the platform's confirmation
    #: not yet recorded; at least delivery_concurrency): only these can arrive twice when
    #: the process is killed in the middle of a broadcast. Results are written within 50 ms,
    #: so at Telegram's pace only a handful are ever in flight; the window matters when a
    #: test server takes thousands a second (a bigger one means fewer, larger writes).
    delivery_window: int = Field(default=128, ge=1, le=4096)
    #: Tries per message before it is marked failed.
    delivery_attempts: int = Field(default=5, ge=1, le=100)
    #: Seconds before the second try; doubles with every further try.
    delivery_backoff: float = Field(default=5.0, gt=0, le=3600)
    #: Seconds between looks at the outbox when nobody said there is something new.
    delivery_poll: float = Field(default=1.0, gt=0, le=60)
    #: Seconds between updates of a broadcast's progress message.
    delivery_progress: float = Field(default=3.0, gt=0, le=600)

    matrix_homeserver: str | None = None
    matrix_user: str | None = None
    matrix_password: SecretStr | None = None
    matrix_access_token: SecretStr | None = None
    #: Where the encryption keys live; by default a folder beside the database.
    matrix_store: Path | None = None
    #: Messages a second the outbox sends on Matrix (homeservers rate-limit per account).
    matrix_rate: float = Field(default=10.0, ge=0, le=100_000)

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in ("nl", "en"):
            raise ValueError("must be nl or en")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not a known time zone (for example Europe/Amsterdam)") from exc
        return value

    @field_validator("db", mode="before")
    @classmethod
    def _empty_db_is_the_default(cls, value: object) -> object:
        # "SAMENSPEL_DB=" would otherwise be Path("."): a folder, not a database file.
        if isinstance(value, str) and not value.strip():
            return cls.model_fields["db"].default
        return value

    @field_validator("db")
    @classmethod
    def _db_is_a_file(cls, value: Path) -> Path:
        # "SAMENSPEL_DB=/data" (the volume) where /data/samenspel.db was meant: SQLite
        # cannot open a folder, and the doctor would call it a database still to be made.
        if value.is_dir():
            raise ValueError(
                f"{value} is a folder; give the database file in it, such as"
                f" {value / 'samenspel.db'}"
            )
        return value

    @field_validator("profile", "open_data_dir", "matrix_store", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, value: object) -> object:
        # As for the tokens and URLs, empty means unset: "SAMENSPEL_OPEN_DATA_DIR=" would
        # otherwise be Path("."), the export written over the working directory (and the
        # encryption keys kept in it, the profile looked for as a file named ".").
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("profile")
    @classmethod
    def _profile_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file {value} does not exist")
        return value

    @field_validator("telegram_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if value.get_secret_value().strip() != value.get_secret_value():
            # Copied with a space or line break: Telegram would refuse a token that is right.
            raise ValueError("has spaces at the start or end; give the token alone")
        bot_id, sep, key = value.get_secret_value().partition(":")
        if not (sep and bot_id.isdigit() and key):
            raise ValueError("does not look like a bot token from BotFather (123456:ABC...)")
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be a URL such as https://api.telegram.org/bot")
        return value

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be a public URL such as https://bot.example.org/telegram")
        return value

    @field_validator("telegram_webhook_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, for example 0.0.0.0:8443")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        secret = value.get_secret_value()
        allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
        if not 1 <= len(secret) <= 256 or not set(secret) <= allowed:
            raise ValueError("must be 1-256 characters: letters, digits, _ and -")
        return value

    @field_validator("open_data_url")
    @classmethod
    def _open_data_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        example = "the site's address, such as https://data.example.org/samenspel/"
        if any(ch.isspace() or not ch.isprintable() for ch in value):
            raise ValueError(f"must be {example}, without spaces")
        if "?" in value or "#" in value or "\\" in value:
            # Every page's address is this one with a file name added: "…/od?x" or
            # "…/od#top" would become "…/od?x/feed.xml".
            raise ValueError(f"must be {example}, without ? or # (or \\)")
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 (a port out of range raises)
        except ValueError:
            raise ValueError(f"must be {example}, with a port from 1 to 65535") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
            raise ValueError(f"must be {example}")
        if "." in parts.path.rsplit("/", 1)[-1]:
            # "…/od/index.html" would become "…/od/index.html/feed.xml".
            raise ValueError(f"must be {example}: the folder, not a file in it")
        return value if value.endswith("/") else value + "/"

    @field_validator("matrix_homeserver")
    @classmethod
    def _homeserver(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be the homeserver's URL, such as https://matrix.example.org")
        return value.rstrip("/")

    @field_validator("matrix_user")
    @classmethod
    def _matrix_user(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not _MATRIX_USER.match(value):
            raise ValueError("must be a full Matrix user id, such as @samenspel:example.org")
        return value

    @field_validator("matrix_password", "matrix_access_token")
    @classmethod
    def _matrix_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if value.get_secret_value().strip() != value.get_secret_value():
            raise ValueError("has spaces at the start or end")
        return value

    @model_validator(mode="after")
    def _open_data_apart(self) -> Settings:
        """The open-data folder is not the database or one of its files: the export would
        put a folder where the erasure ledger or the write-ahead log must go."""
        from bot.admin.backup import database_file

        if self.open_data_dir is not None and database_file(self.open_data_dir, self.db):
            raise ValueError(
                f"{ENV_PREFIX}OPEN_DATA_DIR: {self.open_data_dir} is the database or one of"
                f" its own files ({ENV_PREFIX}DB); give a folder of its own"
            )
        return self

    @model_validator(mode="after")
    def _matrix_complete(self) -> Settings:
        """Matrix needs a homeserver, a user and a password or access token, or none."""
        given = {
            "MATRIX_HOMESERVER": self.matrix_homeserver,
            "MATRIX_USER": self.matrix_user,
            "MATRIX_PASSWORD (or SAMENSPEL_MATRIX_ACCESS_TOKEN)": (
                self.matrix_password or self.matrix_access_token
            ),
        }
        if not any(given.values()):
            return self
        for name, value in given.items():
            if not value:
                raise ValueError(
                    f"{ENV_PREFIX}{name}: is needed to connect to Matrix"
                    " (or leave every SAMENSPEL_MATRIX_ setting empty)"
                )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def telegram_file_url(self) -> str:
        """The file download base URL that belongs to the API URL."""
        base = self.telegram_api_url.rstrip("/")
        if base.endswith("/bot"):
            return base[: -len("/bot")] + "/file/bot"
        return base + "/file/bot"

    @property
    def webhook_secret_problem(self) -> str | None:
        """Why webhook mode may not start with these settings (None: it may, or no webhook).

        Anyone who can reach the webhook's URL could otherwise post updates "from" any
        resident and read the replies; Telegram sends the secret with every update.
        """
        if not self.telegram_token or not self.telegram_webhook_url:
            return None
        secret = self.telegram_webhook_secret
        if secret is not None and len(secret.get_secret_value()) >= WEBHOOK_SECRET_MIN:
            return None
        given = "is not set" if secret is None else "is too short"
        return (
            f"{ENV_PREFIX}TELEGRAM_WEBHOOK_SECRET: {given}; webhook mode needs a secret of at"
            f" least {WEBHOOK_SECRET_MIN} characters. Make one with: {MAKE_SECRET}"
        )

    @property
    def webhook_host_port(self) -> tuple[str, int]:
        host, _, port = self.telegram_webhook_listen.rpartition(":")
        return host, int(port)

    @property
    def matrix_configured(self) -> bool:
        return bool(self.matrix_homeserver and self.matrix_user)

    @property
    def matrix_store_path(self) -> Path:
        """The folder of the Matrix encryption keys: ``<db>.matrix-store`` unless set."""
        if self.matrix_store is not None:
            return self.matrix_store
        if str(self.db) == ":memory:":
            return Path("samenspel.matrix-store")
        return self.db.with_name(self.db.name + ".matrix-store")

    @property
    def platforms(self) -> list[str]:
        """The chat networks this configuration connects to."""
        configured = {"telegram": bool(self.telegram_token), "matrix": self.matrix_configured}
        return [name for name, on in configured.items() if on]


def setting_names() -> list[str]:
    """Every variable the bot reads, as written in the environment."""
    return [f"{ENV_PREFIX}{field.upper()}" for field in Settings.model_fields]


def unknown_setting(names: Iterable[str]) -> str | None:
    """One line about the first ``SAMENSPEL_`` name that is no setting (a misspelling would
    otherwise leave the default in force without a word), with the closest real name."""
    known = setting_names()
    for name in names:
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known or upper in NOT_SETTINGS:
            continue
        # Compared without the prefix they all share, which would make anything look close.
        close = difflib.get_close_matches(
            upper.removeprefix(ENV_PREFIX), [k.removeprefix(ENV_PREFIX) for k in known], n=1
        )
        hint = (
            f"; did you mean {ENV_PREFIX}{close[0]}?"
            if close
            else "; see the README's Configuration"
        )
        return f"{name}: is not a setting{hint}"
    return None


def _env_file_names(env_file: object) -> list[str]:
    """The names set in the ``.env`` file(s) the settings read, in order."""
    from dotenv import dotenv_values

    files = env_file if isinstance(env_file, (list, tuple)) else [env_file]
    names: list[str] = []
    for file in files:
        if file is not None and Path(str(file)).is_file():
            names.extend(dotenv_values(Path(str(file)), encoding="utf-8"))
    return names


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation error into one line naming the variable; a
    ``SAMENSPEL_`` name in the environment or the ``.env`` file that is no setting is one
    line too."""
    env_file = overrides.get("_env_file", Settings.model_config.get("env_file"))
    unknown = unknown_setting([*sorted(os.environ), *_env_file_names(env_file)])
    if unknown is not None:
        raise SettingsError(unknown)
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        if not error["loc"]:
            # A check across settings names its variable itself.
            raise SettingsError(message) from None
        field = str(error["loc"][0])
        raise SettingsError(f"{ENV_PREFIX}{field.upper()}: {message}") from None
