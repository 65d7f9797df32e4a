"""The ``samenspel`` command: run the bot, chat in the terminal, and the operator's tools.

The operator's tools change who may do what, and every change lands in the audit log:

    samenspel grant --platform telegram --user 123456789 --role ambtenaar
    samenspel revoke --platform matrix --user @ria:example.org
    samenspel invite --role verbinder      # a one-time link, valid for 7 days

A civil servant who is made a resident again loses their drafts and scheduled broadcasts too.

Wrong input (an unknown role or platform, a user id of the wrong shape, revoking someone the
bot does not know) is one line on stderr, a non-zero exit, and nothing changed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import handlers
from bot.app import App, settle_memory
from bot.logs import setup_logging
from bot.platforms.base import StartError
from bot.settings import Settings, SettingsError, load_settings
from handlers.budgets.schedule import cancelled_rounds
from handlers.contract import Button
from handlers.profile import ProfileError
from handlers.staff.roles import dropped_word
from storage import Database, DatabaseError, Repositories, Role, StorageUnavailable, User
from storage.audit import CLI
from storage.budgets.rounds import RUNNER_ROLE
from storage.clock import utcnow
from storage.community.moderation import Sanction
from storage.invites import INVITABLE
from storage.news.broadcasts import AUTHOR_ROLE

log = logging.getLogger(__name__)

NO_PLATFORM = (
    "No chat platform is configured: set SAMENSPEL_TELEGRAM_TOKEN, or SAMENSPEL_MATRIX_HOMESERVER,"
    " SAMENSPEL_MATRIX_USER and SAMENSPEL_MATRIX_PASSWORD (see the README), "
    "or use `samenspel chat` to talk to the bot in this terminal."
)


#: Platforms whose people can be given a role (console users can also try roles with /als).
ROLE_PLATFORMS = ("telegram", "matrix", "console")
STAFF_ROLES = [role.value for role in INVITABLE]
_USER_ID = {
    "telegram": (re.compile(r"^[1-9][0-9]{0,19}$"), "a Telegram user id is a number"),
    # Stored exactly as given: the Matrix adapter keys people by the sender id as the server
    # sends it. Localparts of today are lower case; "historical" ones (spec: user
    # identifiers) may hold any printable ASCII but ":", capitals included, and servers and
    # clients must still accept them. The server: a name or IP address (IPv6 in brackets),
    # with a port or not; 255 characters at most in all.
    "matrix": (
        re.compile(
            r"^(?=.{1,255}$)@[\x21-\x39\x3b-\x7e]+"
            r":(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?$"
        ),
        "a Matrix user id looks like @name:example.org",
    ),
    "console": (
        re.compile(r"^[^\s/]{1,64}$"),
        "a console user is a name without spaces or '/', at most 64 characters",
    ),
}


class StartupError(Exception):
    """The bot cannot start, or cannot go on; the message is one line for the operator."""


class CommandError(Exception):
    """An operator's command cannot be done; the message is one line, nothing changed."""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="samenspel",
        description="Samenspel: a community chatbot for your municipality. Without a "
        "command it runs the configured platforms, or opens the console chat when none is.",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run every configured chat platform until stopped")
    chat = sub.add_parser("chat", help="talk to the bot in this terminal (local database)")
    chat.add_argument("--as", dest="who", metavar="NAME", help="who you are in the chat")
    copy = sub.add_parser("backup", help="write a verified copy of the database (bot may run)")
    copy.add_argument("path", help="where to write the copy")
    doctor = sub.add_parser(
        "doctor", help="check settings, database, profile, catalogs and platforms"
    )
    doctor.add_argument(
        "--quick",
        action="store_true",
        help="for a health check: SQLite's quick_check instead of the full integrity check,"
        " and no fonts or linked rooms",
    )
    export = sub.add_parser(
        "export-open-data",
        help="write the open data (CSV, JSON, datapackage.json) and the public site (HTML,"
        " Atom feed) to a folder",
    )
    export.add_argument("--out", required=True, metavar="DIR", help="the folder to (re)write")
    consultation = sub.add_parser(
        "export-consultation",
        help="write one consultation's results (CSV and a chart, no personal data) to a folder",
    )
    consultation.add_argument("id", type=int, help="the consultation's number")
    consultation.add_argument("--out", required=True, metavar="DIR", help="the folder to write")
    sub.add_parser(
        "retention", help="warn and erase residents silent too long, now (normally daily)"
    )
    person = sub.add_parser(
        "export-person", help="write everything stored about one person to a JSON file"
    )
    _person_positionals(person)
    person.add_argument(
        "--out", required=True, metavar="FILE", help="where to write it (folders are made)"
    )
    erase = sub.add_parser("erase-person", help="erase one person (a request by mail or post)")
    _person_positionals(erase)
    erase.add_argument(
        "--delete-content",
        action="store_true",
        help="delete their ideas, comments and proposals too (default: keep them anonymously)",
    )
    audit = sub.add_parser(
        "audit", help="export the audit log as CSV (ids and actions; no message text or names)"
    )
    audit.add_argument(
        "--since", required=True, metavar="DATE", help="first day to export, YYYY-MM-DD"
    )
    audit.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")

    granting = sub.add_parser("grant", help="give someone a staff role")
    _person_arguments(granting)
    granting.add_argument("--role", required=True, choices=STAFF_ROLES)
    granting.add_argument("--reason", help="why (kept in the audit log)")
    revoking = sub.add_parser("revoke", help="make a staff member a resident again")
    _person_arguments(revoking)
    revoking.add_argument("--reason", help="why (kept in the audit log)")
    inviting = sub.add_parser("invite", help="a one-time link that grants a staff role")
    inviting.add_argument("--role", required=True, choices=STAFF_ROLES)
    return parser


