"""The composer: civil servants write a "Wist je dat", choose who gets it, send or schedule it.

The preview shows the message exactly as residents will get it (the same replies are stored
as the broadcast's payload) with the number of people it reaches. An audience with no one
in it is refused. A scheduled broadcast returns a Timer; the database stays the truth.

    /nieuwbericht ──► text ──► photo ──► audience ──► (theme | hood | experiment) ──► preview
                       ▲                    ▲                                          │
                       └── Tekst aanpassen ─┴────────── Ander publiek ◄────────────────┤
                                                        Nu versturen ──► released ◄────┤
                                                        Inplannen ──► when ──► scheduled

    /gepland ──► scheduled broadcasts ──Annuleren──► confirm ──► cancelled (timer off)
                                      └─Ander moment──► when ──► moved (timer moved)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import handlers.audience as audiences
from handlers import paging
from handlers.answers import excerpt, parse_id, photo_hint, read_text
from handlers.contract import Button, Dialog, Reply, Response, Role, Timer, respond, rows
from handlers.feature import Context, Expects, Feature, menu_reply
from handlers.news.wist_je_dat import in_language, news_replies, signature_of, signed
from handlers.start.menu import stale_button
from handlers.when import example, parse_moment, typed, within_a_year
from storage.clock import iso
from storage.news.broadcasts import Audience, AudienceKind, Broadcast, BroadcastStatus

feature = Feature("composer")
feature.menu_entry("composer.menu", "compose", order=60, role=Role.CIVIL_SERVANT)
feature.menu_entry("composer.menu_scheduled", "sched", order=61, role=Role.CIVIL_SERVANT)

DIALOG = "compose"
RESCHEDULE = "reschedule"
MAX_TEXT = 1000
#: Scheduled broadcasts /gepland shows at a time: each is a message of its own.
SCHEDULED_PAGE = 5


def job(broadcast_id: int) -> str:
    """The timer job of a broadcast."""
    return f"broadcast:{broadcast_id}"


async def _audit(
    ctx: Context, action: str, broadcast_id: int, audience: Audience, **facts: object
) -> None:
    """Write a staff member's step with a broadcast to the audit log: who it is for and how
    many, never its text (the log is exported without message text)."""
    await ctx.repos.audit.record(
        action,
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"broadcast:{broadcast_id}",
        detail={"audience": audience.kind.value, "audience_value": audience.value, **facts},
    )


# Writing ---------------------------------------------------------------------------------


@feature.command(
    "nieuwbericht",
    translations={"en": "newpost"},
    role=Role.CIVIL_SERVANT,
    describe="composer.cmd",
    words=True,
)
@feature.action("compose", role=Role.CIVIL_SERVANT)
async def compose(ctx: Context) -> Response:
    """Start a new "Wist je dat"; ``/nieuwbericht Wist je dat ...`` is that text already."""
    dialog = Dialog(name=DIALOG, step="text")
    if ctx.event.command is not None and ctx.value.strip():
        return await _text(ctx, dialog, text=ctx.value)
    return respond(_ask_text(intro=True), dialog=dialog)


def _ask_text(*, intro: bool = False) -> Reply:
    return Reply(
        key="composer.ask_text" if not intro else "composer.intro",
        params={"max": MAX_TEXT},
        buttons=[[Button(label="composer.btn_stop", payload="cancel")]],
    )


composing = feature.dialog(DIALOG, role=Role.CIVIL_SERVANT, subject="drafts.subject.compose")

# The message comes back with the word, should the role go while it is written.
composing.gives_back("text")


async def _subscribers(ctx: Context, chosen: Audience) -> int:
    return await ctx.repos.broadcasts.count(chosen)


async def _subscribers_each(
    ctx: Context, kind: AudienceKind, values: Sequence[str]
) -> dict[str, int]:
    return await ctx.repos.broadcasts.counts(kind, values)


async def _chosen(ctx: Context, dialog: Dialog) -> Response:
    return await _preview(ctx, dialog)


AUDIENCE = audiences.AudienceSteps(
    count=_subscribers,
    counts=_subscribers_each,
    then="preview",
    chosen=_chosen,
    section="composer",
    everyone="composer.btn_all",
    stop=Button(label="composer.btn_stop", payload="cancel"),
)


def _choice(ctx: Context) -> str | None:
    return ctx.value if ctx.event.button is not None else None


@composing.step("text", expects=Expects.TEXT)
async def text_step(ctx: Context, dialog: Dialog) -> Response:
    """The message's text."""
    return await _text(ctx, dialog)


