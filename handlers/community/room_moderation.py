"""Reported messages in experiments' rooms, on the moderation desk (``/meldingen``).

The same desk as reported comments and ideas (:mod:`handlers.community.moderation`); this
is one more kind of item on it, ``r12``. What the connector decides is done in the room on
the platform by the runtime (a stored room task: delete or redact, restrict or lower the
power level, ban), and the author is told privately why, in their language.

    card: the message (as the room shows it, and as first written if edited since), its
          room, link, reporters
      ├─ laten staan ──► reason (or none) ──┐
      ├─ verbergen ────► reason ────────────┤ room task(s) stored; report closed;
      ├─ waarschuwen ──► reason ────────────┤ author told in private (if known here),
      ├─ dempen ──► 1 day | 1 week | days ──► reason ──┤ reporters told, audit log
      ├─ blokkeren ────► reason ────────────┤
      └─ later ──► next card                └──► next card

    /beperkingen ──► room mutes and bans in force ──opheffen──► lifted, the platform's
        undoing queued now (unmute, unban), the person told (if known here), audit log;
        a participant let back into the room is invited again
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers import when
from handlers.answers import excerpt, parse_id
from handlers.contract import Button, Dialog, Reply, Response, Role, respond, rows
from handlers.experiments.rooms import invite
from handlers.feature import Context, menu_reply
from handlers.phrases import phrase
from handlers.review import Decided, Kind, Notice, Outcome, announce
from handlers.start.menu import stale_button
from storage.clock import days_later
from storage.experiments.rooms import RoomOp, RoomReport, RoomSanction

DECISIONS = ("keep", "hide", "warn", "mute", "ban")
#: Decisions about the author, not only the message: never about staff.
PERSONAL = frozenset({"warn", "mute", "ban"})
#: Shown on the card: the rest is in the link (a message can be long).
CARD_EXCERPT = 800
#: Unicode isolation around the reported text, so right-to-left text stays inside it.
_ISOLATE = "\u2068{}\u2069"


async def _role(ctx: Context, user_id: int | None) -> Role | None:
    if user_id is None:
        return None
    author = await ctx.repos.users.get(user_id)
    return author.role if author is not None else None


async def _who(ctx: Context, user_id: int | None) -> str:
    """The author of a reported message as the card names them."""
    role = await _role(ctx, user_id)
    if user_id is None or role is None:
        return phrase(ctx, "rooms.mod.author_unknown")
    return phrase(ctx, f"moderation.author.{role.value}", user=user_id)


class RoomMessages(Kind[RoomReport]):
    """A reported message in an experiment's room (``r12``)."""

    name = "room"
    letters = "r"

    async def load(self, ctx: Context, item_id: int) -> RoomReport | None:
        report = await ctx.repos.rooms.get_report(item_id)
        return report if report is not None and not report.decided else None

    async def missing(self, ctx: Context, item_id: int) -> Response:
        found = await ctx.repos.rooms.get_report(item_id) is not None
        key = "rooms.mod.already_decided" if found else "rooms.mod.not_found"
        return await self.desk.next_card(ctx, None, Reply(key=key, params={"id": item_id}))

    def state(self, item: RoomReport) -> str:
        return "open"

    def made(self, item: RoomReport) -> datetime:
        return item.created_at

    def owner(self, item: RoomReport) -> int | None:
        return item.author_user_id

    async def _author_role(self, ctx: Context, item: RoomReport) -> Role | None:
        return await _role(ctx, item.author_user_id)

    async def decisions(self, ctx: Context, item: RoomReport) -> tuple[str, ...]:
        """What can be decided: nothing about staff but their message; a warning needs an
        author the bot can reach; a message in a group the room has left cannot be hidden
        (the bot is out of it)."""
        role = await self._author_role(ctx, item)
        if role is not None and role is not Role.RESIDENT:
            decisions: tuple[str, ...] = ("keep", "hide")
        elif item.author_user_id is None:
            decisions = ("keep", "hide", "mute", "ban")
        else:
            decisions = DECISIONS
        if item.elsewhere:
            return tuple(d for d in decisions if d != "hide")
        return decisions

    async def refuse(self, ctx: Context, item: RoomReport, decision: str) -> Response | None:
        if decision not in await self.decisions(ctx, item):
            return await stale_button(ctx)
        return None

    def first_step(self, item: RoomReport, decision: str) -> str | None:
        return "period" if decision == "mute" else "reason"

    async def changed(
        self, ctx: Context, item: RoomReport, dialog: Dialog, text: str | None
    ) -> Response | None:
        if str(dialog.data["decision"]) not in await self.decisions(ctx, item):
            return respond(await self.card(ctx, item))
        return await super().changed(ctx, item, dialog, text)

    def reason_optional(self, decision: str) -> bool:
        return decision == "keep"

    async def reason_question(self, ctx: Context, dialog: Dialog) -> Reply:
        decision = str(dialog.data["decision"])
        days = int(dialog.data.get("days", 0))
        period = phrase(ctx, "moderation.days", count=days)
        report = await ctx.repos.rooms.get_report(int(dialog.data["id"]))
        return Reply(
            key=f"rooms.mod.ask_reason_{decision}{_kept(decision, report)}",
            params={"max": self.desk.max_reason, "period": period},
        )

    async def card(self, ctx: Context, item: RoomReport) -> Reply:
        experiment = await ctx.repos.experiments.get(item.room.experiment_id)
        author = await _who(ctx, item.author_user_id)
        body = excerpt(item.body, CARD_EXCERPT) if item.body else phrase(ctx, "rooms.mod.no_text")
        parts = []
        if item.original_body:
            # Edited before it was reported: the card shows it as the room does now, and
            # what it said first (abuse edited away is still abuse).
            first = _ISOLATE.format(excerpt(item.original_body, CARD_EXCERPT))
            parts.append(Reply(key="rooms.mod.card_edited", params={"original": first}))
        parts.append(Reply(key="rooms.mod.card_reporters", params={"count": len(item.reporters)}))
        if item.link:
            parts.append(Reply(key="rooms.mod.card_link", params={"link": item.link}))
        if item.elsewhere:
            parts.append(Reply(key="rooms.mod.card_elsewhere"))
        decisions = [
            self.desk.decision_button(f"moderation.btn_{d}", self.name, item.id, d)
            for d in await self.decisions(ctx, item)
        ]
        return Reply(
            key="rooms.mod.card",
            params={
                "waiting": await ctx.repos.reports.waiting() + await ctx.repos.rooms.waiting(),
                "title": experiment.title(ctx.lang) if experiment else "",
                "platform": item.room.platform,
                "author": author,
                "when": ctx.show_moment(item.created_at),
                "body": _ISOLATE.format(body),
            },
            parts=parts,
            buttons=[
                *rows(decisions, 2),
                [self.desk.later_button(self.name, item.id)],
                [Button(label="menu.back", payload="menu")],
            ],
        )

    async def carry_out(
        self, ctx: Context, item: RoomReport, dialog: Dialog, text: str | None
    ) -> Outcome:
        """Store what the platform must do in the room, close the report, tell and log."""
        decision = str(dialog.data["decision"])
        days = int(dialog.data.get("days", 0))
        rooms, room, person = ctx.repos.rooms, item.room, item.author_platform_id
        if not await rooms.decide(item.id, decision, ctx.now):
            return await self.missing(ctx, item.id)
        # Days on the municipality's clock, as the person is told ("tot ...").
        until = days_later(ctx.now, days, ctx.timezone) if decision == "mute" else None
        by = ctx.user.id  # told if the platform refuses
        if decision in ("hide", "mute", "ban") and not item.elsewhere:
            # A message in a group the room has left is out of reach; its number in the
            # room's group now is another message.
            await rooms.queue(room, RoomOp.HIDE, item.message_id, ctx.now, by_user_id=by)
        if decision == "mute":
            await rooms.queue(room, RoomOp.MUTE, person, ctx.now, until=until, by_user_id=by)
            # The end of a mute is a task of its own, due then: it survives a restart.
            await rooms.queue(room, RoomOp.UNMUTE, person, ctx.now, due_at=until, by_user_id=by)
        if decision == "ban":
            await rooms.queue(room, RoomOp.BAN, person, ctx.now, by_user_id=by)
        if decision != "keep":
            assert text is not None
            await rooms.sanction(
                room.id,
                report_id=item.id,
                user_id=item.author_user_id,
                kind="warning" if decision == "warn" else decision,
                reason=text,
                by_user_id=ctx.user.id,
                now=ctx.now,
                ends_at=until,
                target=person,
            )
        experiment = await ctx.repos.experiments.get(room.experiment_id)

        def params(lang: str) -> dict[str, Any]:
            return {
                "title": experiment.title(lang) if experiment else "",
                "message": excerpt(item.body, 120),
                "connector": ctx.profile.connector(lang),
                # In the reader's language: ctx.lang is the connector's.
                "until": when.moment(ctx.local(until), lang) if until else "",
            }

        kept = _kept(decision, item)

        def to_author(lang: str) -> list[Reply]:
            # The connector's words, as written (with the note that says so).
            explained = Reply(key="moderation.told_reason", params={"reason": text}, original=True)
            why = [explained] if text else []
            key = f"rooms.mod.told_{decision}{kept if decision == 'mute' else ''}"
            return [Reply(key=key, params=params(lang), parts=why)]

        def to_reporters(lang: str) -> list[Reply]:
            key = "rooms.mod.reporter_kept" if decision == "keep" else "rooms.mod.reporter_acted"
            # Not the message: it is its author's words, gone with them if they are erased.
            shown = {k: v for k, v in params(lang).items() if k != "message"}
            return [Reply(key=key, params=shown)]

        detail: dict[str, Any] = {"room": room.id, "platform": room.platform, "report": item.id}
        if decision == "mute":
            detail["days"] = days
        await announce(
            ctx,
            f"room.{decision}",
            Notice(
                [item.author_user_id],
                to_author,
                kind="moderation",
                record="author_told",
                flag=True,
            ),
            Notice(item.reporters, to_reporters, kind="moderation", record="reporters_told"),
            detail=detail,
            subject=f"room_report:{item.id}",
            subject_user_id=item.author_user_id,
            reason=text,
        )
        period = phrase(ctx, "moderation.days", count=days)
        return Decided(Reply(key=f"rooms.mod.done_{decision}{kept}", params={"period": period}))


