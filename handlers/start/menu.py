"""The always-there parts: main menu, help, cancel, and answers to what we don't understand."""

from __future__ import annotations

from handlers.contract import Button, Reply, Response, respond
from handlers.feature import Context, Feature, menu_reply
from handlers.start.onboarding import welcome

feature = Feature("general")
feature.menu_entry("menu.help", "help", order=90)


@feature.command("menu", consent=False, describe="commands.menu")
@feature.action("menu", consent=False)
async def show_menu(ctx: Context) -> Response:
    """The main menu."""
    return respond(menu_reply(ctx))


@feature.command("help", "hulp", anytime=True, consent=False, describe="commands.help")
@feature.action("help", consent=False)
async def show_help(ctx: Context) -> Response:
    """What the bot is for and how to use it; keeps any dialog going."""
    parts = [Reply(key="general.help_body", params={"connector": ctx.profile.connector(ctx.lang)})]
    if ctx.dialog is not None:
        parts.append(Reply(key="general.help_in_dialog"))
    return respond(
        Reply(
            key="general.help_title",
            params={"municipality": ctx.profile.name(ctx.lang)},
            parts=parts,
            buttons=ctx.main_menu(),
        )
    )


@feature.command("annuleer", "cancel", "stop", consent=False, describe="commands.cancel")
@feature.action("cancel", consent=False)
async def cancel(ctx: Context) -> Response:
    """Leave whatever dialog is active."""
    key = "general.cancelled" if ctx.dialog is not None else "general.nothing_to_cancel"
    return respond(menu_reply(ctx, key), end_dialog=True)


async def fallback(ctx: Context) -> Response:
    """Something arrived outside any dialog that no command or button explains."""
    if not ctx.user.consented:
        # A first message without /start (common on Matrix): begin with the welcome.
        return await welcome(ctx)
    event = ctx.event
    if event.photo is not None or event.unsupported is not None:
        return respond(menu_reply(ctx, "general.cannot_use_media"))
    if not ctx.text:
        return respond(menu_reply(ctx, "general.empty"))
    return respond(menu_reply(ctx, "general.not_understood"))


async def unknown_command(ctx: Context) -> Response:
    """A command we don't know (or one this person may not use: they hear the same)."""
    return respond(menu_reply(ctx, "general.unknown_command", command=ctx.event.command or ""))


async def stale_button(ctx: Context) -> Response:
    """A button from an old message, or one whose data we don't recognise."""
    return respond(menu_reply(ctx, "general.stale_button"))


async def consent_needed(ctx: Context) -> Response:
    """Someone who has not agreed to the privacy statement asks for something that needs it."""
    return respond(
        Reply(
            key="general.consent_needed",
            buttons=[
                [Button(label="onboarding.btn_start", payload="start")],
                [Button(label="menu.privacy", payload="privacy")],
            ],
        )
    )
