"""Organising a meeting: staff fill it in step by step, see it as residents will, publish it.

One handler per step; what was typed so far lives in the dialog (written through, so a
restart loses nothing). Publishing stores the meeting and, when an audience was chosen,
invites them with a "Wist je dat" through the broadcasts (outbox and news archive).

    /nieuwebijeenkomst ─► title ─► description ─► where ─┬─ address ─► hood ─► map ─┐
                                                         └─ link ───────────────────┤
        preview ◄── (audience (+ picker)) ◄── invite ◄── about (+ picker) ◄── capacity ◄── ends
          ├─ Publiceren ──► stored, invitation in the outbox             ◄── starts
          ├─ Ander publiek ──► invite
          └─ Stoppen

The audience steps are the ones every staff message uses (:mod:`handlers.audience`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers import audience as audiences
from handlers import paging
from handlers.answers import (
    as_ascii_digits,
    digits,
    given_back_text,
    labels,
    one_line,
    read_text,
    typed_choice,
)
from handlers.contract import Button, Dialog, Reply, Response, Role, respond, rows
from handlers.feature import Context, Expects, Feature, menu_reply
from handlers.meetings.shown import card, invitation
from handlers.news.wist_je_dat import signature_of
from handlers.when import parse_moment, typed_day, within_a_year
from storage.meetings.meetings import Meeting, MeetingDraft
from storage.news.broadcasts import Audience, AudienceKind

feature = Feature("meeting-compose")
feature.menu_entry("meetings.menu_compose", "mt.new", order=71, role=Role.CIVIL_SERVANT)

DIALOG = "meeting_compose"
MAX_TITLE = 80
MAX_DESCRIPTION = 600
MAX_ADDRESS = 150
MAX_LINK = 300
MAX_CAPACITY = 10_000
#: A meeting lasts at most this long (how far ahead: :func:`handlers.when.within_a_year`).
LONGEST = timedelta(hours=24)
#: The lengths offered as buttons, in hours.
LENGTHS = (1, 2, 3)
#: A link to the online meeting or the map: https only, as the question asks.
_LINK = re.compile(r"^https://[^\s<>\"]+\.[^\s<>\"]+$", re.IGNORECASE)
#: A number with its thousands grouped: "1.500", "1,500", "1 500" (a space of any width),
#: "١٬٥٠٠" (an Arabic keyboard's thousands sign).
_GROUPED = re.compile("^[1-9][0-9]{0,2}(?:[.,' \u066c][0-9]{3})+$")
#: The steps that ask which experiment or theme the meeting belongs to.
PICKERS = {"about_experiment": AudienceKind.EXPERIMENT, "about_theme": AudienceKind.THEME}

compose = feature.dialog(DIALOG, role=Role.CIVIL_SERVANT, subject="meetings.draft")
# What was written comes back with the word, should the role go while it is written.
compose.gives_back("title", "description", "address", "online_link", "map_link")


def _stop() -> list[Button]:
    return [Button(label="meetings.btn_stop", payload="cancel")]


def _ask(key: str, *extra: list[Button], **params: object) -> Reply:
    return Reply(key=key, params=params, buttons=[*extra, _stop()])


@feature.command(
    "nieuwebijeenkomst",
    translations={"en": "newmeeting"},
    role=Role.CIVIL_SERVANT,
    describe="meetings.cmd_compose",
    words=True,
)
@feature.action("mt.new", role=Role.CIVIL_SERVANT)
async def start(ctx: Context) -> Response:
    """Begin a new meeting with its title (``/nieuwebijeenkomst Buurtavond`` is that title
    already: the description is asked next)."""
    dialog = Dialog(name=DIALOG, step="title", data={"lang": ctx.lang})
    typed = ctx.value.strip() if ctx.event.command is not None else ""
    if typed:
        return await _title(ctx, dialog, typed)
    return respond(_ask("meetings.compose_intro", max=MAX_TITLE), dialog=dialog)


# What and where -------------------------------------------------------------------------------


@compose.step("title", expects=Expects.TEXT)
async def title(ctx: Context, dialog: Dialog) -> Response:
    return await _title(ctx, dialog)


async def _title(ctx: Context, dialog: Dialog, typed: str | None = None) -> Response:
    """The title: typed at its question, or ``typed`` after the command (shown back with
    the reason when it cannot be the title)."""
    text = read_text(ctx, MAX_TITLE, min_length=3, text=typed)
    if isinstance(text, Reply):
        back = given_back_text(typed)
        return respond(*back, text, _ask("meetings.ask_title", max=MAX_TITLE), dialog=dialog)
    nxt = dialog.to("description", title=one_line(text))
    return respond(_ask("meetings.ask_description", max=MAX_DESCRIPTION), dialog=nxt)


@compose.step("description", expects=Expects.TEXT)
async def description(ctx: Context, dialog: Dialog) -> Response:
    text = read_text(ctx, MAX_DESCRIPTION, min_length=3)
    if isinstance(text, Reply):
        again = _ask("meetings.ask_description", max=MAX_DESCRIPTION)
        return respond(text, again, dialog=dialog)
    nxt = dialog.to("where", description=text)
    return respond(_ask_where(nxt), dialog=nxt)


def _ask_where(dialog: Dialog) -> Reply:
    return _ask(
        "meetings.ask_where",
        [dialog.button("meetings.btn_address", "address")],
        [dialog.button("meetings.btn_online", "online")],
    )


@compose.step("where")
async def where(ctx: Context, dialog: Dialog) -> Response:
    choice = ctx.value if ctx.event.button is not None else None
    if choice == "address":
        nxt = dialog.to("address", online_link=None)
        return respond(_ask("meetings.ask_address", max=MAX_ADDRESS), dialog=nxt)
    if choice == "online":
        nxt = dialog.to("link", address=None, map_link=None, neighbourhood=None)
        return respond(_ask("meetings.ask_link"), dialog=nxt)
    return respond(Reply(key="answers.use_buttons"), _ask_where(dialog), dialog=dialog)


@compose.step("address", expects=Expects.TEXT)
async def address(ctx: Context, dialog: Dialog) -> Response:
    text = read_text(ctx, MAX_ADDRESS, min_length=3)
    if isinstance(text, Reply):
        return respond(text, _ask("meetings.ask_address", max=MAX_ADDRESS), dialog=dialog)
    nxt = dialog.to("hood", address=one_line(text))
    return respond(_ask_hood(ctx, nxt), dialog=nxt)


def _ask_hood(ctx: Context, dialog: Dialog) -> Reply:
    hoods = [dialog.raw_button(n.name(ctx.lang), n.id) for n in ctx.profile.neighbourhoods]
    return _ask("meetings.ask_hood", *rows(hoods, 2), [dialog.button("meetings.btn_no_hood", "-")])


@compose.step("hood")
async def hood(ctx: Context, dialog: Dialog) -> Response:
    choice = ctx.value if ctx.event.button is not None else None
    if choice != "-" and ctx.profile.neighbourhood(choice) is None:
        return respond(Reply(key="answers.use_buttons"), _ask_hood(ctx, dialog), dialog=dialog)
    nxt = dialog.to("map", neighbourhood=None if choice == "-" else choice)
    return respond(_ask_map(nxt), dialog=nxt)


def _ask_map(dialog: Dialog) -> Reply:
    return _ask("meetings.ask_map", [dialog.button("meetings.btn_no_map", "-")])


def _read_link(ctx: Context) -> str | Reply:
    text = read_text(ctx, MAX_LINK)
    if isinstance(text, Reply):
        return text
    if not _LINK.match(text):
        return Reply(key="meetings.link_invalid")
    return text


@compose.step("map", expects=Expects.TEXT)
async def map_link(ctx: Context, dialog: Dialog) -> Response:
    if ctx.event.button is not None and ctx.value == "-":
        nxt = dialog.to("starts", map_link=None)
        return respond(_ask_starts(ctx), dialog=nxt)
    link = _read_link(ctx)
    if isinstance(link, Reply):
        return respond(link, _ask_map(dialog), dialog=dialog)
    nxt = dialog.to("starts", map_link=link)
    return respond(_ask_starts(ctx), dialog=nxt)


@compose.step("link", expects=Expects.TEXT)
async def online_link(ctx: Context, dialog: Dialog) -> Response:
    link = _read_link(ctx)
    if isinstance(link, Reply):
        return respond(link, _ask("meetings.ask_link"), dialog=dialog)
    nxt = dialog.to("starts", online_link=link)
    return respond(_ask_starts(ctx), dialog=nxt)


# When ------------------------------------------------------------------------------------------


def _ask_starts(ctx: Context) -> Reply:
    example = typed_day((ctx.local(ctx.now) + timedelta(days=7)).date()) + " 19:30"
    return _ask("meetings.ask_starts", example=example)


def skipped(moment: datetime) -> bool:
    """Whether a typed local time is one the clock never shows: the hour skipped when the
    clocks go forward (02:30 that night would silently become 03:30)."""
    back = moment.astimezone(UTC).astimezone(moment.tzinfo)
    return back.replace(tzinfo=None) != moment.replace(tzinfo=None)


def read_start(ctx: Context) -> datetime | Reply:
    """The typed start of a meeting, in UTC, or why it cannot be used."""
    text = read_text(ctx, 60)
    if isinstance(text, Reply):
        return text
    local = ctx.local(ctx.now)
    moment = parse_moment(text, local)
    if moment is None:
        return Reply(key="meetings.when_invalid", params={"typed": text})
    if skipped(moment):
        return Reply(key="meetings.when_skipped", params={"typed": text})
    if moment.astimezone(UTC) <= ctx.now:
        return Reply(key="meetings.when_past", params={"when": ctx.show_moment(moment)})
    if not within_a_year(moment, local):
        return Reply(key="meetings.when_too_far")
    return moment.astimezone(UTC)


@compose.step("starts", expects=Expects.TEXT)
async def starts(ctx: Context, dialog: Dialog) -> Response:
    moment = read_start(ctx)
    if isinstance(moment, Reply):
        return respond(moment, _ask_starts(ctx), dialog=dialog)
    nxt = dialog.to("ends", starts_at=moment.isoformat())
    return respond(ask_ends(nxt), dialog=nxt)


def ask_ends(dialog: Dialog) -> Reply:
    """Ask how long it lasts: buttons for the usual lengths, or a typed end time."""
    lengths = [dialog.button("meetings.btn_hours", str(h), count=h) for h in LENGTHS]
    return _ask("meetings.ask_ends", lengths)


def _typed_length(ctx: Context) -> int | None:
    """A length typed as its button reads ("2 uur", "2 hours"): the answer to "how long",
    not two o'clock."""
    named = {
        str(hours): labels(
            ctx, Button(label="meetings.btn_hours", payload="", params={"count": hours})
        )
        for hours in LENGTHS
    }
    chosen = typed_choice(ctx, named)
    return int(chosen) if chosen is not None else None


