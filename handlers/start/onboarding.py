"""Onboarding: welcome, consent to the privacy statement, language, neighbourhood, main menu.

Nothing but the platform id is stored until the resident agrees. ``/start PAYLOAD`` (a link
or QR code on a poster) is kept in the dialog and opened once onboarding is done, or when
the resident declines if the link only shows what anyone may read; of an
invite link (``inv_CODE``) only the code's hash is kept, as in the invites table, so the
stored dialog does not let anyone else become staff.

    /start ──► consent ──yes──► language ──► neighbourhood ──► main menu (+ deep link)
                  │ ──privacy──► (statement, same question)
                  │ ──a language──► (welcome again in it, same question)
                  └──no───► what you can still do (+ a deep link open to readers)

A language chosen before consent (on the welcome, or with ``/taal``) is kept only in this
dialog, for the conversation (:data:`handlers.feature.SESSION_LANGUAGE`): the dialog stays
open while the person reads (step ``reading``, where no question is open: what they type
is answered as outside any dialog, see :func:`reading_step`), and ends with a day's
silence or ``/annuleer``. Agreeing stores it as their language, and the language question
is not asked again.
"""

from __future__ import annotations

from collections.abc import Callable

from handlers import drafts
from handlers.answers import labels, named_choice, typed_choice
from handlers.community import mutes
from handlers.contract import Button, Dialog, Reply, Response, Role, Timer, respond
from handlers.feature import (
    READING_DIALOG,
    SESSION_LANGUAGE,
    Context,
    Fallback,
    Feature,
    menu_reply,
)
from handlers.locales import name_in, own_name
from handlers.privacy.your_data import privacy_statement
from handlers.staff.roles import INVITE_LINK, redeem_invite, redeem_kept_invite
from storage.invites import code_hash

feature = Feature("onboarding")
feature.menu_entry("menu.language", "lang", order=80)

#: The dialog, and its step that only holds the conversation's language: no question is open.
DIALOG, READING = READING_DIALOG


def spoken(ctx: Context) -> list[tuple[str, str]]:
    """The catalog languages as (code, own name): the default first, then English, then the
    others by code ("Nederlands", "English", "العربية", "Polski", "Türkçe", "Українська")."""
    default = ctx.catalog.default
    order = sorted(ctx.catalog.languages, key=lambda code: (code != default, code != "en", code))
    return [(code, own_name(code)) for code in order]


def _language_rows(choices: list[Button]) -> list[list[Button]]:
    return [choices[i : i + 2] for i in range(0, len(choices), 2)]


def deep_link_parts(payload: str) -> tuple[str, str]:
    """A ``/start`` payload as its prefix and its value. The prefix is read in lower case
    (every prefix is lower case, so this names one link only): a link typed over or copied by
    hand may come back as ``INV_...`` or ``Idee_42``. The value stays as it is: an invite
    code is case-sensitive (``secrets.token_urlsafe``)."""
    prefix, _, value = payload.partition("_")
    return prefix.lower(), value


@feature.command("start", consent=False, role=Role.RESIDENT)
@feature.action("start", consent=False, role=Role.RESIDENT)
async def start(ctx: Context) -> Response:
    """The first thing a new resident sees; a returning resident gets the menu."""
    payload = ctx.value.strip()[:64]
    prefix, value = deep_link_parts(payload)
    if ctx.dialog is not None and drafts.is_draft(ctx) and prefix == INVITE_LINK:
        # An invite starts nothing: granted beside what is being written (asking first
        # would keep the code in the question's button, stored with the dialog).
        ctx.value = value
        return await redeem_invite(ctx)
    if ctx.dialog is not None and drafts.is_draft(ctx):
        # Starting over would throw away what is being written: ask first.
        return drafts.draft_open(ctx, ctx.dialog, then=drafts.request_of(ctx))
    if ctx.user.onboarded_at is not None:
        response = respond(menu_reply(ctx, "onboarding.welcome_back"))
        return await _with_deep_link(ctx, payload, response)
    return await welcome(ctx, payload)


async def welcome(ctx: Context, payload: str = "") -> Response:
    """Say what Samenspel is and ask for consent (or resume a half-finished onboarding)."""
    dialog = Dialog(name=DIALOG, step="consent", data={**_session(ctx), **_kept(payload)})
    if ctx.user.consented:
        return _ask_next(ctx, dialog)
    return _welcome(ctx, dialog)


def _welcome(ctx: Context, dialog: Dialog) -> Response:
    return respond(
        Reply(
            key="onboarding.welcome",
            params={
                "municipality": ctx.profile.name(ctx.lang),
                "connector": ctx.profile.connector(ctx.lang),
            },
        ),
        _consent_question(ctx, dialog),
        dialog=dialog,
    )