def _person_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--platform", required=True, choices=ROLE_PLATFORMS)
    parser.add_argument("--user", required=True, help="the person's id on that platform")


def _person_positionals(parser: argparse.ArgumentParser) -> None:
    """PLATFORM and ID of ``export-person`` and ``erase-person``: checked as ``grant`` checks
    them, so that a request is never answered "nobody" for "Telegram" or " 555"."""
    parser.add_argument("platform", choices=ROLE_PLATFORMS, help="telegram, matrix or console")
    parser.add_argument("user", metavar="id", help="the person's id on that platform")


async def open_app(settings: Settings) -> App:
    """Open the app, turning profile and database problems into one operator line."""
    try:
        return await App.open(settings)
    except ProfileError as exc:
        raise StartupError(f"SAMENSPEL_PROFILE: {' '.join(str(exc).split())}") from None
    except DatabaseError as exc:
        raise StartupError(f"SAMENSPEL_DB: {exc}") from None
    except OSError as exc:
        raise StartupError(f"cannot read a file the bot needs: {exc}") from None


async def run_platforms(settings: Settings) -> None:
    """Start every configured platform; stop cleanly on SIGTERM or SIGINT, or when a
    platform refuses the bot's credentials while it runs (then say so, and fail)."""
    if not settings.platforms:
        raise StartupError(NO_PLATFORM)
    from bot.instance import DatabaseInUse, only_bot_on

    try:
        with only_bot_on(settings.db):
            await _run_platforms(settings)
    except DatabaseInUse as exc:
        raise StartupError(f"SAMENSPEL_DB: {exc}") from None


async def _run_platforms(settings: Settings) -> None:
    app = await open_app(settings)
    from bot.runtime import Runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    lost: str | None = None
    try:
        runtime = Runtime(app)
        try:
            await runtime.start()
        except StartError as exc:
            raise StartupError(str(exc)) from None
        settle_memory()
        try:
            log.info("running platforms=%s", ",".join(settings.platforms))
            lost = await runtime.run_until(stop)
            if lost is not None:
                log.error("stopping: %s", lost)
            log.info("stopping: finishing in-flight events")
        finally:
            await runtime.stop()
    finally:
        await app.close()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    if lost is not None:
        raise StartupError(lost)


async def run_chat(settings: Settings, who: str | None) -> None:
    """The console chat runs the scheduler and delivery as ``run`` does, so it too is the
    only bot on its database (a second one would release and send what the first does)."""
    from bot.instance import DatabaseInUse, only_bot_on
    from bot.platforms.console import chat

    try:
        with only_bot_on(settings.db):
            app = await open_app(settings)
            try:
                await chat(app, who)
            finally:
                await app.close()
    except DatabaseInUse as exc:
        raise StartupError(f"SAMENSPEL_DB: {exc}") from None


