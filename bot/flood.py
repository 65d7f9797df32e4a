"""Flood protection: how many events one person may send per minute, counted in memory.

A sliding window of the last minute per person; no database work per event. Someone over
the limit is told to slow down once per minute, not once per message, so a flood does not
produce a flood of answers.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from enum import Enum

WINDOW = timedelta(minutes=1)
#: Every so many checks, people who went quiet are forgotten.
SWEEP_EVERY = 1024

Key = tuple[str, str]


class Verdict(Enum):
    """What to do with one event."""

    ADMIT = "admit"
    #: Refuse it and say so (the first refusal in a minute).
    WARN = "warn"
    #: Refuse it quietly (the person was just told).
    DROP = "drop"


class FloodGate:
    """Admits at most ``per_minute`` events per person in any minute."""

    def __init__(self, per_minute: int):
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._admitted: dict[Key, deque[datetime]] = {}
        self._warned_until: dict[Key, datetime] = {}
        self._checks = 0

    def check(self, key: Key, now: datetime) -> Verdict:
        """Admit the event and count it, or say how to refuse it."""
        self._checks += 1
        if self._checks % SWEEP_EVERY == 0:
            self._sweep(now)
        window = self._admitted.setdefault(key, deque())
        while window and window[0] <= now - WINDOW:
            window.popleft()
        if len(window) < self.per_minute:
            window.append(now)
            return Verdict.ADMIT
        warned_until = self._warned_until.get(key)
        if warned_until is not None and now < warned_until:
            return Verdict.DROP
        self._warned_until[key] = now + WINDOW
        return Verdict.WARN

    def __len__(self) -> int:
        """How many people are being counted."""
        return len(self._admitted)

    def _sweep(self, now: datetime) -> None:
        quiet = [
            k for k, window in self._admitted.items() if not window or window[-1] <= now - WINDOW
        ]
        for key in quiet:
            del self._admitted[key]
        for key in [k for k, until in self._warned_until.items() if until <= now]:
            del self._warned_until[key]
