"""What every platform adapter offers the runtime, and how sending can fail."""

from __future__ import annotations

from typing import Protocol

from handlers.contract import Reply


class StartError(Exception):
    """An adapter cannot connect; the message is one line for the operator."""


class DeliveryError(Exception):
    """Sending to a chat failed."""


class Blocked(DeliveryError):
    """The person blocked the bot or left: stop sending to them."""


class RetryLater(DeliveryError):
    """The platform asks us to wait before sending to this chat again."""

    def __init__(self, seconds: float, message: str = ""):
        super().__init__(message or f"retry after {seconds}s")
        self.seconds = seconds


class Adapter(Protocol):
    """A running connection to one chat network."""

    name: str

    async def start(self) -> None:
        """Connect and begin receiving events."""

    async def stop(self) -> None:
        """Stop receiving; finish what is in flight; disconnect."""

    async def send(self, chat_id: str, lang: str, replies: list[Reply]) -> None:
        """Send messages that are not a direct answer (the outbox uses this).

        Raises:
            Blocked: the person can no longer be reached here.
            RetryLater: the platform asked to slow down for this chat.
            DeliveryError: anything else that went wrong.
        """
