"""The running bot: every configured platform adapter, started and stopped together."""

from __future__ import annotations

import logging

from bot.app import App
from bot.platforms.base import Adapter

log = logging.getLogger(__name__)


class Runtime:
    """Starts the configured adapters; stops them so in-flight events finish first."""

    def __init__(self, app: App, adapters: list[Adapter] | None = None):
        self.app = app
        self.adapters = adapters if adapters is not None else self._configured()

    def _configured(self) -> list[Adapter]:
        adapters: list[Adapter] = []
        if self.app.settings.telegram_token:
            from bot.platforms.telegram import Telegram

            adapters.append(Telegram(self.app))
        if self.app.settings.matrix_configured:
            from bot.platforms.matrix import Matrix

            adapters.append(Matrix(self.app))
        return adapters

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

    async def stop(self) -> None:
        for adapter in reversed(self.adapters):
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping %s failed", adapter.name)
        await self.app.router.drain()
