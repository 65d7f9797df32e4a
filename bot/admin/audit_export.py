"""The audit log as CSV, for an auditor or a council member: ``samenspel audit``.

Who did what, to what, when: ids, actions and the facts in ``detail``. Never message text
or names: the reasons staff typed are left out (only whether one was given), and people
appear as their numeric ids.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.admin.spreadsheet import safe_row
from storage import Database
from storage.audit import AuditEntry
from storage.logbook import Logbook

COLUMNS = (
    "id",
    "at_utc",
    "actor",
    "actor_user_id",
    "action",
    "subject",
    "subject_user_id",
    "detail",
    "reason_given",
)


def start_of(day: date, zone: ZoneInfo) -> datetime:
    """Midnight at the start of ``day`` in the municipality's time zone, as UTC (for the
    first day of year 1, "everything", the earliest moment there is)."""
    try:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)  # before year 1 in UTC


def write_csv(entries: Iterable[AuditEntry], out: TextIO) -> int:
    """Write the entries as CSV with a header row; returns how many rows were written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    written = 0
    for entry in entries:
        writer.writerow(
            safe_row(
                (
                    entry.id,
                    entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    entry.actor,
                    "" if entry.actor_user_id is None else entry.actor_user_id,
                    entry.action,
                    entry.subject,
                    "" if entry.subject_user_id is None else entry.subject_user_id,
                    json.dumps(entry.detail, ensure_ascii=False, sort_keys=True),
                    "yes" if entry.reason else "no",
                )
            )
        )
        written += 1
    return written


async def entries_since(path: Path, since: datetime) -> list[AuditEntry]:
    """Every entry of the database at ``path`` from ``since`` on, oldest first."""
    db = await Database.open(path)
    try:
        return await Logbook(db).since(since)
    finally:
        await db.close()
