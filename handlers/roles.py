"""Roles in the console: ``/als ROL`` lets one person try every side of the bot locally.

On Telegram and Matrix roles are only granted on the server (``samenspel grant``); this
command exists on the console platform alone.
"""

from __future__ import annotations

from handlers.contract import Response, Role, respond
from handlers.feature import Context, Feature, menu_reply

feature = Feature("roles")

CONSOLE_ROLES = {Role.RESIDENT, Role.CIVIL_SERVANT, Role.CONNECTOR}


@feature.command("als", consent=False, platforms={"console"}, anytime=True)
async def act_as(ctx: Context) -> Response:
    """Switch the local console user's role."""
    wanted = ctx.value.strip().lower()
    role = next((r for r in CONSOLE_ROLES if r.value == wanted), None)
    choices = ", ".join(r.value for r in Role if r in CONSOLE_ROLES)
    if role is None:
        return respond(menu_reply(ctx, "roles.act_as_usage", roles=choices))
    await ctx.repos.users.set_role(ctx.user.id, role)
    ctx.user = ctx.user.model_copy(update={"role": role})
    return respond(menu_reply(ctx, "roles.act_as_done", role=role.value))
