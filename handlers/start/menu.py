"""The always-there parts: main menu, help, cancel, and answers to what we don't understand.

The answers the router gives for what no feature claims are registered here as fallbacks
(:class:`handlers.feature.Fallback`), so the router holds none of their words; what is
typed outside any dialog is answered in :mod:`handlers.start.typed`, where the plain words
people type without a slash (``menu``, ``help``, ``stop``, ``hallo``) mean what the commands
mean.
"""

from __future__ import annotations

import difflib

from handlers import drafts
from handlers.answers import something_written
from handlers.contract import Button, Reply, Response, Role, respond
from handlers.feature import Context, Fallback, Feature, menu_reply
from handlers.start.onboarding import DIALOG as ONBOARDING

feature = Feature("general")
#: The start payload of the link a group gets: opens the bot privately, nothing more.
GROUP_START = "group"
feature.menu_entry("menu.help", "help", order=90)
#: What people type without a slash, outside a dialog, to mean a command.
PLAIN_WORDS = ("menu", "help", "stop", "hello")
#: How alike an unknown command must be to one the person may use for that one to be
#: suggested (difflib's ratio: "/stemen" to "/stemmen" 0.92, "/pols" to "/polls" 0.89;
#: "/nieuwepeiling" to "/nieuwexperiment" 0.71 and "/id" to "/idee" 0.67 are too far).
MEANT_LIKE = 0.75
#: Longer than any command's name, so no guess (and no comparing a pasted text).
MEANT_LONGEST = 40


@feature.command("menu", consent=False, describe="commands.menu", role=Role.RESIDENT)
@feature.action("menu", consent=False, role=Role.RESIDENT)
async def show_menu(ctx: Context) -> Response:
    """The main menu; with a draft open, first the choice to go on with it or throw it away."""
    if ctx.dialog is not None and drafts.is_draft(ctx):
        return drafts.draft_open(ctx, ctx.dialog)
    return respond(menu_reply(ctx))


@feature.action("resume", consent=False, role=Role.RESIDENT)
async def resume(ctx: Context) -> Response:
    """Where this person was, said again: a chat opened anew (the console after a restart)
    shows the open dialog's question; with none open, the menu."""
    dialog = ctx.dialog
    spec = ctx.registry.dialogs.get(dialog.name) if dialog is not None else None
    if dialog is None or spec is None:
        return respond(menu_reply(ctx))
    ctx.value = drafts.RESUME
    response = await spec.handle(ctx)
    back = Reply(key="drafts.welcome_back", params={"subject": drafts.subject(ctx, dialog)})
    return response.model_copy(update={"replies": [back, *response.replies]})


@feature.command(
    "help", "hulp", anytime=True, consent=False, describe="commands.help", role=Role.RESIDENT
)
@feature.action("help", consent=False, role=Role.RESIDENT)
async def show_help(ctx: Context) -> Response:
    """What the bot is for and how to use it (staff also see their commands); keeps any
    dialog going, and ends in the way back to it."""
    connector = ctx.profile.connector(ctx.lang)
    budgets = ctx.profile.budgets.name(ctx.lang)
    parts = [Reply(key="general.help_body", params={"connector": connector, "budgets": budgets})]
    staff = _staff_commands(ctx)
    if staff:
        parts.append(Reply(key="general.help_staff", parts=staff))
    if ctx.dialog is not None:
        about = drafts.subject(ctx, drafts.interrupted(ctx.dialog))
        parts.append(Reply(key="general.help_in_dialog", params={"subject": about}))
    return respond(
        Reply(
            key="general.help_title",
            params={"municipality": ctx.profile.name(ctx.lang)},
            parts=parts,
            buttons=ctx.main_menu(),
        )
    )


def _staff_commands(ctx: Context) -> list[Reply]:
    """One line per staff command this person may use, named as in their language:
    ``/wachtrij: ideas to decide`` (``/queue`` in English)."""
    role = ctx.user.role
    if role is Role.RESIDENT:
        return []
    return [
        Reply(
            key="general.help_command",
            params={
                "command": spec.name_in(ctx.lang),
                "what": ctx.catalog.text(ctx.lang, spec.describe, {}, markup=False),
            },
        )
        for spec in ctx.registry.commands.values()
        if spec.describe
        and spec.policy.role is not Role.RESIDENT
        and role.allows(spec.policy.role)
        and (spec.platforms is None or ctx.event.platform in spec.platforms)
    ]


