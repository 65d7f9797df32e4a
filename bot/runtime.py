"""The running bot: every configured platform adapter, its delivery worker, the scheduler.

Start order: adapters (receiving and able to send), then one delivery worker per adapter,
then the scheduler (which may release due work into the outbox at once). Stop order is the
reverse, so the last results of delivery are recorded while the adapters can still send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.platforms.base import Adapter
from bot.scheduler import Scheduler

log = logging.getLogger(__name__)


class Runtime:
    """Starts the configured adapters, their delivery workers and the scheduler."""

    def __init__(self, app: App, adapters: list[Adapter] | None = None):
        self.app = app
        self.adapters = adapters if adapters is not None else self._configured()
        policy = DeliveryPolicy.from_settings(app.settings)
        self.workers = [
            DeliveryWorker(app.repos, app.catalog, adapter, policy, clock=app.router.clock)
            for adapter in self.adapters
        ]
        self.scheduler = Scheduler(clock=app.router.clock)
        self._unwire: list[Callable[[], None]] = []
        self._register_jobs()

    def _configured(self) -> list[Adapter]:
        adapters: list[Adapter] = []
        if self.app.settings.telegram_token:
            from bot.platforms.telegram import Telegram

            adapters.append(Telegram(self.app))
        return adapters

    def _register_jobs(self) -> None:
        """Every kind of scheduled job, registered by name: the one place to add one.

        A kind's runner does its work in one transaction and checks the stored state first;
        ``pending`` lists what is still to run (see :mod:`bot.scheduler`).
        """
        # Scheduled broadcasts, once the community feature's storage is part of the bot.
        broadcasts = getattr(self.app.repos, "broadcasts", None)
        if broadcasts is not None:
            self.scheduler.register(
                "broadcast", runner=self._release_broadcast, pending=broadcasts.pending
            )

    async def _release_broadcast(self, key: str) -> None:
        """Fan a scheduled broadcast out into the outbox (the broadcasts table knows if it
        still should)."""
        async with self.app.db.transaction():
            await self.app.repos.broadcasts.release(int(key), self.app.router.clock())  # type: ignore[attr-defined]

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
        self._unwire.append(self.app.repos.outbox.on_queued(self.wake))
        self.app.router.arm_timers = self.scheduler.arm
        await self.scheduler.start()

    def wake(self) -> None:
        """Rows were queued: every worker looks at the outbox now."""
        for worker in self.workers:
            worker.wake()

    async def stop(self) -> None:
        self.app.router.arm_timers = None
        await self.scheduler.stop()
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
