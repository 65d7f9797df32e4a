"""Experiments' groups on Telegram: whether the bot may moderate there, muting, and taking
someone out.

Kept apart from the adapter so that ``samenspel doctor`` can ask without starting it.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from telegram import Bot, ChatMember, ChatPermissions
from telegram.error import BadRequest, TelegramError

#: How long the ban that takes someone out of a group lasts, should the unban that follows
#: it not come (Telegram takes less than 30 seconds as forever).
REMOVAL_BAN = timedelta(minutes=1)

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


async def mute(bot: Bot, room: str, person: str, until: datetime | None) -> None:
    """Restrict a member until ``until`` (Telegram lifts it by itself then); None gives a
    restricted member their rights back.

    restrictChatMember replaces whatever status the person has: for a banned (``kicked``)
    person it ends the ban (with every permission they are ``left`` and may join again;
    restricted, they may join restricted). So a banned person is left alone, whoever
    banned them (the bot, or an admin by hand), and an unmute touches only a member who is
    restricted. Telegram's errors are raised as they come.
    """
    status = (await bot.get_chat_member(int(room), int(person))).status
    if status == ChatMember.BANNED:
        return
    if until is None:
        if status != ChatMember.RESTRICTED:
            return  # not restricted (any more): nothing to give back
        permissions = ChatPermissions.all_permissions()
    else:
        permissions = ChatPermissions.no_permissions()
    await bot.restrict_chat_member(int(room), int(person), permissions, until_date=until)


async def remove(bot: Bot, room: str, person: str) -> bool:
    """Take a member out of a group: a ban, lifted at once (``only_if_banned``), so that
    they are ``left`` and may join again when let in. Whether they were in it.

    Only members: someone not in the group is left as they are (an unban of a ``left``
    person changes nothing, but a banned one, by the bot or by hand, must stay banned), and
    so are its admins (Telegram refuses). A restricted member loses the restriction with
    the ban; the room worker puts a mute that holds back. The ban itself ends after a
    minute, should the unban not come (a restart in between); tried again meanwhile, the
    removal finishes it.
    """
    try:
        member = await bot.get_chat_member(int(room), int(person))
    except BadRequest as exc:
        if "user not found" in str(exc).lower():
            return False  # never seen in this group
        raise
    if member.status == ChatMember.BANNED and _removal_ban(member):
        # Ours, from a try that did not get as far as the unban (an error, a restart):
        # finished now, instead of their waiting out the minute.
        await bot.unban_chat_member(int(room), int(person), only_if_banned=True)
        return True
    inside = member.status == ChatMember.MEMBER or (
        member.status == ChatMember.RESTRICTED and bool(getattr(member, "is_member", False))
    )
    if not inside:
        return False
    await bot.ban_chat_member(int(room), int(person), until_date=datetime.now(UTC) + REMOVAL_BAN)
    # A basic group has no unban (there a ban keeps nobody out): they are out all the same.
    with contextlib.suppress(BadRequest):
        await bot.unban_chat_member(int(room), int(person), only_if_banned=True)
    return True


def _removal_ban(member: ChatMember) -> bool:
    """Whether a ban is one of a removal: it ends within about a minute (a ban by hand
    lasts longer, or forever: ``until_date`` 0)."""
    until = getattr(member, "until_date", None)
    if not isinstance(until, datetime):
        return False
    now = datetime.now(UTC)
    return now < until <= now + REMOVAL_BAN + timedelta(seconds=30)
