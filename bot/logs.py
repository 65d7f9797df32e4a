"""Logging: key=value text or JSON lines, with platform ids pseudonymised.

Log lines never carry message text or names at INFO level; where a person must be named
(an error about one chat), :func:`pseudonym` gives a stable, non-reversible tag instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from datetime import UTC, datetime

_PSEUDONYM_SALT = b"samenspel-log"


def pseudonym(platform_id: str) -> str:
    """A short stable tag for a platform id, so logs can correlate without identifying."""
    return hashlib.blake2b(platform_id.encode(), key=_PSEUDONYM_SALT, digest_size=5).hexdigest()


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


#: Libraries that log request URLs (with the bot token), web requests or SQL with its
#: parameters at INFO or DEBUG: they only speak up from WARNING on.
QUIET_LIBRARIES = ("httpx", "httpcore", "telegram", "tornado", "apscheduler", "aiosqlite", "nio")

TEXT_FORMAT = "time=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once for the process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in QUIET_LIBRARIES:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
