"""Submitting an idea: one question at a time, then a preview to check before it is sent.

Every answer is kept in the dialog (written through on each step), so a restart or a pause
loses nothing. Before the idea is saved, ideas that look alike are offered to support instead.
While nobody decided on it yet, its author may change the idea (the same questions, from the
preview) or withdraw it.

    /idee ──► category ──► title ──► description ──► neighbourhood ──► photo ──► preview
                 ▲            ▲            ▲               ▲             ▲          │
                 └────────────┴── aanpassen: that question, then back to preview ◄──┤
                                                                                    │ versturen
                  similar ideas? ──yes──► similar ──steun #n──► supports #n instead ◄┘
                       │ no                  │ toch versturen
                       └─────────────────────┴──► saved: its number and what happens next

    card of one's own new idea ──✏️ Aanpassen──► preview (saved in place) ──► Opslaan
                               └─🗑 Intrekken──► "sure?" ──► withdrawn, followers told
"""

from __future__ import annotations

import re
from datetime import timedelta

from handlers.answers import (
    confirmation,
    one_line,
    parse_id,
    photo_hint,
    text_length,
    visible_length,
    without_controls,
)
from handlers.contract import Button, Dialog, Reply, Response, Role, respond, rows
from handlers.feature import Context, Expects, Feature, menu_reply
from handlers.ideas.browse import (
    category_name,
    neighbourhood_name,
    removed_reply,
    status_label,
)
from handlers.notices import notify
from handlers.phrases import number, phrase
from handlers.profile import Named
from storage.ideas.ideas import Idea, IdeaStatus

feature = Feature("idea_submit")
feature.menu_entry("ideas.menu_submit", "ideas.submit", order=10)
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


@feature.command(
    "idee",
    translations={"en": "idea"},
    describe="ideas.cmd_submit",
    posts="idea",
    role=Role.RESIDENT,
    words=True,
)
@feature.action("ideas.submit", posts="idea", role=Role.RESIDENT)
async def begin(ctx: Context) -> Response:
    """Start a new idea with its first question.

    Words typed after the command (``/idee Meer bankjes in het park``) are kept: one line
    that fits a title is its title, a longer text its description; the category is asked
    first, and the question they answered is not asked. Words that fit neither get that
    question's own answer, shown back, before the first question."""
    dialog = Dialog(name=DIALOG, step="category")
    typed = ctx.value.strip() if ctx.event.command is not None else ""
    if not typed:
        return await ask(ctx, dialog)
    title = one_line(typed)
    if "\n" not in typed.strip() and _fits(title, TITLE_LENGTH):
        kept, data = "ideas.from_command_title", {"title": title}
    elif fits_description(typed):
        kept, data = "ideas.from_message", {"description": _block(typed)}
    elif _fits(title, TITLE_LENGTH):
        kept, data = "ideas.from_command_title", {"title": title}
    else:
        long = text_length(_block(typed)) > DESCRIPTION_LENGTH[1]
        field = "description" if long else "title"
        problem = _length_problem(field, _block(typed) if long else title)
        asked = await ask(ctx, dialog, hint=problem)
        back = Reply(key="general.typed_not_kept", params={"text": typed})
        return asked.model_copy(update={"replies": [back, *asked.replies]})
    asked = await ask(ctx, dialog.to("category", **data))
    return asked.model_copy(update={"replies": [Reply(key=kept), *asked.replies]})


def _fits(text: str, limits: tuple[int, int]) -> bool:
    low, high = limits
    return visible_length(text) >= low and text_length(text) <= high


def _length_problem(field: str, text: str) -> Reply | None:
    """Why ``text`` cannot be the idea's ``field`` (too short, too long), or None."""
    low, high = TITLE_LENGTH if field == "title" else DESCRIPTION_LENGTH
    if visible_length(text) < low:
        return Reply(
            key=f"ideas.{field}_too_short", params={"min": low, "length": visible_length(text)}
        )
    length = text_length(text)
    if length > high:
        return Reply(key=f"ideas.{field}_too_long", params={"max": high, "length": length})
    return None


def fits_description(text: str) -> bool:
    """Whether ``text`` can be an idea's description as it is (its length)."""
    return _fits(_block(text), DESCRIPTION_LENGTH)


async def begin_described(ctx: Context, text: str) -> Response:
    """Start a new idea whose description is ``text``, a message typed outside any dialog:
    the other questions are asked, and the preview shows it to change. Someone who may not
    post an idea now (a mute, the day's limit) hears why; a text that cannot be a
    description as it is is asked for as usual."""
    refused = await ctx.registry.refusal(ctx, DIALOG)
    if refused is not None:
        return refused
    if not fits_description(text):
        return await begin(ctx)
    dialog = Dialog(name=DIALOG, step="category", data={"description": _block(text)})
    asked = await ask(ctx, dialog)
    return asked.model_copy(update={"replies": [Reply(key="ideas.from_message"), *asked.replies]})