@composing.step("photo", photo=True)
async def photo_step(ctx: Context, dialog: Dialog) -> Response:
    """A photo, or none."""
    return await _photo(ctx, dialog, _choice(ctx))


@composing.step(audiences.STEP)
async def audience_step(ctx: Context, dialog: Dialog) -> Response:
    """Everyone, or a theme, a neighbourhood or an experiment's participants."""
    return await AUDIENCE.choose(ctx, dialog)


@composing.step(*audiences.PICKERS)
async def pick_step(ctx: Context, dialog: Dialog) -> Response:
    """Which theme, neighbourhood or experiment."""
    return await AUDIENCE.pick(ctx, dialog)


@composing.step("preview")
async def preview_step(ctx: Context, dialog: Dialog) -> Response:
    """Send now, schedule, change the text or the audience."""
    return await _preview_choice(ctx, dialog, _choice(ctx))


@composing.step("when", expects=Expects.TEXT)
async def when_step(ctx: Context, dialog: Dialog) -> Response:
    """The moment to send it: typed, or one of the usual ones pressed."""
    return await _when(ctx, dialog)


@composing.ask("text", "photo", audiences.STEP, *audiences.PICKERS, "preview", "when")
async def ask(ctx: Context, dialog: Dialog) -> Response:
    """The question of the step the message is at, to go on with it."""
    step = dialog.step
    if step == "text":
        return respond(_ask_text(), dialog=dialog)
    if step == "photo":
        return respond(_ask_photo(dialog), dialog=dialog)
    if step == audiences.STEP or step in audiences.PICKERS:
        return await AUDIENCE.asked(ctx, dialog)
    if step == "preview":
        return await _preview(ctx, dialog)
    return respond(_ask_when(ctx, dialog), dialog=dialog)


async def _text(ctx: Context, dialog: Dialog, *, text: str | None = None) -> Response:
    answer = read_text(ctx, MAX_TEXT, text=text)
    if isinstance(answer, Reply):
        return respond(answer, _ask_text(), dialog=dialog)
    if "audience_kind" in dialog.data:
        # Editing the text of a composed message: straight back to its preview.
        return await _preview(ctx, dialog.to("preview", text=answer))
    nxt = dialog.to("photo", text=answer)
    return respond(_ask_photo(nxt), dialog=nxt)


def _ask_photo(dialog: Dialog) -> Reply:
    return Reply(
        key="composer.ask_photo",
        buttons=[
            [dialog.button("composer.btn_no_photo", "none")],
            [Button(label="composer.btn_stop", payload="cancel")],
        ],
    )


async def _photo(ctx: Context, dialog: Dialog, choice: str | None) -> Response:
    photo = ctx.event.photo
    if photo is not None:
        photo_id: int | None = await ctx.repos.media.save(
            photo.data, photo.mime_type, ctx.now, by=ctx.user.id
        )
    elif choice == "none":
        photo_id = None
    else:
        hint = photo_hint(ctx, "composer.photo_please")
        return respond(hint, _ask_photo(dialog), dialog=dialog)
    return await AUDIENCE.start(ctx, dialog.to(audiences.STEP, photo_id=photo_id))


async def describe(ctx: Context, chosen: Audience) -> str:
    """Who an audience is, in words (for the preview and the list of scheduled ones)."""
    return await audiences.describe(ctx, chosen, "composer")


# Preview and sending -----------------------------------------------------------------------


