"""Shared test helpers: a person chatting with the router, seeing replies as rendered text."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import handlers
from bot.app import App
from bot.platforms.console import CONSOLE
from bot.platforms.matrix import MATRIX
from handlers.contract import (
    Dialog,
    Event,
    Photo,
    Platform,
    Reply,
    Response,
    Role,
    Sender,
    respond,
)
from handlers.feature import Context, Feature, Registry

#: Platforms a test chat may be on whose adapter declares something special.
PLATFORMS: dict[str, Platform] = {p.name: p for p in (CONSOLE, MATRIX)}


@dataclass
class Seen:
    """One reply as the person sees it: its key, its plain text and its buttons."""

    key: str
    text: str
    buttons: list[tuple[str, str]]
    reply: Reply

    def labels(self) -> list[str]:
        return [label for label, _ in self.buttons]


@dataclass
class Chat:
    """One person talking to the bot through the router (a platform with native buttons)."""

    app: App
    user_id: str = "anna"
    name: str = "Anna"
    language_hint: str | None = "nl"
    platform: str = "test"
    chat_id: str | None = None
    history: list[list[Seen]] = field(default_factory=list)

    @property
    def last(self) -> list[Seen]:
        return self.history[-1] if self.history else []

    @property
    def text(self) -> str:
        """All text of the last answer, joined."""
        return "\n".join(seen.text for seen in self.last)

    @property
    def keys(self) -> list[str]:
        return [seen.key for seen in self.last]

    def buttons(self) -> list[tuple[str, str]]:
        return [button for seen in self.last for button in seen.buttons]

    def event(self, **kwargs: object) -> Event:
        return Event(
            platform=self.platform,
            chat_id=self.chat_id or self.user_id,
            sender=Sender(
                platform_user_id=self.user_id,
                display_name=self.name,
                language_hint=self.language_hint,
            ),
            received_at=datetime.now(UTC),
            **kwargs,  # type: ignore[arg-type]
        )

    def __post_init__(self) -> None:
        # The console and Matrix show buttons as numbered options: declared by their
        # adapters when they start, here without starting them.
        known = {p.name for p in self.app.router.installation.platforms}
        if self.platform in PLATFORMS and self.platform not in known:
            self.app.router.declare(PLATFORMS[self.platform])

    async def handle(self, event: Event) -> list[Seen]:
        seen: list[Seen] = []

        async def deliver(_: Event, lang: str, replies: list[Reply]) -> None:
            catalog = self.app.catalog
            for reply in replies:
                seen.append(
                    Seen(
                        key=reply.key,
                        text=catalog.render(lang, reply, markup=False),
                        buttons=[
                            (catalog.label(lang, b), b.payload)
                            for row in reply.buttons
                            for b in row
                        ],
                        reply=reply,
                    )
                )

        await self.app.router.handle(event, deliver)
        self.history.append(seen)
        return seen

    async def send(self, text: str) -> list[Seen]:
        """Type a line: '/cmd args' is a command, anything else is text."""
        if text.startswith("/") and len(text) > 1:
            command, _, args = text[1:].partition(" ")
            return await self.handle(self.event(command=command, args=args.strip(), written=text))
        return await self.handle(self.event(text=text))

    async def press(self, label: str) -> list[Seen]:
        """Press the button in the last answer whose label contains ``label``."""
        for shown, payload in self.buttons():
            if label.casefold() in shown.casefold():
                return await self.handle(self.event(button=payload))
        raise AssertionError(f"no button {label!r} in {self.buttons()}")

    async def press_payload(self, payload: str) -> list[Seen]:
        return await self.handle(self.event(button=payload))

    async def photo(self, data: bytes = b"\xff\xd8\xff fake jpeg") -> list[Seen]:
        return await self.handle(self.event(photo=Photo(data=data)))

    async def onboard(self, language: str = "Nederlands", hood: str = "IJmuiden") -> None:
        """Go through onboarding: consent, language, neighbourhood."""
        await self.send("/start")
        await self.press("Ja")
        await self.press(language)
        await self.press(hood)


def with_broken_step(app: App) -> None:
    """Give the router a dialog whose step writes (makes the person an admin) and then fails
    with a bug: ``/breek`` opens it, and whatever comes next meets the broken step."""
    feature = Feature("broken-step")
    broken = feature.dialog("broken", consent=False, role=Role.RESIDENT)

    @feature.command("breek", consent=False, role=Role.RESIDENT)
    async def start(ctx: Context) -> Response:
        return respond(
            Reply(key="raw", params={"text": "ok"}), dialog=Dialog(name="broken", step="one")
        )

    @broken.step("one")
    async def one(ctx: Context, dialog: Dialog) -> Response:
        await ctx.repos.users.set_role(ctx.user.id, Role.ADMIN)
        raise RuntimeError("a bug in this step")

    app.router.registry = Registry([*handlers.FEATURES, feature])
