"""Roles: staff rights come from an invite link; the console can try every role with /als.

On Telegram and Matrix a role is granted only on the server: ``samenspel grant`` directly,
or ``samenspel invite`` for a one-time link that the new civil servant or connector opens::

    /start inv_CODE ──(onboarding first, if new)──► unknown code ──► "ken ik niet"
                                                    used by you  ──► "al gebruikt, je bent ..."
                                                    used code    ──► "al gebruikt"
                                                    expired      ──► "verlopen"
                                                    has the role ──► "je bent al ..." (unused)
                                                    valid        ──► role granted, audited,
                                                                     menu with the new role

``/als ROL`` exists on the console platform alone, to try each side of the bot locally.
"""

from __future__ import annotations

import logging

from handlers.contract import Reply, Response, Role, User, respond
from handlers.feature import Context, Fallback, Feature, Registry, menu_reply
from storage.invites import Invite

log = logging.getLogger(__name__)

feature = Feature("roles")

CONSOLE_ROLES = {Role.RESIDENT, Role.CIVIL_SERVANT, Role.CONNECTOR, Role.ADMIN}


def role_name(ctx: Context, role: Role) -> str:
    """A role as residents read it, in their language."""
    return ctx.catalog.text(ctx.lang, f"roles.names.{role.value}", {}, markup=False)


def role_lost(lost: Role) -> Reply:
    """What someone hears when what they were doing stopped because they are no longer
    ``lost`` (a revoke, ``/als``): plainly why, not that it "expired"."""
    if lost is Role.RESIDENT:  # nobody stops being a resident: no role to name
        return Reply(key="general.dialog_dropped")
    return Reply(key=f"roles.lost.{lost.value}")


def dropped_word(registry: Registry, person: User, was: Role, dialog: str) -> Reply:
    """What ``person``, whose role was ``was`` until now, hears when their new role may no
    longer hold ``dialog``: the role they had ("Je bent geen verbinder meer") where it
    allowed the dialog, else the one the dialog needs; the general word where their role
    is not the reason (see :meth:`Registry.lost_role`)."""
    needed = registry.lost_role(person, dialog)
    if needed is None:
        return Reply(key="general.dialog_dropped")
    return role_lost(was if was.allows(needed) else needed)


@feature.fallback(Fallback.ROLE_LOST)
async def dialog_role_lost(ctx: Context) -> Response:
    """Their dialog was dropped because their role was revoked (``ctx.value`` the role)."""
    word = role_lost(Role(ctx.value))
    return respond(menu_reply(ctx, word.key))


#: The ``/start`` prefix of an invite link.
INVITE_LINK = "inv"


@feature.deep_link(INVITE_LINK)
async def redeem_invite(ctx: Context) -> Response:
    """Someone opened an invite link: grant its role, once, and record who got it."""
    return await _redeem(ctx, await ctx.repos.invites.find(ctx.value.strip()))


async def redeem_kept_invite(ctx: Context, digest: str) -> Response:
    """The invite link a new person opened before onboarding, kept only as its code's hash."""
    return await _redeem(ctx, await ctx.repos.invites.find_hashed(digest))


async def _redeem(ctx: Context, invite: Invite | None) -> Response:
    if invite is None:
        log.info("invite refused reason=unknown")
        return respond(menu_reply(ctx, "invite.unknown"))
    role = invite.role
    if invite.used:
        if invite.redeemed_by == ctx.user.id and ctx.user.role.allows(role):
            return respond(menu_reply(ctx, "invite.yours", role=role_name(ctx, ctx.user.role)))
        return respond(menu_reply(ctx, "invite.used"))
    if invite.expired(ctx.now):
        return respond(menu_reply(ctx, "invite.expired"))
    if ctx.user.role.allows(role):
        return respond(menu_reply(ctx, "invite.already", role=role_name(ctx, ctx.user.role)))
    if not await ctx.repos.invites.redeem(invite.id, ctx.user.id, ctx.now):
        return respond(menu_reply(ctx, "invite.used"))  # someone else was just quicker
    previous = ctx.user.role
    await ctx.repos.users.set_role(ctx.user.id, role)
    await ctx.repos.audit.record(
        "invite.redeem",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject_user_id=ctx.user.id,
        detail={"invite": invite.id, "role": role.value, "previous": previous.value},
    )
    ctx.user = ctx.user.model_copy(update={"role": role})
    return respond(menu_reply(ctx, "invite.welcome", role=role_name(ctx, role)))


@feature.command(
    "als", consent=False, platforms={"console"}, anytime=True, role=Role.RESIDENT, words=True
)
async def act_as(ctx: Context) -> Response:
    """Switch the local console user's role."""
    wanted = ctx.value.strip().lower()
    role = next((r for r in CONSOLE_ROLES if r.value == wanted), None)
    choices = ", ".join(r.value for r in Role if r in CONSOLE_ROLES)
    if role is None:
        return respond(menu_reply(ctx, "roles.act_as_usage", roles=choices))
    was = ctx.user.role
    await ctx.repos.users.set_role(ctx.user.id, role)
    ctx.user = ctx.user.model_copy(update={"role": role})
    done = menu_reply(ctx, "roles.act_as_done", role=role_name(ctx, role))
    if ctx.dialog is not None and not ctx.registry.may_hold(ctx.user, ctx.dialog.name):
        # As when the role is revoked: a dialog the new role may not hold ends now, said so
        # (with what was written in it), rather than offering "Verder" back into it and
        # dropping it at the next word.
        word = dropped_word(ctx.registry, ctx.user, was, ctx.dialog.name)
        written = ctx.registry.written(ctx.dialog.name, ctx.dialog.data)
        ctx.dialog = None
        return respond(word, *written, done, end_dialog=True)
    return respond(done)
