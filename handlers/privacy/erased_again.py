"""Erasures a restored backup took back are done again, from the erasure ledger.

The ledger (:mod:`storage.privacy.ledger`) lives beside the database, outside every backup.
At start-up and in each retention run it is read, and whoever is in it with a user row made
before their erasure is erased again, the same way (content kept anonymously or deleted),
with an entry in the audit log (``user.erase_again``: ids only). A person who came back after
their erasure and agreed again has a newer row, and stays.

    ledger ──► users made before their erasure ──► erased again (one transaction each)
                                                   + audit user.erase_again
    entries under another installation's key ──► said loudly, nobody guessed at
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.privacy.your_data import erase_person
from handlers.profile import Profile
from storage import Repositories
from storage.audit import SYSTEM
from storage.privacy.personal import Cause, ContentChoice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Redone:
    """What applying the ledger again did."""

    #: People erased again.
    erased: int = 0
    #: Entries written under another installation's key: nobody could be matched to them.
    foreign: int = 0
    #: Lines that are no entry (cut short by a crash).
    unreadable: int = 0
    #: False when the bot began to shut down before everyone was handled.
    finished: bool = True


async def redo_erasures(
    repos: Repositories,
    profile: Profile,
    zone: ZoneInfo,
    now: datetime,
    *,
    stopping: Callable[[], bool] = lambda: False,
) -> Redone:
    """Erase again everyone the ledger says was erased after their row was made."""
    ledger = repos.ledger
    found = await ledger.due()
    if found.problem is not None:
        log.warning(
            "the erasure ledger cannot be read; erasures after a restored backup cannot be"
            " redone until it can error=%s",
            found.problem,
        )
    if found.foreign:
        log.error(
            "the erasure ledger holds %d erasures written under another installation key than"
            " this database's: nobody can be matched to them, and they are not redone. Was a"
            " backup of another installation restored here (or one made before this"
            " installation first ran a release with the ledger)? Restore the right backup, or"
            " ask whoever answers for privacy at the municipality; see samenspel doctor"
            " path=%s",
            found.foreign,
            ledger.path,
        )
    if found.unreadable:
        log.warning("erasure ledger lines skipped (cut short) count=%d", found.unreadable)
    erased = 0
    for user_id, entry in found.people:
        if stopping():
            return Redone(erased, found.foreign, found.unreadable, finished=False)
        async with repos.db.transaction():
            if not await ledger.still_due(user_id, entry):
                continue
            # Recorded first, while the row is there: the erasure puts its pseudonym in place.
            await repos.audit.record(
                "user.erase_again",
                now=now,
                actor=SYSTEM,
                subject_user_id=user_id,
                detail={"erased_at": entry.at, "content": entry.content},
            )
            await erase_person(
                repos,
                profile,
                zone,
                user_id,
                content=ContentChoice(entry.content),
                cause=Cause.ADMIN,
                now=now,
            )
            erased += 1
        await repos.db.settled()
    if found.checked is not None:
        async with repos.db.transaction():
            await ledger.checked(found.checked, now)
    if erased:
        log.warning(
            "erasures redone from the erasure ledger (the database was restored from a"
            " backup made before them) count=%d",
            erased,
        )
    return Redone(erased, found.foreign, found.unreadable)
