"""The ``samenspel`` command: run the bot, chat in the terminal, and the operator's tools."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.app import App
from bot.logs import setup_logging
from bot.settings import Settings, SettingsError, load_settings
from storage import DatabaseError

log = logging.getLogger(__name__)

NO_PLATFORM = (
    "No chat platform is configured: set SAMENSPEL_TELEGRAM_TOKEN (see the README), "
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

    runtime = Runtime(app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await runtime.start()
        # What start-up built (modules, catalogs, the platform libraries) lives as long as
        # the process: keep it out of the garbage collector's full passes, which otherwise
        # walk all of it and hold every conversation up meanwhile.
        gc.freeze()
        log.info("running platforms=%s", ",".join(settings.platforms))
        await stop.wait()
        log.info("stopping: finishing in-flight events")
    finally:
        await runtime.stop()
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
    try:
        if command == "run":
            asyncio.run(run_platforms(settings))
        elif command == "chat":
            asyncio.run(run_chat(settings, getattr(args, "who", None)))
    except StartupError as exc:
        print(f"samenspel: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
