"""How a feature module declares what it answers: commands, buttons, dialog steps, menu entries.

Each ``handlers/<area>.py`` creates one :class:`Feature` and registers its handlers on it with
decorators, in one visible place; :class:`Registry` joins them for the router.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from handlers.catalog import Catalog
from handlers.contract import Button, Dialog, Event, Reply, Response, Role, User
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
    #: The part of a button payload after its name, or a dialog button's value.
    value: str = ""
    #: Set by the runtime: extra information (e.g. which platforms are running).
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def lang(self) -> str:
        """The language to answer in: the person's choice, else their app's language."""
        return self.user.language or self.catalog.language(self.event.sender.language_hint)

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


class UnknownStep(LookupError):
    """A stored dialog is at a step this code does not know (an older or newer version)."""


class DialogSpec:
    """A multi-step conversation: who may hold it, what it posts, one handler per step.

    Declared with ``feature.dialog(name, role=...)``; each step is registered with
    ``@spec.step("title")`` and called as ``handler(ctx, dialog)``. The router checks the
    role (and consent, and a ban) at every step, not only when the dialog starts.
    """

    def __init__(
        self,
        name: str,
        *,
        role: Role,
        consent: bool,
        posts: str | None,
        open_to_banned: bool,
    ):
        self.name = name
        self.role = role
        self.consent = consent
        self.posts = posts
        self.open_to_banned = open_to_banned
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
class Command:
    """A slash command (with its aliases in other languages)."""

    handler: Handler
    role: Role = Role.RESIDENT
    #: Answered without leaving the active dialog (help, privacy).
    anytime: bool = False
    #: Needs the person's consent first (anything that stores personal data).
    consent: bool = True
    #: Only on these platforms (``None``: everywhere).
    platforms: frozenset[str] | None = None
    #: Shown in the platform's command menu with this catalog key as description.
    describe: str | None = None
    #: What it lets a person post (``idea``, ``comment``, ...): refused while muted, and
    #: counted against the flood limits.
    posts: str | None = None


@dataclass(frozen=True)
class Action:
    """A button payload name (``idea.support`` in ``idea.support:42``)."""

    handler: Handler
    role: Role = Role.RESIDENT
    consent: bool = True
    #: What it lets a person post, as for :class:`Command`.
    posts: str | None = None


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

    def command(
        self,
        *names: str,
        role: Role = Role.RESIDENT,
        anytime: bool = False,
        consent: bool = True,
        platforms: set[str] | None = None,
        describe: str | None = None,
        posts: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Answer ``/name`` (and aliases) with the decorated handler."""

        def register(handler: Handler) -> Handler:
            spec = Command(
                handler,
                role,
                anytime,
                consent,
                frozenset(platforms) if platforms else None,
                describe,
                posts,
            )
            for index, name in enumerate(names):
                self.commands[name] = spec if index == 0 else _alias(spec)
            return handler

        return register

    def action(
        self,
        name: str,
        *,
        role: Role = Role.RESIDENT,
        consent: bool = True,
        posts: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Answer button payloads ``name`` and ``name:...`` with the decorated handler."""

        def register(handler: Handler) -> Handler:
            self.actions[name] = Action(handler, role, consent, posts)
            return handler

        return register

    def dialog(
        self,
        name: str,
        *,
        role: Role = Role.RESIDENT,
        consent: bool = True,
        posts: str | None = None,
        open_to_banned: bool = False,
    ) -> DialogSpec:
        """Declare dialog ``name``: the role its every step needs, and what it posts."""
        if name in self.dialogs:
            raise ValueError(f"{self.name}: dialog already declared: {name}")
        spec = DialogSpec(
            name, role=role, consent=consent, posts=posts, open_to_banned=open_to_banned
        )
        self.dialogs[name] = spec
        return spec

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
    return Command(
        spec.handler, spec.role, spec.anytime, spec.consent, spec.platforms, None, spec.posts
    )


class Registry:
    """All features together; refuses two features claiming the same name."""

    def __init__(self, features: list[Feature]):
        self.features = features
        self.commands: dict[str, Command] = {}
        self.actions: dict[str, Action] = {}
        self.dialogs: dict[str, DialogSpec] = {}
        self.deep_links: dict[str, Handler] = {}
        self.menu: list[MenuEntry] = []
        for feature in features:
            _merge(feature.name, "command", self.commands, feature.commands)
            _merge(feature.name, "action", self.actions, feature.actions)
            _merge(feature.name, "dialog", self.dialogs, feature.dialogs)
            _merge(feature.name, "deep link", self.deep_links, feature.deep_links)
            self.menu.extend(feature.menu)
        self.menu.sort(key=lambda entry: entry.order)

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
            if spec.describe and role.allows(spec.role) and spec.platforms is None
        ]


def _merge(feature: str, kind: str, mine: dict[str, Any], theirs: dict[str, Any]) -> None:
    clash = mine.keys() & theirs.keys()
    if clash:
        raise ValueError(f"{feature}: {kind} already registered: {sorted(clash)}")
    mine.update(theirs)


def menu_reply(ctx: Context, key: str = "menu.title", **params: Any) -> Reply:
    """A message ending in the main menu."""
    return Reply(key=key, params=params, buttons=ctx.main_menu())
