"""The assembled bot: database, profile, catalogs, features and router, ready for adapters."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import handlers
from bot.router import Router
from bot.settings import Settings
from handlers.catalog import Catalog
from handlers.experiments import experiment_seeds
from handlers.feature import Registry
from handlers.profile import Profile, load_profile
from storage import Database, Repositories
from storage.clock import utcnow

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything the adapters and workers share; one per process."""

    settings: Settings
    db: Database
    repos: Repositories
    profile: Profile
    catalog: Catalog
    registry: Registry
    router: Router

    @classmethod
    async def open(cls, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> App:
        """Load the profile and catalogs, open and migrate the database, build the router."""
        profile = load_profile(settings.profile)
        catalog = Catalog.load(default=settings.language)
        registry = handlers.registry()
        db = await Database.open(settings.db)
        repos = Repositories(db)
        try:
            async with db.transaction():
                await repos.experiments.seed(experiment_seeds(profile), clock())
        except BaseException:
            await db.close()
            raise
        router = Router(repos, registry, profile, catalog, settings.zone, clock=clock)
        router.extras["retention_months"] = settings.retention_months
        log.info("database ready path=%s", Path(settings.db).name)
        return cls(settings, db, repos, profile, catalog, registry, router)

    async def close(self) -> None:
        """Finish in-flight events, then close the database."""
        await self.router.drain()
        await self.db.close()
