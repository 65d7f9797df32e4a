"""Pacing: evenly spaced overall slots, replies before the outbox, per-chat limits, holds."""

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


def test_a_direct_reply_goes_before_the_slots_the_outbox_booked() -> None:
    clock = Clock()
    pacing = Pacing(10, reply_allowance=0.5, clock=clock)
    assert [pacing.reserve() for _ in range(3)] == pytest.approx([0.0, 0.1, 0.2])
    # The reply's slot is the fourth, but it may go half a second early: at once.
    assert pacing.reserve(reply=True) == 0.0
    # The outbox gets the slot after it.
    assert pacing.reserve() == pytest.approx(0.4)
    assert (pacing.replied, pacing.taken) == (1, 4)


def test_replies_beyond_the_rate_wait_for_their_turn_and_never_exceed_it() -> None:
    clock = Clock()
    pacing = Pacing(10, reply_allowance=0.5, clock=clock)
    waits = [pacing.reserve(reply=True) for _ in range(10)]
    # Five slots' worth at once (the allowance), then one every tenth of a second.
    assert waits == pytest.approx([0.0] * 6 + [0.1, 0.2, 0.3, 0.4])
    # The outbox waits behind all of them.
    assert pacing.reserve() == pytest.approx(1.0)


def test_a_reply_to_a_chat_that_just_got_its_burst_waits_for_that_chat() -> None:
    clock = Clock()
    pacing = telegram_pacing(30)
    pacing.clock = clock
    assert [pacing.book_chat("1001") for _ in range(2)] == pytest.approx([0.0, 0.0])
    # Two at once is a short burst; the third waits a second, the fourth two.
    assert pacing.book_chat("1001") == pytest.approx(1.0)
    assert pacing.book_chat("1001") == pytest.approx(2.0)
    # Meanwhile the outbox holds that chat back, and nobody else.
    assert not pacing.ready("1001") and pacing.ready("1002")


def test_a_reply_waits_out_a_hold_on_its_chat() -> None:
    clock = Clock()
    pacing = telegram_pacing(30)
    pacing.clock = clock
    pacing.hold("1001", 7)
    assert pacing.book_chat("1001") == pytest.approx(7.0)
    # Waiting for its chat holds no overall slot: others' replies go at once.
    assert pacing.book_chat("1002") == 0.0
    assert pacing.reserve(reply=True) == 0.0
    assert pacing.reserve() == pytest.approx(1 / 30)


def test_without_a_rate_nothing_waits() -> None:
    pacing = Pacing(0)
    assert not pacing.limited
    assert [pacing.reserve() for _ in range(100)] == [0.0] * 100


def test_one_message_a_second_per_chat_and_twenty_a_minute_per_group() -> None:
    clock = Clock()
    pacing = telegram_pacing(25)
    pacing.clock = clock
    for _ in range(2):  # a short burst
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


def test_a_burst_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        Pacing(1, burst=0)