def read_end(ctx: Context, begins: datetime) -> datetime | Reply:
    """The end of a meeting that begins then: a length chosen (or typed as its button
    reads), or a time typed ("21:00", or a whole moment for a meeting that ends another
    day)."""
    if ctx.event.button is not None:
        if ctx.value not in {str(hours) for hours in LENGTHS}:
            return Reply(key="answers.use_buttons")
        return begins + timedelta(hours=int(ctx.value))
    hours = _typed_length(ctx)
    if hours is not None:
        return begins + timedelta(hours=hours)
    text = read_text(ctx, 60)
    if isinstance(text, Reply):
        return text
    local = ctx.local(begins)
    whole = parse_moment(text, local)
    moment = whole or parse_moment(f"{typed_day(local.date())} {text}", local)
    if moment is None:
        return Reply(key="meetings.when_invalid", params={"typed": text})
    if skipped(moment):
        return Reply(key="meetings.when_skipped", params={"typed": text})
    ends = moment.astimezone(UTC)
    if ends <= begins:
        if whole is not None:
            return Reply(key="meetings.end_before_start")
        # Only a time, before the start ("00:30" for a night that starts at 22:00): an end
        # on the next day is typed with its date.
        next_day = f"{typed_day(local.date() + timedelta(days=1))} {moment:%H:%M}"
        hint = Reply(key="meetings.end_next_day", params={"example": next_day})
        return Reply(key="meetings.end_before_start", parts=[hint])
    if ends - begins > LONGEST:
        return Reply(key="meetings.too_long")
    return ends


