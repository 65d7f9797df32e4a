"""The scheduler: APScheduler as a trigger only; what is scheduled lives in the database.

A feature stores the thing to do at a moment (a broadcast with its time) and returns a
:class:`~handlers.contract.Timer` ``"<kind>:<key>"``; after the transaction commits, the router
hands it to :meth:`Scheduler.arm`. Each kind is registered once by name with two functions:

* ``runner(key)`` does the work in a database transaction of its own (release the broadcast
  into the outbox). It must check the stored state itself: a job may run after it was
  changed, and twice is harmless only if the runner makes it so.
* ``pending()`` lists ``(key, at)`` for every job of that kind still to run, so start-up can
  arm them again: what came due while the bot was down runs at once, the rest at its time.
  A kind whose jobs cannot be listed then is listed again a minute later, until it works.

Jobs have explicit ids (``"<kind>:<key>"``) and replace an earlier job with the same id;
``at=None`` removes the job. A runner that fails is logged and tried again a minute later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from handlers.contract import Timer
from storage.clock import utcnow

log = logging.getLogger(__name__)

#: Does the work of one job; ``key`` is the part of the job id after ``"<kind>:"``.
Runner = Callable[[str], Awaitable[object]]
#: Every job of a kind still to run, as (key, when).
Pending = Callable[[], Awaitable[Iterable[tuple[object, datetime]]]]

RETRY_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class JobKind:
    """A registered kind of job."""

    runner: Runner
    pending: Pending


class Scheduler:
    """Arms triggers for stored jobs and runs their kind's runner when they come due."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = utcnow,
        retry_after: timedelta = RETRY_AFTER,
    ):
        self.clock = clock
        self.retry_after = retry_after
        self.kinds: dict[str, JobKind] = {}
        self._aps: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[None]] = set()
        #: Set when :meth:`stop` begins: long runners end at their next safe point.
        self.stopping = False

    def register(self, kind: str, *, runner: Runner, pending: Pending) -> None:
        """Make ``kind`` schedulable (before :meth:`start`)."""
        if kind in self.kinds:
            raise ValueError(f"job kind {kind!r} is already registered")
        if ":" in kind:
            raise ValueError("a job kind has no ':' in its name")
        self.kinds[kind] = JobKind(runner, pending)

    @property
    def running(self) -> bool:
        return self._aps is not None

    async def start(self) -> None:
        """Start the trigger and arm every pending job of every kind."""
        self.stopping = False
        self._aps = AsyncIOScheduler(timezone=UTC)
        self._aps.start()
        for kind in self.kinds:
            await self._arm_pending(kind)

    async def _arm_pending(self, kind: str) -> None:
        """Arm every pending job of a kind. When they cannot be listed (the database busy,
        a row that cannot be read), it is tried again later: until then none of that kind
        would run, not even those armed by a feature meanwhile after a restart."""
        if self._aps is None:
            return
        try:
            jobs = list(await self.kinds[kind].pending())
        except Exception:
            log.exception(
                "listing pending jobs failed kind=%s; trying again in %s", kind, self.retry_after
            )
            self._aps.add_job(
                self._arm_pending,
                trigger="date",
                run_date=self.clock() + self.retry_after,
                args=[kind],
                # Never a job's id: those are "<kind>:<key>", and a kind is never empty.
                id=f":pending:{kind}",
                replace_existing=True,
                misfire_grace_time=None,
                coalesce=True,
            )
            return
        self._arm_all(Timer(job=f"{kind}:{key}", at=at) for key, at in jobs)
        log.info("scheduler armed kind=%s jobs=%d", kind, len(jobs))

    async def stop(self) -> None:
        """Stop triggering; let runners that already started finish (a long one, told by
        :attr:`stopping`, ends at its next safe point)."""
        self.stopping = True
        if self._aps is not None:
            aps, self._aps = self._aps, None
            aps.remove_all_jobs()
            aps.shutdown(wait=False)
            await asyncio.sleep(0)  # APScheduler shuts down on the loop's next turn
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def arm(self, timers: list[Timer]) -> None:
        """Arm (or, with ``at=None``, disarm) jobs; the router calls this after a commit."""
        self._arm_all(timers)

    def scheduled(self) -> dict[str, datetime]:
        """The armed jobs and when they run (for logs and tests)."""
        if self._aps is None:
            return {}
        return {job.id: job.next_run_time for job in self._aps.get_jobs()}

    def _arm_all(self, timers: Iterable[Timer]) -> None:
        for timer in timers:
            self._arm(timer)

    def _arm(self, timer: Timer) -> None:
        kind, sep, key = timer.job.partition(":")
        if not sep or kind not in self.kinds:
            log.warning("timer for an unknown job kind job=%s", timer.job)
            return
        if self._aps is None:
            # Not started (a CLI, a test): start-up arms it from the database later.
            return
        if timer.at is None:
            with contextlib.suppress(JobLookupError):
                self._aps.remove_job(timer.job)
            return
        self._aps.add_job(
            self._trigger,
            trigger="date",
            run_date=max(timer.at, self.clock()),
            args=[kind, key],
            id=timer.job,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    async def _trigger(self, kind: str, key: str) -> None:
        # The runner runs in a task of our own: APScheduler cancels its job tasks when it
        # shuts down, and a job half done is exactly what the database should never see.
        task = asyncio.create_task(self._run(kind, key), name=f"job-{kind}:{key}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, kind: str, key: str) -> None:
        try:
            await self.kinds[kind].runner(key)
        except Exception:
            log.exception("job failed job=%s:%s; trying again later", kind, key)
            self._arm(Timer(job=f"{kind}:{key}", at=self.clock() + self.retry_after))
        else:
            log.info("job done job=%s:%s", kind, key)
