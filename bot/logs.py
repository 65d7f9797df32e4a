"""Logging: key=value text or JSON lines, with platform ids pseudonymised.

Log lines never carry message text or names at INFO level; where a person must be named
(an error about one chat), :func:`pseudonym` gives a stable, non-reversible tag instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import sys
from datetime import UTC, datetime
from urllib.parse import quote

#: The key of :func:`pseudonym`. A public key would let anyone with a log line hash every
#: plausible Telegram id (there are only some billions) and find whose it is in a second;
#: so each installation has its own random key, kept in its database (see
#: :func:`use_pseudonym_key`, called when the app opens it). Until then, a key for this
#: process only.
_pseudonym_key = secrets.token_bytes(32)


def use_pseudonym_key(key: bytes) -> None:
    """Tag ids with this installation's key from now on (the same tags across restarts)."""
    global _pseudonym_key
    if len(key) < 16:
        raise ValueError("a pseudonym key needs at least 16 bytes")
    _pseudonym_key = key[:64]


def pseudonym(platform_id: str) -> str:
    """A short stable tag for a platform id, so logs can correlate without identifying."""
    return hashlib.blake2b(platform_id.encode(), key=_pseudonym_key, digest_size=5).hexdigest()


def scrubbed(text: str, *platform_ids: str) -> str:
    """A platform's text (an error) with these platform ids put as their pseudonyms: a
    homeserver's refusal names the person ("@anna:hs is banned from the room"), an address
    in an error may hold it URL-encoded. Only whole ids: "123" is not taken out of
    "-1001234", another id."""
    forms = {(form, i) for i in platform_ids if i for form in (i, quote(i, safe=""))}
    for form, platform_id in sorted(forms, key=lambda f: len(f[0]), reverse=True):
        whole = re.compile(rf"(?<!\w){re.escape(form)}(?!\w)")
        text = whole.sub(f"<{pseudonym(platform_id)}>", text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


#: Samenspel's own loggers: they log at the configured level (``__main__`` is the command
#: run as ``python -m bot.admin.cli``).
OWN_LOGGERS = ("bot", "handlers", "storage", "__main__")

#: Libraries known to log secrets below WARNING: request URLs with the bot token (httpx,
#: telegram), web requests, SQL with its parameters (aiosqlite; peewee, under nio's key
#: store, logs the bot's pickled encryption keys at DEBUG). Like every library they only
#: speak up from WARNING on; named here so they stay quiet even when the root logger is
#: turned down by someone else.
QUIET_LIBRARIES = (
    "httpx",
    "httpcore",
    "telegram",
    "tornado",
    "apscheduler",
    "aiosqlite",
    "nio",
    "peewee",
)

TEXT_FORMAT = "time=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once for the process.

    Only Samenspel's own loggers follow ``level``; every library logs from WARNING on, so
    DEBUG (to find a fault) never shows what a library handles: a library added later
    cannot start leaking keys or tokens into the log.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    wanted = logging.getLevelNamesMapping()[level]
    root.setLevel(max(logging.WARNING, wanted))
    for own in OWN_LOGGERS:
        logging.getLogger(own).setLevel(wanted)
    for noisy in QUIET_LIBRARIES:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, wanted))