@compose.step("ends", expects=Expects.TEXT)
async def ends(ctx: Context, dialog: Dialog) -> Response:
    moment = read_end(ctx, datetime.fromisoformat(dialog.data["starts_at"]))
    if isinstance(moment, Reply):
        return respond(moment, ask_ends(dialog), dialog=dialog)
    nxt = dialog.to("capacity", ends_at=moment.isoformat())
    return respond(_ask("meetings.ask_capacity", max=MAX_CAPACITY), dialog=nxt)


def _places(typed: str) -> int | None:
    """A number of places as typed, or None. Digits of any script count as the digits they
    are ("١٢" is 12), as in a typed time; thousands may be grouped as the question writes
    its maximum ("1.500", "1,500", "1 500", "١٬٥٠٠")."""
    text = as_ascii_digits(one_line(typed))
    if _GROUPED.match(text):
        text = re.sub(r"\D", "", text)
    if not digits(text) or len(text) > 6:
        return None
    return int(text) if 1 <= int(text) <= MAX_CAPACITY else None


@compose.step("capacity", expects=Expects.NUMBER)
async def capacity(ctx: Context, dialog: Dialog) -> Response:
    places = _places(ctx.text)
    if places is None:
        problem = Reply(key="meetings.capacity_invalid", params={"max": MAX_CAPACITY})
        again = _ask("meetings.ask_capacity", max=MAX_CAPACITY)
        return respond(problem, again, dialog=dialog)
    nxt = dialog.to("about", capacity=places)
    return respond(await _ask_about(ctx, nxt), dialog=nxt)