@feature.command(
    "annuleer",
    "stop",
    anytime=True,
    consent=False,
    describe="commands.cancel",
    open_to_banned=True,
    role=Role.RESIDENT,
    translations={"en": "cancel"},
)
@feature.action("cancel", consent=False, open_to_banned=True, role=Role.RESIDENT)
async def cancel(ctx: Context) -> Response:
    """Leave whatever dialog is active (asked for on purpose: no question first)."""
    if ctx.dialog is None:
        key = "general.nothing_to_cancel"
    elif ctx.dialog.name == ONBOARDING and ctx.user.consented:
        # Agreeing stored consent, chat and name at once: say so, not "nothing was kept".
        key = "onboarding.cancelled"
    else:
        key = "general.cancelled"
    return respond(menu_reply(ctx, key), end_dialog=True)


@feature.fallback(Fallback.UNKNOWN_COMMAND)
async def unknown_command(ctx: Context) -> Response:
    """A command we don't know (or one this person may not use: they hear the same), with
    the one they may have meant where a command they may use is spelled much alike."""
    typed = ctx.event.command or ""
    meant = _meant(ctx, typed)
    if meant is not None:
        return respond(
            menu_reply(ctx, "general.unknown_command_meant", command=typed, meant=meant)
        )
    return respond(menu_reply(ctx, "general.unknown_command", command=typed))


def _meant(ctx: Context, typed: str) -> str | None:
    """The command most like ``typed`` among those this person may use here, under its name
    in their language, with its slash; None where none is alike enough. Commands of a role
    they do not hold are never named (a resident does not learn staff's commands by
    mistyping)."""
    if not typed or len(typed) > MEANT_LONGEST:
        return None
    usable = {
        name: spec
        for name, spec in ctx.registry.commands.items()
        if ctx.user.role.allows(spec.policy.role)
        and (spec.platforms is None or ctx.event.platform in spec.platforms)
    }
    close = difflib.get_close_matches(typed.lower(), list(usable), n=1, cutoff=MEANT_LIKE)
    # With its slash, so the slash is not cut off from it in right-to-left text (and a
    # command Telegram can link stays whole).
    return "/" + usable[close[0]].name_in(ctx.lang) if close else None


@feature.fallback(Fallback.WORDS_NOT_USED)
async def words_not_used(ctx: Context) -> Response:
    """Words typed after a command whose answer does not read them: a sentence ("/peilingen
    ik wil meedoen over het park") is said back, above the answer (not with advice to send
    it: in an open dialog it would answer its question, and to the connector it is no
    message); a stray word ("/menu graag") or a number is no message, and gets nothing."""
    words = ctx.event.args
    if not something_written(words):
        return respond()
    return respond(
        Reply(
            key="general.words_not_used",
            params={"command": ctx.event.command or "", "text": words},
        )
    )


@feature.fallback(Fallback.STALE_BUTTON)
async def stale_button(ctx: Context) -> Response:
    """A button from an old message, or one whose data we don't recognise (a double tap
    on "Ja, ik doe mee" too): with a dialog open, the menu ends in the way back to its
    question, which the answer to the first tap had put above."""
    stale = menu_reply(ctx, "general.stale_button")
    if ctx.dialog is None or ctx.dialog.name not in ctx.registry.dialogs:
        return respond(stale)
    return respond(*drafts.with_way_back(ctx, drafts.interrupted(ctx.dialog), [stale]))


@feature.fallback(Fallback.CONSENT_NEEDED)
async def consent_needed(ctx: Context) -> Response:
    """Someone who has not agreed to the privacy statement asks for something that needs it
    (what they typed with it, "/vraag Hoe laat ...", comes back: it was sent nowhere)."""
    event = ctx.event
    typed = (event.args or "").strip() if event.command is not None else ""
    wall = Reply(
        key="general.consent_needed",
        buttons=[
            [Button(label="onboarding.btn_start", payload="start")],
            [Button(label="menu.privacy", payload="privacy")],
            [Button(label="menu.back", payload="menu")],
        ],
    )
    if not typed:
        return respond(wall)
    return respond(Reply(key="general.typed_not_kept", params={"text": typed}), wall)


@feature.fallback(Fallback.DIALOG_EXPIRED)
async def dialog_expired(ctx: Context) -> Response:
    """Said before the answer when the person's dialog had been quiet too long."""
    return respond(Reply(key="general.dialog_expired"))


@feature.fallback(Fallback.DIALOG_DROPPED)
async def dialog_dropped(ctx: Context) -> Response:
    """The person's dialog is gone (a role revoked, or a dialog this code cannot go on with)."""
    return respond(menu_reply(ctx, "general.dialog_dropped"))


@feature.fallback(Fallback.IN_GROUP)
async def in_group(ctx: Context) -> Response:
    """Anything in a group chat: a short word pointing to a private chat, nothing personal."""
    platform = ctx.platform
    if platform.start_link:
        return respond(
            Reply(
                key="general.in_group_link", params={"link": f"{platform.start_link}{GROUP_START}"}
            )
        )
    if platform.invites_to_private:
        return respond(Reply(key="general.in_group_invited"))
    return respond(Reply(key="general.in_group"))
