"""The one router: every event from every platform passes through here.

It serialises events per person (a burst of messages is handled in order), serves many
people at once, loads the person and their dialog, checks roles, consent and restrictions
in one place, picks the handler, and saves the new dialog in the same transaction as the
handler's writes.

The checks, in order, before any handler runs:

1. flood: more than the profile's ``messages_per_minute`` from one person (counted in
   memory) is refused before anything is read or written; staff are exempt;
2. role and consent of the command or button;
3. a ban: only the privacy commands (and features made of nothing else) stay open;
4. for what posts something (an idea, a comment, a proposal, a question): a mute, then the
   profile's ``ideas_per_day`` and ``comments_per_hour``, counted from what is stored.

A refusal says why and changes nothing: an active dialog stays where it was.

An event with a platform ``event_id`` is recorded as handled in the same transaction as the
handler's writes, with its replies until the platform confirmed them: an event seen again
after a crash is not handled twice, and replies the crash kept from being sent are sent then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter, ValidationError

from bot.flood import FloodGate, Verdict
from bot.render import numbered_options
from handlers.catalog import Catalog
from handlers.community import moderation
from handlers.contract import Dialog, Event, Reply, Response, Role, Timer
from handlers.feature import Context, Handler, Registry
from handlers.profile import Profile
from handlers.start import menu as general
from storage import Repositories, StorageUnavailable, StoredDialog, User
from storage.clock import utcnow
from storage.community.moderation import SanctionKind

log = logging.getLogger(__name__)

DIALOG_LIFETIME = timedelta(days=1)
#: A dialog an event left as it was is saved again (to keep it alive) after this long.
DIALOG_TOUCH = timedelta(minutes=10)
#: How long handled event ids are remembered (a replay comes within minutes of a crash).
HANDLED_LIFETIME = timedelta(days=7)
PRUNE_INTERVAL = timedelta(hours=1)
_REPLIES = TypeAdapter(list[Reply])
#: What a banned person may still do: read the privacy statement, get or erase their data
#: (and leave that dialog again).
BANNED_MAY_USE = frozenset({"privacy", "mijngegevens", "vergeetmij", "annuleer"})
#: The period each posting limit of the profile counts over (from stored rows).
POSTING_PERIODS = {"idea": timedelta(days=1), "comment": timedelta(hours=1)}

#: Sends the replies to one event back to the chat it came from.
Deliver = Callable[[Event, str, list[Reply]], Awaitable[None]]
#: Arms (or disarms) triggers once the transaction that stored their subject is committed.
ArmTimers = Callable[[list[Timer]], Awaitable[None]]


@dataclass
class _Outcome:
    lang: str
    replies: list[Reply]
    timers: list[Timer] = field(default_factory=list)
    #: The replies wait in handled_events until delivery confirms them.
    pending: bool = False


@dataclass(frozen=True)
class _Target:
    """The handler an event goes to, and what the checks need to know about it."""

    handler: Handler
    #: Whether an untouched active dialog stays active afterwards.
    keeps_dialog: bool
    #: What it posts (``idea``, ``comment``, ...), if anything.
    posts: str | None = None
    #: A command or button that starts something (not a step inside a dialog).
    entry: bool = False
    open_to_banned: bool = False


def _unchanged(stored: StoredDialog | None, dialog: Dialog) -> bool:
    """Whether ``dialog`` is exactly the dialog as stored (same step, data and token)."""
    return (
        stored is not None
        and (stored.name, stored.step, stored.token) == (dialog.name, dialog.step, dialog.token)
        and stored.data == dialog.data
    )


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
        self.flood = FloodGate(profile.limits.messages_per_minute)
        self._open_to_banned = _open_to_banned(registry)
        #: Set by the runtime when a scheduler runs; without one, timers wait for start-up.
        self.arm_timers: ArmTimers | None = None
        #: Facts only the runtime knows (``deep_link_base``: a bot's public start link).
        self.extras: dict[str, Any] = {}
        #: Options offered while nothing could be saved, so that '2' means what was shown.
        self._offered: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._pruned_at: datetime | None = None

    async def handle(self, event: Event, deliver: Deliver) -> None:
        """Handle one event and deliver its replies, in order with the person's other events."""
        self._in_flight += 1
        self._idle.clear()
        key = event.user_key
        await self.locks.acquire(key)
        try:
            verdict = self.flood.check(key, self.clock())
            outcome = await self._handle(event) if verdict is Verdict.ADMIT else None
            if outcome is None:
                outcome = await self._flooded(event, verdict)
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
                else:
                    if outcome.pending:
                        await self._delivered(event)
        finally:
            self.locks.release(key)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def drain(self) -> None:
        """Wait until every event that entered the router has been answered."""
        await self._idle.wait()

    async def _flooded(self, event: Event, verdict: Verdict) -> _Outcome:
        """Too many events from one person: staff go on; others hear it once a minute."""
        lang = self.catalog.language(event.sender.language_hint)
        try:
            user = await self.repos.users.find(event.platform, event.sender.platform_user_id)
        except Exception:
            log.exception("reading a flooding user failed platform=%s", event.platform)
            user = None
        if user is not None and user.role is not Role.RESIDENT:
            return await self._handle(event)
        log.info("flood refused platform=%s verdict=%s", event.platform, verdict.value)
        if verdict is Verdict.DROP:
            return _Outcome(lang, [])
        if user is not None and user.language:
            lang = user.language
        return _Outcome(lang, [Reply(key="flood.slow_down")])

    async def _handle(self, event: Event) -> _Outcome:
        lang = self.catalog.language(event.sender.language_hint)
        try:
            try:
                async with self.repos.db.transaction():
                    if event.event_id is not None:
                        handled = await self.repos.handled.find(event.platform, event.event_id)
                        if handled is not None:
                            return self._again(event, handled.lang or lang, handled.pending)
                    outcome = await self._handle_in_transaction(event, writable=True)
                    if event.event_id is not None:
                        await self._record(event, outcome)
                    return outcome
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

    def _again(self, event: Event, lang: str, pending: str | None) -> _Outcome:
        """An event handled before: send only the replies that were never confirmed."""
        log.info("event seen again platform=%s resend=%s", event.platform, pending is not None)
        if pending is None:
            return _Outcome(lang, [])
        try:
            replies = _REPLIES.validate_json(pending)
        except ValidationError:
            log.warning("stored replies unreadable platform=%s", event.platform)
            return _Outcome(lang, [])
        return _Outcome(lang, replies, pending=True)

    async def _record(self, event: Event, outcome: _Outcome) -> None:
        """Mark the event handled, keeping its replies until delivery confirms them."""
        assert event.event_id is not None
        now = self.clock()
        pending = _REPLIES.dump_json(outcome.replies).decode() if outcome.replies else None
        await self.repos.handled.record(
            event.platform, event.event_id, now, lang=outcome.lang, pending=pending
        )
        outcome.pending = pending is not None
        if self._pruned_at is None or now - self._pruned_at > PRUNE_INTERVAL:
            self._pruned_at = now
            await self.repos.handled.prune(now - HANDLED_LIFETIME)

    async def _delivered(self, event: Event) -> None:
        assert event.event_id is not None
        try:
            async with self.repos.db.transaction():
                await self.repos.handled.delivered(event.platform, event.event_id)
        except Exception:
            # Only costs a repeat of these replies if the same event is ever replayed.
            log.exception("could not mark replies delivered platform=%s", event.platform)

    async def _handle_in_transaction(self, event: Event, *, writable: bool) -> _Outcome:
        now = self.clock()
        arrival = await self.repos.arrivals.arrive(
            event.platform, event.sender.platform_user_id, now, writable=writable
        )
        user = arrival.user or self._stranger(event, now)
        stored = arrival.dialog
        dialog = Dialog(**stored.model_dump()) if stored else None
        expired = dialog is not None and (now - (dialog.updated_at or now)) > DIALOG_LIFETIME
        if expired:
            dialog = None
        event = await self._resolve_numbered_answer(event)
        ctx = self._context(event, user, dialog, now)

        response, keep_dialog = await self._dispatch(ctx, restricted=arrival.restricted)
        if expired and event.command is None and event.button is None:
            response.replies.insert(0, Reply(key="general.dialog_expired"))

        if response.end_dialog:
            next_dialog = None
        elif response.dialog is not None:
            next_dialog = response.dialog
        else:
            next_dialog = dialog if keep_dialog else None
        if writable:
            await self._save_dialog(user, stored, next_dialog, now)
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

    @staticmethod
    def _stranger(event: Event, now: datetime) -> User:
        """Someone new while nothing can be saved: a stranger without rights or data."""
        return User(
            id=0,
            platform=event.platform,
            platform_user_id=event.sender.platform_user_id,
            created_at=now,
            last_seen_at=now,
        )

    async def _save_dialog(
        self, user: User, stored: StoredDialog | None, dialog: Dialog | None, now: datetime
    ) -> None:
        """Write the dialog through; one left as it was is only touched now and then."""
        if dialog is None:
            if stored is not None:
                await self.repos.dialogs.clear(user.id)
            return
        if (
            stored is not None
            and _unchanged(stored, dialog)
            and now - stored.updated_at < DIALOG_TOUCH
        ):
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
            # "ja, ik doe mee" chooses "✅ Ja, ik doe mee": nobody types the emoji.
            wanted = _loose(answer)
            payload = next((p for label, p in options if _loose(label) == wanted), None)
        if payload is None:
            return event
        return event.model_copy(update={"text": None, "button": payload})

    async def _dispatch(self, ctx: Context, *, restricted: bool) -> tuple[Response, bool]:
        """The handler's response, and whether an untouched active dialog stays active.

        ``restricted``: whether a mute or ban is in force for the sender.
        """
        target = self._target(ctx)
        refusal = await self._restrictions(ctx, target, restricted)
        if refusal is not None:
            return refusal, True
        return await target.handler(ctx), target.keeps_dialog

    def _target(self, ctx: Context) -> _Target:
        """Where the event goes (setting ``ctx.value``), after role and consent checks."""
        event = ctx.event
        if event.command is not None:
            return self._command(ctx)
        if event.button is not None:
            return self._button(ctx)
        if ctx.dialog is not None:
            name = ctx.dialog.name
            spec = self.registry.dialogs.get(name)
            if spec is not None:
                return _Target(
                    spec.handle,
                    False,
                    posts=spec.posts,
                    open_to_banned=name in self._open_to_banned.dialogs,
                )
            log.warning("dropping dialog of unknown name=%s", name)
            ctx.dialog = None
        return _Target(general.fallback, False)

    def _command(self, ctx: Context) -> _Target:
        name = (ctx.event.command or "").lower()
        spec = self.registry.commands.get(name)
        allowed = (
            spec is not None
            and ctx.user.role.allows(spec.role)
            and (spec.platforms is None or ctx.event.platform in spec.platforms)
        )
        if spec is None or not allowed:
            # A resident trying a staff command hears the same as for a made-up one.
            return _Target(general.unknown_command, True)
        if spec.consent and not ctx.user.consented:
            return _Target(general.consent_needed, True)
        ctx.value = ctx.event.args
        return _Target(
            spec.handler,
            spec.anytime,
            posts=spec.posts,
            entry=True,
            open_to_banned=spec.handler in self._open_to_banned.handlers,
        )

    def _button(self, ctx: Context) -> _Target:
        payload = ctx.event.button or ""
        if payload.startswith("~"):
            token, _, value = payload[1:].partition(":")
            dialog = ctx.dialog
            spec = self.registry.dialogs.get(dialog.name) if dialog else None
            if dialog is None or spec is None or token != dialog.token:
                return _Target(general.stale_button, True)
            ctx.value = value
            return _Target(
                spec.handle,
                False,
                posts=spec.posts,
                open_to_banned=dialog.name in self._open_to_banned.dialogs,
            )
        name, _, value = payload.partition(":")
        action = self.registry.actions.get(name)
        if action is None or not ctx.user.role.allows(action.role):
            return _Target(general.stale_button, True)
        if action.consent and not ctx.user.consented:
            return _Target(general.consent_needed, True)
        ctx.value = value
        return _Target(
            action.handler,
            True,
            posts=action.posts,
            entry=True,
            open_to_banned=action.handler in self._open_to_banned.handlers
            or name in self._open_to_banned.actions,
        )

    async def _restrictions(
        self, ctx: Context, target: _Target, restricted: bool
    ) -> Response | None:
        """A ban, a mute or a posting limit that refuses this event, explained; else None.

        Only residents who consented can be restricted (staff never are). A mute is read
        from its stored end time, so one that has ended never blocks anyone.
        """
        user = ctx.user
        if not user.consented or user.role is not Role.RESIDENT:
            return None
        sanction = await self.repos.sanctions.active(user.id, ctx.now) if restricted else None
        if sanction is not None and sanction.kind is SanctionKind.BAN:
            return None if target.open_to_banned else moderation.banned_reply(ctx, sanction)
        if target.posts is None:
            return None
        if sanction is not None:
            return moderation.muted_reply(ctx, sanction, in_dialog=not target.entry)
        period = POSTING_PERIODS.get(target.posts)
        if not target.entry or period is None:
            return None
        since = ctx.now - period
        if target.posts == "idea":
            limit = self.profile.limits.ideas_per_day
            count, first = await self.repos.activity.ideas_since(user.id, since)
        else:
            limit = self.profile.limits.comments_per_hour
            count, first = await self.repos.activity.comments_since(user.id, since)
        if count < limit or first is None:
            return None
        return moderation.posting_limit_reply(ctx, target.posts, limit, first + period)


@dataclass(frozen=True)
class _BannedMayUse:
    """What stays open to a banned person, worked out once from the registry."""

    handlers: frozenset[Handler]
    actions: frozenset[str]
    dialogs: frozenset[str]


def _open_to_banned(registry: Registry) -> _BannedMayUse:
    """The privacy commands (and their aliases and buttons), and every button and dialog
    of a feature that consists of nothing but those commands (getting or erasing one's
    data may take a confirmation)."""
    handlers = frozenset(
        spec.handler for name, spec in registry.commands.items() if name in BANNED_MAY_USE
    )
    actions: set[str] = set()
    dialogs: set[str] = set()
    for feature in registry.features:
        commands = feature.commands.values()
        if commands and all(spec.handler in handlers for spec in commands):
            actions.update(feature.actions)
            dialogs.update(feature.dialogs)
    return _BannedMayUse(handlers, frozenset(actions), frozenset(dialogs))


def _loose(text: str) -> str:
    """Text reduced to its words: lower case, without emoji and punctuation."""
    kept = "".join(ch for ch in text.casefold() if ch.isalnum() or ch.isspace())
    return " ".join(kept.split())
