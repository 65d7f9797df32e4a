"""Moving and cancelling a meeting: only while its start is still ahead of the moment given,
decided in the same statement that changes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from storage.meetings.meetings import MeetingDraft

STARTS = datetime(2027, 3, 4, 18, 30, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Amsterdam")


async def _meeting(app: App) -> tuple[int, int]:
    async with app.db.transaction():
        author = await app.repos.users.touch("test", "ria", STARTS - timedelta(days=9))
        anna = await app.repos.users.touch("test", "anna", STARTS - timedelta(days=9))
        draft = MeetingDraft(
            title="Buurtavond",
            description="Praat mee.",
            address="Plein 1",
            starts_at=STARTS,
            ends_at=STARTS + timedelta(hours=2),
            capacity=5,
        )
        meeting_id = await app.repos.meetings.create(draft, author.id, STARTS - timedelta(days=8))
        await app.repos.meetings.register(
            meeting_id, anna.id, STARTS - timedelta(days=7), zone=ZONE
        )
    return meeting_id, anna.id


@pytest.mark.parametrize("after", [timedelta(0), timedelta(minutes=1), timedelta(days=2)])
async def test_a_meeting_that_began_by_then_is_neither_cancelled_nor_moved(
    app: App, after: timedelta
) -> None:
    meeting_id, anna = await _meeting(app)
    now = STARTS + after
    async with app.db.transaction():
        assert await app.repos.meetings.cancel(meeting_id, now) is None
        later = STARTS + timedelta(days=7)
        ends = later + timedelta(hours=1)
        assert not await app.repos.meetings.move(meeting_id, later, ends, now, zone=ZONE)
    stored = await app.repos.meetings.get(meeting_id)
    assert stored is not None and not stored.cancelled and stored.version == 0
    assert stored.starts_at == STARTS
    assert await app.repos.meetings.people(meeting_id) == [anna]


async def test_a_meeting_still_ahead_is_cancelled_or_moved(app: App) -> None:
    meeting_id, anna = await _meeting(app)
    now = STARTS - timedelta(seconds=1)
    later = STARTS + timedelta(days=7)
    async with app.db.transaction():
        assert await app.repos.meetings.move(
            meeting_id, later, later + timedelta(hours=1), now, zone=ZONE
        )
        assert await app.repos.meetings.cancel(meeting_id, now) == [anna]
    stored = await app.repos.meetings.get(meeting_id)
    assert stored is not None and stored.cancelled and stored.starts_at == later
