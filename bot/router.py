"""The one router: every event from every platform passes through here.

It serialises events per person (a burst of messages is handled in order), serves many
people at once, loads the person and their dialog, checks roles and consent in one place,
picks the handler, and saves the new dialog in the same transaction as the handler's writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.render import numbered_options
from handlers import general
from handlers.catalog import Catalog
from handlers.contract import Dialog, Event, Reply, Response, Timer
from handlers.feature import Context, Registry
from handlers.profile import Profile
from storage import Repositories, StorageUnavailable, StoredDialog, User
from storage.clock import utcnow

log = logging.getLogger(__name__)

DIALOG_LIFETIME = timedelta(days=1)

#: Sends the replies to one event back to the chat it came from.
Deliver = Callable[[Event, str, list[Reply]], Awaitable[None]]
#: Arms (or disarms) triggers once the transaction that stored their subject is committed.
ArmTimers = Callable[[list[Timer]], Awaitable[None]]


@dataclass
class _Outcome:
    lang: str
    replies: list[Reply]
    timers: list[Timer] = field(default_factory=list)


def _unchanged(stored: StoredDialog | None, dialog: Dialog) -> bool:
    """Whether ``dialog`` is exactly the dialog as stored (same step, data and token)."""
    return (
        stored is not None
        and (stored.name, stored.step, stored.token) == (dialog.name, dialog.step, dialog.token)
        and stored.data == dialog.data
    )


def _comparable(label: str) -> str:
    """A label as a person would type it: no emoji or punctuation around it, any case."""
    return "".join(ch for ch in label if ch.isalnum() or ch.isspace()).strip().casefold()


class _UserLocks:
    """One lock per person, dropped again when nobody waits on it."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    async def acquire(self, key: tuple[str, str]) -> asyncio.Lock:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        await lock.acquire()
        return lock

    def release(self, key: tuple[str, str]) -> None:
        lock, users = self._locks[key]
        lock.release()
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class Router:
    """Turns events into replies, one person at a time, many people at once."""

    def __init__(
        self,
        repos: Repositories,
        registry: Registry,
        profile: Profile,
        catalog: Catalog,
        timezone: ZoneInfo,
        *,
        numbered_platforms: frozenset[str] = frozenset({"console", "matrix"}),
        clock: Callable[[], datetime] = utcnow,
    ):
        self.repos = repos
        self.registry = registry
        self.profile = profile
        self.catalog = catalog
        self.timezone = timezone
        self.numbered_platforms = numbered_platforms
        self.clock = clock
        self.locks = _UserLocks()
        #: Set by the runtime when a scheduler runs; without one, timers wait for start-up.
        self.arm_timers: ArmTimers | None = None
        #: Facts only the runtime knows (``deep_link_base``: a bot's public start link).
        self.extras: dict[str, Any] = {}
        #: Options offered while nothing could be saved, so that '2' means what was shown.
        self._offered: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def handle(self, event: Event, deliver: Deliver) -> None:
        """Handle one event and deliver its replies, in order with the person's other events."""
        self._in_flight += 1
        self._idle.clear()
        key = event.user_key
        await self.locks.acquire(key)
        try:
            outcome = await self._handle(event)
            if outcome.timers and self.arm_timers is not None:
                try:
                    await self.arm_timers(outcome.timers)
                except Exception:
                    log.exception("arming timers failed")
            if outcome.replies:
                try:
                    await deliver(event, outcome.lang, outcome.replies)
                except Exception:
                    log.exception("delivering replies failed platform=%s", event.platform)
        finally:
            self.locks.release(key)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def drain(self) -> None:
        """Wait until every event that entered the router has been answered."""
        await self._idle.wait()

    async def _handle(self, event: Event) -> _Outcome:
        lang = self.catalog.language(event.sender.language_hint)
        try:
            try:
                async with self.repos.db.transaction():
                    return await self._handle_in_transaction(event, writable=True)
            except StorageUnavailable as exc:
                # Nothing can be saved (a full disk, a read-only file): answer again from
                # what is stored. Reads are served; a write, or a dialog step that would
                # have to be saved, raises StorageUnavailable once more.
                log.warning("storage unavailable, reading only error=%s", exc)
            async with self.repos.db.read_only():
                return await self._handle_in_transaction(event, writable=False)
        except StorageUnavailable as exc:
            log.error("storage unavailable platform=%s error=%s", event.platform, exc)
            return _Outcome(lang, [Reply(key="errors.storage")])
        except Exception:
            log.exception("handler failed platform=%s", event.platform)
            return _Outcome(lang, [Reply(key="errors.sorry")])

    async def _handle_in_transaction(self, event: Event, *, writable: bool) -> _Outcome:
        now = self.clock()
        user = await self._user(event, now, writable=writable)
        stored = await self.repos.dialogs.load(user.id)
        dialog = Dialog(**stored.model_dump()) if stored else None
        expired = dialog is not None and (now - (dialog.updated_at or now)) > DIALOG_LIFETIME
        if expired:
            dialog = None
        event = await self._resolve_numbered_answer(event)
        ctx = self._context(event, user, dialog, now)

        response, keep_dialog = await self._dispatch(ctx)
        if expired and event.command is None and event.button is None:
            response.replies.insert(0, Reply(key="general.dialog_expired"))

        if response.end_dialog:
            next_dialog = None
        elif response.dialog is not None:
            next_dialog = response.dialog
        else:
            next_dialog = dialog if keep_dialog else None
        if writable:
            await self._save_dialog(user, stored is not None, next_dialog, now)
        elif next_dialog is not None and not _unchanged(stored, next_dialog):
            # The person would be one step further than what is stored: say it cannot
            # be saved rather than ask a question whose answer would meet the old step.
            raise StorageUnavailable("the next dialog step cannot be saved")

        # ctx.lang, not lang from before: the person may have chosen a language just now.
        lang = ctx.lang
        if event.platform in self.numbered_platforms and any(r.buttons for r in response.replies):
            options = [
                (self.catalog.label(lang, button), button.payload)
                for button in numbered_options(response.replies)
            ]
            key = (event.platform, event.chat_id)
            if writable:
                await self.repos.chat_options.save(event.platform, event.chat_id, options, now)
                self._offered.pop(key, None)
            else:
                self._offered[key] = options
        return _Outcome(lang, response.replies, response.timers)

    async def _user(self, event: Event, now: datetime, *, writable: bool) -> User:
        """The person behind the event (kept as seen); while reading only, as stored."""
        platform, platform_user_id = event.platform, event.sender.platform_user_id
        if writable:
            return await self.repos.users.seen(platform, platform_user_id, now)
        found = await self.repos.users.find(platform, platform_user_id)
        if found is not None:
            return found
        # Someone new while nothing can be saved: a stranger without rights or data.
        return User(
            id=0,
            platform=platform,
            platform_user_id=platform_user_id,
            created_at=now,
            last_seen_at=now,
        )

    async def _save_dialog(
        self, user: User, had_dialog: bool, dialog: Dialog | None, now: datetime
    ) -> None:
        if dialog is None:
            if had_dialog:
                await self.repos.dialogs.clear(user.id)
            return
        await self.repos.dialogs.save(
            user.id, dialog.name, dialog.step, dialog.data, dialog.token, now
        )

    def _context(self, event: Event, user: User, dialog: Dialog | None, now: datetime) -> Context:
        return Context(
            event=event,
            user=user,
            dialog=dialog,
            profile=self.profile,
            repos=self.repos,
            catalog=self.catalog,
            registry=self.registry,
            now=now,
            timezone=self.timezone,
            extras=self.extras,
        )

    async def _resolve_numbered_answer(self, event: Event) -> Event:
        """On platforms without buttons, '2' or a label chooses one of the offered options."""
        if event.platform not in self.numbered_platforms or event.text is None:
            return event
        answer = event.text.strip()
        if not answer or len(answer) > 200:
            return event
        key = (event.platform, event.chat_id)
        options = self._offered.get(key) or await self.repos.chat_options.load(*key)
        if not options:
            return event
        payload = None
        if answer.isascii() and answer.isdigit() and 1 <= int(answer) <= len(options):
            payload = options[int(answer) - 1][1]
        else:
            wanted = _comparable(answer)
            payload = next((p for label, p in options if _comparable(label) == wanted), None)
        if payload is None:
            return event
        return event.model_copy(update={"text": None, "button": payload})

    async def _dispatch(self, ctx: Context) -> tuple[Response, bool]:
        """The handler's response, and whether an untouched active dialog stays active."""
        event = ctx.event
        if event.command is not None:
            return await self._command(ctx)
        if event.button is not None:
            return await self._button(ctx)
        if ctx.dialog is not None:
            step = self.registry.steps.get(ctx.dialog.name)
            if step is not None:
                return await step(ctx), False
            log.warning("dropping dialog of unknown name=%s", ctx.dialog.name)
            ctx.dialog = None
        return await general.fallback(ctx), False

    async def _command(self, ctx: Context) -> tuple[Response, bool]:
        name = (ctx.event.command or "").lower()
        spec = self.registry.commands.get(name)
        allowed = (
            spec is not None
            and ctx.user.role.allows(spec.role)
            and (spec.platforms is None or ctx.event.platform in spec.platforms)
        )
        if spec is None or not allowed:
            # A resident trying a staff command hears the same as for a made-up one.
            return await general.unknown_command(ctx), True
        if spec.consent and not ctx.user.consented:
            return await general.consent_needed(ctx), True
        ctx.value = ctx.event.args
        return await spec.handler(ctx), spec.anytime

    async def _button(self, ctx: Context) -> tuple[Response, bool]:
        payload = ctx.event.button or ""
        if payload.startswith("~"):
            token, _, value = payload[1:].partition(":")
            dialog = ctx.dialog
            step = self.registry.steps.get(dialog.name) if dialog else None
            if dialog is None or step is None or token != dialog.token:
                return await general.stale_button(ctx), True
            ctx.value = value
            return await step(ctx), False
        name, _, value = payload.partition(":")
        action = self.registry.actions.get(name)
        if action is None or not ctx.user.role.allows(action.role):
            return await general.stale_button(ctx), True
        if action.consent and not ctx.user.consented:
            return await general.consent_needed(ctx), True
        ctx.value = value
        return await action.handler(ctx), True
