"""Moved to :mod:`storage.graphemes` (storage cuts texts too, and imports nothing of
``handlers``); kept so that ``from handlers import graphemes`` still works."""

from storage.graphemes import clusters, cut

__all__ = ["clusters", "cut"]
