"""Flood protection: how many events one person may send per minute, counted in memory.

A sliding window of the last minute per person; no database work per event. Someone over
the limit is told to slow down once per minute, not once per message, so a flood does not
produce a flood of answers.

Several messages sent as one (an album of photos) are one message here too: the album's
first admitted message is counted, and its later messages in the same minute are admitted
without being counted, up to :data:`ALBUM_MOST` of them (the most one album can hold on
Telegram); any beyond that count as messages of their own.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from enum import Enum

WINDOW = timedelta(minutes=1)
#: Every so many checks, people who went quiet are forgotten.
SWEEP_EVERY = 1024
#: The most messages one album holds (Telegram's limit); more under one album id are counted.
ALBUM_MOST = 10

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
        #: Per person and album admitted: when its first message was, and how many came.
        self._albums: dict[tuple[Key, str], tuple[datetime, int]] = {}
        self._checks = 0

    def check(self, key: Key, now: datetime, album: str | None = None) -> Verdict:
        """Admit the event and count it, or say how to refuse it. ``album``: the album the
        message belongs to (several sent as one), which counts once."""
        self._checks += 1
        if self._checks % SWEEP_EVERY == 0:
            self._sweep(now)
        if album is not None:
            admitted = self._albums.get((key, album))
            if admitted is not None and now - admitted[0] < WINDOW and admitted[1] < ALBUM_MOST:
                self._albums[(key, album)] = (admitted[0], admitted[1] + 1)
                return Verdict.ADMIT
        window = self._admitted.setdefault(key, deque())
        while window and window[0] <= now - WINDOW:
            window.popleft()
        if len(window) < self.per_minute:
            window.append(now)
            if album is not None and (key, album) not in self._albums:
                self._albums[(key, album)] = (now, 1)
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
        for album in [a for a, (at, _) in self._albums.items() if at <= now - WINDOW]:
            del self._albums[album]
