"""Fixtures for the end-to-end tests: the Bot API server, Synapse, the bot on Matrix, and its
residents."""

from tests.e2e.matrix_support import matrix_bot, residents
from tests.e2e.synapse import synapse
from tests.e2e.telegram_support import server

__all__ = ["matrix_bot", "residents", "server", "synapse"]
