"""The end of a mute: the scheduler's ``mute:<sanction id>`` job tells the person they may
post again.

A mute's end is armed when the connector mutes someone (:mod:`handlers.community.moderation`)
and again when an erased account that was muted comes back (:mod:`handlers.start.onboarding`);
lifting a mute disarms it. Whether someone may post never waits for this job: the router's
gate reads the stored end time.
"""

from __future__ import annotations

from datetime import datetime

from handlers.contract import Reply
from storage import Repositories


def job(sanction_id: int) -> str:
    """The scheduler job that tells someone their mute is over."""
    return f"mute:{sanction_id}"


async def expire_mutes(repos: Repositories, now: datetime) -> int:
    """Tell everyone whose mute has ended by ``now``; returns how many.

    The runner of the scheduler's ``mute`` jobs (with :meth:`Sanctions.pending` listing them
    after a restart).
    """
    async with repos.db.transaction():
        ended = await repos.sanctions.expire_due(now)
        for sanction in ended:
            over = Reply(key="moderation.told_mute_over")
            await repos.outbox.enqueue(
                sanction.user_id, [over.model_dump(mode="json")], kind="moderation", now=now
            )
            await repos.audit.record(
                "user.mute_end",
                now=now,
                subject_user_id=sanction.user_id,
                detail={"sanction": sanction.id},
            )
    return len(ended)
