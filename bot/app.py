"""The assembled bot: database, profile, catalogs, features and router, ready for adapters."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import handlers
from bot.logs import use_pseudonym_key
from bot.rooms import may_enter
from bot.router import Router
from bot.settings import Settings
from handlers.catalog import Catalog
from handlers.consultations.jobs import seed_evaluations
from handlers.contract import Button, Installation, Reply
from handlers.experiments.join import experiment_seeds
from handlers.experiments.rooms import invite_participants, tell_left_behind
from handlers.feature import Registry
from handlers.meetings import jobs as meeting_jobs
from handlers.privacy.erased_again import redo_erasures
from handlers.profile import Profile, load_profile
from storage import Database, Repositories
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from storage.experiments.rooms import Room
from storage.users import Role

log = logging.getLogger(__name__)


#: When the garbage collector runs: after this many new container objects instead of
#: Python's 700 (under load that is every few dozen events, 1-2 ms each time), and full
#: passes rarely. Memory is freed by reference counting anyway; only cycles wait.
GC_THRESHOLDS = (20_000, 50, 100)
#: Where this installation's key for log pseudonyms is kept (``platform_state``).
PSEUDONYM_KEY = ("samenspel", "log_pseudonym_key")


def settle_memory() -> None:
    """Once start-up is done: what it built (modules, catalogs, the platform libraries)
    lives as long as the process, so keep it out of the collector's passes, which would
    otherwise walk all of it and hold every conversation up meanwhile; and collect less
    often. Measured with ``bench.core``: the collector's time in a paced run fell from about
    0.6 s to 0.1-0.15 s, without the 55-65 ms full pass in the middle of it."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


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
    #: People erased again at start-up: a restored backup had brought them back.
    erased_again: int = 0

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
                key = await repos.platform_state.kept_secret(*PSEUDONYM_KEY, clock())
                # The key of account hashes, made now rather than at the first erasure: a
                # backup made before that erasure then has it too, and the erasure ledger
                # can be matched against it when that backup is restored.
                await repos.sanctions.account_key(create=True)
                await seed_evaluations(repos, profile, clock())
                # A language whose catalog was removed is no one's choice any more: they
                # read their app's language (or Dutch), and notifications group them so.
                await repos.users.forget_languages_other_than(catalog.languages)
                # Likewise a neighbourhood the profile no longer has: "only my
                # neighbourhood" would get its subscribers no news at all.
                await repos.subscriptions.everywhere_outside(
                    [hood.id for hood in profile.neighbourhoods]
                )
            # Erasures a stop interrupted are finished in the background.
            await repos.personal.resume()
            # Erasures a restored backup took back are done again, before anyone is served.
            redone = await redo_erasures(repos, profile, settings.zone, clock())
        except BaseException:
            await db.close()
            raise
        use_pseudonym_key(bytes.fromhex(key))

        async def pass_on_places(user_id: int, now: datetime) -> None:
            # A place someone moved up into without ever hearing of it goes to the next
            # waiting, whoever noticed the block (delivery, an adapter, a Matrix room).
            await meeting_jobs.unreachable(repos, profile, settings.zone, user_id, now)

        repos.outbox.on_unreachable(pass_on_places)
        installation = Installation(
            retention_months=settings.retention_months,
            erasure_ledger_keep_days=settings.erasure_ledger_keep_days,
        )
        router = Router(
            repos,
            registry,
            profile,
            catalog,
            settings.zone,
            installation=installation,
            clock=clock,
        )
        log.info("database ready path=%s", Path(settings.db).name)
        return cls(settings, db, repos, profile, catalog, registry, router, redone.erased)

    async def chat_unreachable(
        self, platform: str, chat_id: str, reason: str = "blocked"
    ) -> list[int]:
        """A platform says nobody can be reached in this chat any more (blocked, left).

        The one path for it, whoever noticed (an adapter answering an event, delivery
        sending from the outbox, a Matrix room the resident left): in one transaction the
        person is marked unreachable, what was queued for them is cancelled, and they are
        unsubscribed (:meth:`storage.outbox.Outbox.mark_chat_unreachable` and its hooks).
        Adapters report here instead of writing storage themselves. Returns the user ids.
        """
        async with self.db.transaction():
            return await self.repos.outbox.mark_chat_unreachable(
                platform, chat_id, self.router.clock(), reason
            )

    async def room_moved(self, platform: str, chat_id: str, new_chat_id: str) -> bool:
        """A platform gave a group a new id (Telegram upgrades a group to a supergroup):
        an experiment's room there stays that experiment's room under the new id. Adapters
        report here; whether a room moved (or had moved already)."""
        async with self.db.transaction():
            before = await self.repos.rooms.of_chat(platform, chat_id)
            room = await self.repos.rooms.moved(platform, chat_id, new_chat_id)
            if before is not None and room is not None and room.id == before.id:
                await self.repos.audit.record(
                    "room.move",
                    now=self.router.clock(),
                    actor=platform,
                    subject=f"experiment:{room.experiment_id}",
                    detail={"room": room.id},
                )
        if before is not None:
            log.info("an experiment's room has a new id platform=%s room=%s", platform, before.id)
        return room is not None

    async def room_gone(self, platform: str, chat_id: str) -> None:
        """A platform says the bot is no longer in a group (removed, or the group deleted):
        an experiment's room linked there invites nobody any more, and staff can link the
        experiment to another group with /koppel (the room moves there). Adapters report
        here; a second report changes nothing."""
        now = self.router.clock()
        async with self.db.transaction():
            room = await self.repos.rooms.gone(platform, chat_id, now)
            if room is None:
                return
            await self.repos.audit.record(
                "room.gone",
                now=now,
                actor="bot",
                subject=f"room:{room.id}",
                detail={"platform": platform, "experiment": room.experiment_id},
            )
            await self._tell_linker(room, "rooms.gone", now)
        log.warning(
            "the bot is no longer in an experiment room platform=%s room=%d", platform, room.id
        )

    async def room_upgraded(self, platform: str, chat_id: str, new_chat_id: str) -> bool:
        """A room was replaced by a new one on its platform (a Matrix room upgrade) and the
        bot is in the new one: an experiment's room linked in the old one moves there as
        after /koppel in a new group (:meth:`storage.experiments.rooms.Rooms.link`): the
        old one counts as gone, the mutes and bans in force are carried out in the new one,
        and the participants are invited there. Adapters report here; whether a room moved
        (False: none was linked in the old one, or it moved already)."""
        now = self.router.clock()
        async with self.db.transaction():
            old = await self.repos.rooms.of_chat(platform, chat_id)
            if old is None or await self.repos.rooms.of_chat(platform, new_chat_id) is not None:
                return False
            by = await self.repos.rooms.linked_by(old.id)
            # A reporter's /melden still to be taken out of the old room stays there.
            waiting = await self.repos.rooms.own_reports_waiting(old.id)
            await self.repos.rooms.gone(platform, chat_id, now)
            room = await self.repos.rooms.link(old.experiment_id, platform, new_chat_id, by, now)
            if room is None:
                return False
            await tell_left_behind(self.repos, self.catalog.default, room, waiting, now)
            invited = await invite_participants(self.repos, room, now)
            await self.repos.audit.record(
                "room.upgrade",
                now=now,
                actor="bot",
                subject=f"experiment:{room.experiment_id}",
                detail={"platform": platform, "room": room.id, "invited": invited},
            )
        log.info(
            "an experiment's room moved to its replacement platform=%s room=%d", platform, room.id
        )
        return True

    async def room_upgrade_failed(self, platform: str, chat_id: str, why: str) -> None:
        """A linked room was replaced by a new one the bot could not enter (not invited,
        say): the staff member who linked it (or else the connectors, see
        :meth:`_tell_linker`) hears so, and that an invite for the bot there
        is enough. The room stays where it is meanwhile."""
        now = self.router.clock()
        async with self.db.transaction():
            room = await self.repos.rooms.of_chat(platform, chat_id)
            if room is None:
                return
            await self.repos.audit.record(
                "room.upgrade_failed",
                now=now,
                actor="bot",
                subject=f"room:{room.id}",
                detail={"platform": platform, "error": why[:200]},
            )
            await self._tell_linker(room, "rooms.upgrade_failed", now)
        log.warning(
            "an experiment's room was replaced, the bot could not follow platform=%s room=%d: %s",
            platform,
            room.id,
            why,
        )

    async def _tell_linker(self, room: Room, key: str, now: datetime) -> None:
        """Tell the staff member who linked a room about it, in private. Someone who is no
        longer staff could not link it again, and an erased one is nobody: then the
        connectors hear it instead (the admins, with no connector), in the same words, so
        that somebody acts on it."""
        linker = await self.repos.rooms.linked_by(room.id)
        told = await self.repos.users.in_charge(linker, Role.CIVIL_SERVANT, instead=Role.CONNECTOR)
        if not told:
            log.warning("nobody to tell about experiment room=%d (%s)", room.id, key)
            return
        experiment = await self.repos.experiments.get(room.experiment_id)
        groups = await self.repos.recipients.by_language(told, self.catalog.default)
        for lang, user_ids in groups.items():
            reply = Reply(
                key=key,
                params={
                    "title": experiment.title(lang) if experiment else "",
                    "id": room.experiment_id,
                },
            )
            for each in user_ids:
                await self.repos.outbox.enqueue(
                    each, [reply.model_dump(mode="json")], kind="room", now=now
                )

    async def room_join_request(self, platform: str, chat_id: str, account: str) -> bool | None:
        """Someone asks to enter a group through an invite link that needs approval:
        whether they may enter the experiment's room linked there (None: no room is linked
        there, the group's own admins decide). Only someone who uses the bot, takes part in
        the experiment and is banned neither from the bot nor from the room may; a link
        passed on to anyone else lets nobody in. Someone the bot knows who does not take
        part (any more) hears in private how to get in, unless a ban keeps them out anyway.
        """
        now = self.router.clock()
        async with self.db.transaction():
            room = await self.repos.rooms.of_chat(platform, chat_id)
            if room is None:
                return None
            user = await self.repos.users.find(platform, account)
            if user is None or not user.consented:
                allowed = False
            elif await may_enter(self.repos, room, user.id, account, now):
                allowed = True
            else:
                allowed = False
                # Joining is the way in only for someone it would let in: not while banned
                # from the bot or from this room.
                sanction = await self.repos.sanctions.active(user.id, now)
                if (
                    not await self.repos.experiments.takes_part(room.experiment_id, user.id)
                    and (sanction is None or sanction.kind is not SanctionKind.BAN)
                    and not await self.repos.rooms.banned(room.id, account, now)
                ):
                    await self._tell_not_taking_part(user.id, room.experiment_id, now)
        log.info(
            "room join request %s platform=%s room=%d",
            "approved" if allowed else "declined",
            platform,
            room.id,
        )
        return allowed

    async def _tell_not_taking_part(self, user_id: int, experiment_id: int, now: datetime) -> None:
        experiment = await self.repos.experiments.get(experiment_id)
        if experiment is None:
            return
        groups = await self.repos.recipients.by_language([user_id], self.catalog.default)
        for lang in groups:
            join = Button(label="experiments.btn_join", payload=f"exp.join:{experiment_id}")
            # Joining is open while the experiment runs; afterwards its group is closed.
            running = experiment.status == "running"
            reply = Reply(
                key="rooms.join_not_taking_part" if running else "rooms.join_ended",
                params={"title": experiment.title(lang)},
                buttons=[[join]] if running else [],
            )
            await self.repos.outbox.enqueue(
                user_id, [reply.model_dump(mode="json")], kind="room", now=now
            )

    async def close(self) -> None:
        """Finish in-flight events, then close the database."""
        await self.router.drain()
        await self.db.close()
