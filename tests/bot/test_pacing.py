"""Pacing: evenly spaced overall slots, per-chat and per-group spacing, holds, debits."""

from __future__ import annotations

import pytest

from bot.pacing import Pacing
from bot.platforms.telegram import telegram_pacing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_overall_rate_hands_out_evenly_spaced_slots() -> None:
    clock = Clock()
    pacing = Pacing(10, clock=clock)
    waits = [pacing.reserve() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_a_slot_not_used_in_time_is_not_saved_up_for_a_burst() -> None:
    clock = Clock()
    pacing = Pacing(10, clock=clock)
    pacing.reserve()
    clock.now += 5  # quiet for five seconds
    assert [pacing.reserve() for _ in range(3)] == pytest.approx([0.0, 0.1, 0.2])


def test_a_message_of_several_parts_books_a_slot_for_each() -> None:
    clock = Clock()
    pacing = Pacing(10, clock=clock)
    pacing.reserve(3)
    assert pacing.reserve() == pytest.approx(0.3)


def test_direct_replies_use_the_same_budget_without_waiting() -> None:
    clock = Clock()
    pacing = Pacing(10, clock=clock)
    for _ in range(5):
        pacing.debit()
    assert pacing.debited == 5
    assert pacing.reserve() == pytest.approx(0.5)


def test_without_a_rate_nothing_waits() -> None:
    pacing = Pacing(0)
    assert not pacing.limited
    assert [pacing.reserve() for _ in range(100)] == [0.0] * 100


def test_one_message_a_second_per_chat_and_twenty_a_minute_per_group() -> None:
    clock = Clock()
    pacing = telegram_pacing(25)
    pacing.clock = clock
    pacing.sent("1001")
    pacing.sent("-100200")
    assert not pacing.ready("1001") and not pacing.ready("-100200")
    assert pacing.ready("1002")
    clock.now += 1.0
    assert pacing.ready("1001") and not pacing.ready("-100200")
    clock.now += 2.0
    assert pacing.ready("-100200")


def test_a_hold_delays_that_chat_only() -> None:
    clock = Clock()
    pacing = Pacing(0, chat_interval=1.0, clock=clock)
    pacing.hold("1001", 30)
    assert pacing.ready_at("1001") == clock.now + 30
    assert pacing.ready("1002")
    pacing.sent("1001")  # a later message is spaced after the hold, not before
    assert pacing.ready_at("1001") == clock.now + 31


def test_a_negative_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        Pacing(-1)