def _consent_question(ctx: Context, dialog: Dialog) -> Reply:
    """Yes, the privacy statement, no; then the other languages, each in its own name, so
    that someone who cannot read this one reads the question in theirs before answering."""
    others = [dialog.raw_button(name, code) for code, name in spoken(ctx) if code != ctx.lang]
    return Reply(
        key="onboarding.consent_question",
        buttons=[
            [dialog.button("onboarding.btn_consent_yes", "yes")],
            [dialog.button("onboarding.btn_read_privacy", "privacy")],
            [dialog.button("onboarding.btn_consent_no", "no")],
            *_language_rows(others),
        ],
    )


def _session(ctx: Context) -> dict[str, str]:
    """The language this conversation's onboarding dialog holds, to carry into a new one."""
    dialog = ctx.dialog
    if dialog is None or dialog.name != DIALOG or SESSION_LANGUAGE not in dialog.data:
        return {}
    return {SESSION_LANGUAGE: str(dialog.data[SESSION_LANGUAGE])}


def _speak(ctx: Context, dialog: Dialog, language: str) -> Dialog:
    """Talk in ``language`` for the rest of this conversation, without storing it."""
    ctx.dialog = dialog.to(dialog.step, **{SESSION_LANGUAGE: language})
    return ctx.dialog


onboarding = feature.dialog(
    DIALOG,
    consent=False,
    role=Role.RESIDENT,
    draft=False,  # every answer is saved at once: leaving it loses nothing
    stays=True,  # a language chosen before consent lasts while the person reads
    subject="drafts.subject.onboarding",
)


def _chose(ctx: Context, names: Callable[[], dict[str, list[str]]]) -> str:
    """The value of the dialog button pressed, or of the choice the typed text names
    (``names()``, see :func:`typed_choice`: only gathered for a typed text); '' for
    anything else (a sentence, a photo)."""
    if ctx.event.button is not None:
        return ctx.value
    if ctx.event.text is None:
        return ""
    return typed_choice(ctx, names()) or ""


def _language_names(ctx: Context) -> dict[str, list[str]]:
    """Each language by its code, its own name and its name in every catalog language
    ("nl", "Nederlands", "Dutch")."""
    readers = tuple(ctx.catalog.languages)
    known = _LANGUAGE_NAMES.get(readers)
    if known is None:
        # Babel composes each name anew (36 of them for six languages): kept per set of
        # catalog languages, as they do not change while the bot runs.
        known = _LANGUAGE_NAMES[readers] = {
            code: [code, own_name(code), *(name_in(code, reader) for reader in readers)]
            for code in readers
        }
    return known


_LANGUAGE_NAMES: dict[tuple[str, ...], dict[str, list[str]]] = {}


def _consent_names(ctx: Context, dialog: Dialog) -> dict[str, list[str]]:
    """What someone may type instead of pressing a button of the consent question:
    "ja", "nee", a button's label, or a language to read the question in."""
    return {
        **_language_names(ctx),
        "yes": [
            *labels(ctx, dialog.button("onboarding.btn_consent_yes", "yes")),
            *drafts.words(ctx, "yes"),
            *drafts.words(ctx, "agree"),
        ],
        "privacy": labels(ctx, dialog.button("onboarding.btn_read_privacy", "privacy")),
        "no": [
            *labels(ctx, dialog.button("onboarding.btn_consent_no", "no")),
            *drafts.words(ctx, "decline"),
        ],
    }


@onboarding.step("consent")
async def consent_step(ctx: Context, dialog: Dialog) -> Response:
    """Yes, no, the privacy statement first, or another language to read it in; typed
    ("ja", "Nee", "English") as well as pressed."""
    choice = _chose(ctx, lambda: _consent_names(ctx, dialog))
    if choice == "yes":
        sender = ctx.event.sender
        await ctx.repos.users.give_consent(
            ctx.user.id, ctx.event.chat_id, sender.display_name, ctx.now
        )
        ctx.user = ctx.user.model_copy(
            update={
                "consent_at": ctx.now,
                "chat_id": ctx.event.chat_id,
                "display_name": sender.display_name,
            }
        )
        chosen = dialog.data.get(SESSION_LANGUAGE)
        if ctx.user.language is None and ctx.catalog.speaks(chosen):
            # Chosen before agreeing: now it may be stored, and is not asked again.
            await ctx.repos.users.set_language(ctx.user.id, str(chosen))
            ctx.user = ctx.user.model_copy(update={"language": chosen})
        timers = await _restore_sanction(ctx)
        return _ask_next(ctx, dialog).model_copy(update={"timers": timers})
    if choice == "privacy":
        return respond(privacy_statement(ctx), _consent_question(ctx, dialog), dialog=dialog)
    if choice == "no":
        # Declining still lets people read: a poster's link opens what it shows, and a
        # language they chose stays for the conversation.
        reading = _session(ctx)
        declined = respond(menu_reply(ctx, "onboarding.declined"))
        response = await _with_deep_link(ctx, str(dialog.data.get("payload", "")), declined)
        if not reading or response.dialog is not None:
            return response
        kept = Dialog(name=DIALOG, step=READING, data=reading)
        return response.model_copy(update={"dialog": kept, "end_dialog": False})
    if ctx.catalog.speaks(choice):
        return _welcome(ctx, _speak(ctx, dialog, choice))
    return respond(
        Reply(key="onboarding.use_buttons"), _consent_question(ctx, dialog), dialog=dialog
    )