submit = feature.dialog(
    DIALOG,
    posts="idea",
    role=Role.RESIDENT,
    subject=lambda dialog: "ideas.draft_changes" if "idea" in dialog.data else "ideas.draft",
)


# The answers ------------------------------------------------------------------------------


async def _common(ctx: Context, dialog: Dialog) -> Response | None:
    """The buttons every question has: stop, and (while changing one answer) keep it."""
    choice = _choice(ctx)
    if choice == "cancel":
        key = "ideas.edit_cancelled" if _editing_saved(dialog) else "ideas.submit_cancelled"
        return respond(menu_reply(ctx, key), end_dialog=True)
    if choice == "keep" and dialog.data.get("editing"):
        return await ask(ctx, dialog.to("preview", editing=False))
    return None


def _choice(ctx: Context) -> str | None:
    return ctx.value if ctx.event.button is not None else None


@submit.step("category")
async def category_step(ctx: Context, dialog: Dialog) -> Response:
    """One of the Burgertop's categories, pressed or typed by its name."""
    common = await _common(ctx, dialog)
    if common is not None:
        return common
    choice = _choice(ctx)
    found = ctx.profile.category(choice) if choice else _by_name(ctx.profile.categories, ctx)
    if found is None:
        return await ask(ctx, dialog, hint=Reply(key="ideas.use_buttons"))
    return await _next(ctx, dialog, category=found.id)


@submit.step("title", "description", expects=Expects.TEXT)
async def text_step(ctx: Context, dialog: Dialog) -> Response:
    """The title (one line) or the description (a few lines), within their lengths."""
    common = await _common(ctx, dialog)
    if common is not None:
        return common
    field = dialog.step
    if ctx.event.button is not None or ctx.event.text is None:
        # A sticker, photo or button where words are needed.
        return await ask(ctx, dialog, hint=Reply(key="ideas.need_text"))
    text = one_line(ctx.text) if field == "title" else _block(ctx.text)
    problem = _length_problem(field, text)
    if problem is not None:
        return await ask(ctx, dialog, hint=problem)
    return await _next(ctx, dialog, **{field: text})


@submit.step("neighbourhood")
async def neighbourhood_step(ctx: Context, dialog: Dialog) -> Response:
    """A neighbourhood (pressed or typed by its name), or none: the whole municipality."""
    common = await _common(ctx, dialog)
    if common is not None:
        return common
    choice = _choice(ctx)
    if choice == "skip":
        return await _next(ctx, dialog, neighbourhood=None)
    hoods = ctx.profile.neighbourhoods
    found = ctx.profile.neighbourhood(choice) if choice else _by_name(hoods, ctx)
    if found is None:
        return await ask(ctx, dialog, hint=Reply(key="ideas.use_buttons"))
    return await _next(ctx, dialog, neighbourhood=found.id)


@submit.step("photo", photo=True)
async def photo_step(ctx: Context, dialog: Dialog) -> Response:
    """A photo, or the button for none (an idea being changed can keep its photo)."""
    common = await _common(ctx, dialog)
    if common is not None:
        return common
    photo = ctx.event.photo
    if photo is not None:
        photo_id = await ctx.repos.media.save(photo.data, photo.mime_type, ctx.now, by=ctx.user.id)
        return await _next(ctx, dialog, photo=photo_id)
    if _choice(ctx) == "none":
        return await _next(ctx, dialog, photo=None)
    return await ask(ctx, dialog, hint=photo_hint(ctx, "ideas.photo_expected"))


@submit.step("preview")
async def preview_step(ctx: Context, dialog: Dialog) -> Response:
    """Change an answer, or send the idea (after the similar ideas, if there are any)."""
    common = await _common(ctx, dialog)
    if common is not None:
        return common
    choice = _choice(ctx)
    if choice is not None and choice.startswith("edit:") and choice[5:] in QUESTIONS:
        return await ask(ctx, dialog.to(choice[5:], editing=True))
    if choice != "send":
        return await ask(ctx, dialog, hint=Reply(key="ideas.use_buttons"))
    missing = next((q for q in QUESTIONS if q not in dialog.data), None)
    if missing is not None or ctx.profile.category(dialog.data["category"]) is None:
        # Only after a profile change: ask what is no longer valid.
        return await ask(ctx, dialog.to(missing or "category"))
    if _editing_saved(dialog):
        return await _save_changes(ctx, dialog)
    draft = f"{dialog.data['title']}\n{dialog.data['description']}"
    alike = await ctx.repos.ideas.similar(draft, limit=SIMILAR)
    if not alike:
        return await _save(ctx, dialog)
    return await ask(ctx, dialog.to("similar", similar=[idea.id for idea in alike]))