async def _preview(ctx: Context, dialog: Dialog) -> Response:
    """Save the message as a draft and show it exactly as residents will get it."""
    audience = audiences.audience_of(dialog)
    count = await ctx.repos.broadcasts.count(audience)
    if count == 0:
        return await AUDIENCE.nobody(ctx, dialog)
    experiment = None
    if audience.kind is AudienceKind.EXPERIMENT:
        found = await ctx.repos.experiments.get(int(audience.value or 0))
        assert found is not None
        # In the municipality's language, as the news is kept; each reader gets theirs.
        experiment = (found.id, found.title(ctx.catalog.default))
    photo_id = dialog.data.get("photo_id")
    # Stored signed by the municipality; shown (and sent) signed with the card as it is then.
    replies = news_replies(ctx, dialog.data["text"], photo_id, experiment=experiment)
    card = await ctx.repos.staff.shown(ctx.user.id)
    draft_id = await ctx.repos.broadcasts.save_draft(
        ctx.user.id,
        text=dialog.data["text"],
        photo_id=photo_id,
        audience=audience,
        payload=[reply.model_dump(mode="json") for reply in replies],
        now=ctx.now,
    )
    shown = dialog.to("preview", draft_id=draft_id)
    intro = Reply(
        key="composer.preview_intro",
        params={"count": count, "audience": await describe(ctx, audience)},
    )
    readable = await in_language(ctx.repos, ctx.lang, replies)
    preview = signed(readable, signature_of(ctx.profile, ctx.lang, card))
    as_shown = [_inert(ctx, reply) for reply in preview]
    return respond(intro, *as_shown, _preview_question(shown), dialog=shown)


def _inert(ctx: Context, reply: Reply) -> Reply:
    """The message as residents get it, its own buttons named under it instead of working
    here: pressing one would leave the composer, and numbered they would look like its
    choices."""
    if not reply.buttons:
        return reply
    labels = ", ".join(
        f"[{ctx.catalog.label(ctx.lang, button)}]" for row in reply.buttons for button in row
    )
    below = Reply(key="composer.preview_buttons", params={"labels": labels})
    return reply.model_copy(update={"buttons": [], "parts": [*reply.parts, below]})


def _preview_question(dialog: Dialog) -> Reply:
    return Reply(
        key="composer.preview_question",
        buttons=[
            [dialog.button("composer.btn_send_now", "send")],
            [dialog.button("composer.btn_schedule", "schedule")],
            [dialog.button("composer.btn_edit_text", "edit")],
            [dialog.button("composer.btn_other_audience", "audience")],
            [Button(label="composer.btn_stop", payload="cancel")],
        ],
    )


async def _preview_choice(ctx: Context, dialog: Dialog, choice: str | None) -> Response:
    if choice == "edit":
        nxt = dialog.to("text")
        return respond(_ask_text(), dialog=nxt)
    if choice == "audience":
        return await AUDIENCE.start(ctx, dialog)
    if choice == "schedule":
        nxt = dialog.to("when")
        return respond(_ask_when(ctx, nxt), dialog=nxt)
    if choice != "send":
        return respond(Reply(key="answers.use_buttons"), _preview_question(dialog), dialog=dialog)
    if await ctx.repos.broadcasts.count(audiences.audience_of(dialog)) == 0:
        return await AUDIENCE.nobody(ctx, dialog)
    draft_id = int(dialog.data["draft_id"])
    queued = await ctx.repos.broadcasts.release(draft_id, ctx.now)
    if queued is None:
        return respond(menu_reply(ctx, "composer.gone"), end_dialog=True)
    await _audit(ctx, "broadcast.send", draft_id, audiences.audience_of(dialog), recipients=queued)
    return respond(menu_reply(ctx, "composer.sent", count=queued), end_dialog=True)


# Scheduling ------------------------------------------------------------------------------


def _ask_when(ctx: Context, dialog: Dialog) -> Reply:
    """Ask for a moment, with buttons for the usual ones."""
    local = ctx.local(ctx.now)
    today = local.replace(second=0, microsecond=0)
    choices = []
    five = today.replace(hour=17, minute=0)
    if five > local + timedelta(minutes=5):
        choices.append(dialog.button("composer.btn_today", typed(five), time="17:00"))
    tomorrow = (today + timedelta(days=1)).replace(hour=9, minute=0)
    choices.append(dialog.button("composer.btn_tomorrow", typed(tomorrow), time="09:00"))
    monday = (today + timedelta(days=7 - today.weekday())).replace(hour=9, minute=0)
    if monday != tomorrow:  # on a Sunday "morgen" is that Monday: one button for it
        choices.append(
            dialog.button("composer.btn_monday", typed(monday), date=ctx.show_date(monday))
        )
    return Reply(
        key="composer.ask_when",
        params={"example": _example(ctx)},
        buttons=[*rows(choices), [Button(label="composer.btn_stop", payload="cancel")]],
    )


