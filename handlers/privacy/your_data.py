"""Privacy: the statement, everything stored about you, and being forgotten.

Each works for anyone who ever wrote to the bot, with or without consent.

    /privacy ──► statement  [📦 Mijn gegevens] [🗑️ Vergeet mij]
    /mijngegevens ──► summary (counts) + the JSON file
    /vergeetmij ──► choose ──delete / keep anonymously──► confirm ──yes──► erased
                      │ (nothing sent in: straight to confirm)   └──no──► nothing changes
                      └── Toch niet ──► nothing changes

After the erasure the person is a stranger: their next message starts onboarding afresh.
A place they held at a meeting goes to whoever waited first, who is told at once, and they
are taken out of the experiments' rooms they were in (:func:`erase_person`, also for an
erasure by retention or by the operator).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.catalog import Catalog
from handlers.community.called_off import end_for_erasure
from handlers.contract import Button, Dialog, Document, Reply, Response, Role, respond
from handlers.experiments.rooms import take_out
from handlers.feature import Context, Feature, menu_reply
from handlers.meetings import jobs as meeting_jobs
from handlers.privacy.readable import Readable
from handlers.profile import Profile
from storage import Repositories
from storage.privacy.personal import Cause, ContentChoice, Erasure, PersonalData

feature = Feature("privacy")
feature.menu_entry("menu.privacy", "privacy", order=85)

DIALOG = "forget"
#: Pictures go into the export while their bytes stay under this (a chat file's limit is
#: about 50 MB, and base64 adds a third).
MEDIA_LIMIT = 20_000_000
#: Parts of the export the summary leaves out: the profile comes first on its own, and the
#: buttons last shown in the chat are the bot's bookkeeping (they are in the file).
NOT_SUMMED_UP = frozenset({"users", "chat_options"})
#: The sections counted on the "Vergeet mij" question: what the person sent in.
AUTHORED = ("ideas", "idea_comments", "experiment_proposals")


@feature.command(
    "privacy",
    anytime=True,
    consent=False,
    describe="commands.privacy",
    open_to_banned=True,
    role=Role.RESIDENT,
)
@feature.action("privacy", consent=False, open_to_banned=True, role=Role.RESIDENT)
async def privacy(ctx: Context) -> Response:
    """The privacy statement in plain language, with what you can do about your data."""
    statement = privacy_statement(ctx)
    # Someone who has not agreed yet (often sent here by the consent wall) can agree
    # straight after reading what is stored, instead of having to know about /start.
    join = [] if ctx.user.consented else [[Button(label="onboarding.btn_start", payload="start")]]
    buttons = [
        *join,
        [Button(label="privacy.data.btn", payload="privacy.export")],
        [Button(label="privacy.forget.btn", payload="privacy.forget")],
        [Button(label="menu.back", payload="menu")],
    ]
    return respond(statement.model_copy(update={"buttons": buttons}))


def privacy_statement(ctx: Context) -> Reply:
    """What we store, why, how long, who sees it and how to complain."""
    privacy_profile = ctx.profile.privacy
    return Reply(
        key="privacy.statement",
        params={
            "controller": privacy_profile.controller(ctx.lang),
            "contact": privacy_profile.contact,
            "authority": privacy_profile.authority(ctx.lang),
            "connector": ctx.profile.connector(ctx.lang),
            "months": ctx.installation.retention_months,
            "ledger_days": ctx.installation.erasure_ledger_keep_days,
        },
    )


@feature.command(
    "mijngegevens",
    translations={"en": "mydata"},
    anytime=True,
    consent=False,
    describe="privacy.data.cmd",
    open_to_banned=True,
    role=Role.RESIDENT,
)
@feature.action("privacy.export", consent=False, open_to_banned=True, role=Role.RESIDENT)
async def my_data(ctx: Context) -> Response:
    """Everything stored about this person as a JSON file, with a short summary."""
    data = await ctx.repos.personal.export(ctx.user.id, ctx.now, media_limit=MEDIA_LIMIT)
    if data is None:
        # Only when nothing could be saved, not even that this person wrote: nothing is kept.
        return respond(Reply(key="privacy.data.nothing_stored"))
    counts = data.counts()
    lines = [
        Reply(key=f"privacy.sections.{name}", params={"count": count})
        for name, count in counts.items()
        if count and name not in NOT_SUMMED_UP
    ]
    summary = Reply(
        key="privacy.data.summary",
        parts=[
            Reply(key="privacy.sections.users", params={"count": counts["users"]}),
            *(lines or [Reply(key="privacy.data.nothing_more")]),
        ],
    )
    replies = [summary]
    if any(row["data_base64"] is None for row in data.sections["media"].rows):
        replies.append(
            Reply(key="privacy.data.too_big", params={"contact": ctx.profile.privacy.contact})
        )
    day = ctx.local(ctx.now).date().isoformat()
    replies.append(
        Reply(
            key="privacy.data.file",
            params={"date": ctx.show_date(ctx.now)},
            buttons=[
                [Button(label="privacy.statement_btn", payload="privacy")],
                [Button(label="menu.back", payload="menu")],
            ],
            document=Document(
                filename=f"samenspel-mijn-gegevens-{day}.json",
                data=export_document(ctx.profile, ctx.catalog, ctx.lang, data, ctx.timezone),
                mime_type="application/json",
            ),
        )
    )
    return respond(*replies)


def export_document(
    profile: Profile, catalog: Catalog, lang: str, data: PersonalData, zone: ZoneInfo
) -> bytes:
    """The export as the file a person receives, in their language and words, with who is
    responsible for it on top."""
    about = {
        "what": catalog.text(lang, "privacy.data.about", {}, markup=False),
        "controller": profile.privacy.controller(lang),
        "contact": profile.privacy.contact,
        "municipality": profile.name(lang),
    }
    return Readable(profile, catalog, lang, zone).document(data, about)


@feature.command(
    "vergeetmij",
    translations={"en": "forgetme"},
    consent=False,
    describe="privacy.forget.cmd",
    open_to_banned=True,
    role=Role.RESIDENT,
)
@feature.action("privacy.forget", consent=False, open_to_banned=True, role=Role.RESIDENT)
async def forget_me(ctx: Context) -> Response:
    """Ask what happens to what the person sent in, or go straight to the last question."""
    counts = await ctx.repos.personal.authored(ctx.user.id, AUTHORED)
    dialog = Dialog(name=DIALOG, step="choose")
    if not any(counts.values()):
        return _confirm(dialog.to("confirm", content=ContentChoice.KEEP.value, authored=False))
    return respond(_choose(dialog, counts), dialog=dialog)


def _choose(dialog: Dialog, counts: dict[str, int]) -> Reply:
    return Reply(
        key="privacy.forget.choose",
        params={
            "ideas": counts["ideas"],
            "comments": counts["idea_comments"],
            "proposals": counts["experiment_proposals"],
        },
        buttons=[
            [dialog.button("privacy.forget.btn_keep", ContentChoice.KEEP.value)],
            [dialog.button("privacy.forget.btn_delete", ContentChoice.DELETE.value)],
            [Button(label="privacy.forget.btn_cancel", payload="cancel")],
        ],
    )


def _confirm(dialog: Dialog) -> Response:
    content = dialog.data["content"]
    if not dialog.data.get("authored", True):
        key = "privacy.forget.confirm"
    elif content == ContentChoice.DELETE.value:
        key = "privacy.forget.confirm_delete"
    else:
        key = "privacy.forget.confirm_keep"
    question = Reply(
        key=key,
        buttons=[
            [dialog.button("privacy.forget.btn_yes", "yes")],
            [Button(label="privacy.data.btn", payload="privacy.export")],
            [Button(label="privacy.forget.btn_cancel", payload="cancel")],
        ],
    )
    return respond(question, dialog=dialog)


forgetting = feature.dialog(
    DIALOG,
    consent=False,
    open_to_banned=True,
    role=Role.RESIDENT,
    draft=False,
    subject="drafts.subject.forget",
)


@forgetting.step("choose")
async def choose_step(ctx: Context, dialog: Dialog) -> Response:
    """Whether one's ideas and comments go too, or stay without a name."""
    choice = ctx.value if ctx.event.button is not None else ""
    if choice in {c.value for c in ContentChoice}:
        return _confirm(dialog.to("confirm", content=choice))
    counts = await ctx.repos.personal.authored(ctx.user.id, AUTHORED)
    return respond(_use_buttons(), _choose(dialog, counts), dialog=dialog)


