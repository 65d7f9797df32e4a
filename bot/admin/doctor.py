"""``samenspel doctor``: one line per check of settings, database, profile, catalogs, platforms."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from bot.settings import Settings
from handlers import fonts
from handlers.catalog import Catalog
from handlers.charts import plain
from handlers.locales import own_name, right_to_left
from handlers.profile import load_profile
from storage.db import TABLE_NAMES, foreign_tables, migrations, not_ours
from storage.privacy.ledger import key_id, ledger_path, read_ledger


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    name: str
    ok: bool
    detail: str
    #: Passes, but the operator should look at it (it does not fail the doctor).
    warning: bool = False

    def line(self) -> str:
        mark = "FAIL" if not self.ok else "warn" if self.warning else "ok  "
        return f"{mark} {self.name}: {self.detail}"


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


def check_fonts() -> Check:
    """Whether charts and posters can draw every catalog language's letters (a warning:
    the bot answers without them, its pictures are only harder to read)."""
    try:
        catalog = Catalog.load()
    except Exception as exc:
        return Check("fonts", False, f"catalogs: {exc}")
    texts = []
    for lang in catalog.languages:
        written = " ".join(
            value
            for entry in catalog.texts[lang].values()
            for value in (entry.values() if isinstance(entry, dict) else (entry,))
        )
        letters = "".join(sorted(set(plain(f"{written} {own_name(lang)}"))))
        texts.append((lang, letters, right_to_left(lang)))
    problems = fonts.problems(texts)
    if problems:
        return Check("fonts", True, "; ".join(problems), True)
    return Check("fonts", True, f"charts and posters draw the letters of {len(texts)} languages")


#: Below this much free space where the database lives, the doctor fails: the file grows,
#: its write-ahead log needs room, and a backup beside it needs as much again.
MIN_FREE_BYTES = 100 * 1024 * 1024


def check_disk(settings: Settings) -> Check:
    """Whether the folder of the database can be written and has room: SQLite reads a file
    on a read-only volume or a full disk without complaint, and the bot fails only at its
    first write."""
    folder = settings.db.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # created at start-up: what counts is where it will be
    try:
        found = os.statvfs(folder)
    except OSError as exc:
        return Check("disk", False, f"{folder}: {exc}")
    if found.f_flag & os.ST_RDONLY or not os.access(folder, os.W_OK):
        return Check("disk", False, f"{folder} cannot be written (a read-only volume?)")
    free = found.f_bavail * found.f_frsize
    shown = f"{free / 1024 / 1024:,.0f} MB free"
    if free < MIN_FREE_BYTES:
        needed = MIN_FREE_BYTES // 1024 // 1024
        return Check("disk", False, f"{folder}: only {shown} (at least {needed} MB needed)")
    return Check("disk", True, f"{folder}: writable, {shown}")


def check_open_data(settings: Settings) -> Check | None:
    """Whether the weekly open-data export can replace ``SAMENSPEL_OPEN_DATA_DIR`` (None
    when it is not set): otherwise every export fails, and only the log says so."""
    from bot.admin.open_data import followed, last_export, replaceable

    given = settings.open_data_dir
    if given is None:
        return None
    # A link is followed, as the export follows it: the folder it leads to is replaced.
    out = followed(given)
    where = f"{given.absolute()} (a link to {out})" if out != given.absolute() else f"{out}"
    name = "open data"
    if os.path.ismount(out):
        return Check(
            name,
            False,
            f"{where} is a mount point, which the export cannot replace; use a folder inside"
            f" it, such as {out / 'current'}",
        )
    if out.exists() and not replaceable(out):
        return Check(
            name,
            False,
            f"{where} exists and is not an earlier export; choose a new or empty folder",
        )
    beside = out.parent
    while not beside.exists() and beside != beside.parent:
        beside = beside.parent  # made by the export: what counts is where it will be
    if not os.access(beside, os.W_OK):
        return Check(name, False, f"cannot write beside {out}: {beside} is not writable")
    made = last_export(out)
    when = (
        f"last export {made:%Y-%m-%d %H:%M} UTC" if made else "no export yet (the bot makes one)"
    )
    return Check(name, True, f"{where}: {when}")


def check_database(settings: Settings, *, quick: bool = False) -> Check:
    """The file's integrity and schema. ``quick`` runs SQLite's ``quick_check``: every page
    and record, but not whether each index matches its table, which on a database of a
    million residents takes tens of seconds (too long for a health check)."""
    path = settings.db
    if not path.is_file():
        return Check("database", True, f"{path} does not exist yet; it is created at start-up")
    latest = migrations()[-1][0]
    kind = "quick" if quick else "integrity"
    checked = "quick check" if quick else "integrity"
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            integrity = conn.execute(f"PRAGMA {kind}_check").fetchone()[0]
            if integrity == "ok" and _is_blank(conn):
                # An empty file (or one holding no table yet): SQLite takes it for a new
                # database, and start-up sets it up like one.
                return Check(
                    "database", True, f"{path} is empty: a new database, set up at start-up"
                )
            foreign = foreign_tables([row[0] for row in conn.execute(TABLE_NAMES)])
            if foreign:
                # The bot refuses it too, rather than put its tables among another's.
                return Check("database", False, not_ours(path, foreign))
            version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    except sqlite3.Error as exc:
        return Check("database", False, f"{path}: {exc}")
    if integrity != "ok":
        return Check("database", False, f"{path}: {kind} check says {integrity}")
    if int(version or 0) > latest:
        return Check(
            "database",
            False,
            f"{path}: {checked} ok, but schema {version} is newer than this release knows"
            f" ({latest}); run that release again, or restore a backup made before it",
        )
    pending = latest - int(version or 0)
    note = f"{pending} migrations pending (applied at start-up)" if pending else "up to date"
    return Check("database", True, f"{path}: {checked} ok, schema {version} ({note})")


def _is_blank(conn: sqlite3.Connection) -> bool:
    """Whether the database holds nothing at all: no table, index or view."""
    return conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None


def check_ledger(settings: Settings) -> Check:
    """Whether the erasure ledger beside the database can be read, and was written under
    this database's key: after a backup of another installation was restored, nobody in it
    can be matched and no erasure would be redone (the bot says so too, but goes on)."""
    name = "erasure ledger"
    path = ledger_path(settings.db)
    assert path is not None
    contents = read_ledger(path)
    key, erasures = _key_and_erasures(settings)
    if contents.problem is not None:
        return Check(
            name,
            True,
            f"cannot read {contents.problem}; erasures a restored backup takes back cannot be"
            " redone until it can",
            warning=True,
        )
    if not contents.exists:
        if erasures:
            return Check(
                name,
                True,
                f"{path} is missing, while the database records {erasures} erasures: those"
                " from before this release are not in it, and if it was lost, a restored"
                " backup would bring back whoever was erased since",
                warning=True,
            )
        return Check(name, True, f"{path}: none yet (written at the first erasure)")
    entries = contents.entries
    mine = key_id(key) if key is not None else None
    foreign = sum(1 for entry in entries if entry.key != mine)
    if foreign:
        return Check(
            name,
            False,
            f"{path}: {foreign} of {len(entries)} erasures were written under another"
            " installation key than this database's (a backup of another installation"
            " restored here?): nobody can be matched to them and they are not redone; restore"
            " this installation's own backup, or ask whoever answers for privacy",
        )
    if not os.access(path, os.W_OK):
        return Check(name, True, f"{path} cannot be written; erasures would not be added", True)
    oldest = f", the oldest of {entries[0].at[:10]}" if entries else ""
    if contents.unreadable:
        return Check(
            name,
            True,
            f"{path}: {len(entries)} erasures{oldest}; {contents.unreadable} lines cut short"
            " (a crash while writing) are skipped",
            warning=True,
        )
    return Check(name, True, f"{path}: {len(entries)} erasures{oldest}, this database's key")


def _key_and_erasures(settings: Settings) -> tuple[bytes | None, int]:
    """The database's key of account hashes and how many erasures it records, read without
    writing (nothing of either before the first start)."""
    if not settings.db.is_file():
        return None, 0
    try:
        with closing(sqlite3.connect(f"file:{settings.db}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT key FROM sanction_key WHERE id = 1").fetchone()
            count = conn.execute("SELECT COUNT(*) FROM erasures").fetchone()[0]
    except sqlite3.Error:
        return None, 0  # an older or broken file: the database check says so
    return (bytes(row[0]) if row else None), int(count)


async def check_telegram(settings: Settings) -> Check:
    from telegram import Bot
    from telegram.error import InvalidToken, TelegramError

    from bot.platforms._telegram_polling import token_refused_at_start, without_token

    assert settings.telegram_token is not None
    token = settings.telegram_token.get_secret_value()
    bot = Bot(token, base_url=settings.telegram_api_url, base_file_url=settings.telegram_file_url)
    try:
        async with bot:
            me = await bot.get_me()
    except InvalidToken as exc:
        refused = token_refused_at_start(exc, settings.telegram_api_url)
        return Check("telegram", False, f"getMe failed: {refused}")
    except TelegramError as exc:
        return Check("telegram", False, f"getMe failed: {without_token(exc, token)}")
    return Check("telegram", True, f"getMe answered: @{me.username}")


def check_webhook(settings: Settings) -> Check:
    """Webhook mode needs a long secret; the bot refuses to start without one."""
    problem = settings.webhook_secret_problem
    if problem is not None:
        return Check("telegram webhook", False, problem)
    return Check("telegram webhook", True, "secret set; updates without it are refused")


def linked_rooms(settings: Settings, platform: str) -> list[tuple[int, str]]:
    """(experiment, chat id) of the rooms linked on ``platform``, read without writing."""
    if not settings.db.is_file():
        return []
    try:
        with closing(sqlite3.connect(f"file:{settings.db}?mode=ro", uri=True)) as conn:
            rows = conn.execute(
                "SELECT experiment_id, chat_id FROM experiment_rooms WHERE platform = ?"
                " ORDER BY id",
                (platform,),
            ).fetchall()
    except sqlite3.Error:
        return []  # no such table yet: nothing is linked
    return [(int(experiment), str(chat)) for experiment, chat in rows]


def _rooms_check(platform: str, problems: list[str], count: int) -> Check:
    name = f"{platform} rooms"
    if problems:
        return Check(name, False, "; ".join(problems))
    return Check(name, True, f"admin in all {count} linked rooms")


async def check_telegram_rooms(settings: Settings) -> Check | None:
    """Whether the bot is an administrator, with the rights it needs, in every linked group
    (getChatMember for the bot itself)."""
    rooms = linked_rooms(settings, "telegram")
    if not rooms:
        return None
    from telegram import Bot
    from telegram.error import InvalidToken, TelegramError

    from bot.platforms._telegram_polling import token_refused_at_start, without_token
    from bot.platforms._telegram_rooms import admin_problem

    assert settings.telegram_token is not None
    token = settings.telegram_token.get_secret_value()
    bot = Bot(token, base_url=settings.telegram_api_url)
    problems = []
    try:
        # Starting the bot asks getMe; PTB's refusal then names the token.
        async with bot:
            for experiment, chat_id in rooms:
                problem = await admin_problem(bot, chat_id)
                if problem is not None:
                    problems.append(f"group {chat_id} (experiment {experiment}): {problem}")
    except InvalidToken as exc:
        return Check(
            "telegram rooms", False, token_refused_at_start(exc, settings.telegram_api_url)
        )
    except TelegramError as exc:
        return Check("telegram rooms", False, without_token(exc, token))
    return _rooms_check("telegram", problems, len(rooms))


#: Seconds the doctor waits for the homeserver per question: a health check must answer.
MATRIX_WAIT = 15.0


def _matrix_client(homeserver: str, user: str, token: str) -> Any:
    """A client with the bot's token that gives up instead of retrying (nio by default
    retries a homeserver that is down for ever, and the doctor would never report)."""
    from nio import AsyncClient, AsyncClientConfig

    config = AsyncClientConfig(max_timeouts=1, request_timeout=MATRIX_WAIT)
    client = AsyncClient(homeserver, user, config=config)
    client.access_token = token
    client.user_id = user
    return client


def _matrix_token(settings: Settings) -> str | None:
    if settings.matrix_access_token is not None:
        return settings.matrix_access_token.get_secret_value()
    try:
        with closing(sqlite3.connect(f"file:{settings.db}?mode=ro", uri=True)) as conn:
            row = conn.execute(
                "SELECT value FROM platform_state WHERE platform = 'matrix'"
                " AND key = 'access_token'"
            ).fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


async def check_matrix_rooms(settings: Settings) -> Check | None:
    """Whether the bot's power level in every linked room allows redacting, banning,
    inviting and changing power levels (with the token the bot keeps; no new login)."""
    rooms = linked_rooms(settings, "matrix")
    if not rooms:
        return None

    from bot.platforms._matrix_rooms import admin_problem

    token = _matrix_token(settings)
    if token is None or not settings.matrix_homeserver or not settings.matrix_user:
        return Check("matrix rooms", False, "the bot has not logged in yet; start it once")
    client = _matrix_client(settings.matrix_homeserver, settings.matrix_user, token)
    problems = []
    try:
        for experiment, room_id in rooms:
            try:
                problem = await asyncio.wait_for(admin_problem(client, room_id), MATRIX_WAIT)
            except (OSError, TimeoutError) as exc:
                problem = f"the homeserver did not answer: {exc or type(exc).__name__}"
            if problem is not None:
                problems.append(f"room {room_id} (experiment {experiment}): {problem}")
    finally:
        await client.close()
    return _rooms_check("matrix", problems, len(rooms))


async def check_matrix(settings: Settings) -> Check:
    """Whether the homeserver answers and takes the bot's token (``whoami``, with the token
    the bot keeps; no new login, which would make a device); before the first start, only
    whether the homeserver answers."""
    import aiohttp
    from nio import WhoamiResponse

    homeserver = (settings.matrix_homeserver or "").rstrip("/")
    token = _matrix_token(settings)
    try:
        if token is None:
            timeout = aiohttp.ClientTimeout(total=10)
            versions = f"{homeserver}/_matrix/client/versions"
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(versions) as found,
            ):
                if found.status != 200:
                    return Check("matrix", False, f"{homeserver} answered {found.status}")
            return Check("matrix", True, f"{homeserver} answered; the bot logs in at start")
        client = _matrix_client(homeserver, settings.matrix_user or "", token)
        try:
            answer = await asyncio.wait_for(client.whoami(), MATRIX_WAIT)
        finally:
            await client.close()
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return Check("matrix", False, f"cannot reach {homeserver}: {exc or type(exc).__name__}")
    if not isinstance(answer, WhoamiResponse):
        return Check("matrix", False, f"{homeserver} refused the bot's token: {answer.message}")
    if answer.user_id != settings.matrix_user:
        return Check(
            "matrix", False, f"the token is {answer.user_id}'s, not {settings.matrix_user}'s"
        )
    return Check("matrix", True, f"whoami answered: {answer.user_id}")


PlatformCheck = Callable[[Settings], Awaitable[Check]]


async def run_checks(settings: Settings, *, quick: bool = False) -> list[Check]:
    """Every check, in order; platforms only when configured. ``quick`` (the health check's)
    checks the database with ``quick_check`` and leaves out the fonts (they do not change
    while the bot runs) and the linked rooms (a question to the platform for every room)."""
    checks = [
        Check("settings", True, f"platforms: {', '.join(settings.platforms) or 'none'}"),
        check_profile(settings),
        check_catalogs(),
        *([] if quick else [check_fonts()]),
        check_database(settings, quick=quick),
        check_disk(settings),
        check_ledger(settings),
    ]
    published = check_open_data(settings)
    if published is not None:
        checks.append(published)
    platform_checks: dict[str, PlatformCheck] = {
        "telegram": check_telegram,
        "matrix": check_matrix,
    }
    for platform in settings.platforms:
        probe = platform_checks.get(platform)
        if probe is not None:
            checks.append(await probe(settings))
    if settings.telegram_token and settings.telegram_webhook_url:
        checks.append(check_webhook(settings))
    if quick:
        return checks
    room_checks = {"telegram": check_telegram_rooms, "matrix": check_matrix_rooms}
    for platform in settings.platforms:
        rooms = room_checks.get(platform)
        found = await rooms(settings) if rooms is not None else None
        if found is not None:
            checks.append(found)
    return checks