def _example(ctx: Context) -> str:
    """A moment three days from now at 9:30, written as people are asked to type one."""
    soon = ctx.local(ctx.now) + timedelta(days=3)
    return example(soon.replace(hour=9, minute=30))


def read_moment(ctx: Context) -> datetime | Reply:
    """The moment typed (or chosen) for sending, in UTC, or why it cannot be used."""
    answer = ctx.value if ctx.event.button is not None else read_text(ctx, 60)
    if isinstance(answer, Reply):
        return answer
    local = ctx.local(ctx.now)
    moment = parse_moment(answer, local)
    if moment is None:
        return Reply(key="composer.when_invalid", params={"typed": answer})
    if moment.astimezone(UTC) <= ctx.now:
        return Reply(key="composer.when_past", params={"when": ctx.show_moment(moment)})
    if not within_a_year(moment, local):
        return Reply(key="composer.when_too_far")
    return moment.astimezone(UTC)


async def _when(ctx: Context, dialog: Dialog) -> Response:
    moment = read_moment(ctx)
    if isinstance(moment, Reply):
        return respond(moment, _ask_when(ctx, dialog), dialog=dialog)
    audience = audiences.audience_of(dialog)
    reached = await ctx.repos.broadcasts.count(audience)
    if reached == 0:
        return await AUDIENCE.nobody(ctx, dialog)
    draft_id = int(dialog.data["draft_id"])
    if not await ctx.repos.broadcasts.schedule(draft_id, moment):
        return respond(menu_reply(ctx, "composer.gone"), end_dialog=True)
    # How many it reaches now; who gets it is settled when it goes out.
    await _audit(
        ctx, "broadcast.schedule", draft_id, audience, at=iso(moment), audience_size=reached
    )
    return respond(
        menu_reply(ctx, "composer.scheduled", when=ctx.show_moment(moment)),
        end_dialog=True,
        timers=[Timer(job=job(draft_id), at=moment)],
    )


# What is scheduled -----------------------------------------------------------------------


@feature.command(
    "gepland",
    translations={"en": "scheduled"},
    role=Role.CIVIL_SERVANT,
    describe="composer.cmd_scheduled",
)
@feature.action("sched", role=Role.CIVIL_SERVANT)
async def scheduled(ctx: Context) -> Response:
    """The scheduled broadcasts, soonest first, each a message with cancel and move buttons;
    a few at a time (``sched:<page>``): on Telegram each message of a chat takes a second."""
    wanted = paging.asked(ctx)
    if wanted is None:
        return await stale_button(ctx)
    repo = ctx.repos.broadcasts
    shown = paging.page(wanted, await repo.count_scheduled(), SCHEDULED_PAGE)
    pending = await repo.scheduled(limit=shown.size, offset=shown.offset)
    if not pending:
        return respond(menu_reply(ctx, "composer.nothing_scheduled"))
    items = [await _scheduled_item(ctx, broadcast) for broadcast in pending]
    if shown.pages == 1:
        return respond(*items, Reply(key="composer.scheduled_footer", buttons=[[_back()]]))
    footer = Reply(
        key="composer.scheduled_paged",
        parts=paging.where(shown),
        buttons=[
            *paging.turn(shown, lambda label, n: Button(label=label, payload=f"sched:{n}")),
            [_back()],
        ],
    )
    return respond(*items, footer)


def _back() -> Button:
    return Button(label="menu.back", payload="menu")


async def _scheduled_item(ctx: Context, broadcast: Broadcast) -> Reply:
    author_id = broadcast.author_user_id
    # Named as residents will see it signed: by a card that is still shown, else nobody.
    author = await ctx.repos.staff.shown(author_id) if author_id else None
    assert broadcast.scheduled_at is not None
    return Reply(
        key="composer.scheduled_item",
        params={
            "id": broadcast.id,
            "when": ctx.show_moment(broadcast.scheduled_at),
            "audience": await describe(ctx, broadcast.audience),
            "text": excerpt(broadcast.text, 100),
            "author": author.name if author else "–",
        },
        buttons=[
            [
                Button(label="composer.btn_cancel", payload=f"sched.cancel:{broadcast.id}"),
                Button(label="composer.btn_move", payload=f"sched.move:{broadcast.id}"),
            ]
        ],
    )