def run_backup(settings: Settings, target: str) -> int:
    from bot.admin.backup import BackupError, backup

    try:
        _not_published(settings, target)
    except CommandError as exc:
        print(f"samenspel backup: {exc}", file=sys.stderr)
        return 1
    try:
        report = backup(settings.db, Path(target))
    except BackupError as exc:
        print(f"samenspel: {exc}", file=sys.stderr)
        return 1
    print(
        f"backup written to {report.path} ({report.pages} pages, schema "
        f"{report.schema_version}); integrity check ok"
    )
    return 0


def run_doctor(settings: Settings, *, quick: bool = False) -> int:
    from bot.admin.doctor import run_checks

    checks = asyncio.run(run_checks(settings, quick=quick))
    for check in checks:
        print(check.line())
    return 0 if all(check.ok for check in checks) else 1


async def run_export_open_data(settings: Settings, out: str) -> None:
    from bot.admin.open_data import OpenDataError, export_open_data

    _not_the_database(settings, out)
    app = await open_app(settings)
    try:
        report = await export_open_data(app, Path(out), utcnow())
    except OpenDataError as exc:
        raise StartupError(str(exc)) from None
    finally:
        await app.close()
    counts = ", ".join(f"{name} {count}" for name, count in report.rows.items())
    print(f"open data written to {report.path} ({counts})")


async def run_export_consultation(settings: Settings, consultation_id: int, out: str) -> None:
    from bot.admin.consultation_export import ConsultationExportError, export_consultation

    _not_the_database(settings, out)
    app = await open_app(settings)
    try:
        report = await export_consultation(app, consultation_id, Path(out))
    except ConsultationExportError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await app.close()
    people = ", ".join(f"moment {m}: {n}" for m, n in report.respondents.items())
    print(
        f"consultation {consultation_id} written to {report.path} ({', '.join(report.files)};"
        f" respondents {people})"
    )


async def run_retention_now(settings: Settings) -> None:
    from bot.admin.retention import run_retention

    app = await open_app(settings)
    try:
        report = await run_retention(app, utcnow())
    finally:
        await app.close()
    # Opening the database already applied the erasure ledger again, before the run.
    erased_again = app.erased_again + report.erased_again
    print(
        f"retention: {report.warned} warned, {report.erased} erased, {report.spared} came "
        f"back, {report.strangers} who never joined erased; {report.outbox_pruned} sent"
        f" messages deleted; {report.registrations_removed} registrations for meetings"
        f" that ended removed; {report.room_reports_removed} room reports about people who"
        f" never used the bot deleted; {report.media_swept} pictures nothing refers to any"
        f" more deleted; {report.dialogs_forgotten} dialogs untouched for a"
        f" week deleted; {erased_again} erased again from the erasure"
        f" ledger, {report.ledger_dropped} old ledger entries dropped"
    )


async def run_export_person(settings: Settings, platform: str, user: str, out: str) -> None:
    from handlers.privacy.your_data import MEDIA_LIMIT, export_document

    _not_the_database(settings, out)
    _not_published(settings, out)
    app = await open_app(settings)
    try:
        found = await app.repos.users.find(platform, user)
        if found is None:
            raise StartupError(f"nobody with id {user} on {platform}")
        data = await app.repos.personal.export(found.id, utcnow(), media_limit=MEDIA_LIMIT)
        assert data is not None
        lang = found.language or settings.language
        document = export_document(app.profile, app.catalog, lang, data, settings.zone)
    finally:
        await app.close()
    try:
        await asyncio.to_thread(_write_file, Path(out), document)
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from None
    rows = sum(data.counts().values())
    print(f"everything stored about this person written to {out} ({rows} rows)")


def _not_the_database(settings: Settings, out: str) -> None:
    """Refuse an ``--out`` that names the database or one of its own files (its write-ahead
    log, the erasure ledger): writing it, or a folder in its place, would truncate the
    database, keep it from opening or forget erasures."""
    from bot.admin.backup import database_file

    if database_file(Path(out), settings.db):
        raise CommandError(
            f"cannot write {out}: it is the database or one of its own files; give another file"
        )


