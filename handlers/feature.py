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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

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
)
from handlers.profile import Profile
from storage import Repositories


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
    #: Whether a mute or ban may be in force for the person (read with the person, so that
    #: a gate looks up which one only when there is one).
    sanctioned: bool = False

    @property
    def lang(self) -> str:
        """The language to answer in: the person's choice, else their app's language.

        A choice the catalogs no longer have (a language that was removed) counts as none.
        """
        if self.catalog.speaks(self.user.language):
            return str(self.user.language)
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

    def main_menu(self) -> list[list[Button]]:
        """The main menu buttons this person may use."""
        return self.registry.menu_for(self.user)


Handler = Callable[[Context], Awaitable[Response]]
#: One step of a dialog: called with the dialog it belongs to, known to exist.
StepHandler = Callable[[Context, Dialog], Awaitable[Response]]


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

    Declared with ``feature.dialog(name, role=...)``; each step is registered with
    ``@spec.step("title")`` and called as ``handler(ctx, dialog)``. The router checks the
    role (and consent, and a ban) at every step, not only when the dialog starts.
    """

    def __init__(self, name: str, policy: Policy):
        self.name = name
        self.policy = policy
        self.steps: dict[str, StepHandler] = {}
        self._any_step: Handler | None = None

    def step(self, *names: str) -> Callable[[StepHandler], StepHandler]:
        """Answer the dialog's step(s) ``names`` with the decorated handler."""

        def register(handler: StepHandler) -> StepHandler:
            for name in names:
                if name in self.steps:
                    raise ValueError(f"dialog {self.name}: step already registered: {name}")
                self.steps[name] = handler
            return handler

        return register

    def __call__(self, handler: Handler) -> Handler:
        """Answer every step with one handler that looks at ``ctx.dialog.step`` itself.

        Kept while dialogs move to one handler per step; prefer :meth:`step`.
        """
        self._any_step = handler
        return handler

    @property
    def answered(self) -> bool:
        """Whether any step has a handler (a dialog declared and then forgotten has none)."""
        return bool(self.steps) or self._any_step is not None

    async def handle(self, ctx: Context) -> Response:
        """Run the handler of the step ``ctx.dialog`` is at."""
        dialog = ctx.dialog
        if dialog is None or dialog.name != self.name:
            raise UnknownStep(f"{self.name}: no such dialog open")
        handler = self.steps.get(dialog.step)
        if handler is not None:
            return await handler(ctx, dialog)
        if self._any_step is not None:
            return await self._any_step(ctx)
        raise UnknownStep(f"{self.name}: unknown step {dialog.step!r}")


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
    #: Anything in a group chat or room: a short word pointing to a private chat.
    IN_GROUP = "in_group"


@dataclass(frozen=True)
class MenuEntry:
    """A button in the main menu."""

    label: str
    payload: str
    order: int
    role: Role = Role.RESIDENT
    consent: bool = False


class Feature:
    """The handlers of one area, declared with decorators."""

    def __init__(self, name: str):
        self.name = name
        self.commands: dict[str, Command] = {}
        self.actions: dict[str, Action] = {}
        self.dialogs: dict[str, DialogSpec] = {}
        self.deep_links: dict[str, Handler] = {}
        self.menu: list[MenuEntry] = []
        self.gates: list[Gate] = []
        self.posting_limits: dict[str, PostingLimit] = {}
        self.fallbacks: dict[Fallback, Handler] = {}

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
    ) -> Callable[[Handler], Handler]:
        """Answer ``/name`` (and aliases) with the decorated handler."""
        policy = Policy(role, consent, open_to_banned, posts)

        def register(handler: Handler) -> Handler:
            spec = Command(
                handler, policy, anytime, frozenset(platforms) if platforms else None, describe
            )
            for index, name in enumerate(names):
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
    ) -> Callable[[Handler], Handler]:
        """Answer button payloads ``name`` and ``name:...`` with the decorated handler."""
        policy = Policy(role, consent, open_to_banned, posts)

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
    ) -> DialogSpec:
        """Declare dialog ``name``: the role its every step needs, and what it posts."""
        if name in self.dialogs:
            raise ValueError(f"{self.name}: dialog already declared: {name}")
        spec = DialogSpec(name, Policy(role, consent, open_to_banned, posts))
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

    def fallback(self, *kinds: Fallback) -> Callable[[Handler], Handler]:
        """Answer what no feature claims (see :class:`Fallback`) with the decorated handler."""

        def register(handler: Handler) -> Handler:
            for kind in kinds:
                if kind in self.fallbacks:
                    raise ValueError(f"{self.name}: fallback already registered: {kind}")
                self.fallbacks[kind] = handler
            return handler

        return register

    def deep_link(self, prefix: str) -> Callable[[Handler], Handler]:
        """Answer ``/start <prefix>_<value>`` (a link or QR code on a poster)."""

        def register(handler: Handler) -> Handler:
            self.deep_links[prefix] = handler
            return handler

        return register

    def menu_entry(
        self,
        label: str,
        payload: str,
        order: int,
        *,
        role: Role = Role.RESIDENT,
        consent: bool = False,
    ) -> None:
        """Put a button in the main menu."""
        self.menu.append(MenuEntry(label, payload, order, role, consent))