async def _still_scheduled(ctx: Context, value: str) -> Broadcast | None:
    broadcast_id = parse_id(value)
    broadcast = await ctx.repos.broadcasts.get(broadcast_id) if broadcast_id else None
    if broadcast is None or broadcast.status is not BroadcastStatus.SCHEDULED:
        return None
    return broadcast


def _not_scheduled() -> Response:
    return respond(
        Reply(
            key="composer.not_scheduled",
            buttons=[[Button(label="composer.btn_list", payload="sched")], [_back()]],
        )
    )


@feature.action("sched.cancel", role=Role.CIVIL_SERVANT)
async def cancel_ask(ctx: Context) -> Response:
    """Ask before cancelling a scheduled broadcast."""
    broadcast = await _still_scheduled(ctx, ctx.value)
    if broadcast is None:
        return _not_scheduled()
    return respond(
        Reply(
            key="composer.cancel_confirm",
            params={"id": broadcast.id, "text": excerpt(broadcast.text, 100)},
            buttons=[
                [Button(label="composer.btn_cancel_yes", payload=f"sched.drop:{broadcast.id}")],
                [Button(label="composer.btn_cancel_no", payload="sched")],
            ],
        )
    )


@feature.action("sched.drop", role=Role.CIVIL_SERVANT)
async def cancel(ctx: Context) -> Response:
    """Cancel it: it is never sent, and its timer is disarmed."""
    broadcast = await _still_scheduled(ctx, ctx.value)
    if broadcast is None or not await ctx.repos.broadcasts.cancel(broadcast.id):
        return _not_scheduled()
    assert broadcast.scheduled_at is not None
    await _audit(
        ctx,
        "broadcast.cancel",
        broadcast.id,
        broadcast.audience,
        scheduled_at=iso(broadcast.scheduled_at),
    )
    return respond(
        menu_reply(ctx, "composer.cancelled", id=broadcast.id),
        timers=[Timer(job=job(broadcast.id), at=None)],
    )


@feature.action("sched.move", role=Role.CIVIL_SERVANT)
async def move(ctx: Context) -> Response:
    """Ask for another moment for a scheduled broadcast."""
    broadcast = await _still_scheduled(ctx, ctx.value)
    if broadcast is None:
        return _not_scheduled()
    dialog = Dialog(name=RESCHEDULE, step="when", data={"broadcast_id": broadcast.id})
    return respond(_ask_when(ctx, dialog), dialog=dialog)


rescheduling = feature.dialog(
    RESCHEDULE, role=Role.CIVIL_SERVANT, subject="drafts.subject.reschedule"
)


@rescheduling.step("when", expects=Expects.TEXT)
async def move_step(ctx: Context, dialog: Dialog) -> Response:
    """The new moment for a scheduled broadcast."""
    moment = read_moment(ctx)
    if isinstance(moment, Reply):
        return respond(moment, _ask_when(ctx, dialog), dialog=dialog)
    broadcast = await _still_scheduled(ctx, str(dialog.data["broadcast_id"]))
    if broadcast is None or not await ctx.repos.broadcasts.schedule(broadcast.id, moment):
        return respond(*_not_scheduled().replies, end_dialog=True)
    assert broadcast.scheduled_at is not None
    await _audit(
        ctx,
        "broadcast.move",
        broadcast.id,
        broadcast.audience,
        at=iso(moment),
        previous=iso(broadcast.scheduled_at),
        audience_size=await ctx.repos.broadcasts.count(broadcast.audience),
    )
    return respond(
        menu_reply(ctx, "composer.moved", id=broadcast.id, when=ctx.show_moment(moment)),
        end_dialog=True,
        timers=[Timer(job=job(broadcast.id), at=moment)],
    )


@rescheduling.ask("when")
async def ask_moment(ctx: Context, dialog: Dialog) -> Response:
    """The question for the new moment again."""
    return respond(_ask_when(ctx, dialog), dialog=dialog)
