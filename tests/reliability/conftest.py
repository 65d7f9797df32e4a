"""Fixtures for the reliability tests: the loopback Bot API server the bot process talks to."""

from tests.e2e.telegram_support import server

__all__ = ["server"]
