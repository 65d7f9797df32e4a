"""People for the journeys: onboarded residents, staff with a role, their users rows, what the
outbox and the audit log hold, and the timers the router would arm."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from bot.app import App
from bot.runtime import Runtime
from handlers.contract import Reply, Role, Timer
from storage.clock import utcnow
from storage.users import User
from tests.support import Chat


async def person(
    app: App,
    user_id: str,
    *,
    platform: str = "test",
    language: str = "Nederlands",
    hood: str = "IJmuiden",
) -> Chat:
    """Someone who went through onboarding (consent, language, neighbourhood)."""
    chat = Chat(app, user_id=user_id, name=user_id.title(), platform=platform)
    await chat.onboard(language=language, hood=hood)
    return chat


async def with_role(app: App, chat: Chat, role: Role) -> Chat:
    """Give a chat's person a role (as the operator would on the server)."""
    user = await row(app, chat)
    async with app.db.transaction():
        await app.repos.users.set_role(user.id, role)
    return chat


async def connector(app: App, user_id: str = "ria") -> Chat:
    """An onboarded community connector (verbinder)."""
    return await with_role(app, await person(app, user_id), Role.CONNECTOR)


async def civil_servant(app: App, user_id: str = "ria") -> Chat:
    """An onboarded civil servant (ambtenaar)."""
    return await with_role(app, await person(app, user_id), Role.CIVIL_SERVANT)


async def row(app: App, who: Chat | str) -> User:
    """The users row of a chat (on its own platform), or of a user id on the test platform."""
    platform, user_id = ("test", who) if isinstance(who, str) else (who.platform, who.user_id)
    user = await app.repos.users.find(platform, user_id)
    assert user is not None, f"no users row for {platform}:{user_id}"
    return user


async def subscribe(chat: Chat) -> None:
    """Subscribe to "Wist je dat" with the buttons."""
    await chat.send("/wistjedat")
    await chat.press("Aanmelden")
    assert chat.keys == ["news.subscribed"]


@dataclass
class Queued:
    """One outbox row, with its replies as the handlers made them."""

    user_id: int
    platform: str
    kind: str
    replies: list[Reply]

    def text(self, app: App, lang: str) -> str:
        """How the recipient reads it (delivery renders in their language)."""
        return "\n".join(app.catalog.render(lang, reply, markup=False) for reply in self.replies)

    def payloads(self) -> list[str]:
        return [b.payload for reply in self.replies for line in reply.buttons for b in line]


async def outbox(app: App, kind: str | None = None) -> list[Queued]:
    """Everything queued (of one kind), oldest first."""
    rows = await app.db.fetchall(
        "SELECT user_id, platform, kind, payload FROM outbox"
        " WHERE ? IS NULL OR kind = ? ORDER BY id",
        (kind, kind),
    )
    return [
        Queued(
            user_id=r["user_id"],
            platform=r["platform"],
            kind=r["kind"],
            replies=[Reply.model_validate(item) for item in json.loads(r["payload"])],
        )
        for r in rows
    ]


async def for_user(app: App, chat: Chat, kind: str | None = None) -> list[Queued]:
    """What was queued for one chat's person."""
    user = await row(app, chat)
    return [q for q in await outbox(app, kind) if q.user_id == user.id]


async def delivered(app: App) -> None:
    """Everything queued reached its person, as delivery marks it (what they pressed in a
    message had reached them)."""
    rows = await app.db.fetchall("SELECT id FROM outbox WHERE status = 'pending'")
    await app.repos.outbox.record_sent([int(r["id"]) for r in rows], utcnow())


async def audit_actions(app: App) -> list[str]:
    """The actions in the audit log, oldest first."""
    return [r["action"] for r in await app.db.fetchall("SELECT action FROM audit_log ORDER BY id")]


class TimerLog:
    """Stands in for the scheduler: records the timers the router would arm."""

    def __init__(self, app: App):
        self.armed: list[Timer] = []
        app.router.arm_timers = self._arm

    async def _arm(self, timers: list[Timer]) -> None:
        self.armed.extend(timers)


async def run_job(app: App, job: str, at: datetime) -> None:
    """Run a scheduled job (``"<kind>:<key>"``, as a Timer names it) at the moment ``at``,
    with the runner the running bot's scheduler calls."""
    runtime = Runtime(app, adapters=[])
    kind, _, key = job.partition(":")
    clock = app.router.clock
    app.router.clock = lambda: at
    try:
        await runtime.scheduler.kinds[kind].runner(key)
    finally:
        app.router.clock = clock


async def banned_over_reports(app: App, connector: Chat, idea_id: int, *, reporters: str) -> None:
    """Three residents (``reporters``-0 to -2) report the first comment under the idea as
    abusive, and the connector bans its author from /meldingen."""
    for n in range(3):
        other = await person(app, f"{reporters}-{n}")
        await other.press_payload(f"idea.comments:{idea_id}")
        await other.press("Meld 1")
        await other.press("Schelden of beledigend")
    await connector.send("/meldingen")
    await connector.press("Blokkeren")
    await connector.send("Herhaaldelijk schelden.")
    assert connector.keys[0] == "moderation.done_ban"


def refused_as_unknown(app: App, chat: Chat) -> None:
    """The last answer is the one to a command this person may not use: as to a made-up
    command, naming at most a command of a resident spelled alike (never one of staff)."""
    assert chat.keys in (["general.unknown_command"], ["general.unknown_command_meant"]), chat.keys
    for seen in chat.last:
        meant = seen.reply.params.get("meant")
        if meant is not None:
            assert app.registry.commands[meant.lstrip("/")].role is Role.RESIDENT, meant