@forgetting.ask("choose")
async def ask_choose(ctx: Context, dialog: Dialog) -> Response:
    """The question again (a chat opened anew): its buttons work as they did."""
    counts = await ctx.repos.personal.authored(ctx.user.id, AUTHORED)
    return respond(_choose(dialog, counts), dialog=dialog)


@forgetting.ask("confirm")
async def ask_confirm(ctx: Context, dialog: Dialog) -> Response:
    """The last question again (a chat opened anew)."""
    return _confirm(dialog)


@forgetting.step("confirm")
async def confirm_step(ctx: Context, dialog: Dialog) -> Response:
    """The last yes before everything is erased."""
    content = ContentChoice(dialog.data["content"])
    if ctx.event.button is None or ctx.value != "yes":
        return respond(_use_buttons(), *_confirm(dialog).replies, dialog=dialog)
    await erase_person(
        ctx.repos,
        ctx.profile,
        ctx.timezone,
        ctx.user.id,
        content=content,
        cause=Cause.REQUEST,
        now=ctx.now,
    )
    # No buttons: nothing about this chat may be stored again after the erasure.
    return respond(Reply(key="privacy.forget.done"), end_dialog=True)


async def erase_person(
    repos: Repositories,
    profile: Profile,
    zone: ZoneInfo,
    user_id: int,
    *,
    content: ContentChoice,
    cause: Cause,
    now: datetime,
) -> Erasure | None:
    """Erase someone (see :meth:`PersonalData.erase`) and what follows for others now: a
    place they held at a meeting goes to whoever waited first, who is told, as when someone
    cancels; a request to put them in touch with someone is called off, and the other (and
    the connector who asked) hears that it ended, as does someone still waiting for their
    contact line. Call it inside a transaction."""
    places = await meeting_jobs.held(repos, user_id, now)
    # Whoever waits for the request would otherwise wait for ever. Its timer finds nothing
    # open when it runs.
    await end_for_erasure(repos, user_id, now)
    # Out of the experiments' rooms, while their account is still known: the task keeps it
    # alone, and is deleted once carried out.
    await take_out(repos, user_id, now, erased=True)
    erased = await repos.personal.erase(user_id, content=content, cause=cause, now=now)
    await meeting_jobs.pass_on(repos, profile, zone, places, now)
    return erased


def _use_buttons() -> Reply:
    return Reply(key="privacy.forget.use_buttons")


@feature.action("retention.stay", open_to_banned=True, role=Role.RESIDENT)
async def stay(ctx: Context) -> Response:
    """The answer to the retention warning's button (being seen already keeps the data)."""
    return respond(menu_reply(ctx, "retention.stayed"))
