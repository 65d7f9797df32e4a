"""Erasing residents who stay silent too long, with a warning 30 days ahead.

:func:`run_retention` is run by the scheduler once a day and at start-up. Everything it
decides is stored (the warning and its time), so running it again, or after a restart,
neither repeats a warning nor forgets one. Each person is handled in their own transaction,
re-checked inside it, so a resident who writes at that very moment is never erased.

    silent for (period - 30 days) ──► warned (outbox, kind "retention")
        ├── writes anything within 30 days ──► spared, warning dropped
        ├── given a staff role meanwhile (by the operator) ──► spared, warning dropped
        └── stays silent ──► erased; ideas and comments stay as "een inwoner"
    never agreed to take part, silent for the whole period ──► erased (no chat to warn)

It also deletes the outbox's messages sent (or given up on) more than
``SAMENSPEL_OUTBOX_KEEP_DAYS`` days ago: a record of what went out, kept a while for
questions about it, then no longer needed (and no longer in the way of an erasure). And it
removes who registered for meetings that ended longer ago than the profile's
``meetings.keep_registrations_days``: a door list is only needed around the meeting. And
it deletes reports in experiments' rooms about people who never used the bot, with the
decisions about them, once they are as old as the retention period. And it deletes pictures
nothing refers to any more: no row, no dialog still alive, no message still to be sent (a
draft's photo when the draft expired; others go at once, when they are replaced or the
draft stops). And it deletes dialogs untouched for :data:`DIALOGS_KEPT`: expired after a
day, a dialog is kept a while only so that someone who answers its question late hears
that it was too quiet; what they had typed in it (a draft, a message waiting for a choice)
is not kept for longer.

And it applies the erasure ledger again (:mod:`handlers.privacy.erased_again`): anyone a
restored backup brought back after they were erased is erased again; and it drops the
ledger's entries older than ``SAMENSPEL_ERASURE_LEDGER_KEEP_DAYS`` (a new file renamed over
the old one in one step).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.app import App
from bot.router import DIALOG_LIFETIME
from handlers import when
from handlers.contract import Button, Reply
from handlers.privacy.erased_again import redo_erasures
from handlers.privacy.your_data import erase_person
from storage.clock import days_later
from storage.privacy.personal import Cause, ContentChoice
from storage.privacy.retention import WARNING, WARNING_DAYS, months_before

log = logging.getLogger(__name__)

#: How long an expired dialog's row is kept (it expires after a day of silence).
DIALOGS_KEPT = timedelta(days=7)


@dataclass(frozen=True)
class RetentionReport:
    """What one run did."""

    warned: int = 0
    erased: int = 0
    spared: int = 0
    #: People who never agreed to take part, erased after the whole period.
    strangers: int = 0
    #: Outbox messages sent (or given up on) longer ago than the setting, deleted.
    outbox_pruned: int = 0
    #: Registrations for meetings that ended longer ago than the profile keeps them.
    registrations_removed: int = 0
    #: Room reports about people who never used the bot, older than the period, deleted.
    room_reports_removed: int = 0
    #: Pictures nothing referred to any more, deleted.
    media_swept: int = 0
    #: Dialogs untouched for longer than :data:`DIALOGS_KEPT`, deleted.
    dialogs_forgotten: int = 0
    #: People a restored backup brought back after their erasure, erased again.
    erased_again: int = 0
    #: Entries of the erasure ledger older than the keep period, dropped.
    ledger_dropped: int = 0
    #: False when the bot began to shut down before everyone was handled.
    finished: bool = True


async def run_retention(
    app: App, now: datetime, *, stopping: Callable[[], bool] = lambda: False
) -> RetentionReport:
    """Spare who came back, erase who stayed silent after a warning, warn who is next.

    ``stopping`` is asked before each person: when the bot shuts down, the run ends there
    (``finished`` is False) and the next run, at start-up, goes on where it left off.
    """
    db, repos = app.db, app.repos
    retention = repos.retention
    months = app.settings.retention_months
    silent_since = months_before(now, months)

    def each(user_ids: list[int]) -> Iterator[int]:
        for user_id in user_ids:
            if stopping():
                return
            yield user_id

    # First whoever a restored backup brought back (normally nobody: a start-up did it).
    redone = await redo_erasures(repos, app.profile, app.settings.zone, now, stopping=stopping)

    spared = 0
    for user_id in each(await retention.returned()):
        async with db.transaction():
            spared += await retention.forgive(user_id)

    async def erase(user_id: int) -> None:
        await erase_person(
            repos,
            app.profile,
            app.settings.zone,
            user_id,
            content=ContentChoice.KEEP,
            cause=Cause.RETENTION,
            now=now,
        )

    # Each erasure's last steps (in the background) are done before the next begins: a long
    # list of erasures is not a crowd of them at once.
    erased = 0
    for user_id in each(await retention.due(now)):
        async with db.transaction():
            if await retention.is_due(user_id, now):
                await erase(user_id)
                erased += 1
        await db.settled()

    strangers = 0
    for user_id in each(await retention.never_joined(silent_since)):
        async with db.transaction():
            if await retention.is_stranger_due(user_id, silent_since):
                await erase(user_id)
                strangers += 1
        await db.settled()

    warned = 0
    warn_silent_since = silent_since + WARNING
    # The date the warning names is 30 days on in Velsen: the same clock time on that day,
    # not 30 times 24 hours (across a change of the clocks that can be the day before).
    erase_after = days_later(now, WARNING_DAYS, app.settings.zone)
    payloads: dict[str, list[dict[str, object]]] = {}
    for user_id in each(await retention.to_warn(warn_silent_since)):
        async with db.transaction():
            if await retention.warn(user_id, warn_silent_since, now, erase_after):
                # The date is written in the resident's own language.
                [lang] = await repos.recipients.by_language([user_id], app.catalog.default)
                if lang not in payloads:
                    shown = app.catalog.language(lang)
                    notice = warning(app, months, erase_after, shown)
                    payloads[lang] = [notice.model_dump(mode="json")]
                await repos.outbox.enqueue(user_id, payloads[lang], kind="retention", now=now)
                warned += 1

    pruned = 0
    if not stopping():
        keep = timedelta(days=app.settings.outbox_keep_days)
        pruned = await repos.outbox.prune(now - keep)

    removed = 0
    if not stopping():
        kept = timedelta(days=app.profile.meetings.keep_registrations_days)
        async with db.transaction():
            removed = await repos.meetings.forget_registrations(now - kept)

    rooms = 0
    if not stopping():
        async with db.transaction():
            rooms = await repos.rooms.forget_strangers(silent_since, now=now)

    forgotten = 0
    if not stopping():
        async with db.transaction():
            forgotten = await repos.dialogs.forget_untouched(now - DIALOGS_KEPT)

    swept = 0
    if not stopping():
        # A dialog untouched for longer has expired: what it held is no longer anyone's.
        live_since = now - DIALOG_LIFETIME
        async with db.transaction():
            swept = await repos.media.sweep(live_since, live_since=live_since)

    dropped = 0
    if not stopping():
        keep = timedelta(days=app.settings.erasure_ledger_keep_days)
        try:
            dropped = await repos.ledger.drop_before(now - keep)
        except OSError as exc:
            log.error(
                "old entries could not be dropped from the erasure ledger path=%s error=%s",
                repos.ledger.path,
                exc.strerror or exc,
            )

    report = RetentionReport(
        warned=warned,
        erased=erased,
        spared=spared,
        strangers=strangers,
        outbox_pruned=pruned,
        registrations_removed=removed,
        room_reports_removed=rooms,
        media_swept=swept,
        dialogs_forgotten=forgotten,
        erased_again=redone.erased,
        ledger_dropped=dropped,
        finished=not stopping(),
    )
    log.info(
        "retention done warned=%d erased=%d spared=%d strangers=%d outbox_pruned=%d"
        " registrations_removed=%d room_reports_removed=%d media_swept=%d dialogs_forgotten=%d"
        " erased_again=%d"
        " ledger_dropped=%d finished=%s",
        report.warned,
        report.erased,
        report.spared,
        report.strangers,
        report.outbox_pruned,
        report.registrations_removed,
        report.room_reports_removed,
        report.media_swept,
        report.dialogs_forgotten,
        report.erased_again,
        report.ledger_dropped,
        report.finished,
    )
    return report


def warning(app: App, months: int, erase_after: datetime, lang: str | None = None) -> Reply:
    """The message a silent resident gets: when they will be erased, and how to stay."""
    erase_on = erase_after.astimezone(app.settings.zone)
    return Reply(
        key="retention.warning",
        params={"months": months, "date": when.day(erase_on, lang or app.catalog.default)},
        buttons=[
            [Button(label="retention.btn_stay", payload="retention.stay")],
            [Button(label="privacy.data.btn", payload="privacy.export")],
        ],
    )
