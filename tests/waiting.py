"""Waiting for a condition instead of sleeping a fixed time: the one wait-until of the tests."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable
from typing import Any

#: Seconds a test waits for something it expects before it fails: generous, because the suite
#: must pass on a slow, shared machine; a test that passes never waits this long. The mutation
#: run (`.ci/mutation`) sets it lower: there most waits are for what a mutant broke.
WAIT = float(os.environ.get("SAMENSPEL_TEST_WAIT", "30"))

#: Seconds between two checks when nothing tells us that something changed.
POLL = 0.02


async def until(
    check: Callable[[], Any],
    timeout: float = WAIT,  # noqa: ASYNC109 - a plain number is simplest for tests
    *,
    what: str | None = None,
    between: Callable[[float], Awaitable[object]] | None = None,
) -> Any:
    """Wait until ``check()`` returns something truthy, and return it.

    Args:
        check: The condition; it may be a coroutine function.
        timeout: Seconds to wait at most.
        what: What is awaited, for the failure message (else the check's name).
        between: Awaited between two checks with the seconds left: what moves the world on,
            such as the next request a server handles or a Matrix sync. Without it the check
            runs every :data:`POLL` seconds.

    Raises:
        TimeoutError: The condition did not hold in time.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        remaining = deadline - loop.time()
        if remaining <= 0:
            awaited = what or getattr(check, "__qualname__", repr(check))
            raise TimeoutError(f"not within {timeout} s: {awaited}")
        if between is None:
            await asyncio.sleep(min(remaining, POLL))
        else:
            await between(remaining)


def waiting_for(lock: asyncio.Lock) -> int:
    """How many tasks wait to take ``lock``: a race is set up once the other side waits.

    asyncio keeps a lock's waiters in a private deque; reading it lets a test know the other
    task is queued instead of sleeping and hoping it got there.
    """
    return len(lock._waiters or ())
