"""The one router: every event from every platform passes through here.

It serialises events per person (a burst of messages is handled in order), serves many
people at once, loads the person and their dialog, checks roles, consent and restrictions
in one place, picks the handler, and saves the new dialog in the same transaction as the
handler's writes.

It knows no feature: each command, action and dialog comes with the policy its feature
declared (:class:`handlers.feature.Policy`), and features register the gates, posting limits
and fallback answers it uses. The checks, in order, before any handler runs:

1. flood: more than the profile's ``messages_per_minute`` from one person (counted in
   memory, an album as one message) is refused before anything is read or written;
   staff are exempt;
2. a group chat or room gets a short answer pointing to a private chat, and nothing else,
   except a command its feature declared for groups (``in_groups``: an experiment's room)
   and a newcomer's welcome; these pass the role check and the gates, and a gate's
   refusal (personal: a ban) is answered with the same short word;
3. the person's open dialog: one whose role or consent they no longer have is dropped,
   with a short word (the role is read from the database at every event);
4. role and consent of the command, button or dialog step;
5. the registered gates (moderation: a ban, a mute, the posting limits).

A refusal says why and changes nothing: an active dialog stays where it was, unless the
person may no longer hold it. A dialog step that raises is rolled back and its dialog
dropped, and a stored dialog that cannot be read at all is dropped as the event comes in
(a dialog stored by another version of the code must not jam the person).

An event with a platform ``event_id`` is recorded as handled in the same transaction as the
handler's writes, with its replies until the platform confirmed them: an event seen again
after a crash is not handled twice, and replies the crash kept from being sent are sent then.
Several messages sent as one (an album of photos: :attr:`Event.album`) are read as one:
the first is handled; the others change nothing and get no answer, except that where a
dialog took the first photo the person hears once that only that one was kept. Where the
first is no photo (a video, a file that is no picture) and met a step that takes one, the
album's first photo is handled as well, and counts as its first. The first is remembered
beside the handled event ids, so this holds after a restart too.

Replies the platform could not take for a moment (it was down, or asked the chat to wait:
:class:`Undelivered`) are handed to the person's outbox in one transaction with that record,
and delivery sends them with its retries: the person's dialog has moved on, so the question
it asks must reach them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter, ValidationError

from bot.flood import FloodGate, Verdict
from bot.render import numbered_options
from handlers.catalog import Catalog
from handlers.contract import (
    Dialog,
    Event,
    Installation,
    Platform,
    Reply,
    Response,
    Role,
    Timer,
    given_back,
)
from handlers.feature import (
    SESSION_LANGUAGE,
    Context,
    Fallback,
    Policy,
    Registry,
    Target,
    keeping_session_language,
    take_confirmation,
)
from handlers.profile import Profile
from storage import REPLY_KIND, Option, Repositories, StorageUnavailable, StoredDialog, User
from storage.clock import utcnow

log = logging.getLogger(__name__)

DIALOG_LIFETIME = timedelta(days=1)
#: A dialog an event left as it was is saved again (to keep it alive) after this long.
DIALOG_TOUCH = timedelta(minutes=10)
#: How long handled event ids are remembered (a replay comes within minutes of a crash).
HANDLED_LIFETIME = timedelta(days=7)
PRUNE_INTERVAL = timedelta(hours=1)
_REPLIES = TypeAdapter(list[Reply])
#: What every platform takes for a command's name (Telegram's rule for ``/command``).
_COMMAND_NAME = re.compile(r"[A-Za-z0-9_]+")
#: What changes how an emoji looks, not which it is: its text or emoji form, a skin tone.
#: An option's number as typed: "2", as shown ("[2]"), or as in a list ("2.", "2)", "(2)").
_OPTION_NUMBER = re.compile(r"\[\s*(\d+)\s*\]|\(\s*(\d+)\s*\)|(\d+)\s*[.)]?")
_EMOJI_FORMS = frozenset("\ufe0e\ufe0f\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff")

#: Sends the replies to one event back to the chat it came from.
Deliver = Callable[[Event, str, list[Reply]], Awaitable[None]]
#: Arms (or disarms) triggers once the transaction that stored their subject is committed.
ArmTimers = Callable[[list[Timer]], Awaitable[None]]


class Undelivered(Exception):
    """Raised by a :data:`Deliver` when the platform could not take replies now (unreachable
    for a moment, an error on its side, a long "slow down"), as opposed to refusing them.

    Args:
        replies: the replies still to send, from the one that failed on.
        delivered: calls of the first of them that did arrive (as ``DeliveryError``'s).
        dedupe_key: the key they were sent under, where the platform recognises a repeat
            by it (Matrix transaction ids): sent again under it, what arrived is not
            posted twice.
    """

    def __init__(
        self,
        replies: list[Reply],
        reason: str = "",
        *,
        delivered: int = 0,
        dedupe_key: str | None = None,
    ):
        super().__init__(reason)
        self.replies = replies
        self.delivered = delivered
        self.dedupe_key = dedupe_key


@dataclass
class _Outcome:
    lang: str
    replies: list[Reply]
    timers: list[Timer] = field(default_factory=list)
    #: The replies wait in handled_events until delivery confirms them.
    pending: bool = False
    #: A photo the event carried was taken by the person's dialog (it moved on with it).
    took_photo: bool = False
    #: Something other than a photo (a video, a file that is no picture) came to a step
    #: that takes a photo, and the step still waits for one.
    waits_for_photo: bool = False


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
        installation: Installation | None = None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.repos = repos
        self.registry = registry
        self.profile = profile
        self.catalog = catalog
        self.timezone = timezone
        #: What handlers may know of the runtime; adapters declare their platform in it.
        self.installation = installation or Installation()
        self.clock = clock
        self.locks = _UserLocks()
        self.flood = FloodGate(profile.limits.messages_per_minute)
        #: Set by the runtime when a scheduler runs; without one, timers wait for start-up.
        self.arm_timers: ArmTimers | None = None
        #: Options offered while nothing could be saved, so that '2' means what was shown.
        self._offered: dict[tuple[str, str], list[Option]] = {}
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._pruned_at: datetime | None = None
        #: Private chats that had replies handed to the outbox which may still wait there
        #: (read from the outbox at the first event; a chat leaves once none is pending).
        self._chats_behind: set[tuple[str, str]] | None = None

    def declare(self, platform: Platform) -> None:
        """An adapter says what its platform offers (numbered options, limits, links)."""
        self.installation = self.installation.with_platform(platform)

    async def handle(self, event: Event, deliver: Deliver) -> None:
        """Handle one event and deliver its replies, in order with the person's other events."""
        self._in_flight += 1
        self._idle.clear()
        key = event.user_key
        await self.locks.acquire(key)
        try:
            verdict = self.flood.check(key, self.clock(), event.album)
            outcome = await self._handle(event) if verdict is Verdict.ADMIT else None
            if outcome is None:
                outcome = await self._flooded(event, verdict)
            if outcome.timers and self.arm_timers is not None:
                try:
                    await self.arm_timers(outcome.timers)
                except Exception:
                    log.exception("arming timers failed")
            if outcome.replies and await self._behind_waiting_reply(event):
                # Sent now, they would arrive before the older reply, and the person would
                # see last a question whose numbers are no longer the stored ones.
                await self._hand_over(event, outcome, Undelivered(outcome.replies), queued=True)
            elif outcome.replies:
                try:
                    await deliver(event, outcome.lang, outcome.replies)
                except Undelivered as unsent:
                    await self._hand_over(event, outcome, unsent)
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
        lang = self._hinted_language(event)
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
        if user is not None and not event.is_group:
            lang = await self._read_in(user, lang)
        return _Outcome(lang, [Reply(key="flood.slow_down")])

    async def _read_in(self, user: User, lang: str) -> str:
        """The language a person reads, without handling their event: theirs, else the one
        chosen for this conversation before consent (see :attr:`Context.lang`), else
        ``lang``."""
        if self.catalog.speaks(user.language):
            return str(user.language)
        try:
            stored = await self.repos.dialogs.load(user.id)
        except Exception:
            log.exception("reading a flooding user's dialog failed")
            return lang
        if stored is None or self.clock() - stored.updated_at > DIALOG_LIFETIME:
            return lang
        chosen = stored.data.get(SESSION_LANGUAGE)
        return str(chosen) if isinstance(chosen, str) and self.catalog.speaks(chosen) else lang

    def _hinted_language(self, event: Event) -> str:
        """The language to answer in before the person is read: their app's, but in a group
        the default language, as everything there (see :attr:`Context.lang`)."""
        if event.is_group:
            return self.catalog.default
        return self.catalog.language(event.sender.language_hint)

    async def _handle(self, event: Event) -> _Outcome:
        lang = self._hinted_language(event)
        try:
            try:
                async with self.repos.db.transaction():
                    if event.event_id is not None:
                        handled = await self.repos.handled.find(event.platform, event.event_id)
                        if handled is not None:
                            return self._again(event, handled.lang or lang, handled.pending)
                    later = await self._later_in_album(event, lang)
                    if later is not None:
                        if event.event_id is not None:
                            await self._record(event, later)
                        return later
                    outcome = await self._handle_in_transaction(event, writable=True)
                    if event.event_id is not None:
                        await self._record(event, outcome)
                    await self._album_begun(event, outcome)
                    return outcome
            except _StepFailed as failed:
                # Rolled back. Drop the dialog, or every later message would fail the same.
                log.error(
                    "dialog step failed, dialog dropped name=%s step=%s",
                    failed.dialog.name,
                    failed.dialog.step,
                    exc_info=failed.__cause__,
                )
                async with self.repos.db.transaction():
                    outcome = await self._dropped(failed)
                    if event.event_id is not None:
                        await self._record(event, outcome)
                    # The rest of the album meets no dialog now: it is no new message.
                    await self._album_begun(event, outcome)
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
            return _Outcome(await self._sender_reads(event, lang), [Reply(key="errors.storage")])
        except Exception:
            log.exception("handler failed platform=%s", event.platform)
            return _Outcome(await self._sender_reads(event, lang), [Reply(key="errors.sorry")])

    async def _sender_reads(self, event: Event, lang: str) -> str:
        """The language of an apology: the one the person reads (their app's, ``lang``, in
        a group or when they cannot be read)."""
        if event.is_group:
            return lang
        try:
            user = await self.repos.users.find(event.platform, event.sender.platform_user_id)
        except Exception:
            return lang
        return lang if user is None else await self._read_in(user, lang)

    async def _dropped(self, failed: _StepFailed) -> _Outcome:
        """After a failed step: the dialog is cleared and the person told it stopped."""
        ctx = replace(failed.ctx, user=failed.user, dialog=None, value="")
        await self.repos.dialogs.clear(ctx.user.id)
        await self.repos.media.drop_left_behind(failed.dialog.data)
        response = await self._fallback(ctx, Fallback.DIALOG_DROPPED)
        return _Outcome(ctx.lang, [*response.replies, *given_back(ctx.event)])

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
            event.platform,
            event.event_id,
            now,
            lang=outcome.lang,
            pending=pending,
            sender=event.sender.platform_user_id,
        )
        outcome.pending = pending is not None
        if self._pruned_at is None or now - self._pruned_at > PRUNE_INTERVAL:
            self._pruned_at = now
            await self.repos.handled.prune(now - HANDLED_LIFETIME)

    async def _later_in_album(self, event: Event, lang: str) -> _Outcome | None:
        """A message sent together with others as one (an album of photos) after the first
        of them was handled: it changes nothing and gets no answer of its own, or the
        later photos would be read as answers to the questions the first one led to. Only
        the first of them hears, where a step took the first photo, that the others were
        not kept; text written with one of them comes back, as with any photo. None for
        any other event (it is handled as usual)."""
        if event.album is None:
            return None
        marker = _album_marker(event.album)
        first = await self.repos.handled.find(event.platform, marker)
        if first is None:
            return None
        kept = await self.repos.handled.find(event.platform, f"{marker}:kept")
        if kept is None and event.photo is not None and await self._photo_still_wanted(event):
            return None  # the album's first photo where its first item was none
        lang = first.lang or lang
        replies = []
        told = f"{marker}:told"
        if kept is not None and await self.repos.handled.find(event.platform, told) is None:
            await self.repos.handled.record(
                event.platform, told, self.clock(), sender=event.sender.platform_user_id
            )
            replies.append(Reply(key="general.album_first_kept"))
        if event.caption and not event.is_group:
            # Written with one of the other photos: given back, as with any photo.
            replies.append(Reply(key="general.caption_given_back", params={"text": event.caption}))
        return _Outcome(lang, replies)

    async def left_in_album(self, platform: str, album: str) -> bool:
        """Whether a later message of ``album`` will be left as it is, whatever it holds
        (its first message was handled, and no step still waits for its first photo): an
        adapter then need not fetch the photo it brings. Once true it stays true; false
        where it cannot be read (the photo is then fetched, as any other)."""
        marker = _album_marker(album)
        try:
            async with self.repos.db.committed():
                if await self.repos.handled.find(platform, marker) is None:
                    return False
                if await self.repos.handled.find(platform, f"{marker}:kept") is not None:
                    return True
                if await self.repos.handled.find(platform, f"{marker}:waits") is None:
                    return True
                return await self.repos.handled.find(platform, f"{marker}:tried") is not None
        except Exception:
            log.exception("reading an album failed platform=%s", platform)
            return False

    async def _photo_still_wanted(self, event: Event) -> bool:
        """Whether the album's first item was no photo (a video, a file that is no
        picture) and came to a step that takes one, which still waits for it: then its
        first photo is handled as usual, so it is not lost with the rest. Only one photo
        is tried so: should that one not be taken either, the album is done."""
        marker = _album_marker(event.album or "")
        waits = await self.repos.handled.find(event.platform, f"{marker}:waits")
        if waits is None:
            return False
        if await self.repos.handled.find(event.platform, f"{marker}:tried") is not None:
            return False
        # The step may have gone on meanwhile (another album's photo sent with it was
        # taken): then this photo answers no question, and is left as the rest.
        person = await self.repos.users.find(event.platform, event.sender.platform_user_id)
        stored = await self.repos.dialogs.load(person.id) if person is not None else None
        return stored is not None and self.registry.takes_photo(Dialog(**stored.model_dump()))

    async def _album_begun(self, event: Event, outcome: _Outcome) -> None:
        """Remember the first message of an album as handled (and whether a step took its
        photo, or still waits for one), with the person's other handled events: the rest
        of the album is then recognised, after a restart too, and erased with the person.
        For the album's photo handled after a first item that was none: whether it was
        taken, and that it was tried."""
        if event.album is None:
            return
        marker = _album_marker(event.album)
        sender = event.sender.platform_user_id
        now = self.clock()
        if await self.repos.handled.find(event.platform, marker) is None:
            await self.repos.handled.record(
                event.platform, marker, now, lang=outcome.lang, sender=sender
            )
            if outcome.waits_for_photo:
                await self.repos.handled.record(
                    event.platform, f"{marker}:waits", now, sender=sender
                )
        elif await self.repos.handled.find(event.platform, f"{marker}:tried") is None:
            await self.repos.handled.record(event.platform, f"{marker}:tried", now, sender=sender)
        if outcome.took_photo:
            await self.repos.handled.record(event.platform, f"{marker}:kept", now, sender=sender)

    async def _behind_waiting_reply(self, event: Event) -> bool:
        """Whether replies handed to the outbox before still wait there for this chat: new
        replies then go behind them, so the person sees them in the order they were given.

        Known from memory for nearly every event; only a chat that had replies handed over
        is looked up, until none of them is pending any more.
        """
        if event.is_group:
            return False
        key = (event.platform, event.chat_id)
        try:
            if self._chats_behind is None:
                async with self.repos.db.committed():
                    self._chats_behind = await self.repos.outbox.chats_waiting_for(REPLY_KIND)
            if key not in self._chats_behind:
                return False
            async with self.repos.db.committed():
                waiting = await self.repos.outbox.chat_waits_for(*key, REPLY_KIND)
        except Exception:
            log.exception("reading the outbox failed platform=%s", event.platform)
            return False
        if not waiting:
            self._chats_behind.discard(key)
        return waiting

    async def _hand_over(
        self, event: Event, outcome: _Outcome, unsent: Undelivered, *, queued: bool = False
    ) -> None:
        """Replies the platform could not take now go to the person's outbox, and the event
        is no longer waiting for them: delivery sends them with its backoff and pacing.

        ``queued``: not tried at all, because earlier replies to the chat wait there.
        """
        if queued:
            log.info(
                "replies queued behind replies waiting in the outbox platform=%s replies=%d",
                event.platform,
                len(unsent.replies),
            )
        else:
            log.warning(
                "replies not delivered now, handed to the outbox platform=%s replies=%d error=%s",
                event.platform,
                len(unsent.replies),
                unsent,
            )
        if event.is_group or not unsent.replies:
            return  # the outbox reaches a person's private chat only
        payload = _REPLIES.dump_python(unsent.replies, mode="json")
        try:
            async with self.repos.db.transaction():
                user = await self.repos.users.find(event.platform, event.sender.platform_user_id)
                if user is None:
                    return  # nothing could be saved: sent again if the event comes again
                await self.repos.outbox.hand_over(
                    user.id,
                    event.platform,
                    event.chat_id,
                    payload,
                    kind=REPLY_KIND,
                    now=self.clock(),
                    language=outcome.lang,
                    parts_sent=unsent.delivered,
                    dedupe_key=unsent.dedupe_key,
                )
                if outcome.pending:
                    assert event.event_id is not None
                    await self.repos.handled.delivered(event.platform, event.event_id)
        except Exception:
            log.exception("could not hand replies to the outbox platform=%s", event.platform)
        else:
            if self._chats_behind is not None:
                self._chats_behind.add((event.platform, event.chat_id))

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
        # In a group nothing about the person is created or touched: it is not their chat.
        arrival = await self.repos.arrivals.arrive(
            event.platform,
            event.sender.platform_user_id,
            now,
            writable=writable and not event.is_group,
        )
        user = arrival.user or self._stranger(event, now)
        if writable and not event.is_group and user.consented and user.chat_id != event.chat_id:
            # Reached from now on in the private chat they write from (a new direct chat on
            # Matrix; on Telegram this repairs a group stored as their chat by older code).
            await self.repos.users.move_chat(user.id, event.chat_id, now)
            user = user.model_copy(update={"chat_id": event.chat_id})
        stored = None if event.is_group else arrival.dialog
        unreadable = arrival.unreadable_dialog is not None and not event.is_group
        if unreadable:
            # Stored by another version, or damaged: dropped like a dialog no feature
            # declares, or the person would get an apology for everything they send.
            log.warning(
                "dropping a stored dialog that cannot be read: %s", arrival.unreadable_dialog
            )
            if writable:
                await self.repos.dialogs.clear(user.id)
        dialog = Dialog(**stored.model_dump()) if stored else None
        expired = dialog is not None and (now - (dialog.updated_at or now)) > DIALOG_LIFETIME
        if expired:
            dialog = None
        event = self._typed_slash(event)
        event = await self._resolve_numbered_answer(event, typed=self.registry.typed(dialog))
        event, thrown_away = self.registry.take_discard(event, dialog)
        if thrown_away is not None:
            dialog = None
        ctx = self._context(event, user, dialog, now, sanctioned=arrival.restricted)
        ctx.away_since = None if event.is_group else arrival.away_since

        try:
            response, keep_dialog = await self._dispatch(ctx, dropped=unreadable)
        except _StepFailed as failed:
            failed.user = user
            raise
        if expired and event.command is None and event.button is None:
            notice = await self._fallback(ctx, Fallback.DIALOG_EXPIRED)
            response.replies[:0] = notice.replies
        if thrown_away is not None:
            response.replies.insert(0, self.registry.discarded(ctx, thrown_away))
        if event.caption and not event.is_group:
            # Written with a photo or a file: no step reads it, so it goes back to them.
            given_back = Reply(key="general.caption_given_back", params={"text": event.caption})
            response.replies.insert(0, given_back)
        if ctx.away_since is not None:
            # Back after the bot could not reach them: first what they missed (after the
            # handler, so that what this event changed counts), then the answer to it.
            response.replies[:0] = await self._welcome_back(ctx)

        if response.end_dialog:
            next_dialog = None
        elif response.dialog is not None:
            next_dialog = response.dialog
        else:
            next_dialog = ctx.dialog if keep_dialog else None
        if event.is_group:
            pass  # the person's own dialog (in their private chat) is not this chat's
        elif writable:
            next_dialog = await self._keeping_session_language(ctx, dialog, next_dialog)
            await self._save_dialog(user, stored, next_dialog, now)
        elif next_dialog is not None and not _unchanged(stored, next_dialog):
            # The person would be one step further than what is stored: say it cannot
            # be saved rather than ask a question whose answer would meet the old step.
            raise StorageUnavailable("the next dialog step cannot be saved")

        # ctx.lang, not lang from before: the person may have chosen a language just now.
        lang = ctx.lang
        replies = response.replies
        if ctx.platform.numbered_options and self.registry.typed(next_dialog):
            replies = _by_label(replies)
        await self._offer_numbered_options(ctx, replies, writable=writable)
        # A photo is taken where the dialog it answered went on with it (the next question,
        # the preview, another project's photo); a step that did not want it asks again,
        # and a dialog the person may no longer hold is dropped.
        took_photo = (
            event.photo is not None
            and dialog is not None
            and next_dialog is not None
            and not _unchanged(stored, next_dialog)
        )
        waits_for_photo = (
            event.unsupported is not None
            and next_dialog is not None
            and self.registry.takes_photo(next_dialog)
        )
        return _Outcome(
            lang, replies, response.timers, took_photo=took_photo, waits_for_photo=waits_for_photo
        )

    async def _welcome_back(self, ctx: Context) -> list[Reply]:
        """What a person who comes back missed (the feature that answers it decides). It
        reads, and last marks what it shows as shown: should it fail before, the event is
        answered without it and nothing was marked."""
        try:
            return (await self._fallback(ctx, Fallback.RETURNED)).replies
        except StorageUnavailable:
            raise
        except Exception:
            log.exception("telling a returning person what they missed failed")
            return []

    async def _offer_numbered_options(
        self, ctx: Context, replies: list[Reply], *, writable: bool
    ) -> None:
        """Remember the options shown as numbers, so that '2' later means what was shown;
        an answer without options forgets the ones before.

        Not in a group: a number typed there chooses nothing (only commands are answered
        there), and what the room's person was offered while it was her private chat stays
        hers (her husband, looking along, asks the bot something and leaves: her "1" still
        means what it meant).
        """
        event = ctx.event
        if not ctx.platform.numbered_options or not replies or event.is_group:
            return
        options = [
            (self.catalog.label(ctx.lang, button), button.payload, True)
            for button in numbered_options(replies)
        ]
        key = (event.platform, event.chat_id)
        if writable:
            await self.repos.chat_options.save(event.platform, event.chat_id, options, ctx.now)
            self._offered.pop(key, None)
        else:
            self._offered[key] = options

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

    async def _keeping_session_language(
        self, ctx: Context, before: Dialog | None, after: Dialog | None
    ) -> Dialog | None:
        """The next dialog, holding the language chosen for the conversation before
        consent (see :func:`handlers.feature.keeping_session_language`); nothing is kept
        for someone who has just been erased."""
        kept = keeping_session_language(ctx.user, before, after)
        if after is None and kept is not None and await self.repos.users.get(ctx.user.id) is None:
            return None
        return kept

    async def _save_dialog(
        self, user: User, stored: StoredDialog | None, dialog: Dialog | None, now: datetime
    ) -> None:
        """Write the dialog through; one left as it was is only touched now and then.

        Pictures the stored dialog held and this one no longer does (replaced, or the
        dialog stopped or expired) are deleted unless something else refers to them (the
        idea just sent in with it does).
        """
        if dialog is None:
            if stored is not None:
                await self.repos.dialogs.clear(user.id)
        elif (
            stored is None
            or not _unchanged(stored, dialog)
            or now - stored.updated_at >= DIALOG_TOUCH
        ):
            await self.repos.dialogs.save(
                user.id, dialog.name, dialog.step, dialog.data, dialog.token, now
            )
        if stored is not None and stored.data != (dialog.data if dialog else None):
            await self.repos.media.drop_left_behind(stored.data, dialog.data if dialog else None)

    def _context(
        self, event: Event, user: User, dialog: Dialog | None, now: datetime, *, sanctioned: bool
    ) -> Context:
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
            installation=self.installation,
            sanctioned=sanctioned,
        )

    async def _resolve_numbered_answer(self, event: Event, *, typed: bool = False) -> Event:
        """On platforms without buttons, '2' or a label chooses one of the offered options.

        ``typed``: the dialog's step waits for text or a number, so a number typed is that
        answer; an option is chosen there by its label alone.
        """
        numbered = self.installation.platform(event.platform).numbered_options
        if not numbered or event.text is None:
            return event
        answer = event.text.strip()
        if not answer or len(answer) > 200:
            return event
        key = (event.platform, event.chat_id)
        options = self._offered.get(key) or await self.repos.chat_options.load(*key)
        if not options:
            return event
        payload = None
        if typed:
            payload = None
        elif (typed_number := _OPTION_NUMBER.fullmatch(answer)) is not None:
            # Only what was shown with a number (an outbox message's options that came in
            # the middle of a dialog were shown by name only). Digits of any script count
            # ("٢" from an Arabic keyboard is 2); "²" is no decimal digit. Typed as shown
            # ("[2]") or as in a list ("2.", "2)") it is the same number.
            number = int(next(group for group in typed_number.groups() if group))
            by_number = [option for _, option, shown in options if shown]
            if 1 <= number <= len(by_number):
                payload = by_number[number - 1]
        if payload is None:
            # "ja, ik doe mee" chooses "✅ Ja, ik doe mee": nobody types the emoji.
            wanted = _loose(answer)
            if wanted:
                payload = next((p for label, p, _ in options if _loose(label) == wanted), None)
            else:
                # No words typed ("👎", "?", "…"): they would match every label of emoji
                # alone, and choose the first ("👍"). Such a label is chosen by its symbols.
                symbols = _symbols(answer)
                chosen = [p for label, p, _ in options if _symbols(label) == symbols]
                payload = chosen[0] if symbols and len(chosen) == 1 else None
        if payload is None:
            return event
        return event.model_copy(update={"text": None, "button": payload})

    async def _dispatch(self, ctx: Context, *, dropped: bool = False) -> tuple[Response, bool]:
        """The handler's response, and whether an untouched active dialog stays active.

        ``dropped``: the person's stored dialog was dropped already (it could not be read).
        """
        if ctx.event.is_group:
            # A group is never a person's chat: no dialog, no onboarding, nothing personal;
            # only commands declared for groups (an experiment's room) and a newcomer's
            # welcome are answered there, with the same role checks and gates.
            group_target = self._group_target(ctx)
            if group_target is None:
                return await self._fallback(ctx, Fallback.IN_GROUP), True
            if not ctx.event.joined:
                for gate in self.registry.gates:
                    if await gate(ctx, group_target) is not None:
                        # Why (a ban, a mute) is personal: said in private only.
                        return await self._fallback(ctx, Fallback.IN_GROUP), True
            return await group_target.handler(ctx), True
        held = ctx.dialog
        lost = self.registry.lost_role(ctx.user, held.name) if held is not None else None
        dropped = self._drop_unheld_dialog(ctx) or dropped
        target = self._target(ctx)
        if not dropped:
            return await self._pass(ctx, target)
        if lost is not None:
            # Their role was revoked while it was open: said plainly, not as "expired".
            notice = await self._role_lost(ctx, lost)
        else:
            notice = await self._fallback(ctx, Fallback.DIALOG_DROPPED)
        # What they wrote at its steps comes back with the word (a role revoked while they
        # wrote), whatever they sent next: a command or another button as well.
        written = []
        if held is not None and ctx.dialog is None:
            written = self.registry.written(held.name, held.data)
        if not target.starts:
            # Text or a button meant for the dropped dialog: the word is the answer, and
            # what they typed for it comes back too.
            notice.replies.extend(written)
            notice.replies.extend(given_back(ctx.event))
            return notice, False
        response, keep = await self._pass(ctx, target)
        words = [*notice.replies, *written]
        response.replies[:0] = [r.model_copy(update={"buttons": []}) for r in words]
        return response, keep

    async def _pass(self, ctx: Context, target: Target) -> tuple[Response, bool]:
        """Run ``target`` unless a gate refuses it. A refusal changes nothing, except that
        a dialog the person may no longer hold (a ban) is dropped."""
        for gate in self.registry.gates:
            refusal = await gate(ctx, target)
            if refusal is not None:
                if refusal.drops_dialog and target.dialog is not None:
                    ctx.dialog = None
                return refusal.response, True
        dialog = ctx.dialog
        if target.dialog is None or dialog is None:
            return await self._beside_draft(ctx, target)
        try:
            return await target.handler(ctx), target.keeps_dialog
        except StorageUnavailable:
            raise
        except Exception as exc:
            raise _StepFailed(ctx, dialog) from exc

    async def _beside_draft(self, ctx: Context, target: Target) -> tuple[Response, bool]:
        """Run a command or button that is not a step of the open dialog; an open draft
        stays, with the way back to it (the registry's rules, see handlers/drafts.py)."""
        open_dialog = ctx.dialog
        draft = self.registry.draft(open_dialog)
        stays = self.registry.stays(open_dialog)
        response = await target.handler(ctx)
        if draft is None or ctx.event.is_group or response.end_dialog:
            keep = target.keeps_dialog or stays
            if draft is None:
                # A dialog that is no draft (nobody was asked first) may still hold what
                # the person wrote: it comes back rather than going without a word.
                left = self.registry.left_behind(open_dialog, response, kept=keep)
                if left:
                    # A copy: a handler may hand back a response it keeps and reuses.
                    replies = [*left, *response.replies]
                    response = response.model_copy(update={"replies": replies})
            return response, keep
        return self.registry.beside_draft(ctx, draft, response, starts=target.starts), True

    def _group_target(self, ctx: Context) -> Target | None:
        """In a group: a newcomer's welcome, or a command declared for groups (after its
        role check, from the database); None for everything else."""
        event = ctx.event
        if event.joined:
            return self._answer(Fallback.JOINED_ROOM)
        if event.command is None:
            return None
        spec = self.registry.commands.get(event.command.lower())
        if spec is None or not spec.in_groups:
            return None
        target = self._command(ctx)
        return target if target.starts else None

    def _drop_unheld_dialog(self, ctx: Context) -> bool:
        """Drop the person's dialog if they may no longer hold it: its role was revoked,
        consent withdrawn, or no feature declares it any more."""
        dialog = ctx.dialog
        if dialog is None or self.registry.may_hold(ctx.user, dialog.name):
            return False
        log.info("dropping a dialog the person may not hold name=%s", dialog.name)
        ctx.dialog = None
        return True

    async def _role_lost(self, ctx: Context, role: Role) -> Response:
        """The word for a dialog dropped because the person is no longer ``role``; the
        target's ``ctx.value`` is kept for it."""
        value = ctx.value
        ctx.value = role.value
        try:
            return await self._fallback(ctx, Fallback.ROLE_LOST)
        finally:
            ctx.value = value

    def _target(self, ctx: Context) -> Target:
        """Where the event goes (setting ``ctx.value``), after role and consent checks."""
        event = ctx.event
        if event.command is not None:
            return self._command(ctx)
        if event.button is not None:
            return self._button(ctx)
        if ctx.dialog is not None:
            return self._step(ctx.dialog)
        return self._answer(Fallback.NOT_UNDERSTOOD, keeps_dialog=False)

    def names_command(self, name: str) -> bool:
        """Whether ``/name`` is a command: a name every platform takes for one (ASCII
        letters, digits, ``_``), or one of ours with other letters (``/ideeën``); else a
        slash before a word, typed as text (see :meth:`_typed_slash`)."""
        return bool(_COMMAND_NAME.fullmatch(name)) or name.lower() in self.registry.commands

    def _typed_slash(self, event: Event) -> Event:
        """A slash before a word of other letters that names no command ("/één keer nog",
        "/ça va") as the text it is: Telegram takes only ``/`` with ASCII letters, digits
        and ``_`` for a command, and so does every platform here, except for our own
        commands with other letters (``/ideeën``)."""
        name = event.command
        if name is None or self.names_command(name):
            return event
        text = event.written or f"/{name} {event.args}".rstrip()
        return event.model_copy(
            update={"command": None, "args": "", "written": None, "text": text}
        )

    def _answer(self, kind: Fallback, *, keeps_dialog: bool = True) -> Target:
        """The registered answer for what no feature's entry claims."""
        return Target(
            self.registry.fallback(kind),
            FALLBACK_POLICY,
            keeps_dialog=keeps_dialog,
            starts=False,
        )

    def _step(self, dialog: Dialog) -> Target:
        spec = self.registry.dialogs[dialog.name]
        return Target(spec.handle, spec.policy, keeps_dialog=False, starts=False, dialog=spec.name)

    def _command(self, ctx: Context) -> Target:
        name = (ctx.event.command or "").lower()
        spec = self.registry.commands.get(name)
        allowed = (
            spec is not None
            and ctx.user.role.allows(spec.policy.role)
            and (spec.platforms is None or ctx.event.platform in spec.platforms)
        )
        if spec is None or not allowed:
            # A resident trying a staff command hears the same as for a made-up one.
            return self._words_back(ctx, self._answer(Fallback.UNKNOWN_COMMAND))
        if spec.policy.consent and not ctx.user.consented:
            return self._answer(Fallback.CONSENT_NEEDED)  # it gives the words back itself
        ctx.value = ctx.event.args
        target = Target(spec.handler, spec.policy, keeps_dialog=spec.anytime, starts=True)
        return target if spec.words else self._words_back(ctx, target)

    def _words_back(self, ctx: Context, target: Target) -> Target:
        """``target`` for a command whose answer does not read what was typed after it:
        what its feature says of those words (a sentence comes back) goes above the
        answer, so nothing typed is dropped without a word. Not in a group, where the
        person's words are on screen already."""
        if ctx.event.is_group or not ctx.event.args.strip():
            return target
        said = self.registry.fallback(Fallback.WORDS_NOT_USED)

        async def answer(ctx: Context) -> Response:
            back = await said(ctx)
            response = await target.handler(ctx)
            return response.model_copy(update={"replies": [*back.replies, *response.replies]})

        return replace(target, handler=answer)

    def _button(self, ctx: Context) -> Target:
        payload = ctx.event.button or ""
        if payload.startswith("~"):
            token, _, value = payload[1:].partition(":")
            dialog = ctx.dialog
            if dialog is None or token != dialog.token:
                return self._answer(Fallback.STALE_BUTTON)
            ctx.value = take_confirmation(ctx, value)
            return self._step(dialog)
        name, _, value = payload.partition(":")
        action = self.registry.actions.get(name)
        if action is None or not ctx.user.role.allows(action.policy.role):
            return self._answer(Fallback.STALE_BUTTON)
        if action.policy.consent and not ctx.user.consented:
            return self._answer(Fallback.CONSENT_NEEDED)
        ctx.value = take_confirmation(ctx, value)
        return Target(action.handler, action.policy, keeps_dialog=True, starts=True)

    async def _fallback(self, ctx: Context, kind: Fallback) -> Response:
        return await self.registry.fallback(kind)(ctx)