def _kept(decision: str, report: RoomReport | None) -> str:
    """``"_kept"`` for a mute or ban over a message in a group the room has left: the
    message stays there (the bot is out of it), so no text may say it is taken away."""
    elsewhere = report is not None and report.elsewhere
    return "_kept" if elsewhere and decision in ("mute", "ban") else ""


# Mutes and bans in force, on /beperkingen ------------------------------------------------


async def in_force(
    ctx: Context, *, limit: int, offset: int = 0
) -> tuple[list[Reply], list[list[Button]]]:
    """The room mutes and bans that hold now (``limit`` from ``offset``, newest first), each
    a line and an "Opheffen" button."""
    parts: list[Reply] = []
    buttons: list[list[Button]] = []
    for sanction in await ctx.repos.rooms.in_force(ctx.now, limit=limit, offset=offset):
        experiment = await ctx.repos.experiments.get(sanction.room.experiment_id)
        who = await _sanctioned(ctx, sanction)
        params: dict[str, object] = {
            "who": who,
            "title": experiment.title(ctx.lang) if experiment else "",
            "platform": sanction.room.platform,
        }
        erased = sanction.pseudonym is not None
        if not erased:  # after an erasure neither the message nor the reason is kept
            params["message"] = _ISOLATE.format(excerpt(sanction.body, 60))
            params["reason"] = sanction.reason or ""
        if sanction.ends_at is not None:
            params["until"] = when.moment(ctx.local(sanction.ends_at), ctx.lang)
        else:
            params["since"] = when.moment(ctx.local(sanction.created_at), ctx.lang)
        key = f"rooms.mod.active_{sanction.kind}" + ("_erased" if erased else "")
        parts.append(Reply(key=key, params=params))
        buttons.append(
            [
                Button(
                    label="rooms.mod.btn_lift",
                    payload=f"{LIFT}:{sanction.id}",
                    params={"who": who, "title": params["title"]},
                )
            ]
        )
    return parts, buttons


