"""The ``samenspel`` command: run the bot, chat in the terminal, and the operator's tools."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.app import App
from bot.logs import setup_logging
from bot.platforms.base import StartError
from bot.settings import Settings, SettingsError, load_settings
from storage import DatabaseError
from storage.clock import utcnow

log = logging.getLogger(__name__)

NO_PLATFORM = (
    "No chat platform is configured: set SAMENSPEL_TELEGRAM_TOKEN, or SAMENSPEL_MATRIX_HOMESERVER,"
    " SAMENSPEL_MATRIX_USER and SAMENSPEL_MATRIX_PASSWORD (see the README), "
    "or use `samenspel chat` to talk to the bot in this terminal."
)


class StartupError(Exception):
    """Start-up cannot continue; the message is one line for the operator."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    sub.add_parser("doctor", help="check settings, database, profile, catalogs and platforms")
    export = sub.add_parser(
        "export-open-data", help="write the open data (CSV, JSON, datapackage.json) to a folder"
    )
    export.add_argument("--out", required=True, metavar="DIR", help="the folder to (re)write")
    sub.add_parser(
        "retention", help="warn and erase residents silent too long, now (normally daily)"
    )
    person = sub.add_parser(
        "export-person", help="write everything stored about one person to a JSON file"
    )
    person.add_argument("platform", help="telegram, matrix or console")
    person.add_argument("user", help="the person's id on that platform")
    person.add_argument("--out", required=True, metavar="FILE", help="where to write it")
    erase = sub.add_parser("erase-person", help="erase one person (a request by mail or post)")
    erase.add_argument("platform", help="telegram, matrix or console")
    erase.add_argument("user", help="the person's id on that platform")
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
    return parser


async def open_app(settings: Settings) -> App:
    """Open the app, turning profile and database problems into one operator line."""
    try:
        return await App.open(settings)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise StartupError(f"SAMENSPEL_PROFILE: {where}: {error['msg']}") from None
    except DatabaseError as exc:
        raise StartupError(f"SAMENSPEL_DB: {exc}") from None
    except OSError as exc:
        raise StartupError(f"cannot read a file the bot needs: {exc}") from None


async def run_platforms(settings: Settings) -> None:
    """Start every configured platform; stop cleanly on SIGTERM or SIGINT."""
    if not settings.platforms:
        raise StartupError(NO_PLATFORM)
    app = await open_app(settings)
    from bot.runtime import Runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        runtime = Runtime(app)
        try:
            await runtime.start()
        except StartError as exc:
            raise StartupError(str(exc)) from None
        try:
            log.info("running platforms=%s", ",".join(settings.platforms))
            await stop.wait()
            log.info("stopping: finishing in-flight events")
        finally:
            await runtime.stop()
    finally:
        await app.close()


async def run_chat(settings: Settings, who: str | None) -> None:
    from bot.platforms.console import chat

    app = await open_app(settings)
    try:
        await chat(app, who)
    finally:
        await app.close()


def run_backup(settings: Settings, target: str) -> int:
    from bot.backup import BackupError, backup

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


def run_doctor(settings: Settings) -> int:
    from bot.doctor import run_checks

    checks = asyncio.run(run_checks(settings))
    for check in checks:
        print(check.line())
    return 0 if all(check.ok for check in checks) else 1


async def run_export_open_data(settings: Settings, out: str) -> None:
    from bot.open_data import OpenDataError, export_open_data

    app = await open_app(settings)
    try:
        report = await export_open_data(app, Path(out), utcnow())
    except OpenDataError as exc:
        raise StartupError(str(exc)) from None
    finally:
        await app.close()
    counts = ", ".join(f"{name} {count}" for name, count in report.rows.items())
    print(f"open data written to {report.path} ({counts})")


async def run_retention_now(settings: Settings) -> None:
    from bot.retention import run_retention

    app = await open_app(settings)
    try:
        report = await run_retention(app, utcnow())
    finally:
        await app.close()
    print(
        f"retention: {report.warned} warned, {report.erased} erased, {report.spared} came "
        f"back, {report.strangers} who never joined erased"
    )


async def run_export_person(settings: Settings, platform: str, user: str, out: str) -> None:
    from handlers.privacy import MEDIA_LIMIT, export_document

    app = await open_app(settings)
    try:
        found = await app.repos.users.find(platform, user)
        if found is None:
            raise StartupError(f"nobody with id {user} on {platform}")
        data = await app.repos.personal.export(found.id, utcnow(), media_limit=MEDIA_LIMIT)
        assert data is not None
        lang = found.language or settings.language
        document = export_document(app.profile, app.catalog, lang, data)
    finally:
        await app.close()
    await asyncio.to_thread(Path(out).write_bytes, document)
    rows = sum(data.counts().values())
    print(f"everything stored about this person written to {out} ({rows} rows)")


async def run_erase_person(settings: Settings, platform: str, user: str, delete: bool) -> None:
    from storage.personal import Cause, ContentChoice

    content = ContentChoice.DELETE if delete else ContentChoice.KEEP
    app = await open_app(settings)
    try:
        found = await app.repos.users.find(platform, user)
        erased = None
        if found is not None:
            erased = await app.repos.personal.erase(
                found.id, content=content, cause=Cause.ADMIN, now=utcnow()
            )
    finally:
        await app.close()
    if erased is None:
        raise StartupError(f"nobody with id {user} on {platform}")
    print(f"erased; their content was {content.value}; pseudonym {erased.pseudonym}")


def run_audit(settings: Settings, since: str, out: str | None) -> int:
    """``samenspel audit --since DATE [--out FILE]``: the audit log as CSV."""
    from datetime import date

    from bot.audit_export import entries_since, start_of, write_csv

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
        with Path(out).open("w", encoding="utf-8", newline="") as stream:
            rows = write_csv(entries, stream)
    except OSError as exc:
        print(f"samenspel: cannot write {out}: {exc}", file=sys.stderr)
        return 1
    print(f"{rows} audit log entries since {day.isoformat()} written to {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``samenspel`` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"samenspel: {exc}", file=sys.stderr)
        return 2
    command = args.command or ("run" if settings.platforms else "chat")
    # In the console the conversation is the output: only warnings go to the log.
    level = "WARNING" if command == "chat" else settings.log_level
    setup_logging(level, settings.log_format)
    if command == "backup":
        return run_backup(settings, args.path)
    if command == "doctor":
        return run_doctor(settings)
    if command == "audit":
        return run_audit(settings, args.since, args.out)
    try:
        if command == "run":
            asyncio.run(run_platforms(settings))
        elif command == "chat":
            asyncio.run(run_chat(settings, getattr(args, "who", None)))
        elif command == "export-open-data":
            asyncio.run(run_export_open_data(settings, args.out))
        elif command == "retention":
            asyncio.run(run_retention_now(settings))
        elif command == "export-person":
            asyncio.run(run_export_person(settings, args.platform, args.user, args.out))
        elif command == "erase-person":
            asyncio.run(run_erase_person(settings, args.platform, args.user, args.delete_content))
    except StartupError as exc:
        print(f"samenspel: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
