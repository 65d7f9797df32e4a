"""Notifications: messages to people who did not just write to us, through the outbox.

A notification is catalog keys and parameters, rendered in each recipient's language when it
is sent. Names that live in the municipality profile rather than in the catalogs (a theme,
a department, the connector's name) are filled in per language: ``build`` is called once
for every language among the recipients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from handlers.contract import Reply
from handlers.feature import Context

Build = Callable[[str], list[Reply]]


async def notify(ctx: Context, user_ids: Iterable[int | None], *, kind: str, build: Build) -> int:
    """Queue the replies ``build(lang)`` makes for each recipient; returns rows queued.

    The person acting is left out (they see what they did), and so is anyone unknown
    (an erased author) or unreachable (the outbox skips them).
    """
    wanted = {uid for uid in user_ids if uid is not None and uid != ctx.user.id}
    if not wanted:
        return 0
    groups = await ctx.repos.recipients.by_language(sorted(wanted), ctx.catalog.default)
    queued = 0
    for lang, ids in groups.items():
        payload = [reply.model_dump(mode="json") for reply in build(lang)]
        queued += await ctx.repos.outbox.fan_out(ids, payload, kind=kind, now=ctx.now)
    return queued