async def _sanctioned(ctx: Context, sanction: RoomSanction) -> str:
    """Whom a room mute or ban holds: as the card named them, or, after they erased their
    data, as an erased account by the erasure's pseudonym (nothing that names them)."""
    if sanction.pseudonym is not None:
        return phrase(ctx, "rooms.mod.author_erased", pseudonym=sanction.pseudonym)
    return await _who(ctx, sanction.user_id)


#: The action of a room sanction's "Opheffen" button (``mod.lift_room:<sanction>``).
LIFT = "mod.lift_room"


async def lift(ctx: Context) -> Response:
    """End a room mute or ban early: the platform undoes it, the person is told."""
    sanction_id = parse_id(ctx.value)
    if sanction_id is None:
        return await stale_button(ctx)
    found = await ctx.repos.rooms.in_force(ctx.now, sanction_id=sanction_id)
    if not found:  # unknown, lifted or over already, or not a mute or ban
        return await stale_button(ctx)
    [sanction] = found
    lifted = await ctx.repos.rooms.lift(sanction, by_user_id=ctx.user.id, now=ctx.now)
    if not lifted:
        return await stale_button(ctx)
    room = sanction.room
    invited = 0
    # Let back in, a participant is invited again (after the unban: tasks run in order).
    # Someone unknown when the ban was decided may use the bot by now: told as well.
    user_id = sanction.user_id
    if user_id is None:
        known = await ctx.repos.users.find(room.platform, sanction.target)
        user_id = known.id if known is not None else None
    takes_part = ctx.repos.experiments.takes_part
    if (
        sanction.kind == "ban"
        and user_id is not None
        and await takes_part(room.experiment_id, user_id)
    ):
        invited = await invite(ctx, room, user_id)
    experiment = await ctx.repos.experiments.get(room.experiment_id)

    def to_person(lang: str) -> list[Reply]:
        params = {
            "title": experiment.title(lang) if experiment else "",
            "connector": ctx.profile.connector(lang),
        }
        told = [Reply(key=f"rooms.mod.told_lifted_{sanction.kind}", params=params)]
        if invited:
            told.append(Reply(key="rooms.invite_coming"))
        return told

    await announce(
        ctx,
        "room.lift",
        Notice([user_id], to_person, kind="moderation", record="author_told", flag=True),
        detail={
            "room": room.id,
            "platform": room.platform,
            "kind": sanction.kind,
            "sanctions": lifted,
        },
        subject=f"room:{room.id}",
        subject_user_id=user_id,
    )
    return respond(
        menu_reply(
            ctx,
            f"rooms.mod.lifted_{sanction.kind}",
            who=await _sanctioned(ctx, sanction),
            title=experiment.title(ctx.lang) if experiment else "",
        )
    )
