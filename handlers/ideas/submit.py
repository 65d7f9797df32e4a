"""Submitting an idea: one question at a time, then a preview to check before it is sent.

Every answer is kept in the dialog (written through on each step), so a restart or a pause
loses nothing. Before the idea is saved, ideas that look alike are offered to support instead.

    /idee ──► category ──► title ──► description ──► neighbourhood ──► photo ──► preview
                 ▲            ▲            ▲               ▲             ▲          │
                 └────────────┴── aanpassen: that question, then back to preview ◄──┤
                                                                                    │ versturen
                  similar ideas? ──yes──► similar ──steun #n──► supports #n instead ◄┘
                       │ no                  │ toch versturen
                       └─────────────────────┴──► saved: its number and what happens next
"""

from __future__ import annotations

import re
from datetime import timedelta

from handlers.answers import photo_hint, text_length, visible_length
from handlers.contract import Button, Dialog, Reply, Response, Role, respond, rows
from handlers.feature import Context, Feature, menu_reply
from handlers.ideas.browse import category_name, neighbourhood_name, status_label
from handlers.phrases import number, phrase
from handlers.profile import Named

feature = Feature("idea_submit")
feature.menu_entry("ideas.menu_submit", "ideas.submit", order=10, consent=True)
feature.posting_limit(
    "idea",
    period=timedelta(days=1),
    limit=lambda profile: profile.limits.ideas_per_day,
    count=lambda repos, user_id, since: repos.activity.ideas_since(user_id, since),
)

DIALOG = "idea_submit"
QUESTIONS = ("category", "title", "description", "neighbourhood", "photo")
TITLE_LENGTH = (5, 120)
DESCRIPTION_LENGTH = (20, 2000)
SIMILAR = 3
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@feature.command("idee", "idea", describe="ideas.cmd_submit", posts="idea", role=Role.RESIDENT)
@feature.action("ideas.submit", posts="idea", role=Role.RESIDENT)
async def begin(ctx: Context) -> Response:
    """Start a new idea with its first question."""
    return await _ask(ctx, Dialog(name=DIALOG, step="category"))


@feature.dialog(DIALOG, posts="idea", role=Role.RESIDENT)
async def submit_step(ctx: Context) -> Response:
    """Every step of the dialog; what a step cannot use gets a hint and the question again."""
    dialog = ctx.dialog
    assert dialog is not None
    choice = ctx.value if ctx.event.button is not None else None
    if choice == "cancel":
        return respond(menu_reply(ctx, "ideas.submit_cancelled"), end_dialog=True)
    if choice == "keep" and dialog.data.get("editing"):
        return await _ask(ctx, dialog.to("preview", editing=False))
    if dialog.step == "category":
        return await _category(ctx, dialog, choice)
    if dialog.step in ("title", "description"):
        return await _text(ctx, dialog, choice)
    if dialog.step == "neighbourhood":
        return await _neighbourhood(ctx, dialog, choice)
    if dialog.step == "photo":
        return await _photo(ctx, dialog, choice)
    if dialog.step == "preview":
        return await _preview(ctx, dialog, choice)
    if dialog.step == "similar":
        return await _similar(ctx, dialog, choice)
    return await _ask(ctx, dialog.to("category"))


# The answers ------------------------------------------------------------------------------


async def _category(ctx: Context, dialog: Dialog, choice: str | None) -> Response:
    found = ctx.profile.category(choice) if choice else _by_name(ctx.profile.categories, ctx)
    if found is None:
        return await _ask(ctx, dialog, hint=Reply(key="ideas.use_buttons"))
    return await _next(ctx, dialog, category=found.id)


async def _text(ctx: Context, dialog: Dialog, choice: str | None) -> Response:
    field = dialog.step
    if choice is not None or ctx.event.text is None:
        # A sticker, photo or button where words are needed.
        return await _ask(ctx, dialog, hint=Reply(key="ideas.need_text"))
    text = _one_line(ctx.text) if field == "title" else _block(ctx.text)
    low, high = TITLE_LENGTH if field == "title" else DESCRIPTION_LENGTH
    length = text_length(text)
    if visible_length(text) < low:
        hint = Reply(
            key=f"ideas.{field}_too_short", params={"min": low, "length": visible_length(text)}
        )
        return await _ask(ctx, dialog, hint=hint)
    if length > high:
        hint = Reply(key=f"ideas.{field}_too_long", params={"max": high, "length": length})
        return await _ask(ctx, dialog, hint=hint)
    return await _next(ctx, dialog, **{field: text})


