"""Civil servants introduce themselves; residents meet them under /ambtenaren.

A card has a name, a department (one of the profile's, or typed), what they work on, and a
photo if they like. Residents can ask the person on a card a question; it goes through the
connector (see ``handlers/questions.py``). The list shows eight cards a page; a card opened
from a page goes back to it.

    /voorstellen ──► name ──► department ──► work ──► photo ──► preview ──Opslaan──► saved
                     (each step offers "Laat zo" when a card exists)      └─Opnieuw──► name
"""

from __future__ import annotations

from typing import Any

from handlers import paging
from handlers.answers import (
    as_ascii_digits,
    one_line,
    parse_id,
    photo_hint,
    read_text,
    typed_choice,
)
from handlers.contract import Button, Dialog, Reply, Response, Role, respond, rows
from handlers.feature import Context, Expects, Feature, menu_reply
from handlers.news.wist_je_dat import department
from handlers.start.menu import stale_button
from storage.news.staff import StaffCard

feature = Feature("civil_servants")
feature.menu_entry("staff.menu", "staff.edit", order=62, role=Role.CIVIL_SERVANT)

DIALOG = "introduce"
LIMITS = {"name": 80, "department": 100, "work": 500}
QUESTIONS = {
    "name": "staff.ask_name",
    "department": "staff.ask_department",
    "work": "staff.ask_work",
    "photo": "staff.ask_photo",
}
NEXT = {"name": "department", "department": "work", "work": "photo"}


def card_reply(ctx: Context, card: StaffCard, *, ask_button: bool = True) -> Reply:
    """A civil servant's card as residents see it. Its owner, who would only ask themselves a
    question through the connector, gets the way to edit it instead."""
    buttons = []
    if ask_button and card.user_id == ctx.user.id:
        buttons.append([Button(label="staff.menu", payload="staff.edit")])
    elif ask_button:
        buttons.append(
            [
                Button(
                    label="staff.btn_ask",
                    payload=f"q.new:{card.user_id}",
                    params={"name": card.name},
                )
            ]
        )
    return Reply(
        key="staff.card",
        params={"name": card.name, "department": department(ctx, card), "work": card.work},
        photo_id=card.photo_id,
        buttons=buttons,
    )


@feature.command(
    "ambtenaren",
    translations={"en": "civilservants"},
    consent=False,
    describe="staff.cmd",
    role=Role.RESIDENT,
    words=True,
)
@feature.action("staff", consent=False, role=Role.RESIDENT)
async def staff(ctx: Context) -> Response:
    """Who works on what: the list of cards, or one card (``staff:<user id>``, and
    ``staff:<user id>:<page>`` from that page of the list, which its back button shows).
    Typed after the command, a name lists the cards with it."""
    if not ctx.value.strip():
        return await _list(ctx, 1)
    value = ctx.value
    if ctx.event.button is None:
        # Typed: a number in any script's digits is that card; anything else a name.
        value = as_ascii_digits(value.strip())
        if parse_id(value) is None:
            return await _list(ctx, 1, words=ctx.value)
    raw_id, paged, raw_page = value.partition(":")
    page = paging.number(raw_page) if paged and ctx.event.button is not None else 1
    if page is None:
        return await stale_button(ctx)
    user_id = parse_id(raw_id)
    card = await ctx.repos.staff.shown(user_id) if user_id else None
    if card is None:
        return respond(
            Reply(
                key="staff.not_found",
                buttons=[[Button(label="staff.btn_all", payload="staff")]],
            )
        )
    back = [Button(label="staff.btn_all", payload=f"staff.list:{page}" if page > 1 else "staff")]
    shown = card_reply(ctx, card)
    return respond(shown.model_copy(update={"buttons": [*shown.buttons, back]}))


@feature.action("staff.list", consent=False, role=Role.RESIDENT)
async def another_page(ctx: Context) -> Response:
    """``staff.list:<page>``: another page of the cards."""
    wanted = paging.number(ctx.value)
    if wanted is None:
        return await stale_button(ctx)
    return await _list(ctx, wanted)


