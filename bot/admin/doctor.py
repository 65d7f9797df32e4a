"""``samenspel doctor``: one line per check of settings, database, profile, catalogs, platforms."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.settings import Settings
from handlers.catalog import Catalog
from handlers.profile import load_profile
from storage.db import migrations


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def check_profile(settings: Settings) -> Check:
    try:
        profile = load_profile(settings.profile)
    except Exception as exc:  # any reason the file cannot be used is the finding
        return Check("profile", False, str(exc).splitlines()[0])
    return Check(
        "profile",
        True,
        f"{profile.name('nl')}: {len(profile.neighbourhoods)} neighbourhoods, "
        f"{len(profile.themes)} themes, {len(profile.categories)} categories",
    )


def check_catalogs() -> Check:
    try:
        catalog = Catalog.load()
    except Exception as exc:
        return Check("catalogs", False, str(exc))
    reference = catalog.texts[catalog.default]
    problems = []
    for lang in catalog.languages:
        found = catalog.problems(lang)
        if found:
            problems.append(f"{lang}: {len(found)} problems, first {found[0]}")
    if problems:
        return Check("catalogs", False, "; ".join(problems))
    return Check("catalogs", True, f"{', '.join(catalog.languages)}: {len(reference)} texts")


def check_database(settings: Settings) -> Check:
    path = settings.db
    if not path.is_file():
        return Check("database", True, f"{path} does not exist yet; it is created at start-up")
    latest = migrations()[-1][0]
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    except sqlite3.Error as exc:
        return Check("database", False, f"{path}: {exc}")
    if integrity != "ok":
        return Check("database", False, f"{path}: integrity check says {integrity}")
    pending = latest - int(version or 0)
    note = f"{pending} migrations pending (applied at start-up)" if pending else "up to date"
    return Check("database", True, f"{path}: integrity ok, schema {version} ({note})")


async def check_telegram(settings: Settings) -> Check:
    from telegram import Bot
    from telegram.error import TelegramError

    assert settings.telegram_token is not None
    bot = Bot(
        settings.telegram_token.get_secret_value(),
        base_url=settings.telegram_api_url,
        base_file_url=settings.telegram_file_url,
    )
    try:
        async with bot:
            me = await bot.get_me()
    except TelegramError as exc:
        return Check("telegram", False, f"getMe failed: {exc}")
    return Check("telegram", True, f"getMe answered: @{me.username}")


def check_webhook(settings: Settings) -> Check:
    """Webhook mode needs a long secret; the bot refuses to start without one."""
    problem = settings.webhook_secret_problem
    if problem is not None:
        return Check("telegram webhook", False, problem)
    return Check("telegram webhook", True, "secret set; updates without it are refused")


PlatformCheck = Callable[[Settings], Awaitable[Check]]


async def run_checks(settings: Settings) -> list[Check]:
    """Every check, in order; platforms only when configured."""
    checks = [
        Check("settings", True, f"platforms: {', '.join(settings.platforms) or 'none'}"),
        check_profile(settings),
        check_catalogs(),
        check_database(settings),
    ]
    platform_checks: dict[str, PlatformCheck] = {"telegram": check_telegram}
    for platform in settings.platforms:
        probe = platform_checks.get(platform)
        if probe is not None:
            checks.append(await probe(settings))
    if settings.telegram_token and settings.telegram_webhook_url:
        checks.append(check_webhook(settings))
    return checks