async def _neighbourhood(ctx: Context, dialog: Dialog, choice: str | None) -> Response:
    if choice == "skip":
        return await _next(ctx, dialog, neighbourhood=None)
    hoods = ctx.profile.neighbourhoods
    found = ctx.profile.neighbourhood(choice) if choice else _by_name(hoods, ctx)
    if found is None:
        return await _ask(ctx, dialog, hint=Reply(key="ideas.use_buttons"))
    return await _next(ctx, dialog, neighbourhood=found.id)


async def _photo(ctx: Context, dialog: Dialog, choice: str | None) -> Response:
    photo = ctx.event.photo
    if photo is not None:
        photo_id = await ctx.repos.media.save(photo.data, photo.mime_type, ctx.now)
        return await _next(ctx, dialog, photo=photo_id)
    if choice == "none":
        return await _next(ctx, dialog, photo=None)
    return await _ask(ctx, dialog, hint=photo_hint(ctx, "ideas.photo_expected"))


async def _preview(ctx: Context, dialog: Dialog, choice: str | None) -> Response:
    if choice is not None and choice.startswith("edit:") and choice[5:] in QUESTIONS:
        return await _ask(ctx, dialog.to(choice[5:], editing=True))
    if choice != "send":
        return await _ask(ctx, dialog, hint=Reply(key="ideas.use_buttons"))
    missing = next((q for q in QUESTIONS if q not in dialog.data), None)
    if missing is not None or ctx.profile.category(dialog.data["category"]) is None:
        # Only after a profile change: ask what is no longer valid.
        return await _ask(ctx, dialog.to(missing or "category"))
    draft = f"{dialog.data['title']}\n{dialog.data['description']}"
    alike = await ctx.repos.ideas.similar(draft, limit=SIMILAR)
    if not alike:
        return await _save(ctx, dialog)
    return await _ask(ctx, dialog.to("similar", similar=[idea.id for idea in alike]))


async def _similar(ctx: Context, dialog: Dialog, choice: str | None) -> Response:
    if choice == "send":
        return await _save(ctx, dialog)
    if choice == "preview":
        return await _ask(ctx, dialog.to("preview"))
    offered = [str(i) for i in dialog.data.get("similar", [])]
    if choice is None or not choice.startswith("support:") or choice[8:] not in offered:
        return await _ask(ctx, dialog, hint=Reply(key="ideas.use_buttons"))
    idea = await ctx.repos.ideas.get(int(choice[8:]))
    if idea is None or idea.removed or idea.author_user_id == ctx.user.id:
        return await _ask(ctx, dialog.to("preview"), hint=Reply(key="ideas.similar_gone"))
    await ctx.repos.ideas.support(idea.id, ctx.user.id, ctx.now)
    return respond(
        Reply(
            key="ideas.supported_instead",
            params={"number": number(idea.id), "title": idea.title},
            buttons=[
                [_view_button(idea.id)],
                *ctx.main_menu(),
            ],
        ),
        end_dialog=True,
    )


async def _save(ctx: Context, dialog: Dialog) -> Response:
    data = dialog.data
    idea = await ctx.repos.ideas.create(
        category=data["category"],
        title=data["title"],
        description=data["description"],
        neighbourhood=data["neighbourhood"],
        photo_id=data["photo"],
        author_user_id=ctx.user.id,
        now=ctx.now,
    )
    return respond(
        Reply(
            key="ideas.submitted",
            params={
                "number": number(idea.id),
                "connector": ctx.profile.connector(ctx.lang),
                "days": ctx.profile.review_days,
            },
            buttons=[
                [_view_button(idea.id)],
                *ctx.main_menu(),
            ],
        ),
        end_dialog=True,
    )


async def _next(ctx: Context, dialog: Dialog, **answer: object) -> Response:
    """Keep the answer; ask the next question, or show the preview again after an edit."""
    if dialog.data.get("editing") or dialog.step == QUESTIONS[-1]:
        return await _ask(ctx, dialog.to("preview", editing=False, **answer))
    following = QUESTIONS[QUESTIONS.index(dialog.step) + 1]
    return await _ask(ctx, dialog.to(following, **answer))


def _view_button(idea_id: int) -> Button:
    return Button(
        label="ideas.btn_view", payload=f"idea.open:{idea_id}", params={"number": number(idea_id)}
    )


