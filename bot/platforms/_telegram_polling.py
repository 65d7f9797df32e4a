"""Long polling that confirms an update to Telegram only once it is stored.

Telegram forgets the updates below the ``offset`` of a ``getUpdates`` request. PTB's Updater
asks for the next batch (confirming the last) as soon as it has queued one, before anything
is handled, so a crash then loses what residents sent. Here each batch is handed to
``arrived`` (which stores it) before the offset moves past it::

    getUpdates(offset) ──batch──► arrived(batch): stored, queued ──► offset = last + 1
          ▲                                                              │
          └──────────────── the next request confirms the batch ◄────────┘

Errors are met as PTB's network loop meets them: a "retry after" is waited out (plus half a
second), a timeout is tried again at once, any other Telegram error (a network error, a
``Conflict`` with another poller) waits 1 s, then 1.5 times longer each time up to 30 s, and
a refused token (revoked while the bot ran) stops polling and says so through ``lost``: the
runtime then stops the bot with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from telegram import Bot, Update
from telegram.error import InvalidToken, RetryAfter, TelegramError, TimedOut

from bot.platforms.base import Lost

log = logging.getLogger(__name__)

#: How long one getUpdates request waits for updates (seconds).
POLL_TIMEOUT = 10
#: The longest wait after repeated errors.
MAX_BACKOFF = 30.0
#: What the operator reads when Telegram refuses the token of a running bot.
TOKEN_REFUSED = (
    "telegram: the bot token was refused while the bot ran (revoked in BotFather?);"
    " set SAMENSPEL_TELEGRAM_TOKEN to the new token and start again"
)
#: ... and at start-up (PTB's own message would show the token).
TOKEN_REFUSED_AT_START = (
    "SAMENSPEL_TELEGRAM_TOKEN: Telegram refused the token; copy it again from BotFather"
)

#: Telegram's own Bot API (the default of SAMENSPEL_TELEGRAM_API_URL).
TELEGRAM_API_URL = "https://api.telegram.org/bot"


def token_refused_at_start(error: InvalidToken, api_url: str) -> str:
    """What the operator reads when the Bot API refused the token at start-up.

    PTB reads a 401 (a token Telegram does not know) and a 404 alike as InvalidToken. From
    Telegram itself a 404 is a malformed token, but from another address (a local Bot API
    server, a proxy) it is as likely a wrong path: then the address is named too.
    """
    # PTB's getMe at start-up wraps the answer's error in one that names the token.
    answer = error.__cause__ if isinstance(error.__cause__, InvalidToken) else error
    if api_url == TELEGRAM_API_URL or str(answer).startswith("Unauthorized"):
        return TOKEN_REFUSED_AT_START
    return (
        f"{TOKEN_REFUSED_AT_START}; or SAMENSPEL_TELEGRAM_API_URL ({api_url}) is not the"
        " address of a Bot API"
    )


def without_token(error: Exception, token: str) -> str:
    """An error's text for a log or the operator, with the bot's token blanked out."""
    return str(error).replace(token, "<token>")


class Polling:
    """Fetches updates for as long as it runs; each batch is stored before it is confirmed."""

    def __init__(
        self,
        bot: Bot,
        arrived: Callable[[Sequence[Update]], Awaitable[None]],
        *,
        allowed_updates: Sequence[str],
        lost: Lost,
        timeout: int = POLL_TIMEOUT,
    ):
        self.bot = bot
        self.lost = lost
        self.arrived = arrived
        self.allowed_updates = list(allowed_updates)
        self.timeout = timeout
        #: The first update not yet handed to ``arrived`` (None: whatever Telegram still has).
        self.offset: int | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="telegram-polling")

    async def stop(self) -> None:
        """Stop fetching: a waiting request is abandoned (what it would bring stays with
        Telegram, unconfirmed); a batch being stored is stored first."""
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def confirm(self) -> None:
        """Tell Telegram that everything fetched is stored (and, at a stop, handled), so
        that the next start does not fetch it again; a failure only costs that."""
        if self.offset is None:
            return
        try:
            await self.bot.get_updates(
                offset=self.offset, timeout=0, limit=1, allowed_updates=self.allowed_updates
            )
        except TelegramError as exc:
            log.warning("telegram: confirming the last updates failed: %s", exc)

    async def _run(self) -> None:
        interval = 0.0
        while not self._stopping.is_set():
            try:
                updates = await self._fetch()
                if updates is None:
                    return  # stopping
                if updates:
                    await self.arrived(updates)
                    self.offset = updates[-1].update_id + 1
                interval = 0.0
            except RetryAfter as exc:
                wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                interval = 0.5 + seconds
                log.warning("telegram: polling asked to wait %.1f s", seconds)
            except TimedOut:
                interval = 0.0
            except InvalidToken:
                # Nothing was confirmed: what Telegram holds comes with the next token.
                log.error("telegram: the token was refused; polling stopped")
                self.lost.set(TOKEN_REFUSED)
                return
            except TelegramError as exc:
                interval = 1.0 if interval == 0 else min(MAX_BACKOFF, 1.5 * interval)
                log.warning("telegram: polling failed, again in %.1f s: %s", interval, exc)
            except Exception:
                # Data PTB could not read, or storing failed in a way not foreseen: nothing
                # was confirmed, so the same updates come again after the wait.
                interval = 1.0 if interval == 0 else min(MAX_BACKOFF, 1.5 * interval)
                log.exception("telegram: polling failed, again in %.1f s", interval)
            if interval:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), interval)

    async def _fetch(self) -> tuple[Update, ...] | None:
        """One getUpdates request, abandoned when polling stops (None then)."""
        request = asyncio.ensure_future(
            self.bot.get_updates(
                offset=self.offset, timeout=self.timeout, allowed_updates=self.allowed_updates
            )
        )
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({request, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not request.done():
            request.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await request
            return None
        return request.result()
