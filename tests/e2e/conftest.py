"""Fixtures for the end-to-end tests: Synapse, the bot on Matrix, and its residents."""

from tests.e2e.matrix_support import matrix_bot, residents
from tests.e2e.synapse import synapse

__all__ = ["matrix_bot", "residents", "synapse"]