#: The policy of the fallback answers: anyone may hear them, except that a banned person
#: hears why they are banned instead.
FALLBACK_POLICY = Policy(Role.RESIDENT, consent=False)


class _StepFailed(Exception):
    """A dialog step raised: its writes are rolled back and the dialog is dropped."""

    def __init__(self, ctx: Context, dialog: Dialog):
        super().__init__(f"{dialog.name}:{dialog.step}")
        self.ctx = ctx
        self.dialog = dialog
        #: The person as loaded, before the failed step changed anything.
        self.user = ctx.user


def _album_marker(album: str) -> str:
    """The id under which the first handled message of an album is remembered (beside
    the platform's event ids, in the same table)."""
    return f"album:{album}"


def _by_label(replies: list[Reply]) -> list[Reply]:
    """The replies marked to show their options by label (the answer is typed)."""
    return [reply.model_copy(update={"by_label": True}) for reply in replies]


def _symbols(text: str) -> str:
    """Text as it shows, without spaces, the emoji form and skin tones ("👍🏽 " is "👍")."""
    return "".join(ch for ch in text if not ch.isspace() and ch not in _EMOJI_FORMS)


def _loose(text: str) -> str:
    """Text reduced to its words: lower case, without emoji and punctuation."""
    kept = "".join(ch for ch in text.casefold() if ch.isalnum() or ch.isspace())
    return " ".join(kept.split())
