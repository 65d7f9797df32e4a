"""Experiments' groups on Telegram: whether the bot may moderate there.

Kept apart from the adapter so that ``samenspel doctor`` can ask without starting it.
"""

from __future__ import annotations

from telegram import Bot, ChatMember
from telegram.error import TelegramError

#: What the bot must be allowed in an experiment's group to invite and moderate there.
ADMIN_RIGHTS = ("can_delete_messages", "can_restrict_members", "can_invite_users")


async def admin_problem(bot: Bot, room: str) -> str | None:
    """Why the bot cannot moderate a group (not in it, no admin, a right missing); None:
    it can. Asked with getChatMember for the bot itself."""
    try:
        member = await bot.get_chat_member(int(room), bot.id)
    except TelegramError as exc:
        return f"getChatMember failed: {exc}"
    if member.status == ChatMember.OWNER:
        return None
    if member.status != ChatMember.ADMINISTRATOR:
        return f"the bot is {member.status}, not an administrator"
    missing = [right for right in ADMIN_RIGHTS if not getattr(member, right, False)]
    return f"the bot lacks {', '.join(missing)}" if missing else None