# What it is about, and who is invited ---------------------------------------------------------


async def _ask_about(ctx: Context, dialog: Dialog) -> Reply:
    """An experiment or a theme; an experiment only while one is running (else its picker
    would be empty)."""
    if not await ctx.repos.experiments.count_running():
        return _ask(
            "meetings.ask_about_theme",
            [dialog.button("meetings.btn_about_theme", "theme")],
            [dialog.button("meetings.btn_about_nothing", "-")],
        )
    return _ask(
        "meetings.ask_about",
        [dialog.button("meetings.btn_about_experiment", "experiment")],
        [dialog.button("meetings.btn_about_theme", "theme")],
        [dialog.button("meetings.btn_about_nothing", "-")],
    )


async def _no_experiment(ctx: Context, dialog: Dialog) -> Response:
    """An experiment was chosen (an old button, or all ended since): there is none running."""
    back = dialog.to("about")
    no = Reply(key="composer.no_experiment")
    return respond(no, await _ask_about(ctx, back), dialog=back)


async def _none_running(ctx: Context, step: str) -> bool:
    return (
        PICKERS.get(step) is AudienceKind.EXPERIMENT
        and not await ctx.repos.experiments.count_running()
    )


@compose.step("about")
async def about(ctx: Context, dialog: Dialog) -> Response:
    choice = ctx.value if ctx.event.button is not None else None
    if choice == "-":
        nxt = dialog.to("invite", experiment_id=None, theme=None)
        return respond(_ask_invite(nxt), dialog=nxt)
    if choice in ("experiment", "theme"):
        nxt = dialog.to(f"about_{choice}")
        if await _none_running(ctx, nxt.step):
            return await _no_experiment(ctx, dialog)
        return respond(await _ask_pick(ctx, nxt), dialog=nxt)
    again = await _ask_about(ctx, dialog)
    return respond(Reply(key="answers.use_buttons"), again, dialog=dialog)


async def _ask_pick(ctx: Context, dialog: Dialog, wanted: int = 1) -> Reply:
    """A page of the running experiments, or the themes (the same lists as an audience's)."""
    kind = PICKERS[dialog.step]
    shown, found = await audiences.options(ctx, kind, wanted)
    buttons = [dialog.raw_button(paging.short(name), value) for value, name in found]
    return Reply(
        key="meetings.ask_pick",
        parts=paging.where(shown),
        buttons=[
            *rows(buttons),
            *paging.turn(shown, lambda label, n: dialog.button(label, f"{paging.TURN}{n}")),
            [dialog.button("meetings.btn_back", "back")],
        ],
    )