async def _list(ctx: Context, wanted: int, words: str | None = None) -> Response:
    """A page of the cards, by name (a page past the end shows the last one). With
    ``words``: the first page of those whose name has them, or (none has) said so above
    the whole list."""
    cards = await ctx.repos.staff.all_shown()
    back = [Button(label="menu.back", payload="menu")]
    if not cards:
        return respond(Reply(key="staff.none", buttons=[back]))
    found: list[Reply] = []
    if words is not None:
        wanted, name = 1, " ".join(words.split()).casefold()
        named = [c for c in cards if name in " ".join(c.name.split()).casefold()]
        if named:
            # Their pages would turn through all cards: the name finds one, or more of it.
            cards = named[: paging.PAGE_SIZE]
        else:
            found = [Reply(key="staff.not_found")]
    shown = paging.page(wanted, len(cards))
    cards = cards[shown.offset : shown.offset + shown.size]
    lines = [
        Reply(key="staff.list_line", params={"name": c.name, "department": department(ctx, c)})
        for c in cards
    ]
    on = f":{shown.number}" if shown.number > 1 else ""
    buttons = [[Button.raw(paging.short(c.name), f"staff:{c.user_id}{on}")] for c in cards]
    buttons += paging.turn(shown, lambda label, n: Button(label=label, payload=f"staff.list:{n}"))
    return respond(
        Reply(
            key="staff.list_title",
            parts=[*found, *lines, *paging.where(shown)],
            buttons=[*buttons, back],
        )
    )


@feature.command(
    "voorstellen",
    translations={"en": "introduce"},
    role=Role.CIVIL_SERVANT,
    describe="staff.cmd_card",
    words=True,
)
@feature.action("staff.edit", role=Role.CIVIL_SERVANT)
async def introduce(ctx: Context) -> Response:
    """Write or edit one's own card."""
    existing = await ctx.repos.staff.get(ctx.user.id)
    data: dict[str, Any] = {}
    if existing is not None:
        data = {
            "old_name": existing.name,
            "old_department_id": existing.department_id,
            "old_department_text": existing.department_text,
            "old_work": existing.work,
            "old_photo_id": existing.photo_id,
        }
    dialog = Dialog(name=DIALOG, step="name", data=data)
    intro = Reply(key="staff.intro_edit" if existing else "staff.intro_new")
    # "/voorstellen Ria de Vries" is the card's name already: the department is asked next.
    typed = ctx.value.strip() if ctx.event.command is not None else ""
    if not typed:
        return respond(intro, _question(ctx, dialog), dialog=dialog)
    answer = read_text(ctx, LIMITS["name"], min_length=2, text=typed)
    if isinstance(answer, Reply):
        back = Reply(key="general.typed_not_kept", params={"text": typed})
        return respond(intro, back, answer, _question(ctx, dialog), dialog=dialog)
    name = one_line(answer)
    nxt = dialog.to("department", name=name)
    kept = Reply(key="staff.from_command_name", params={"name": name})
    return respond(intro, kept, _question(ctx, nxt), dialog=nxt)


def _question(ctx: Context, dialog: Dialog) -> Reply:
    step = dialog.step
    data = dialog.data
    buttons: list[list[Button]] = []
    if step == "department":
        names = [dialog.raw_button(d.name(ctx.lang), d.id) for d in ctx.profile.departments]
        buttons = rows(names)
    if step == "photo":
        if data.get("old_photo_id"):
            buttons.append([dialog.button("staff.btn_keep_photo", "keep")])
        buttons.append([dialog.button("staff.btn_no_photo", "none")])
    elif f"old_{step}" in data or (step == "department" and "old_department_id" in data):
        buttons.append([dialog.button("staff.btn_keep", "keep")])
    buttons.append([Button(label="staff.btn_stop", payload="cancel")])
    return Reply(key=QUESTIONS[step], buttons=buttons)


introducing = feature.dialog(DIALOG, role=Role.CIVIL_SERVANT, subject="staff.draft")

# The card as written comes back with the word, should the role go while it is written.
introducing.gives_back("name", "department_text", "work")


@introducing.ask(*QUESTIONS, "preview")
async def ask_again(ctx: Context, dialog: Dialog) -> Response:
    """The question of the step they are at, or the preview with its buttons, again (a
    chat opened anew)."""
    if dialog.step == "preview":
        return _preview(ctx, dialog)
    return respond(_question(ctx, dialog), dialog=dialog)


@introducing.step("name", "work", expects=Expects.TEXT)
async def text_step(ctx: Context, dialog: Dialog) -> Response:
    """The name, or what they work on: typed, or kept as it was."""
    step = dialog.step
    if _chose(ctx) == "keep" and f"old_{step}" in dialog.data:
        return _ask_next(ctx, dialog, **{step: dialog.data[f"old_{step}"]})
    answer = _typed(ctx, dialog)
    if isinstance(answer, Response):
        return answer
    if step == "name":
        answer = one_line(answer)
    return _ask_next(ctx, dialog, **{step: answer})