def _not_published(settings: Settings, out: str) -> None:
    """Refuse to write what holds personal data (a person's export, the audit log, a backup)
    into the open-data folder a web server publishes (``SAMENSPEL_OPEN_DATA_DIR``): anyone
    could read it there until the next export replaced the folder."""
    from bot.admin.open_data import followed

    if settings.open_data_dir is None:
        return
    published = followed(settings.open_data_dir).resolve()
    target = Path(out).resolve()
    if target == published or published in target.parents:
        raise CommandError(
            f"cannot write {out}: it is in the published open-data folder"
            " (SAMENSPEL_OPEN_DATA_DIR), which anyone can read; give another place"
        )


def _write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, making the folders it lies in; readable by its owner
    only (everything stored about a person, waiting to be sent to them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        os.fchmod(stream.fileno(), 0o600)  # a file that was there keeps no wider mode
        stream.write(data)


async def run_erase_person(settings: Settings, platform: str, user: str, delete: bool) -> None:
    from handlers.privacy.your_data import erase_person
    from storage.privacy.personal import Cause, ContentChoice

    content = ContentChoice.DELETE if delete else ContentChoice.KEEP
    app = await open_app(settings)
    try:
        found = await app.repos.users.find(platform, user)
        erased = None
        if found is not None:
            async with app.db.transaction():
                erased = await erase_person(
                    app.repos,
                    app.profile,
                    app.settings.zone,
                    found.id,
                    content=content,
                    cause=Cause.ADMIN,
                    now=utcnow(),
                )
    finally:
        await app.close()
    if erased is None:
        raise StartupError(f"nobody with id {user} on {platform}")
    print(f"erased; their content was {content.value}; pseudonym {erased.pseudonym}")


def run_audit(settings: Settings, since: str, out: str | None) -> int:
    """``samenspel audit --since DATE [--out FILE]``: the audit log as CSV."""
    from datetime import date

    from bot.admin.audit_export import entries_since, start_of, write_csv

    try:
        day = date.fromisoformat(since)
    except ValueError:
        print(f"samenspel: --since {since!r}: use a date like 2025-01-31", file=sys.stderr)
        return 2
    try:
        entries = asyncio.run(entries_since(settings.db, start_of(day, settings.zone)))
    except DatabaseError as exc:
        print(f"samenspel: SAMENSPEL_DB: {exc}", file=sys.stderr)
        return 2
    if out is None:
        write_csv(entries, sys.stdout)
        return 0
    try:
        _not_the_database(settings, out)
        _not_published(settings, out)
    except CommandError as exc:
        print(f"samenspel audit: {exc}", file=sys.stderr)
        return 1
    try:
        with Path(out).open("w", encoding="utf-8", newline="") as stream:
            rows = write_csv(entries, stream)
    except OSError as exc:
        print(f"samenspel: cannot write {out}: {exc}", file=sys.stderr)
        return 1
    print(f"{rows} audit log entries since {day.isoformat()} written to {out}")
    return 0


async def open_repositories(settings: Settings) -> Repositories:
    """The database alone (no profile, no platforms): what the operator's tools need."""
    try:
        return Repositories(await Database.open(settings.db))
    except DatabaseError as exc:
        raise StartupError(f"SAMENSPEL_DB: {exc}") from None


def _checked_user(
    platform: str, user: str, *, name: str = "--user", then: str = "; nothing changed"
) -> str:
    pattern, shape = _USER_ID[platform]
    if not pattern.match(user.strip()):
        raise CommandError(f"{name} {user!r}: {shape}{then}")
    return user.strip()


def _console_name(who: str | None) -> str | None:
    """The name given to ``chat --as``, checked as ``grant`` checks a console user: a
    person who chats under a name the operator's commands refuse could not be given a
    role, nor have their data exported or erased on request."""
    return None if who is None else _checked_user("console", who, name="--as", then="")


async def drop_unheld_dialog(repos: Repositories, person: User, was: Role) -> None:
    """Clear the person's dialog if their (new) role may not hold it: a revoked connector
    does not find the triage card they had open. The router checks this at every event as
    well; clearing it here means nothing half-done is left behind (nor taken up again by
    a button of it, should the role come back). ``person`` has their new role; ``was`` is
    the one they had, named in the word ("Je bent geen verbinder meer").

    Cleared here, it is no longer there for the router to drop with its word at their next
    message: the same word goes to their chat now, so that their next answer, which meets
    no dialog any more, does not leave them wondering where it went.
    """
    stored = await repos.dialogs.load(person.id)
    if stored is not None and not handlers.registry().may_hold(person, stored.name):
        await repos.dialogs.clear(person.id)
        said = dropped_word(handlers.registry(), person, was, stored.name)
        word = said.model_copy(update={"buttons": [[Button(label="menu.back", payload="menu")]]})
        # What they wrote at its steps (an experiment's title) comes back with it.
        words = [word, *handlers.registry().written(stored.name, stored.data)]
        await repos.outbox.enqueue(
            person.id,
            [reply.model_dump(mode="json") for reply in words],
            kind="dialog_dropped",
            now=utcnow(),
        )


async def change_role(
    repos: Repositories, person: User, role: Role, *, action: str, reason: str | None
) -> str:
    """Give ``person`` ``role`` in the caller's transaction, take back what it no longer
    allows, and audit it; returns what was taken back, for the operator ("" if nothing).

    A civil servant who may no longer write "Wist je dat" messages has their drafts and
    scheduled ones cancelled, and their draft and scheduled polls too: the municipality
    would otherwise still speak, and ask residents, in their name. One already going out
    goes on, and they are shown no more progress and no report of it. A connector who may no
    longer run budget rounds has the rounds they scheduled cancelled before they open (the
    connectors now are told); a round already open runs on, as residents are voting in it.
    A round's invitations already going out go on, and they are shown no more progress and
    no report of them.
    """
    now = utcnow()
    await repos.users.set_role(person.id, role)
    await drop_unheld_dialog(repos, person.model_copy(update={"role": role}), person.role)
    detail: dict[str, object] = {"role": role.value, "previous": person.role.value}
    cancelled: list[int] = []
    polls: list[int] = []
    if person.role.allows(AUTHOR_ROLE) and not role.allows(AUTHOR_ROLE):
        cancelled = await repos.broadcasts.withdraw(person.id)
        polls = await repos.consultations.withdraw(person.id, now)
        # A broadcast already going out goes on, without progress or report for them.
        await repos.outbox.leave_batches(person.id, "broadcast:")
    rounds: list[int] = []
    if person.role.allows(RUNNER_ROLE) and not role.allows(RUNNER_ROLE):
        # Invitations of a round already opening go on, without progress or report for them.
        await repos.outbox.leave_batches(person.id, "budget:")
        stopped = await repos.budgets.cancel_scheduled_by(person.id, now)
        await cancelled_rounds(repos, stopped, now, role=role.value)
        rounds = [r.id for r in stopped]
    if cancelled:
        detail["broadcasts_cancelled"] = cancelled
    if polls:
        detail["polls_cancelled"] = polls
    if rounds:
        detail["budget_rounds_cancelled"] = rounds
    await repos.audit.record(
        action, now=now, actor=CLI, subject_user_id=person.id, detail=detail, reason=reason
    )
    said = ""
    for count, what, ids in (
        (len(cancelled), "broadcast", cancelled),
        (len(polls), "poll", polls),
        (len(rounds), "budget round", rounds),
    ):
        if count:
            shown = ", ".join(f"#{number}" for number in ids)
            said += f"; {count} scheduled {what}{'' if count == 1 else 's'} cancelled ({shown})"
    return said


async def grant(
    settings: Settings, platform: str, user: str, role: str, reason: str | None
) -> str:
    """Give a person a staff role (creating their user row if they never wrote yet)."""
    platform_user_id = _checked_user(platform, user)
    wanted = Role(role)
    repos = await open_repositories(settings)
    try:
        async with repos.db.transaction():
            person = await repos.users.ensure(platform, platform_user_id, utcnow())
            if person.role is wanted:
                return f"{platform} {platform_user_id} already is {wanted.value}; nothing changed"
            taken = await change_role(repos, person, wanted, action="role.grant", reason=reason)
            held = await repos.sanctions.active(person.id, utcnow())
        return (
            f"{platform} {platform_user_id} is now {wanted.value} (was {person.role.value}){taken}"
            + _sanction_note(held)
        )
    finally:
        await repos.db.close()


def _sanction_note(held: Sanction | None) -> str:
    """What the operator should know when granting a role to someone banned or muted: a
    ban or mute holds residents only, so it no longer keeps them out while they have the
    role (and holds again once it is revoked)."""
    if held is None:
        return ""
    until = f" until {held.ends_at:%Y-%m-%d %H:%M} UTC" if held.ends_at else ""
    return (
        f"\nnote: {held.kind.value} since {held.created_at:%Y-%m-%d}{until}"
        f" (reason: {held.reason!r}); a ban or mute does not hold staff, so it no longer"
        " applies while they have this role, and applies again if it is revoked"
    )


async def revoke(settings: Settings, platform: str, user: str, reason: str | None) -> str:
    """Make a staff member a resident again (their scheduled broadcasts, polls and budget
    rounds are cancelled)."""
    platform_user_id = _checked_user(platform, user)
    repos = await open_repositories(settings)
    try:
        async with repos.db.transaction():
            person = await repos.users.find(platform, platform_user_id)
            if person is None:
                raise CommandError(
                    f"no {platform} user {platform_user_id} is known here; nothing changed"
                )
            if person.role is Role.RESIDENT:
                return f"{platform} {platform_user_id} has no staff role; nothing changed"
            taken = await change_role(
                repos, person, Role.RESIDENT, action="role.revoke", reason=reason
            )
        resident = Role.RESIDENT.value
        return f"{platform} {platform_user_id} is now {resident} (was {person.role.value}){taken}"
    finally:
        await repos.db.close()


async def invite(settings: Settings, role: str) -> str:
    """A one-time invite code and how to open it (a t.me link when Telegram says its name)."""
    wanted = Role(role)
    repos = await open_repositories(settings)
    try:
        now = utcnow()
        async with repos.db.transaction():
            code, created = await repos.invites.create(wanted, now)
            await repos.audit.record(
                "invite.create",
                now=now,
                actor=CLI,
                subject=f"invite:{created.id}",
                detail={"role": wanted.value, "expires_at": created.expires_at.isoformat()},
            )
    finally:
        await repos.db.close()
    payload = f"inv_{code}"
    username = None
    if settings.telegram_token is not None:
        from bot.platforms.telegram import bot_username

        username = await bot_username(settings)
    until = created.expires_at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"One-time invite for the role {wanted.value}, valid until {until} ({settings.timezone}).",
        f"Code: {payload}",
    ]
    if username:
        lines.append(f"Link: https://t.me/{username}?start={payload}")
    lines.append(f"Or send this to the bot in the chat: /start {payload}")
    return "\n".join(lines)