@submit.step("similar")
async def similar_step(ctx: Context, dialog: Dialog) -> Response:
    """Support one of the ideas that look alike instead, or send one's own anyway."""
    common = await _common(ctx, dialog)
    if common is not None:
        return common
    choice = _choice(ctx)
    if choice == "send":
        return await _save(ctx, dialog)
    if choice == "preview":
        return await ask(ctx, dialog.to("preview"))
    offered = [str(i) for i in dialog.data.get("similar", [])]
    if choice is None or not choice.startswith("support:") or choice[8:] not in offered:
        return await ask(ctx, dialog, hint=Reply(key="ideas.use_buttons"))
    idea = await ctx.repos.ideas.get(int(choice[8:]))
    if idea is None or idea.removed or idea.author_user_id == ctx.user.id:
        return await ask(ctx, dialog.to("preview"), hint=Reply(key="ideas.similar_gone"))
    if idea.status == IdeaStatus.MERGED:
        # Merged meanwhile: the same answer as on its card, with the way to the idea it
        # went into (support that one, or send one's own anyway).
        history = await ctx.repos.ideas.history(idea.id)
        into = next((c.merged_into for c in reversed(history) if c.merged_into), None)
        return await ask(ctx, dialog, hint=_merged_no_support(idea, into))
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
    if dialog.data.get("editing"):
        return await ask(ctx, dialog.to("preview", editing=False, **answer))
    # A question answered before it was asked (the description of an idea begun from a
    # typed message) is not asked again: the preview shows it, to change.
    later = QUESTIONS[QUESTIONS.index(dialog.step) + 1 :]
    following = next((step for step in later if step not in dialog.data), "preview")
    return await ask(ctx, dialog.to(following, **answer))


def _merged_no_support(idea: Idea, into: int | None) -> Reply:
    buttons = []
    if into is not None:
        buttons.append(
            [
                Button(
                    label="ideas.btn_open_merged",
                    payload=f"idea.open:{into}",
                    params={"number": number(into)},
                )
            ]
        )
    return Reply(
        key="ideas.merged_no_support", params={"number": number(idea.id)}, buttons=buttons
    )


def _view_button(idea_id: int) -> Button:
    return Button(
        label="ideas.btn_view", payload=f"idea.open:{idea_id}", params={"number": number(idea_id)}
    )


def _by_name(items: list[Named], ctx: Context) -> Named | None:
    """What a resident typed instead of pressing, if it is exactly one of the names."""
    typed = ctx.text.casefold()
    return next((i for i in items if typed in i.name.folded()), None)


