"""What every platform adapter offers the runtime, and how sending can fail.

An adapter receives events and answers them (``start``/``stop``); for delivery (the outbox:
broadcasts, notifications, reports) it also sends on its own initiative (``send``), edits
a message it sent before (``edit``: a progress message counting up), and says how fast it
may do so (``pacing``). Delivery handles the failures below per chat: ``Blocked`` marks the
person unreachable, ``RetryLater`` holds back that chat only (``Paused``, a chat that cannot
take anything personal for now, too, up to a limit), anything else is retried with backoff
and eventually given up. An adapter that finds a chat unreachable by itself (an
answer refused, a resident who left the room) reports it to the runtime with
:meth:`bot.app.App.chat_unreachable`; it never writes storage itself. An adapter whose
platform refuses its credentials while it runs (a revoked token) says so through ``lost``:
the runtime then stops the bot with that reason, rather than run on hearing nobody.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from bot.pacing import Pacing
from handlers.contract import Platform, Reply


class StartError(Exception):
    """An adapter cannot connect; the message is one line for the operator."""


class Lost:
    """Set once by an adapter that can no longer receive or send while it runs: the
    platform refused its credentials. ``why`` is one line for the operator (what to fix)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.why = ""

    def set(self, why: str) -> None:
        """Say the adapter is lost (the first reason is kept)."""
        if not self._event.is_set():
            self.why = why
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> str:
        """Until the adapter is lost; then why."""
        await self._event.wait()
        return self.why


class DeliveryError(Exception):
    """Sending to a chat failed.

    ``delivered`` counts the parts of the messages that did arrive before the failure (a
    photo whose long text failed after it): sent again, those are skipped.
    """

    def __init__(self, message: str = "", *, delivered: int = 0):
        super().__init__(message)
        self.delivered = delivered


class Blocked(DeliveryError):
    """The person blocked the bot or left: stop sending to them."""


class RetryLater(DeliveryError):
    """Wait before sending to this chat again: the platform asks so."""

    def __init__(self, seconds: float, message: str = "", *, delivered: int = 0):
        super().__init__(message or f"retry after {seconds}s", delivered=delivered)
        self.seconds = seconds


class Paused(RetryLater):
    """The chat cannot take anything personal for now (others are in a Matrix room that
    was the person's private chat): wait, as for :class:`RetryLater`, but not for ever.
    Someone whose messages waited that long (``DeliveryPolicy.pause_limit``) is unreachable,
    as if blocked."""


class Adapter(Protocol):
    """A running connection to one chat network."""

    #: The platform's name, as in ``users.platform`` ("telegram", "matrix").
    name: str
    #: The platform's send limits; delivery takes a slot before every send and edit, and
    #: an adapter that paces its direct replies waits in it too, ahead of delivery (see
    #: :mod:`bot.pacing`).
    pacing: Pacing
    #: Set when the platform refused the adapter's credentials while it ran.
    lost: Lost

    @property
    def platform(self) -> Platform:
        """What the platform offers (numbered options, message limits, a start link).

        The adapter declares it to the router (``router.declare``) before its first event.
        """

    async def start(self) -> None:
        """Connect and begin receiving events."""

    async def stop(self) -> None:
        """Stop receiving; finish what is in flight; disconnect."""

    async def send(
        self,
        chat_id: str,
        lang: str,
        replies: list[Reply],
        *,
        dedupe_key: str | None = None,
        skip: int = 0,
    ) -> str | None:
        """Send messages that are not a direct answer (the outbox uses this).

        ``dedupe_key`` is stable for one outbox row: a platform that can (Matrix transaction
        ids) uses it so a row sent again after a crash is not posted twice. ``skip`` is the
        ``delivered`` of an earlier try's error: that many parts already arrived and are not
        sent again. A platform whose sends cannot half succeed never reports parts, and so is
        never asked to skip any.

        Returns:
            The platform's id of the last message sent (what :meth:`edit` takes), or None
            when the platform gives none.

        Raises:
            Blocked: the person can no longer be reached here.
            RetryLater: the platform asked to slow down for this chat.
            Paused: the chat cannot take anything personal for now.
            DeliveryError: anything else that went wrong.
        """

    async def edit(self, chat_id: str, message_id: str, lang: str, reply: Reply) -> None:
        """Replace the text (and buttons) of a message :meth:`send` sent earlier.

        An edit that changes nothing is not an error. A reply that needs more than one
        message is no edit: DeliveryError, and delivery sends it anew (never only a part).

        Raises:
            Blocked, RetryLater, DeliveryError: as for :meth:`send`.
        """