async def operate(settings: Settings, args: argparse.Namespace) -> str:
    """Run one of the operator's tools; returns what to print."""
    if args.command == "grant":
        return await grant(settings, args.platform, args.user, args.role, args.reason)
    if args.command == "revoke":
        return await revoke(settings, args.platform, args.user, args.reason)
    return await invite(settings, args.role)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``samenspel`` console script."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # Read by something that stopped reading (``samenspel doctor | head``): no traceback.
        # What is still buffered goes nowhere, so that closing stdout cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"samenspel: {exc}", file=sys.stderr)
        return 2
    command = args.command or ("run" if settings.platforms else "chat")
    # In the console and the operator's tools the output matters: only warnings are logged.
    level = settings.log_level if command == "run" else "WARNING"
    setup_logging(level, settings.log_format)
    if command == "backup":
        return run_backup(settings, args.path)
    if command == "doctor":
        return run_doctor(settings, quick=args.quick)
    if command == "audit":
        return run_audit(settings, args.since, args.out)
    try:
        if command == "run":
            asyncio.run(run_platforms(settings))
        elif command == "chat":
            asyncio.run(run_chat(settings, _console_name(getattr(args, "who", None))))
        elif command == "export-open-data":
            asyncio.run(run_export_open_data(settings, args.out))
        elif command == "export-consultation":
            asyncio.run(run_export_consultation(settings, args.id, args.out))
        elif command == "retention":
            asyncio.run(run_retention_now(settings))
        elif command == "export-person":
            user = _checked_user(args.platform, args.user, name="ID", then="")
            asyncio.run(run_export_person(settings, args.platform, user, args.out))
        elif command == "erase-person":
            user = _checked_user(args.platform, args.user, name="ID")
            asyncio.run(run_erase_person(settings, args.platform, user, args.delete_content))
        else:
            print(asyncio.run(operate(settings, args)))
    except StartupError as exc:
        print(f"samenspel: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"samenspel {command}: {exc}", file=sys.stderr)
        return 1
    except StorageUnavailable as exc:
        # The file opened but a write failed (a read-only volume, a full disk): whatever
        # the command began is rolled back.
        print(f"samenspel: SAMENSPEL_DB: cannot write to {settings.db}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