def _by_name(items: list[Named], ctx: Context) -> Named | None:
    """What a resident typed instead of pressing, if it is exactly one of the names."""
    typed = ctx.text.casefold()
    return next((i for i in items if typed in i.name.folded()), None)


def _one_line(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def _block(text: str) -> str:
    lines = [" ".join(line.split()) for line in _CONTROL.sub(" ", text).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# The questions ----------------------------------------------------------------------------


async def _ask(ctx: Context, dialog: Dialog, *, hint: Reply | None = None) -> Response:
    """The question for the dialog's step, with its buttons (and a hint first, if any)."""
    replies = [hint] if hint else []
    step = dialog.step
    if step == "preview":
        replies += _preview_replies(ctx, dialog)
    elif step == "similar":
        replies.append(await _similar_reply(ctx, dialog))
    else:
        replies.append(_question(ctx, dialog))
    return respond(*replies, dialog=dialog)


def _question(ctx: Context, dialog: Dialog) -> Reply:
    step, data = dialog.step, dialog.data
    editing = bool(data.get("editing"))
    buttons: list[list[Button]] = []
    parts: list[Reply] = []
    params: dict[str, object] = {}
    if step == "category":
        buttons = [[dialog.raw_button(c.name(ctx.lang), c.id)] for c in ctx.profile.categories]
    elif step == "title":
        params = {"min": TITLE_LENGTH[0], "max": TITLE_LENGTH[1]}
    elif step == "description":
        params = {"min": DESCRIPTION_LENGTH[0], "max": DESCRIPTION_LENGTH[1]}
    elif step == "neighbourhood":
        hoods = [dialog.raw_button(n.name(ctx.lang), n.id) for n in ctx.profile.neighbourhoods]
        buttons = [*rows(hoods, 2), [dialog.button("ideas.btn_skip", "skip")]]
    elif step == "photo":
        buttons = [[dialog.button("ideas.btn_no_photo", "none")]]
    if editing and step in ("title", "description"):
        parts.append(Reply(key="ideas.current", params={"text": data.get(step, "")}))
    closing = [dialog.button("ideas.btn_cancel", "cancel")]
    if editing:
        closing.insert(0, dialog.button("ideas.btn_keep", "keep"))
    return Reply(key=f"ideas.ask_{step}", params=params, parts=parts, buttons=[*buttons, closing])


def _preview_replies(ctx: Context, dialog: Dialog) -> list[Reply]:
    data = dialog.data
    replies = []
    photo_id = data.get("photo")
    if photo_id is not None:
        replies.append(Reply(key="ideas.preview_photo", photo_id=photo_id))
    edits = [dialog.button(f"ideas.btn_edit_{field}", f"edit:{field}") for field in QUESTIONS]
    replies.append(
        Reply(
            key="ideas.preview",
            params={
                "category": category_name(ctx, data.get("category", "")),
                "title": data.get("title", ""),
                "description": data.get("description", ""),
                "neighbourhood": neighbourhood_name(ctx, data.get("neighbourhood")),
                "photo": phrase(ctx, "ideas.photo_yes" if photo_id else "ideas.photo_no"),
            },
            buttons=[
                [dialog.button("ideas.btn_send", "send")],
                *rows(edits, 2),
                [dialog.button("ideas.btn_cancel", "cancel")],
            ],
        )
    )
    return replies


async def _similar_reply(ctx: Context, dialog: Dialog) -> Reply:
    """The ideas that look alike, to support one of them instead (or send anyway)."""
    parts: list[Reply] = []
    buttons: list[list[Button]] = []
    for idea in await ctx.repos.ideas.get_many(dialog.data.get("similar", [])):
        if idea.removed:
            continue
        own = idea.author_user_id == ctx.user.id
        parts.append(
            Reply(
                key="ideas.similar_own_line" if own else "ideas.similar_line",
                params={
                    "number": number(idea.id),
                    "title": idea.title,
                    "status": status_label(ctx, idea),
                    "supporters": idea.supporters,
                },
            )
        )
        view = _view_button(idea.id)
        if own:
            buttons.append([view])
        else:
            support = dialog.button(
                "ideas.btn_support_instead", f"support:{idea.id}", number=number(idea.id)
            )
            buttons.append([support, view])
    buttons.append([dialog.button("ideas.btn_send_anyway", "send")])
    buttons.append([dialog.button("ideas.btn_back_to_preview", "preview")])
    return Reply(key="ideas.similar_intro", parts=parts, buttons=buttons)