@introducing.step("department", expects=Expects.TEXT)
async def department_step(ctx: Context, dialog: Dialog) -> Response:
    """One of the profile's departments, one typed, or the one the card had."""
    choice = _chose(ctx)
    data = dialog.data
    if choice == "keep" and "old_department_id" in data:
        return _ask_next(
            ctx,
            dialog,
            department_id=data["old_department_id"],
            department_text=data["old_department_text"],
        )
    if choice is None:
        # "openbare ruimte" typed names the profile's department, as its button does (and
        # shows in each reader's language); a department of one's own is kept as typed.
        names = {d.id: list(d.name.texts.values()) for d in ctx.profile.departments}
        choice = typed_choice(ctx, names)
    known = ctx.profile.department(choice) if choice is not None else None
    if known is not None:
        return _ask_next(ctx, dialog, department_id=known.id, department_text=None)
    answer = _typed(ctx, dialog)
    if isinstance(answer, Response):
        return answer
    return _ask_next(ctx, dialog, department_id=None, department_text=one_line(answer))


def _chose(ctx: Context) -> str | None:
    """The value of the dialog button pressed, or None for anything else."""
    return ctx.value if ctx.event.button is not None else None


def _typed(ctx: Context, dialog: Dialog) -> str | Response:
    """The text typed for this step, or the question again (with why)."""
    if ctx.event.button is not None:
        return respond(
            Reply(key="answers.use_buttons_or_type"), _question(ctx, dialog), dialog=dialog
        )
    answer = read_text(ctx, LIMITS[dialog.step], min_length=2)
    if isinstance(answer, Reply):
        return respond(answer, _question(ctx, dialog), dialog=dialog)
    return answer


def _ask_next(ctx: Context, dialog: Dialog, **answer: Any) -> Response:
    nxt = dialog.to(NEXT[dialog.step], **answer)
    return respond(_question(ctx, nxt), dialog=nxt)


@introducing.step("photo", photo=True)
async def photo_step(ctx: Context, dialog: Dialog) -> Response:
    """A photo, the one the card had, or none."""
    choice = _chose(ctx)
    if ctx.event.photo is not None:
        photo_id = await ctx.repos.media.save(
            ctx.event.photo.data, ctx.event.photo.mime_type, ctx.now, by=ctx.user.id
        )
        return _preview(ctx, dialog.to("preview", photo_id=photo_id))
    if choice == "keep" and dialog.data.get("old_photo_id"):
        return _preview(ctx, dialog.to("preview", photo_id=dialog.data["old_photo_id"]))
    if choice == "none":
        return _preview(ctx, dialog.to("preview", photo_id=None))
    return respond(photo_hint(ctx, "staff.photo_please"), _question(ctx, dialog), dialog=dialog)


def _draft(ctx: Context, dialog: Dialog) -> StaffCard:
    data = dialog.data
    return StaffCard(
        user_id=ctx.user.id,
        name=data["name"],
        department_id=data.get("department_id"),
        department_text=data.get("department_text"),
        work=data["work"],
        photo_id=data.get("photo_id"),
        updated_at=ctx.now,
    )


def _preview(ctx: Context, dialog: Dialog) -> Response:
    return respond(
        Reply(key="staff.preview_intro"),
        # Without the ask button: pressing it here would leave the card unsaved.
        card_reply(ctx, _draft(ctx, dialog), ask_button=False),
        Reply(
            key="staff.preview_question",
            buttons=[
                [dialog.button("staff.btn_save", "save")],
                [dialog.button("staff.btn_redo", "redo")],
                [Button(label="staff.btn_stop", payload="cancel")],
            ],
        ),
        dialog=dialog,
    )


@introducing.step("preview")
async def preview_step(ctx: Context, dialog: Dialog) -> Response:
    """Save the card as previewed, or start again."""
    choice = _chose(ctx)
    if choice == "redo":
        again = dialog.to("name")
        return respond(_question(ctx, again), dialog=again)
    if choice != "save":
        return respond(
            Reply(key="answers.use_buttons"), *_preview(ctx, dialog).replies, dialog=dialog
        )
    card = _draft(ctx, dialog)
    await ctx.repos.staff.save(
        ctx.user.id,
        name=card.name,
        department_id=card.department_id,
        department_text=card.department_text,
        work=card.work,
        photo_id=card.photo_id,
        now=ctx.now,
    )
    # A card speaks for the municipality to every resident: who changed it is logged.
    facts: dict[str, object] = {"photo": card.photo_id is not None}
    if card.department_id is not None:
        facts["department"] = card.department_id
    await ctx.repos.audit.record(
        "staff.introduce",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject_user_id=ctx.user.id,
        detail=facts,
    )
    return respond(menu_reply(ctx, "staff.saved"))
