"""The running bot: every configured platform adapter, its delivery worker, the scheduler.

Start order: adapters (receiving and able to send), then one delivery worker per adapter,
then the scheduler (which may release due work into the outbox at once). Stop order is the
reverse, so the last results of delivery are recorded while the adapters can still send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.admin.retention import run_retention
from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.platforms.base import Adapter
from bot.rooms import RoomWorker
from bot.scheduler import Scheduler
from handlers.budgets.schedule import advance as advance_budget_round
from handlers.community.connections import expire_requests
from handlers.community.mutes import expire_mutes
from handlers.consultations import jobs as consultation_jobs
from handlers.contract import RoomOperations, Timer
from handlers.meetings import jobs as meeting_jobs
from handlers.news.wist_je_dat import Signer

log = logging.getLogger(__name__)

RETENTION_EVERY = timedelta(days=1)
#: How soon the published folder is redone after content left public view (an erasure, an
#: idea hidden or withdrawn); the weekly export is checked as often.
OPEN_DATA_CHECK = timedelta(minutes=5)


class Runtime:
    """Starts the configured adapters, their delivery workers and the scheduler."""

    def __init__(self, app: App, adapters: list[Adapter] | None = None):
        self.app = app
        self.adapters = adapters if adapters is not None else self._configured()
        policy = DeliveryPolicy.from_settings(app.settings)
        self.workers = [
            DeliveryWorker(
                app.repos,
                app.catalog,
                adapter,
                policy,
                clock=app.router.clock,
                sign=Signer(app.repos, app.profile),
            )
            for adapter in self.adapters
        ]
        # Adapters that act in experiments' rooms carry out the stored room tasks.
        self.room_workers = [
            RoomWorker(
                app.repos,
                app.catalog,
                adapter.name,
                adapter,
                profile=app.profile,
                clock=app.router.clock,
            )
            for adapter in self.adapters
            if isinstance(adapter, RoomOperations)
        ]
        self.scheduler = Scheduler(clock=app.router.clock)
        self._unwire: list[Callable[[], None]] = []
        self._register_jobs()

    def _configured(self) -> list[Adapter]:
        adapters: list[Adapter] = []
        if self.app.settings.telegram_token:
            from bot.platforms.telegram import Telegram

            adapters.append(Telegram(self.app))
        if self.app.settings.matrix_configured:
            from bot.platforms.matrix import Matrix

            adapters.append(Matrix(self.app))
        return adapters

    def _register_jobs(self) -> None:
        """Every kind of scheduled job, registered by name: the one place to add one.

        A kind's runner does its work in one transaction and checks the stored state first;
        ``pending`` lists what is still to run (see :mod:`bot.scheduler`). Housekeeping
        (retention, open data) runs at start-up and then again after its period.
        """
        repos = self.app.repos
        self.scheduler.register(
            "broadcast", runner=self._release_broadcast, pending=repos.broadcasts.pending
        )
        self.scheduler.register("mute", runner=self._end_mutes, pending=repos.sanctions.pending)
        self.scheduler.register(
            "connection",
            runner=self._expire_connections,
            pending=lambda: repos.connections.pending(
                self.app.profile.connections.answer_days, self.app.settings.zone
            ),
        )
        self.scheduler.register(
            "budget",
            runner=self._budget_round,
            pending=lambda: repos.budgets.pending(self.app.settings.zone),
        )
        self.scheduler.register(
            "consultation",
            runner=self._consultation,
            pending=lambda: consultation_jobs.pending(repos, self.app.settings.zone),
        )
        self.scheduler.register("evaluations", runner=self._evaluations, pending=self._now)
        self.scheduler.register(
            "meeting",
            runner=self._meeting,
            pending=lambda: meeting_jobs.pending(repos, self.app.settings.zone),
        )
        self.scheduler.register("retention", runner=self._retention, pending=self._now)
        self.scheduler.register("open-data", runner=self._open_data, pending=self._now)

    async def _release_broadcast(self, key: str) -> None:
        """Fan a scheduled broadcast out into the outbox (the broadcasts table knows if it
        still should)."""
        async with self.app.db.transaction():
            await self.app.repos.broadcasts.release(int(key), self.app.router.clock())

    async def _budget_round(self, key: str) -> None:
        """Open, remind or close a budget round (its row says which is due), then arm its
        next moment."""
        app = self.app
        timer = await advance_budget_round(
            app.repos, app.catalog, app.profile, app.router.timezone, int(key), app.router.clock()
        )
        if timer is not None:
            await self.scheduler.arm([timer])

    def _surroundings(self) -> consultation_jobs.Surroundings:
        app = self.app
        return consultation_jobs.Surroundings(
            app.repos, app.catalog, app.profile, app.settings.zone
        )

    async def _consultation(self, key: str) -> None:
        """Open, remind about or close one consultation, whichever is due."""
        timers = await consultation_jobs.run_consultation(
            self._surroundings(), int(key), self.app.router.clock()
        )
        await self.scheduler.arm(timers)

    async def _evaluations(self, key: str) -> None:
        """Ask the experiments' participants whose evaluation moment came; look again later."""
        timers = await consultation_jobs.run_evaluations(
            self._surroundings(), self.app.router.clock()
        )
        await self.scheduler.arm(timers)

    async def _meeting(self, key: str) -> None:
        """Send a meeting's reminder that is due (its registrations say which), then arm the
        next one."""
        app = self.app
        timers = await meeting_jobs.remind(
            app.repos, app.profile, app.settings.zone, int(key), app.router.clock()
        )
        await self.scheduler.arm(timers)

    async def _end_mutes(self, key: str) -> None:
        """Tell everyone whose mute has ended (the router already lets them post again)."""
        await expire_mutes(self.app.repos, self.app.router.clock())

    async def _expire_connections(self, key: str) -> None:
        """End the requests to connect two residents not answered in time (whichever are
        due, not only this one: one run after a restart catches up with them all)."""
        app = self.app
        await expire_requests(app.repos, app.profile, app.settings.zone, app.router.clock())

    async def _now(self) -> list[tuple[str, datetime]]:
        """Housekeeping is due at every start: its runners know whether there is work."""
        return [("every", self.app.router.clock())]

    async def _retention(self, key: str) -> None:
        """Warn and erase residents silent too long; again tomorrow."""
        now = self.app.router.clock()
        report = await run_retention(self.app, now, stopping=lambda: self.scheduler.stopping)
        if not report.finished:
            return  # shutting down: the next start-up goes on with it
        await self.scheduler.arm([Timer(job="retention:every", at=now + RETENTION_EVERY)])

    async def _open_data(self, key: str) -> None:
        """Publish the open data when its folder is configured and the export is due (a week
        old, or content left view since); look again in a few minutes."""
        if self.app.settings.open_data_dir is None:
            return
        # Imported here: the site's templates (Jinja2) are not needed to start answering.
        from bot.admin.open_data import run_open_data_export

        now = self.app.router.clock()
        await run_open_data_export(self.app, now)
        await self.scheduler.arm([Timer(job="open-data:every", at=now + OPEN_DATA_CHECK)])

    async def start(self) -> None:
        started: list[Adapter] = []
        try:
            for adapter in self.adapters:
                await adapter.start()
                started.append(adapter)
        except BaseException:
            for adapter in reversed(started):
                await adapter.stop()
            raise
        for worker in self.workers:
            await worker.start()
        for room_worker in self.room_workers:
            await room_worker.start()
        self._unwire.append(self.app.repos.outbox.on_queued(self.wake))
        self.app.router.arm_timers = self.scheduler.arm
        await self.scheduler.start()

    async def run_until(self, stop: asyncio.Event) -> str | None:
        """Run until ``stop`` is set (None), or until an adapter is lost: then why, one
        line for the operator. A bot whose platform refused its credentials stops rather
        than look up while it hears nobody."""
        waits: list[asyncio.Future[object]] = [asyncio.ensure_future(stop.wait())]
        waits += [asyncio.ensure_future(adapter.lost.wait()) for adapter in self.adapters]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        return next((adapter.lost.why for adapter in self.adapters if adapter.lost.is_set()), None)

    def wake(self) -> None:
        """Rows were queued: every worker looks at the outbox now."""
        for worker in self.workers:
            worker.wake()

    async def stop(self) -> None:
        self.app.router.arm_timers = None
        await self.scheduler.stop()
        for room_worker in self.room_workers:
            await room_worker.stop()
        for worker in self.workers:
            try:
                await worker.stop()
            except Exception:
                log.exception("stopping delivery for %s failed", worker.platform)
        for unwire in self._unwire:
            unwire()
        self._unwire.clear()
        for adapter in reversed(self.adapters):
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping %s failed", adapter.name)
        await self.app.router.drain()