@onboarding.step("language")
async def language_step(ctx: Context, dialog: Dialog) -> Response:
    """The language to talk in, pressed or typed by name; other text gets the question
    again."""
    choice = _chose(ctx, lambda: _language_names(ctx))
    if not ctx.catalog.speaks(choice):
        return _ask(ctx, dialog, hint=True)
    await ctx.repos.users.set_language(ctx.user.id, choice)
    ctx.user = ctx.user.model_copy(update={"language": choice})
    return _ask_next(ctx, dialog)


@onboarding.step("neighbourhood")
async def neighbourhood_step(ctx: Context, dialog: Dialog) -> Response:
    """The resident's neighbourhood (or none: the button's words, or "geen"), pressed or
    typed by name; then the main menu."""

    def names() -> dict[str, list[str]]:
        return {
            **{
                n.id: [n.id, *(n.name(lang) for lang in ctx.catalog.languages)]
                for n in ctx.profile.neighbourhoods
            },
            "none": [
                *labels(ctx, dialog.button("onboarding.btn_no_neighbourhood", "none")),
                *drafts.words(ctx, "none"),  # "geen", "nee": how people say they won't tell
            ],
        }

    choice = _chose(ctx, names)
    if choice != "none" and ctx.profile.neighbourhood(choice) is None:
        return _ask(ctx, dialog, hint=True)
    hood = None if choice == "none" else choice
    await ctx.repos.users.set_neighbourhood(ctx.user.id, hood)
    ctx.user = ctx.user.model_copy(update={"neighbourhood": hood})
    return await _finish(ctx, dialog)


async def _restore_sanction(ctx: Context) -> list[Timer]:
    """An account that was muted or banned when it was erased is so again (see
    :meth:`storage.community.moderation.Sanctions.keep`); a mute's end is armed again."""
    user = ctx.user
    restored = await ctx.repos.sanctions.restore(
        user.id, user.platform, user.platform_user_id, ctx.now
    )
    if restored is None:
        return []
    await ctx.repos.audit.record(
        "user.sanction_restored",
        now=ctx.now,
        subject_user_id=user.id,
        detail={"sanction": restored.id, "kind": restored.kind.value},
    )
    if restored.ends_at is None:
        return []
    return [Timer(job=mutes.job(restored.id), at=restored.ends_at)]


def _ask_next(ctx: Context, dialog: Dialog) -> Response:
    """Ask the first question this resident has not answered yet."""
    if ctx.user.language is None and dialog.step != "language":
        return _ask(ctx, dialog.to("language"))
    return _ask(ctx, dialog.to("neighbourhood"))


@onboarding.step(READING)
async def reading_step(ctx: Context, dialog: Dialog) -> Response:
    """Text typed while only reading (after declining, or a language chosen before the
    welcome): no question was put to them, so it is not taken as an answer to one. It is
    answered as outside any dialog: given back, then the welcome (in the language chosen)."""
    return await ctx.registry.fallback(Fallback.NOT_UNDERSTOOD)(ctx)


@onboarding.ask(READING)
async def ask_reading(ctx: Context, dialog: Dialog) -> Response:
    """Back in a chat opened anew while only reading: the menu (what they can do)."""
    return respond(menu_reply(ctx), dialog=dialog)


@onboarding.ask("consent", "language", "neighbourhood")
async def ask(ctx: Context, dialog: Dialog) -> Response:
    """The question of the step onboarding is at (a chat opened again after a restart)."""
    return _ask(ctx, dialog)


