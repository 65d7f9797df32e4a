"""Pacing: evenly spaced overall slots, replies before the outbox, per-chat limits, holds.

A fake clock with its own sleep: each wait moves the clock on, so the times a message was
let go are exact and the tests take no time.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.pacing import CATCH_UP_SLOTS, Pacing
from bot.platforms.telegram import telegram_pacing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Time passes once everything else had its turn: whoever was just let go runs (and
        # does what it does next) at the moment it was let go.
        for _ in range(10):
            await asyncio.sleep(0)
        self.now += seconds


def paced(rate: float, **options: object) -> tuple[Pacing, Clock]:
    clock = Clock()
    return Pacing(rate, clock=clock, sleep=clock.sleep, **options), clock  # type: ignore[arg-type]


async def _let_go(pacing: Pacing, clock: Clock, name: str, log: list[tuple[str, float]]) -> None:
    """An outbox message ("o...") or a direct reply ("r..."), noting when it may go."""
    if name.startswith("r"):
        await pacing.reply(None)
    else:
        await pacing.take()
    log.append((name, round(clock.now - 1000.0, 6)))


async def test_the_overall_rate_hands_out_evenly_spaced_slots() -> None:
    pacing, clock = paced(10)
    log: list[tuple[str, float]] = []
    await asyncio.gather(*(_let_go(pacing, clock, f"o{n}", log) for n in range(4)))
    assert log == [("o0", 0.0), ("o1", 0.1), ("o2", 0.2), ("o3", 0.3)]


async def test_slots_not_used_in_time_are_not_saved_up_but_for_a_few() -> None:
    pacing, clock = paced(10)
    await pacing.take()
    clock.now += 5  # quiet (or stalled) for five seconds: fifty slots unused
    log: list[tuple[str, float]] = []
    await asyncio.gather(*(_let_go(pacing, clock, f"o{n}", log) for n in range(8)))
    # The last few (a late wake-up's) may be used at once, then the rate again.
    at_once = CATCH_UP_SLOTS + 1
    assert [at for _, at in log] == pytest.approx([5.0] * at_once + [5.1, 5.2])


async def test_a_message_of_several_parts_takes_a_slot_for_each() -> None:
    pacing, clock = paced(10)
    await pacing.take(3)
    await pacing.take()
    assert clock.now - 1000.0 == pytest.approx(0.3)
    assert pacing.taken == 4


async def test_direct_replies_waiting_go_before_the_outbox_waiting() -> None:
    pacing, clock = paced(10)
    await pacing.take()  # the next slot is a tenth of a second away
    log: list[tuple[str, float]] = []
    names = ["o1", "o2", "r1", "o3", "r2", "r3"]
    await asyncio.gather(*(_let_go(pacing, clock, name, log) for name in names))
    assert [name for name, _ in log] == ["r1", "r2", "r3", "o1", "o2", "o3"]
    # Together no faster than the rate.
    assert [at for _, at in log] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert (pacing.replied, pacing.taken) == (3, 4)


async def test_a_reply_coming_while_the_outbox_waits_takes_the_next_slot() -> None:
    pacing, clock = paced(10)
    await pacing.take()
    log: list[tuple[str, float]] = []
    outbox = asyncio.gather(*(_let_go(pacing, clock, f"o{n}", log) for n in range(3)))
    await asyncio.sleep(0)
    while not log:  # noqa: ASYNC110 - until the outbox's first message has gone
        await asyncio.sleep(0)
    await _let_go(pacing, clock, "r", log)
    await outbox
    assert [name for name, _ in log] == ["o0", "r", "o1", "o2"]


async def test_a_cancelled_wait_gives_its_slot_to_the_next() -> None:
    pacing, clock = paced(10)
    await pacing.take()
    log: list[tuple[str, float]] = []
    gone = asyncio.ensure_future(_let_go(pacing, clock, "r-cancelled", log))
    await asyncio.sleep(0)
    gone.cancel()
    await _let_go(pacing, clock, "o", log)
    assert log == [("o", 0.1)]


async def test_a_reply_to_a_chat_that_just_got_its_burst_waits_for_that_chat() -> None:
    clock = Clock()
    pacing = telegram_pacing(30)
    pacing.clock = clock
    assert [pacing.book_chat("1001") for _ in range(2)] == pytest.approx([0.0, 0.0])
    # Two at once is a short burst; the third waits a second, the fourth two.
    assert pacing.book_chat("1001") == pytest.approx(1.0)
    assert pacing.book_chat("1001") == pytest.approx(2.0)
    # Meanwhile the outbox holds that chat back, and nobody else.
    assert not pacing.ready("1001") and pacing.ready("1002")


async def test_a_reply_waiting_for_its_chat_holds_up_nobody_else() -> None:
    pacing, clock = paced(30, chat_interval=1.0)
    pacing.hold("1001", 7)
    log: list[tuple[str, float]] = []

    async def answer(chat: str) -> None:
        await pacing.reply(chat)
        log.append((chat, round(clock.now - 1000.0, 6)))

    await asyncio.gather(answer("1001"), answer("1002"))
    assert log == [("1002", 0.0), ("1001", 7.0)]


def test_without_a_rate_nothing_waits() -> None:
    async def many() -> None:
        pacing, clock = paced(0)
        for _ in range(100):
            await pacing.take()
            await pacing.reply(None)
        assert clock.now == 1000.0 and not pacing.limited

    asyncio.run(many())


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


def test_a_released_hold_lets_that_chat_go_at_once() -> None:
    clock = Clock()
    pacing = Pacing(0, chat_interval=1.0, clock=clock)
    pacing.hold("!room", 300)
    pacing.hold("!other", 300)
    pacing.release("!room")  # what held it back is over (the room is private again)
    assert pacing.ready("!room") and not pacing.ready("!other")


def test_a_negative_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        Pacing(-1)


def test_a_burst_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        Pacing(1, burst=0)