def _block(text: str) -> str:
    lines = [" ".join(line.split()) for line in without_controls(text).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# The questions ----------------------------------------------------------------------------


@submit.ask(*QUESTIONS, "preview", "similar")
async def ask(ctx: Context, dialog: Dialog, *, hint: Reply | None = None) -> Response:
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
    saved = _editing_saved(dialog)
    replies.append(
        Reply(
            key="ideas.preview_saved" if saved else "ideas.preview",
            params={
                "category": category_name(ctx, data.get("category", "")),
                "title": data.get("title", ""),
                "description": data.get("description", ""),
                "neighbourhood": neighbourhood_name(ctx, data.get("neighbourhood")),
                "photo": phrase(ctx, "ideas.photo_yes" if photo_id else "ideas.photo_no"),
                "number": number(int(data.get("idea", 0))),
            },
            buttons=[
                [dialog.button("ideas.btn_save" if saved else "ideas.btn_send", "send")],
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
        if own or idea.status == IdeaStatus.MERGED:
            buttons.append([view])
        else:
            support = dialog.button(
                "ideas.btn_support_instead", f"support:{idea.id}", number=number(idea.id)
            )
            buttons.append([support, view])
    buttons.append([dialog.button("ideas.btn_send_anyway", "send")])
    buttons.append([dialog.button("ideas.btn_back_to_preview", "preview")])
    return Reply(key="ideas.similar_intro", parts=parts, buttons=buttons)


# Changing or withdrawing one's own new idea ------------------------------------------------


def _editing_saved(dialog: Dialog) -> bool:
    """Whether the dialog changes an idea already sent in (rather than writing a new one)."""
    return "idea" in dialog.data


async def _own_new_idea(ctx: Context) -> tuple[int, Response | None]:
    """The idea number in the button, and the answer when it is not one's own new idea."""
    idea_id = parse_id(ctx.value) or 0
    idea = await ctx.repos.ideas.get(idea_id) if idea_id else None
    if idea is None or idea.author_user_id != ctx.user.id:
        return idea_id, respond(menu_reply(ctx, "ideas.not_yours"))
    if idea.removed:
        # Their own idea, withdrawn (a second tap on "Ja") or taken out of view.
        return idea_id, respond(removed_reply(ctx, idea))
    if not idea.editable:
        back = Button(
            label="ideas.btn_view", payload=f"idea.open:{idea.id}", params={"number": idea.id}
        )
        return idea_id, respond(
            Reply(
                key="ideas.no_longer_editable",
                params={"number": number(idea.id), "status": status_label(ctx, idea)},
                buttons=[[back], [Button(label="menu.back", payload="menu")]],
            )
        )
    return idea_id, None


@feature.action("idea.edit", changes="idea", role=Role.RESIDENT)
async def edit(ctx: Context) -> Response:
    """``idea.edit:<id>``: change one's own idea while nobody decided on it yet."""
    idea_id, refusal = await _own_new_idea(ctx)
    if refusal is not None:
        return refusal
    idea = await ctx.repos.ideas.get(idea_id)
    assert idea is not None
    dialog = Dialog(
        name=DIALOG,
        step="preview",
        data={
            "idea": idea.id,
            "category": idea.category,
            "title": idea.title,
            "description": idea.description,
            "neighbourhood": idea.neighbourhood,
            "photo": idea.photo_id,
        },
    )
    return await ask(ctx, dialog)


async def _save_changes(ctx: Context, dialog: Dialog) -> Response:
    data = dialog.data
    idea_id = int(data["idea"])
    before = await ctx.repos.ideas.get(idea_id)
    old_photo = before.photo_id if before is not None else None
    changed = await ctx.repos.ideas.update_own(
        idea_id,
        ctx.user.id,
        category=data["category"],
        title=data["title"],
        description=data["description"],
        neighbourhood=data["neighbourhood"],
        photo_id=data["photo"],
        now=ctx.now,
    )
    if changed and old_photo is not None and old_photo != data["photo"]:
        # The photo it replaced is deleted, unless something else shows it too.
        await ctx.repos.media.drop_unused({old_photo})
    key = "ideas.edit_saved" if changed else "ideas.edit_too_late"
    gone = not changed and (before is None or before.removed)
    if gone:
        # Withdrawn (from its card) or taken out of view meanwhile: said so, not "decided".
        withdrawn = before is not None and before.withdrawn
        key = "ideas.edit_withdrawn" if withdrawn else "ideas.edit_out_of_view"
    parts = []
    typed = {"title": data["title"], "description": data["description"]}
    if not changed and (before is None or typed != before.model_dump(include=set(typed))):
        # Decided on meanwhile: the words they typed again are given back, not lost.
        parts.append(Reply(key="ideas.your_changes", params=typed))
    view = [] if gone else [[_view_button(idea_id)]]
    return respond(
        Reply(
            key=key,
            params={"number": number(idea_id)},
            parts=parts,
            buttons=[*view, [Button(label="menu.back", payload="menu")]],
        ),
        end_dialog=True,
    )


@feature.action("idea.withdraw", role=Role.RESIDENT)
async def withdraw(ctx: Context) -> Response:
    """``idea.withdraw:<id>``: take one's own new idea back, after a question that says so."""
    idea_id, refusal = await _own_new_idea(ctx)
    if refusal is not None:
        return refusal
    idea = await ctx.repos.ideas.get(idea_id)
    assert idea is not None
    if not ctx.confirmed:
        return respond(
            confirmation(
                "ideas.withdraw_confirm",
                yes=Button(label="ideas.btn_withdraw_yes", payload=f"idea.withdraw:{idea.id}"),
                no=Button(label="ideas.btn_withdraw_no", payload=f"idea.open:{idea.id}"),
                number=number(idea.id),
                title=idea.title,
                supporters=idea.supporters,
            )
        )
    followers = await ctx.repos.ideas.followers(idea.id)
    if not await ctx.repos.ideas.withdraw(idea.id, ctx.user.id, ctx.now):
        return respond(menu_reply(ctx, "ideas.not_yours"))

    def build(lang: str) -> list[Reply]:
        return [
            Reply(
                key="ideas.withdrawn_notice",
                params={"number": number(idea.id), "title": idea.title},
            )
        ]

    await notify(ctx, followers, kind="status", build=build)
    return respond(menu_reply(ctx, "ideas.withdrawn", number=number(idea.id)))