def _ask(ctx: Context, dialog: Dialog, *, hint: bool = False) -> Response:
    prefix = [Reply(key="onboarding.use_buttons")] if hint else []
    if dialog.step == "consent":
        return respond(*prefix, _consent_question(ctx, dialog), dialog=dialog)
    if dialog.step == "language":
        buttons = _language_rows([dialog.raw_button(name, code) for code, name in spoken(ctx)])
        return respond(
            *prefix, Reply(key="onboarding.language_question", buttons=buttons), dialog=dialog
        )
    hoods = [dialog.raw_button(n.name(ctx.lang), n.id) for n in ctx.profile.neighbourhoods]
    buttons = [hoods[i : i + 2] for i in range(0, len(hoods), 2)]
    buttons.append([dialog.button("onboarding.btn_no_neighbourhood", "none")])
    return respond(
        *prefix,
        Reply(
            key="onboarding.neighbourhood_question",
            params={"municipality": ctx.profile.name(ctx.lang)},
            buttons=buttons,
        ),
        dialog=dialog,
    )


def _kept(payload: str) -> dict[str, str]:
    """What the dialog keeps of a ``/start`` payload until onboarding is done."""
    prefix, value = deep_link_parts(payload)
    if prefix == INVITE_LINK:
        return {"invite": code_hash(value.strip())}
    return {"payload": payload}


async def _finish(ctx: Context, dialog: Dialog) -> Response:
    await ctx.repos.users.finish_onboarding(ctx.user.id, ctx.now)
    ctx.user = ctx.user.model_copy(update={"onboarded_at": ctx.now})
    done = respond(menu_reply(ctx, "onboarding.done"))
    invite = dialog.data.get("invite")
    if isinstance(invite, str):
        opened = await redeem_kept_invite(ctx, invite)
        return Response(replies=[*done.replies, *opened.replies], end_dialog=True)
    return await _with_deep_link(ctx, str(dialog.data.get("payload", "")), done)


async def _with_deep_link(ctx: Context, payload: str, response: Response) -> Response:
    """Open what a ``/start PAYLOAD`` link points at, after the given response (for someone
    who has not agreed to the privacy statement, only a link declared open to them)."""
    if not payload:
        return response
    prefix, value = deep_link_parts(payload)
    link = ctx.registry.deep_links.get(prefix)
    if link is None or (link.consent and not ctx.user.consented):
        return response
    ctx.value = value
    opened = await link.handler(ctx)
    return Response(
        replies=[*response.replies, *opened.replies],
        dialog=opened.dialog,
        end_dialog=opened.dialog is None,
    )


@feature.command(
    "taal",
    translations={"en": "language"},
    anytime=True,
    consent=False,
    describe="commands.language",
    role=Role.RESIDENT,
)
@feature.action("lang", consent=False, role=Role.RESIDENT)
async def choose_language(ctx: Context) -> Response:
    """Offer the languages; a button sets one (before consent: for this conversation), as
    does a language typed after the command (``/taal en``, ``/taal English``)."""
    language = ctx.value
    if ctx.event.button is None and language and not ctx.catalog.speaks(language):
        language = named_choice(language, _language_names(ctx)) or language
    if ctx.catalog.speaks(language) and not ctx.user.consented:
        held = ctx.dialog if ctx.dialog is not None and ctx.dialog.name == DIALOG else None
        dialog = _speak(ctx, held or Dialog(name=DIALOG, step=READING), language)
        if dialog.step == "consent":
            # The consent question was open: it is read again in this language, as its own
            # language buttons do (a menu instead would offer no way to agree).
            said = Reply(key="onboarding.language_set", params={"language": own_name(language)})
            again = _welcome(ctx, dialog)
            return again.model_copy(update={"replies": [said, *again.replies]})
        said = menu_reply(ctx, "onboarding.language_set", language=own_name(language))
        for_now = said.model_copy(update={"parts": [Reply(key="onboarding.language_for_now")]})
        return respond(for_now, dialog=dialog)
    if ctx.catalog.speaks(language):
        await ctx.repos.users.set_language(ctx.user.id, language)
        ctx.user = ctx.user.model_copy(update={"language": language})
        held = ctx.dialog
        if held is not None and held.name == DIALOG and held.step in ("language", "neighbourhood"):
            # In the middle of onboarding: its next question follows, in the new language
            # (the menu instead would leave onboarding unfinished, the neighbourhood unasked).
            said = Reply(key="onboarding.language_set", params={"language": own_name(language)})
            going_on = _ask_next(ctx, held)
            return going_on.model_copy(update={"replies": [said, *going_on.replies]})
        return respond(menu_reply(ctx, "onboarding.language_set", language=own_name(language)))
    buttons = _language_rows([Button.raw(name, f"lang:{code}") for code, name in spoken(ctx)])
    buttons.append([Button(label="menu.back", payload="menu")])
    return respond(Reply(key="onboarding.language_question", buttons=buttons))