def _alias(spec: Command) -> Command:
    """An alias answers the same, but is not listed in the command menu twice."""
    return Command(spec.handler, spec.policy, spec.anytime, spec.platforms, None)


class Registry:
    """All features together; refuses two features claiming the same name.

    Raises:
        ValueError: two features claim one name, one of the :class:`Fallback` answers is
            missing, or a dialog has no step.
    """

    def __init__(self, features: list[Feature]):
        self.features = features
        self.commands: dict[str, Command] = {}
        self.actions: dict[str, Action] = {}
        self.dialogs: dict[str, DialogSpec] = {}
        self.deep_links: dict[str, Handler] = {}
        self.menu: list[MenuEntry] = []
        self.gates: list[Gate] = []
        self.posting_limits: dict[str, PostingLimit] = {}
        self.fallbacks: dict[Fallback, Handler] = {}
        for feature in features:
            _merge(feature.name, "command", self.commands, feature.commands)
            _merge(feature.name, "action", self.actions, feature.actions)
            _merge(feature.name, "dialog", self.dialogs, feature.dialogs)
            _merge(feature.name, "deep link", self.deep_links, feature.deep_links)
            _merge(feature.name, "posting limit", self.posting_limits, feature.posting_limits)
            _merge(feature.name, "fallback", self.fallbacks, feature.fallbacks)
            self.gates.extend(feature.gates)
            self.menu.extend(feature.menu)
        self.menu.sort(key=lambda entry: entry.order)
        missing = [kind.value for kind in Fallback if kind not in self.fallbacks]
        if missing:
            raise ValueError(f"no feature answers: {missing}")
        stepless = [name for name, spec in self.dialogs.items() if not spec.answered]
        if stepless:
            raise ValueError(f"dialogs without a step: {stepless}")

    def fallback(self, kind: Fallback) -> Handler:
        """The handler registered for ``kind``."""
        return self.fallbacks[kind]

    def may_hold(self, user: User, dialog: str) -> bool:
        """Whether this person's role and consent still allow the dialog ``dialog``."""
        spec = self.dialogs.get(dialog)
        return spec is not None and spec.policy.admits(user)

    def menu_for(self, user: User) -> list[list[Button]]:
        """The main menu for this person's role, two buttons to a row."""
        entries = [
            Button(label=entry.label, payload=entry.payload)
            for entry in self.menu
            if user.role.allows(entry.role) and (user.consented or not entry.consent)
        ]
        return [entries[i : i + 2] for i in range(0, len(entries), 2)]

    def described_commands(self, role: Role = Role.RESIDENT) -> list[tuple[str, str]]:
        """(command, description key) for a platform's command menu."""
        return [
            (name, spec.describe)
            for name, spec in self.commands.items()
            if spec.describe and role.allows(spec.policy.role) and spec.platforms is None
        ]


def _merge(feature: str, kind: str, mine: dict[Any, Any], theirs: dict[Any, Any]) -> None:
    clash = mine.keys() & theirs.keys()
    if clash:
        raise ValueError(f"{feature}: {kind} already registered: {sorted(clash)}")
    mine.update(theirs)


def menu_reply(ctx: Context, key: str = "menu.title", **params: Any) -> Reply:
    """A message ending in the main menu."""
    return Reply(key=key, params=params, buttons=ctx.main_menu())