@compose.step(*PICKERS)
async def pick(ctx: Context, dialog: Dialog) -> Response:
    kind = PICKERS[dialog.step]
    choice = ctx.value if ctx.event.button is not None else None
    if choice == "back":
        nxt = dialog.to("about")
        return respond(await _ask_about(ctx, nxt), dialog=nxt)
    if await _none_running(ctx, dialog.step):
        return await _no_experiment(ctx, dialog)
    wanted = paging.turned(choice)
    if wanted is not None:
        return respond(await _ask_pick(ctx, dialog, wanted), dialog=dialog)
    if choice is None or await audiences.name_of(ctx, kind, choice) is None:
        return respond(
            Reply(key="answers.use_buttons"), await _ask_pick(ctx, dialog), dialog=dialog
        )
    if kind is AudienceKind.EXPERIMENT:
        nxt = dialog.to("invite", experiment_id=int(choice), theme=None)
    else:
        nxt = dialog.to("invite", experiment_id=None, theme=choice)
    return respond(_ask_invite(nxt), dialog=nxt)


def _ask_invite(dialog: Dialog) -> Reply:
    return _ask(
        "meetings.ask_invite",
        [dialog.button("meetings.btn_invite_yes", "yes")],
        [dialog.button("meetings.btn_invite_no", "no")],
    )


@compose.step("invite")
async def invite(ctx: Context, dialog: Dialog) -> Response:
    """Whether to invite people with a "Wist je dat" (then: whom)."""
    choice = ctx.value if ctx.event.button is not None else None
    if choice == "yes":
        return await AUDIENCE.start(ctx, dialog)
    if choice == "no":
        return await _chosen(ctx, dialog.to("preview", audience_kind=None, audience_value=None))
    return respond(Reply(key="answers.use_buttons"), _ask_invite(dialog), dialog=dialog)


@compose.step(audiences.STEP)
async def audience(ctx: Context, dialog: Dialog) -> Response:
    return await AUDIENCE.choose(ctx, dialog)


@compose.step(*audiences.PICKERS)
async def pick_audience(ctx: Context, dialog: Dialog) -> Response:
    return await AUDIENCE.pick(ctx, dialog)


async def _count(ctx: Context, chosen: Audience) -> int:
    """An invitation goes to "Wist je dat" subscribers (or an experiment's participants)."""
    return await ctx.repos.broadcasts.count(chosen)


async def _count_each(ctx: Context, kind: AudienceKind, values: Sequence[str]) -> dict[str, int]:
    return await ctx.repos.broadcasts.counts(kind, values)


def _audience_of(dialog: Dialog) -> Audience | None:
    if dialog.data.get("audience_kind") is None:
        return None
    return audiences.audience_of(dialog)


async def _chosen(ctx: Context, dialog: Dialog) -> Response:
    """An audience was chosen (or none): the preview, unless there is nobody in it."""
    chosen = _audience_of(dialog)
    count = await _count(ctx, chosen) if chosen is not None else 0
    if chosen is not None and count == 0:
        # Back to whether to invite at all: publishing without an invitation stays possible.
        back = dialog.to("invite")
        return respond(Reply(key="meetings.audience_empty"), _ask_invite(back), dialog=back)
    draft = draft_of(dialog)
    shown = card(draft, ctx.timezone)
    intro = Reply(key="meetings.preview_intro", params={"count": count})
    return respond(intro, shown, _preview_question(dialog), dialog=dialog)


AUDIENCE = audiences.AudienceSteps(
    count=_count,
    counts=_count_each,
    then="preview",
    chosen=_chosen,
    section="meetings",
    everyone="meetings.btn_audience_all",
    stop=Button(label="meetings.btn_stop", payload="cancel"),
)


def draft_of(dialog: Dialog) -> MeetingDraft:
    """The meeting as filled in so far (every step up to the preview done)."""
    data = dialog.data
    return MeetingDraft(
        title=data["title"],
        description=data["description"],
        address=data.get("address"),
        map_link=data.get("map_link"),
        online_link=data.get("online_link"),
        neighbourhood=data.get("neighbourhood"),
        starts_at=datetime.fromisoformat(data["starts_at"]),
        ends_at=datetime.fromisoformat(data["ends_at"]),
        capacity=int(data["capacity"]),
        experiment_id=data.get("experiment_id"),
        theme=data.get("theme"),
        lang=str(data.get("lang", "nl")),
    )


def _preview_question(dialog: Dialog) -> Reply:
    return _ask(
        "meetings.preview_question",
        [dialog.button("meetings.btn_publish", "publish")],
        [dialog.button("meetings.btn_other_audience", "audience")],
    )


