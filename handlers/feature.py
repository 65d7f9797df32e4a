"""How a feature module declares what it answers: commands, buttons, dialog steps, menu entries.

Each feature module creates one :class:`Feature` and registers its handlers on it with
decorators, in one visible place; :class:`Registry` joins them for the router.

Every command, action and dialog declares its policy: the role it needs (``role=`` has no
default, so none is left out by accident), whether it needs the person's consent, whether it
stays open to a banned person, and what it lets a person post. The router enforces that
declaration at every event, each dialog step and dialog button included, reading the
person's role from the database each time.

What the router must do without knowing any feature is registered here too: gates that may
refuse an event (moderation's mutes and bans), posting limits, and the answers for what no
feature claims (text outside a dialog, an unknown command, a stale button, ...).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from handlers import drafts, when
from handlers.catalog import Catalog
from handlers.contract import (
    Button,
    Dialog,
    Event,
    Installation,
    Platform,
    Reply,
    Response,
    Role,
    User,
    respond,
)
from handlers.profile import Profile
from storage import Repositories

#: Where a dialog's data holds the language chosen for the conversation by someone who has
#: not agreed to the privacy statement: it lasts as long as the dialog (and is carried into
#: the next one, see :func:`keeping_session_language`), and is not stored as theirs
#: (onboarding keeps it, and stores it as their language once they agree).
SESSION_LANGUAGE = "session_language"
#: The dialog (and its step) that holds only :data:`SESSION_LANGUAGE`, while the person reads.
READING_DIALOG = ("onboarding", "reading")


def keeping_session_language(
    user: User, before: Dialog | None, after: Dialog | None
) -> Dialog | None:
    """The dialog to store after ``before``: ``after``, holding the language ``before``
    held for the conversation of someone who has not agreed (a question of another
    feature, /vergeetmij say, does not switch them back to their app's language). When
    another feature's dialog ends, the reading dialog holds it again; the reading dialog
    itself ends as it always did (a day's silence, /annuleer)."""
    chosen = before.data.get(SESSION_LANGUAGE) if before is not None else None
    if chosen is None or user.consented or user.language is not None:
        return after
    if after is not None:
        if SESSION_LANGUAGE in after.data:
            return after
        return after.model_copy(update={"data": {**after.data, SESSION_LANGUAGE: chosen}})
    assert before is not None
    if before.name == READING_DIALOG[0]:
        return None
    name, step = READING_DIALOG
    return Dialog(name=name, step=step, data={SESSION_LANGUAGE: chosen})


@dataclass
class Context:
    """Everything a handler may use: the event, the person, their dialog, the world."""

    event: Event
    user: User
    dialog: Dialog | None
    profile: Profile
    repos: Repositories
    catalog: Catalog
    registry: Registry
    now: datetime
    timezone: ZoneInfo
    #: What the runtime knows that a handler may use (platforms, retention period).
    installation: Installation = field(default_factory=Installation)
    #: The part of a button payload after its name, or a dialog button's value.
    value: str = ""
    #: The button pressed confirms what it does (see :func:`handlers.answers.confirmation`).
    confirmed: bool = False
    #: Whether a mute or ban may be in force for the person (read with the person, so that
    #: a gate looks up which one only when there is one).
    sanctioned: bool = False
    #: The person comes back with this event after the bot could not reach them (they
    #: blocked it): from when they may have missed something. None for everyone else.
    away_since: datetime | None = None

    @property
    def lang(self) -> str:
        """The language to answer in: the person's choice, else the one chosen for this
        conversation (before consent, see :data:`SESSION_LANGUAGE`), else their app's.

        A choice the catalogs no longer have (a language that was removed) counts as none.
        In a group or room the bot speaks the default language: what it says there is the
        same for everyone, and a person's language is theirs (it would tell the group).
        """
        if self.event.is_group:
            return self.catalog.default
        if self.catalog.speaks(self.user.language):
            return str(self.user.language)
        chosen = self.dialog.data.get(SESSION_LANGUAGE) if self.dialog is not None else None
        if isinstance(chosen, str) and self.catalog.speaks(chosen):
            return chosen
        return self.catalog.language(self.event.sender.language_hint)

    @property
    def platform(self) -> Platform:
        """What the platform the event came from offers."""
        return self.installation.platform(self.event.platform)

    @property
    def text(self) -> str:
        """The text the person typed, stripped ('' when they sent something else)."""
        return (self.event.text or "").strip()

    def local(self, moment: datetime) -> datetime:
        """A stored UTC moment in the municipality's time zone."""
        return moment.astimezone(self.timezone)

    def show_date(self, moment: datetime) -> str:
        """A day as people read it in their language ("4 dec 2026", "4 Dec 2026")."""
        return when.day(self.local(moment), self.lang)

    def show_moment(self, moment: datetime) -> str:
        """A day and time ("4 dec 2026, 09:30", "4 Ara 2026 09:30")."""
        return when.moment(self.local(moment), self.lang)

    def show_short(self, moment: datetime) -> str:
        """A day and time of the last weeks, without the year ("4 dec, 09:30")."""
        return when.recent(self.local(moment), self.lang)

    def main_menu(self, *, posting: bool = True) -> list[list[Button]]:
        """The main menu buttons this person may use; ``posting=False`` leaves out what
        posts something (for someone just refused that)."""
        return self.registry.menu_for(self.user, self.profile, self.lang, posting=posting)


#: Ends a button's payload when the button confirms a heavy action.
CONFIRMED = "!"


def take_confirmation(ctx: Context, value: str) -> str:
    """A button's value without the confirmation mark, noting the mark in ``ctx``."""
    if value.endswith(CONFIRMED):
        ctx.confirmed = True
        return value[: -len(CONFIRMED)]
    return value


Handler = Callable[[Context], Awaitable[Response]]
#: One step of a dialog: called with the dialog it belongs to, known to exist.
StepHandler = Callable[[Context, Dialog], Awaitable[Response]]
#: The catalog key naming a dialog's draft, or what picks one from the dialog itself.
Subject = str | Callable[[Dialog], str]
#: A step's question (it may take more, e.g. a hint, beside the context and the dialog).
AskHandler = TypeVar("AskHandler", bound=StepHandler)


class Expects(StrEnum):
    """What a dialog step waits for, which decides what a typed answer means.

    At a ``CHOICE`` step, typing an option's number or label presses that option (on
    platforms that show buttons as numbered options). At a ``TEXT`` or ``NUMBER`` step what
    is typed is the answer itself: "2" is two days or the title "2", never option 2; an
    option is chosen there by typing its label, and the options are shown by label.
    """

    CHOICE = "choice"
    TEXT = "text"
    NUMBER = "number"

    @property
    def typed(self) -> bool:
        return self is not Expects.CHOICE


@dataclass(frozen=True)
class Policy:
    """What a command, action or dialog requires of the person, as its feature declared."""

    role: Role
    #: Needs the person's consent first (anything that stores personal data).
    consent: bool = True
    #: Stays open while the person is banned (the privacy statement, one's own data).
    open_to_banned: bool = False
    #: What it lets a person post (``idea``, ``comment``, ...): refused while muted, and
    #: counted against that kind's posting limit.
    posts: str | None = None
    #: Whether it posts something new (counted against the limit), or only changes what
    #: was posted before (refused while muted all the same).
    new: bool = True

    def admits(self, user: User) -> bool:
        """Whether this person's role and consent allow it (a ban is a gate's business)."""
        return user.role.allows(self.role) and (user.consented or not self.consent)


class _Declared:
    """Shortcuts to what a command, action or dialog declared (its :class:`Policy`)."""

    policy: Policy

    @property
    def role(self) -> Role:
        return self.policy.role

    @property
    def consent(self) -> bool:
        return self.policy.consent

    @property
    def open_to_banned(self) -> bool:
        return self.policy.open_to_banned

    @property
    def posts(self) -> str | None:
        return self.policy.posts


class UnknownStep(LookupError):
    """A stored dialog is at a step this code does not know (an older or newer version)."""


class DialogSpec(_Declared):
    """A multi-step conversation: who may hold it, what it posts, one handler per step.

    Declared with ``feature.dialog(name, role=..., subject=...)``; each step is registered
    with ``@spec.step("title", expects=Expects.TEXT)`` and called as ``handler(ctx,
    dialog)``, and its question with ``@spec.ask("title")``, so that the draft can be taken
    up again where it was (see :mod:`handlers.drafts`). The router checks the role (and
    consent, and a ban) at every step, not only when the dialog starts.
    """

    def __init__(
        self,
        name: str,
        policy: Policy,
        *,
        subject: Subject | None = None,
        draft: bool = True,
        stays: bool = False,
        words: str | None = None,
    ):
        self.name = name
        self.policy = policy
        #: The key of its data that holds what the person wrote, for a dialog that is no
        #: draft: given back when something else ends it or takes its place.
        self.words = words
        #: Whether it stays open beside commands of other features, which otherwise end a
        #: dialog that is not a draft (onboarding: what the conversation holds before
        #: consent, a language chosen, must outlast reading the ideas).
        self.stays = stays
        #: The catalog key that names the draft ("je idee"), in "Verder met je idee" (or
        #: what picks it from the dialog's data).
        self.subject: Subject = subject or "drafts.subject.default"
        #: Whether leaving it half-way loses what the person wrote (then it is asked first);
        #: not so for a dialog whose every answer is saved at once (onboarding).
        self.draft = draft
        #: What the person wrote at its steps, as lines to give back when the dialog is
        #: dropped because they may no longer hold it (a role revoked while they wrote).
        self.written: Callable[[dict[str, Any]], list[Reply]] | None = None
        self.steps: dict[str, StepHandler] = {}
        self.asks: dict[str, StepHandler] = {}
        self.expecting: dict[str, Expects] = {}
        #: The steps that take a photo (the router then keeps an album's first usable one).
        self.photos: set[str] = set()

    def step(
        self, *names: str, expects: Expects = Expects.CHOICE, photo: bool = False
    ) -> Callable[[StepHandler], StepHandler]:
        """Answer the dialog's step(s) ``names`` with the decorated handler; ``photo``:
        they take a photo (besides what ``expects`` says)."""

        def register(handler: StepHandler) -> StepHandler:
            for name in names:
                if name in self.steps:
                    raise ValueError(f"dialog {self.name}: step already registered: {name}")
                self.steps[name] = handler
                self.expecting[name] = expects
                if photo:
                    self.photos.add(name)
            return handler

        return register

    def ask(self, *names: str) -> Callable[[AskHandler], AskHandler]:
        """The decorated handler asks the question of step(s) ``names`` (again)."""

        def register(handler: AskHandler) -> AskHandler:
            for name in names:
                self.asks[name] = handler
            return handler

        return register

    def gives_back(self, *keys: str) -> None:
        """Declare the texts the person writes into the dialog's data under ``keys``: given
        back, in one message, when the dialog is dropped because they may no longer hold
        it (a role revoked while they wrote), so nothing written goes without a word."""

        def written(data: dict[str, Any]) -> list[Reply]:
            lines = [
                text for key in keys if isinstance(text := data.get(key), str) and text.strip()
            ]
            if not lines:
                return []
            return [Reply(key="general.typed_not_kept", params={"text": "\n".join(lines)})]

        self.written = written

    def expects(self, step: str) -> Expects:
        """What ``step`` waits for (a draft question waits for a choice)."""
        return self.expecting.get(step, Expects.CHOICE)

    @property
    def answered(self) -> bool:
        """Whether any step has a handler (a dialog declared and then forgotten has none)."""
        return bool(self.steps)

    async def handle(self, ctx: Context) -> Response:
        """Run the handler of the step ``ctx.dialog`` is at.

        Before it: "Verder" (take the draft up again), the draft questions' answers, a
        person back after a long pause, and a plain "stop" (asks first) or, at a step
        answered with buttons, "menu".
        """
        dialog = ctx.dialog
        if dialog is None or dialog.name != self.name:
            raise UnknownStep(f"{self.name}: no such dialog open")
        pressed = ctx.value if ctx.event.button is not None else None
        if pressed == drafts.RESUME:
            return await self.resume(ctx, drafts.interrupted(dialog))
        if not self.draft:
            return await self._step(ctx, dialog)
        if drafts.returning(ctx, dialog):
            # Back after a long pause: what they type may not answer a question they
            # forgot. Say where they were and ask it again (the dialog is touched, so
            # the next answer counts).
            response = await self.resume(ctx, drafts.interrupted(dialog))
            about = drafts.subject(ctx, dialog)
            back = Reply(key="drafts.welcome_back", params={"subject": about})
            return response.model_copy(update={"replies": [back, *response.replies]})
        if drafts.is_core_step(dialog.step):
            if dialog.step == drafts.STOP and (
                pressed == "yes" or drafts.plain_word(ctx, "stop", "yes")
            ):
                return respond(menu_reply(ctx, "general.cancelled"), end_dialog=True)
            if drafts.plain_word(ctx, "no"):
                return await self.resume(ctx, drafts.interrupted(dialog))
            return drafts.again(ctx, dialog)
        word = drafts.plain_word(ctx, "stop", "menu")
        if word == "stop":
            return drafts.ask_stop(ctx, dialog)
        if word == "menu" and not self.expects(dialog.step).typed:
            return drafts.draft_open(ctx, dialog)
        if drafts.asks_for_help(ctx, typed_answer=self.expects(dialog.step).typed):
            # "?" or "help": someone unsure, not an answer (a comment "?" would be public).
            return drafts.help_at(ctx, dialog, await self.resume(ctx, dialog))
        return await self._step(ctx, dialog)

    async def _step(self, ctx: Context, dialog: Dialog) -> Response:
        handler = self.steps.get(dialog.step)
        if handler is not None:
            return await handler(ctx, dialog)
        raise UnknownStep(f"{self.name}: unknown step {dialog.step!r}")

    async def resume(self, ctx: Context, dialog: Dialog) -> Response:
        """The question of the step ``dialog`` is at, to go on where it was."""
        ctx.dialog = dialog
        ask = self.asks.get(dialog.step)
        if ask is not None:
            return await ask(ctx, dialog)
        # A dialog that cannot ask again: its question and buttons are above, and work.
        return respond(
            Reply(key="drafts.continue_above", params={"subject": drafts.subject(ctx, dialog)}),
            dialog=dialog,
        )


@dataclass(frozen=True)
class Command(_Declared):
    """A slash command (with its aliases in other languages)."""

    handler: Handler
    policy: Policy
    #: Answered without leaving the active dialog (help, privacy).
    anytime: bool = False
    #: Only on these platforms (``None``: everywhere).
    platforms: frozenset[str] | None = None
    #: Shown in the platform's command menu with this catalog key as description.
    describe: str | None = None
    #: Answered in a group or room too (an experiment's room: link, report, house rules);
    #: every other command there gets the short word pointing to a private chat.
    in_groups: bool = False
    #: Its first name: the default language's, and every language's without its own.
    first: str = ""
    #: Its own name in the languages that have one, as (language, name): the name that
    #: language's texts and command menu use.
    names: tuple[tuple[str, str], ...] = ()
    #: It reads a text typed after it (a title, a message, a name), using it or giving it
    #: back with the reason. Otherwise a sentence typed after it is given back above its
    #: answer (an id, a page or a link's code is never a sentence, so those read theirs too).
    words: bool = False

    def name_in(self, lang: str) -> str:
        """What the command is called in ``lang``."""
        return dict(self.names).get(lang, self.first)


@dataclass(frozen=True)
class Action(_Declared):
    """A button payload name (``idea.support`` in ``idea.support:42``)."""

    handler: Handler
    policy: Policy


@dataclass(frozen=True)
class Target:
    """Where the router sends an event, and what its feature declared for it."""

    handler: Handler
    policy: Policy
    #: Whether an untouched active dialog stays active afterwards.
    keeps_dialog: bool
    #: A command or button that starts something, rather than a step inside a dialog.
    starts: bool
    #: The dialog it is a step of, if it is one.
    dialog: str | None = None


@dataclass(frozen=True)
class Refusal:
    """A gate's answer: why this event is refused (nothing of it is done)."""

    response: Response
    #: The person may no longer hold the dialog the event belongs to: it is dropped.
    drops_dialog: bool = False


#: Looks at every event a person may otherwise make (role and consent allowed it) and may
#: refuse it, explained: moderation registers one for mutes, bans and posting limits.
Gate = Callable[[Context, Target], Awaitable[Refusal | None]]


#: How many of a kind a person posted since a moment, and when the first of those was.
CountPosts = Callable[[Repositories, int, datetime], Awaitable[tuple[int, datetime | None]]]


@dataclass(frozen=True)
class PostingLimit:
    """At most ``limit(profile)`` posts of one kind per ``period``, counted from storage."""

    posts: str
    period: timedelta
    limit: Callable[[Profile], int]
    count: CountPosts


class Fallback(StrEnum):
    """The answers the router needs for what no feature's entry claims."""

    #: Text, a photo or anything else outside a dialog that no command or button explains.
    NOT_UNDERSTOOD = "not_understood"
    #: A command nobody registered, or one this person may not use (they hear the same).
    UNKNOWN_COMMAND = "unknown_command"
    #: A button from an old message, or one whose data is not recognised.
    STALE_BUTTON = "stale_button"
    #: Someone who has not agreed to the privacy statement asks for something that needs it.
    CONSENT_NEEDED = "consent_needed"
    #: A word put before the answer when the person's dialog had timed out.
    DIALOG_EXPIRED = "dialog_expired"
    #: The person's dialog was dropped: they may no longer hold it, or this code could not
    #: go on with it (a step that failed, a dialog stored by another version).
    DIALOG_DROPPED = "dialog_dropped"
    #: Said instead of :attr:`DIALOG_DROPPED` when the dialog was dropped because the
    #: person's role no longer allows it (revoked while it was open); ``ctx.value`` is the
    #: role it needed (see :meth:`Registry.lost_role`).
    ROLE_LOST = "role_lost"
    #: Anything in a group chat or room: a short word pointing to a private chat.
    IN_GROUP = "in_group"
    #: Someone joined a group or room the bot is in (an experiment's room welcomes them).
    JOINED_ROOM = "joined_room"
    #: Put before the answer in a person's private chat when they come back after the bot
    #: could not reach them (:attr:`Context.away_since`): what they missed, if anything.
    RETURNED = "returned"
    #: Put before the answer to a command that does not read what is typed after it
    #: (:attr:`Command.words`), in a private chat: those words, if they are a message.
    WORDS_NOT_USED = "words_not_used"


#: A menu label's placeholders, filled from the profile in the reader's language (a name
#: that is the municipality's, not Samenspel's).
LabelParams = Callable[[Profile, str], dict[str, str]]


@dataclass(frozen=True)
class MenuEntry:
    """A button in the main menu. Whether it needs consent is its action's declaration:
    declared once, so a menu never offers what the button would refuse."""

    label: str
    payload: str
    order: int
    role: Role = Role.RESIDENT
    params: LabelParams | None = None

    @cached_property
    def _fixed(self) -> Button:
        return Button(label=self.label, payload=self.payload)

    def button(self, profile: Profile, lang: str) -> Button:
        """The button, its label filled from ``profile`` where it names something local."""
        if self.params is None:
            return self._fixed
        return Button(label=self.label, payload=self.payload, params=self.params(profile, lang))


@dataclass(frozen=True)
class DeepLink:
    """What ``/start <prefix>_<value>`` opens (a link or QR code on a poster)."""

    handler: Handler
    #: Whether it opens only for someone who agreed to the privacy statement; a link that
    #: only shows something readable opens for everyone (its buttons keep their own policy).
    consent: bool = True


class Feature:
    """The handlers of one area, declared with decorators."""

    def __init__(self, name: str):
        self.name = name
        self.commands: dict[str, Command] = {}
        self.actions: dict[str, Action] = {}
        self.dialogs: dict[str, DialogSpec] = {}
        self.deep_links: dict[str, DeepLink] = {}
        self.menu: list[MenuEntry] = []
        self.gates: list[Gate] = []
        self.posting_limits: dict[str, PostingLimit] = {}
        #: Kinds of posts bounded by something else than a posting limit, with why.
        self.bounded_posts: dict[str, str] = {}
        self.fallbacks: dict[Fallback, Handler] = {}
        #: Actions whose buttons answer a question, with what asks that question again.
        self.asked_again: dict[str, Handler] = {}

    def command(
        self,
        *names: str,
        role: Role,
        anytime: bool = False,
        consent: bool = True,
        open_to_banned: bool = False,
        platforms: set[str] | None = None,
        describe: str | None = None,
        posts: str | None = None,
        in_groups: bool = False,
        translations: Mapping[str, str] | None = None,
        words: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Answer ``/name`` (and aliases) with the decorated handler.

        The first name is the default language's; ``translations`` gives the command's own
        name in other languages (``{"en": "mydata"}``), the one their texts and command
        menu name. Every name is answered whatever the person's language. ``words``: the
        handler reads a text typed after the command; for one that does not, a sentence
        typed after it is given back with its answer (see :class:`Command`).

        Raises:
            ValueError: a name is given twice, is taken already, or has capitals (commands
                are matched in lowercase, so it could never be answered).
        """
        policy = Policy(role, consent, open_to_banned, posts)
        own = tuple(sorted((translations or {}).items()))
        every = [*names, *(name for _, name in own)]
        if (
            len(set(every)) != len(every)
            or any(name != name.lower() for name in every)
            or self.commands.keys() & set(every)
        ):
            raise ValueError(f"{self.name}: command names twice, taken or not lowercase: {every}")

        def register(handler: Handler) -> Handler:
            spec = Command(
                handler,
                policy,
                anytime,
                frozenset(platforms) if platforms else None,
                describe,
                in_groups,
                every[0],
                own,
                words,
            )
            for index, name in enumerate(every):
                self.commands[name] = spec if index == 0 else _alias(spec)
            return handler

        return register

    def action(
        self,
        name: str,
        *,
        role: Role,
        consent: bool = True,
        open_to_banned: bool = False,
        posts: str | None = None,
        changes: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Answer button payloads ``name`` and ``name:...`` with the decorated handler.

        ``changes``: the kind of post it changes (one's own comment): refused while muted,
        like ``posts``, but not counted against the posting limit.
        """
        if posts is not None and changes is not None:
            raise ValueError(f"{self.name}: {name} both posts and changes")
        policy = Policy(role, consent, open_to_banned, posts or changes, new=changes is None)

        def register(handler: Handler) -> Handler:
            self.actions[name] = Action(handler, policy)
            return handler

        return register

    def dialog(
        self,
        name: str,
        *,
        role: Role,
        consent: bool = True,
        open_to_banned: bool = False,
        posts: str | None = None,
        subject: Subject | None = None,
        draft: bool = True,
        stays: bool = False,
        words: str | None = None,
    ) -> DialogSpec:
        """Declare dialog ``name``: the role its every step needs, and what it posts.

        ``subject`` is the catalog key that names its draft ("je idee"); ``draft=False``
        for a dialog that loses nothing when it is left (every answer is saved at once);
        ``stays=True`` for one that other commands leave open; ``words``: the key of the
        data of a dialog that is no draft yet holds what the person wrote (a message
        waiting for a choice), which comes back when the dialog is left for another.
        """
        if name in self.dialogs:
            raise ValueError(f"{self.name}: dialog already declared: {name}")
        spec = DialogSpec(
            name,
            Policy(role, consent, open_to_banned, posts),
            subject=subject,
            draft=draft,
            stays=stays,
            words=words,
        )
        self.dialogs[name] = spec
        return spec

    def gate(self, gate: Gate) -> Gate:
        """Let ``gate`` look at (and perhaps refuse) every event before its handler runs."""
        self.gates.append(gate)
        return gate

    def posting_limit(
        self,
        posts: str,
        *,
        period: timedelta,
        limit: Callable[[Profile], int],
        count: CountPosts,
    ) -> None:
        """Limit how many of ``posts`` a person may start per ``period`` (gates enforce it)."""
        if posts in self.posting_limits:
            raise ValueError(f"{self.name}: posting limit already declared: {posts}")
        self.posting_limits[posts] = PostingLimit(posts, period, limit, count)

    def posts_bounded(self, posts: str, *, why: str) -> None:
        """Declare that ``posts`` needs no posting limit: ``why`` says what bounds it (one
        answer to each question of a poll the person was asked)."""
        if posts in self.bounded_posts:
            raise ValueError(f"{self.name}: posts already declared bounded: {posts}")
        self.bounded_posts[posts] = why

    def fallback(self, *kinds: Fallback) -> Callable[[Handler], Handler]:
        """Answer what no feature claims (see :class:`Fallback`) with the decorated handler."""

        def register(handler: Handler) -> Handler:
            for kind in kinds:
                if kind in self.fallbacks:
                    raise ValueError(f"{self.name}: fallback already registered: {kind}")
                self.fallbacks[kind] = handler
            return handler

        return register

    def asks_again(self, *actions: str) -> Callable[[Handler], Handler]:
        """Declare that the buttons of ``actions`` answer a question on screen (a poll's),
        and ask it again with the decorated handler. Where buttons are numbered options,
        text that chooses none of them is then no message for anyone: the question comes
        again, the handler getting one of its buttons' value as ``ctx.value`` (what
        follows ``name:``), so it can check the question may still be answered."""

        def register(handler: Handler) -> Handler:
            for name in actions:
                if name not in self.actions:
                    raise ValueError(f"{self.name}: asks again for no action: {name}")
                self.asked_again[name] = handler
            return handler

        return register

    def deep_link(self, prefix: str, *, consent: bool = True) -> Callable[[Handler], Handler]:
        """Answer ``/start <prefix>_<value>`` (a link or QR code on a poster); with
        ``consent=False`` also for someone who declined the privacy statement (a link
        that only shows what anyone may read)."""

        if prefix != prefix.lower() or "_" in prefix:
            # /start reads the prefix in lower case, up to the first "_".
            raise ValueError(f"{self.name}: a deep link's prefix is lower case, no _: {prefix}")

        def register(handler: Handler) -> Handler:
            self.deep_links[prefix] = DeepLink(handler, consent)
            return handler

        return register

    def menu_entry(
        self,
        label: str,
        payload: str,
        order: int,
        *,
        role: Role = Role.RESIDENT,
        params: LabelParams | None = None,
    ) -> None:
        """Put a button in the main menu (``params`` fills its label from the profile); it
        is shown to whom ``role`` and its action's policy (consent included) admit."""
        self.menu.append(MenuEntry(label, payload, order, role, params))


def _alias(spec: Command) -> Command:
    """An alias answers the same, but is not listed in the command menu twice."""
    return replace(spec, describe=None)


class Registry:
    """All features together; refuses two features claiming the same name.

    Raises:
        ValueError: two features claim one name, one of the :class:`Fallback` answers is
            missing, a dialog has no step, or a kind of posts has neither a posting limit
            nor a declaration of what else bounds it.
    """

    def __init__(self, features: list[Feature]):
        self.features = features
        self.commands: dict[str, Command] = {}
        self.actions: dict[str, Action] = {}
        self.dialogs: dict[str, DialogSpec] = {}
        self.deep_links: dict[str, DeepLink] = {}
        self.menu: list[MenuEntry] = []
        self.gates: list[Gate] = []
        self.posting_limits: dict[str, PostingLimit] = {}
        self.bounded_posts: dict[str, str] = {}
        self.fallbacks: dict[Fallback, Handler] = {}
        self.asked_again: dict[str, Handler] = {}
        for feature in features:
            _merge(feature.name, "command", self.commands, feature.commands)
            _merge(feature.name, "action", self.actions, feature.actions)
            _merge(feature.name, "dialog", self.dialogs, feature.dialogs)
            _merge(feature.name, "deep link", self.deep_links, feature.deep_links)
            _merge(feature.name, "posting limit", self.posting_limits, feature.posting_limits)
            _merge(feature.name, "bounded posts", self.bounded_posts, feature.bounded_posts)
            _merge(feature.name, "fallback", self.fallbacks, feature.fallbacks)
            _merge(feature.name, "question", self.asked_again, feature.asked_again)
            self.gates.extend(feature.gates)
            self.menu.extend(feature.menu)
        self.menu.sort(key=lambda entry: entry.order)
        actionless = [e.payload for e in self.menu if self._action(e.payload) is None]
        if actionless:
            raise ValueError(f"menu entries without an action: {actionless}")
        self._menus: dict[tuple[Role, bool, bool], tuple[MenuEntry, ...]] = {}
        missing = [kind.value for kind in Fallback if kind not in self.fallbacks]
        if missing:
            raise ValueError(f"no feature answers: {missing}")
        stepless = [name for name, spec in self.dialogs.items() if not spec.answered]
        if stepless:
            raise ValueError(f"dialogs without a step: {stepless}")
        declared = [*self.commands.values(), *self.actions.values(), *self.dialogs.values()]
        unlimited = sorted(
            {spec.policy.posts for spec in declared if spec.policy.posts is not None}
            - set(self.posting_limits)
            - set(self.bounded_posts)
        )
        if unlimited:
            raise ValueError(f"posts without a posting limit: {unlimited}")

    def fallback(self, kind: Fallback) -> Handler:
        """The handler registered for ``kind``."""
        return self.fallbacks[kind]

    # The dialog engine's rules the router applies around handlers (handlers/drafts.py).

    def draft(self, dialog: Dialog | None) -> Dialog | None:
        """The open dialog, if leaving it would lose what the person wrote."""
        spec = self.dialogs.get(dialog.name) if dialog is not None else None
        return dialog if spec is not None and spec.draft else None

    def written(self, name: str, data: dict[str, Any]) -> list[Reply]:
        """What the person wrote in the dialog ``name`` (its ``data``), given back as it is
        dropped (a role revoked while they wrote): nothing, where its feature says none."""
        spec = self.dialogs.get(name)
        if spec is None or spec.written is None:
            return []
        return spec.written(data)

    def stays(self, dialog: Dialog | None) -> bool:
        """Whether the open dialog stays open beside a command that would end another."""
        spec = self.dialogs.get(dialog.name) if dialog is not None else None
        return spec is not None and spec.stays

    def left_behind(self, dialog: Dialog | None, response: Response, *, kept: bool) -> list[Reply]:
        """What the person wrote in ``dialog`` (no draft: nobody was asked first), given
        back when ``response`` ends it or starts another in its place; ``kept``: whether
        it stays open when the response sets no dialog."""
        spec = self.dialogs.get(dialog.name) if dialog is not None else None
        if dialog is None or spec is None or spec.words is None:
            return []
        new = response.dialog
        left = response.end_dialog or (new.name != dialog.name if new else not kept)
        written = dialog.data.get(spec.words)
        if not left or not isinstance(written, str) or not written.strip():
            return []
        return [Reply(key="general.typed_not_kept", params={"text": written.strip()})]

    def takes_photo(self, dialog: Dialog | None) -> bool:
        """Whether the dialog's step takes a photo (an idea's, a news message's)."""
        spec = self.dialogs.get(dialog.name) if dialog is not None else None
        return spec is not None and dialog is not None and dialog.step in spec.photos

    def typed(self, dialog: Dialog | None) -> bool:
        """Whether the dialog's step waits for typed text or a number (not for a choice)."""
        spec = self.dialogs.get(dialog.name) if dialog is not None else None
        return spec is not None and dialog is not None and spec.expects(dialog.step).typed

    @staticmethod
    def take_discard(event: Event, dialog: Dialog | None) -> tuple[Event, Dialog | None]:
        """A draft's discard button: the request to handle instead, and the dialog it
        throws away (None when it discards nothing); other events come back as they are."""
        return drafts.take_discard(event, dialog)

    @staticmethod
    def discarded(ctx: Context, dialog: Dialog) -> Reply:
        """The line that says a draft was thrown away."""
        return drafts.discarded(ctx, dialog)

    @staticmethod
    def beside_draft(ctx: Context, draft: Dialog, response: Response, *, starts: bool) -> Response:
        """The response to a command or button done while ``draft`` is open: a draft is
        never dropped silently (what would replace it asks first; anything else ends in
        the way back to it)."""
        return drafts.beside(ctx, draft, response, starts=starts)

    async def refusal(self, ctx: Context, dialog: str) -> Response | None:
        """Why a gate would refuse this person starting the dialog ``dialog`` now (a mute,
        a posting limit), or None. For a handler that opens a posting dialog on its own (a
        typed answer asked for straight away): nobody is asked to type what is refused."""
        spec = self.dialogs[dialog]
        target = Target(spec.handle, spec.policy, keeps_dialog=False, starts=True, dialog=dialog)
        for gate in self.gates:
            refused = await gate(ctx, target)
            if refused is not None:
                return refused.response
        return None

    def may_hold(self, user: User, dialog: str) -> bool:
        """Whether this person's role and consent still allow the dialog ``dialog``."""
        spec = self.dialogs.get(dialog)
        return spec is not None and spec.policy.admits(user)

    def lost_role(self, user: User, dialog: str) -> Role | None:
        """The role the dialog ``dialog`` needs that this person no longer has (their role
        was revoked while it was open); None where the role is not why they may not hold
        it (consent, a dialog no feature declares any more) or they may."""
        spec = self.dialogs.get(dialog)
        if spec is None or user.role.allows(spec.role):
            return None
        return spec.role

    def menu_for(
        self, user: User, profile: Profile, lang: str, *, posting: bool = True
    ) -> list[list[Button]]:
        """The main menu for this person's role, two buttons to a row (without what posts
        something, unless ``posting``), in ``lang`` where a label names the profile's."""
        # Many replies end in the menu: which entries a kind of person sees is worked out
        # once, and the buttons (frozen) are built once unless they name the profile's.
        kind = (user.role, user.consented, posting)
        entries = self._menus.get(kind)
        if entries is None:
            entries = self._menus[kind] = tuple(
                entry
                for entry in self.menu
                if user.role.allows(entry.role)
                and self._admits(entry.payload, user)
                and (posting or not self._posts(entry.payload))
            )
        buttons = [entry.button(profile, lang) for entry in entries]
        return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]

    async def ask_again(self, ctx: Context, payloads: list[str]) -> Response | None:
        """The question the first of these buttons answers, asked again by its feature
        (see :meth:`Feature.asks_again`); None where none of them answers a question this
        person may still be asked (their role or consent changed since)."""
        for payload in payloads:
            name, _, value = payload.partition(":")
            handler = self.asked_again.get(name)
            if handler is not None and self._admits(payload, ctx.user):
                ctx.value = value
                return await handler(ctx)
        return None

    def admits(self, payload: str, user: User) -> bool:
        """Whether ``payload`` is a button of an action this person may use now (not a
        dialog's, nor one of a role revoked since it was shown)."""
        return self._admits(payload, user)

    def _action(self, payload: str) -> Action | None:
        return self.actions.get(payload.partition(":")[0])

    def _admits(self, payload: str, user: User) -> bool:
        # The action's own role and consent: someone who declined the privacy statement
        # is not offered a button that would only answer "first your consent".
        action = self._action(payload)
        return action is not None and action.policy.admits(user)

    def _posts(self, payload: str) -> bool:
        action = self._action(payload)
        return action is not None and action.posts is not None

    def described_commands(
        self, role: Role = Role.RESIDENT, lang: str | None = None
    ) -> list[MenuCommand]:
        """A platform's command menu for ``role``: the same commands in the same order in
        every language, each under its name in ``lang`` (its first name where ``lang`` has
        none of its own, or without ``lang``)."""
        return [
            MenuCommand(spec.name_in(lang) if lang else spec.first, spec.describe, spec.first)
            for spec in self.commands.values()
            if spec.describe and role.allows(spec.policy.role) and spec.platforms is None
        ]


class MenuCommand(NamedTuple):
    """A command in a platform's command menu."""

    #: Its name in the menu's language.
    name: str
    #: The catalog key of its description.
    describe: str
    #: Its first name (the default language's), answered in every language too.
    first: str


def _merge(feature: str, kind: str, mine: dict[Any, Any], theirs: dict[Any, Any]) -> None:
    clash = mine.keys() & theirs.keys()
    if clash:
        raise ValueError(f"{feature}: {kind} already registered: {sorted(clash)}")
    mine.update(theirs)


def menu_reply(ctx: Context, key: str = "menu.title", **params: Any) -> Reply:
    """A message ending in the main menu."""
    return Reply(key=key, params=params, buttons=ctx.main_menu())