@compose.step("preview")
async def preview(ctx: Context, dialog: Dialog) -> Response:
    choice = ctx.value if ctx.event.button is not None else None
    if choice == "audience":
        nxt = dialog.to("invite")
        return respond(_ask_invite(nxt), dialog=nxt)
    if choice != "publish":
        return respond(Reply(key="answers.use_buttons"), _preview_question(dialog), dialog=dialog)
    draft = draft_of(dialog)
    if draft.starts_at <= ctx.now:
        # The preview was left open until the meeting's time had come.
        nxt = dialog.to("starts")
        return respond(Reply(key="meetings.start_passed"), _ask_starts(ctx), dialog=nxt)
    if (
        draft.experiment_id is not None
        and await ctx.repos.experiments.get(draft.experiment_id) is None
    ):
        nxt = dialog.to("about")
        again = await _ask_about(ctx, nxt)
        return respond(Reply(key="answers.use_buttons"), again, dialog=nxt)
    meeting_id = await ctx.repos.meetings.create(draft, ctx.user.id, ctx.now)
    invited = 0
    chosen = _audience_of(dialog)
    if chosen is not None:
        invited = await _invite(ctx, meeting_id, chosen)
    await ctx.repos.audit.record(
        "meeting.publish",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"meeting:{meeting_id}",
        detail={"invited": invited, "capacity": draft.capacity},
    )
    return respond(menu_reply(ctx, "meetings.published", count=invited), end_dialog=True)


def invitation_payload(ctx: Context, meeting: Meeting) -> list[dict[str, Any]]:
    """The invitation to a meeting as it is stored to be sent (its time as it is now)."""
    signature = signature_of(ctx.profile, meeting.lang, None)
    return [invitation(meeting, ctx.timezone, signature).model_dump(mode="json")]


async def _invite(ctx: Context, meeting_id: int, chosen: Audience) -> int:
    """Invite an audience with a "Wist je dat" (signed with the author's card when sent)."""
    meeting = await ctx.repos.meetings.get(meeting_id)
    assert meeting is not None
    payload = invitation_payload(ctx, meeting)
    broadcast_id = await ctx.repos.broadcasts.save_draft(
        ctx.user.id,
        text=f"{meeting.title}\n{meeting.description}",
        photo_id=None,
        audience=chosen,
        payload=payload,
        now=ctx.now,
        replace_drafts=False,
    )
    await ctx.repos.meetings.set_broadcast(meeting_id, broadcast_id)
    # An invitation that could not go out before the meeting began is not sent after it.
    return (
        await ctx.repos.broadcasts.release(broadcast_id, ctx.now, expires_at=meeting.starts_at)
        or 0
    )


# Taking a half-organised meeting up again ----------------------------------------------------


@compose.ask("title", "description", "where", "address", "hood", "map", "link", "starts", "ends")
@compose.ask("capacity", "about", "invite", "preview", *PICKERS)
@compose.ask(audiences.STEP, *audiences.PICKERS)
async def ask_again(ctx: Context, dialog: Dialog) -> Response:
    """The question of the step the meeting is at, asked again to go on with it."""
    step = dialog.step
    fixed = {
        "title": _ask("meetings.ask_title", max=MAX_TITLE),
        "description": _ask("meetings.ask_description", max=MAX_DESCRIPTION),
        "where": _ask_where(dialog),
        "address": _ask("meetings.ask_address", max=MAX_ADDRESS),
        "hood": _ask_hood(ctx, dialog),
        "map": _ask_map(dialog),
        "link": _ask("meetings.ask_link"),
        "starts": _ask_starts(ctx),
        "ends": ask_ends(dialog),
        "capacity": _ask("meetings.ask_capacity", max=MAX_CAPACITY),
        "invite": _ask_invite(dialog),
    }
    if step in fixed:
        return respond(fixed[step], dialog=dialog)
    if step == "about":
        return respond(await _ask_about(ctx, dialog), dialog=dialog)
    if step == audiences.STEP or step in audiences.PICKERS:
        return await AUDIENCE.asked(ctx, dialog)
    if step == "preview":
        return await _chosen(ctx, dialog)
    if await _none_running(ctx, step):
        return await _no_experiment(ctx, dialog)
    return respond(await _ask_pick(ctx, dialog), dialog=dialog)
