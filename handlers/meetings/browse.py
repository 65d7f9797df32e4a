"""Meetings to look through: the upcoming ones a page at a time, a meeting's card, filters.

    /bijeenkomsten ─► one message: a line and a button per meeting, eight to a page
        │               ◄ vorige / volgende ►
        ├─ a meeting ──► its card: Ik kom / Ik kom toch niet, agendabestand,
        │                (staff) Beheren, terug naar de lijst; once it began only that it
        │                began or is over, (staff) Beheren and the way back
        └─ Per experiment, thema, wijk ──► a theme, a neighbourhood, or
                                           Per experiment ──► experiments, a page at a time

However many meetings are planned, each one is a tap or two away, and a list is always one
message (Telegram shows about one message a second in a chat). The list a person looks at
travels in the buttons (``mt.list:<kind>:<value>:<page>``), so an old list keeps working and
a card leads back to the page it was opened from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from handlers import paging
from handlers.answers import digits, parse_id
from handlers.contract import Button, Reply, Response, Role, respond, rows
from handlers.feature import Context, Feature
from handlers.meetings.shown import card, reminders_to_come, when
from handlers.phrases import phrase
from handlers.start.menu import stale_button
from storage.experiments.experiments import Experiment
from storage.meetings.meetings import Meeting, MeetingPage, Place, Subject

feature = Feature("meeting-list")
feature.menu_entry("meetings.menu", "mt.list", order=46)

#: Telegram refuses callback data over 64 bytes.
MAX_PAYLOAD = 64
BUTTON_TITLE = 36


@dataclass(frozen=True)
class View:
    """Which meetings a person looks at: ``kind`` is ``a`` (all), ``e`` (an experiment),
    ``t`` (a theme) or ``n`` (a neighbourhood), ``value`` which one, and the page; ``p`` is
    staff's list of the meetings that are over (:func:`ended`), for a card to go back to."""

    kind: str = "a"
    value: str = ""
    page: int = 1

    def encode(self) -> str:
        return f"{self.kind}:{self.value}:{self.page}"

    @classmethod
    def decode(cls, text: str, ctx: Context) -> View | None:
        """The view a payload names, or None for one that names nothing we know. A filter
        button from before the list had pages (``e:12``) shows that filter's first page."""
        parts = text.split(":") if text else ["a", ""]
        if len(parts) == 2:
            parts.append("1")
        if len(parts) != 3:
            return None
        kind, value, raw_page = parts
        page = paging.number(raw_page)
        known = {
            "a": value == "",
            "p": value == "",
            "e": digits(value) and len(value) <= 12,
            "t": ctx.profile.theme(value) is not None,
            "n": ctx.profile.neighbourhood(value) is not None,
        }
        if page is None or not known.get(kind, False):
            return None
        return cls(kind, value, page)

    def subject(self) -> Subject | None:
        if self.kind == "e":
            return Subject(column="experiment_id", value=int(self.value))
        if self.kind == "t":
            return Subject(column="theme", value=self.value)
        if self.kind == "n":
            return Subject(column="neighbourhood", value=self.value)
        return None


@feature.command(
    "bijeenkomsten",
    translations={"en": "meetings"},
    role=Role.RESIDENT,
    describe="meetings.cmd",
)
@feature.action("mt.list", role=Role.RESIDENT)
async def upcoming(ctx: Context) -> Response:
    """A page of the upcoming meetings, perhaps only those of one experiment, theme or
    neighbourhood: a line and a button for each."""
    # Words typed after the command are no view: start at the beginning.
    from_button = ctx.event.button is not None and ctx.value != ""
    view = View.decode(ctx.value, ctx) if from_button else View()
    if view is None:
        return await stale_button(ctx)
    if view.kind == "p":
        # Back from the card of a meeting that is over, to the page of those it came from.
        if not ctx.user.role.allows(Role.CIVIL_SERVANT):
            return await stale_button(ctx)
        return respond(await past_reply(ctx, view.page))
    return respond(await list_reply(ctx, view))


async def list_reply(ctx: Context, view: View) -> Reply:
    """The list message for a view (a page past the end shows the last page)."""
    found = await _page(ctx, view)
    shown = paging.page(view.page, found.total)
    if shown.number != view.page:
        view = replace(view, page=shown.number)
        found = await _page(ctx, view)
    closing = _closing(view)
    if ctx.user.role.allows(Role.CIVIL_SERVANT):
        # Staff read afterwards who came: the meetings that are over, in a list of their own.
        closing.insert(-1, [Button(label="meetings.btn_past", payload="mt.past")])
    if not found.meetings:
        # No meeting at all: nothing to choose among, so no filter (a filtered list that is
        # empty still offers the others).
        if view.kind == "a":
            closing = [row for row in closing if row[0].payload != "mt.filter"]
        return Reply(key="meetings.none", buttons=closing)
    mine = await ctx.repos.meetings.mine(ctx.user.id, ctx.now)
    lines = [_line(ctx, meeting, mine.get(meeting.id)) for meeting in found.meetings]
    buttons = [[_button(ctx, meeting, view)] for meeting in found.meetings]
    buttons += paging.turn(
        shown,
        lambda label, n: Button(label=label, payload=f"mt.list:{replace(view, page=n).encode()}"),
    )
    params: dict[str, object] = {"count": found.total, "page": shown.number, "pages": shown.pages}
    key = "meetings.list_title"
    if view.kind != "a":
        key = "meetings.list_title_of"
        params["scope"] = await _scope(ctx, view)
    # The titles are staff's words, as they wrote them.
    return Reply(key=key, params=params, parts=lines, buttons=[*buttons, *closing], original=True)


@feature.action("mt.past", role=Role.CIVIL_SERVANT)
async def ended(ctx: Context) -> Response:
    """``mt.past[:<page>]``: for staff, a page of the meetings that are over, the latest
    first, a line and a button each; a card opens read-only (who came, the door list)."""
    wanted = paging.asked(ctx)
    if wanted is None:
        return await stale_button(ctx)
    return respond(await past_reply(ctx, wanted))


async def past_reply(ctx: Context, wanted: int) -> Reply:
    """Page ``wanted`` of the meetings that are over (past the end: the last page)."""
    total = (await ctx.repos.meetings.ended(ctx.now, limit=0)).total
    shown = paging.page(wanted, total)
    found = await ctx.repos.meetings.ended(ctx.now, limit=shown.size, offset=shown.offset)
    closing = [
        [Button(label="meetings.btn_all", payload="mt.list")],
        [Button(label="menu.back", payload="menu")],
    ]
    if not found.meetings:
        return Reply(key="meetings.past_none", buttons=closing)
    lines = [
        Reply(
            key="meetings.past_line",
            params={
                "title": meeting.title,
                "when": when(meeting, ctx.timezone),
                "going": meeting.going,
            },
        )
        for meeting in found.meetings
    ]
    # A card opened here leads back to this page (``p``: see View).
    back = View("p", "", shown.number)
    buttons = [[_button(ctx, meeting, back)] for meeting in found.meetings]
    buttons += paging.turn(shown, lambda label, n: Button(label=label, payload=f"mt.past:{n}"))
    params = {"count": total, "page": shown.number, "pages": shown.pages}
    return Reply(
        key="meetings.past_title",
        params=params,
        parts=lines,
        buttons=[*buttons, *closing],
        original=True,
    )


async def _page(ctx: Context, view: View) -> MeetingPage:
    return await ctx.repos.meetings.upcoming(
        ctx.now,
        about=view.subject(),
        limit=paging.PAGE_SIZE,
        offset=(view.page - 1) * paging.PAGE_SIZE,
    )


def _closing(view: View) -> list[list[Button]]:
    buttons = [[Button(label="meetings.btn_filter", payload="mt.filter")]]
    if view.kind != "a":
        buttons.append([Button(label="meetings.btn_all", payload="mt.list")])
    buttons.append([Button(label="menu.back", payload="menu")])
    return buttons


def _line(ctx: Context, meeting: Meeting, place: Place | None) -> Reply:
    """One meeting in the list: its title, when, and its places (or yours); once it began,
    that it is going on (nobody signs up any more)."""
    if meeting.starts_at <= ctx.now:
        places = phrase(ctx, "meetings.line_under_way")
    elif place is Place.GOING:
        places = phrase(ctx, "meetings.line_you_going")
    elif place is Place.WAITING:
        places = phrase(ctx, "meetings.line_you_waiting")
    elif meeting.going >= meeting.capacity:
        places = phrase(ctx, "meetings.line_full", waiting=meeting.waiting)
    else:
        places = phrase(ctx, "meetings.line_free", count=meeting.capacity - meeting.going)
    return Reply(
        key="meetings.list_line",
        params={"title": meeting.title, "when": when(meeting, ctx.timezone), "places": places},
    )


def _button(ctx: Context, meeting: Meeting, view: View) -> Button:
    """A button that names a meeting by its day and (shortened) title: two evenings with
    the same title are told apart."""
    label = f"{ctx.show_short(meeting.starts_at)} · {paging.short(meeting.title, BUTTON_TITLE)}"
    return Button.raw(label, _with_view(f"mt.open:{meeting.id}", view))


def _with_view(bare: str, view: View) -> str:
    """A payload that remembers the list to go back to, if it fits."""
    full = f"{bare}:{view.encode()}"
    return full if len(full.encode()) <= MAX_PAYLOAD else bare


async def _scope(ctx: Context, view: View) -> str:
    """The experiment, theme or neighbourhood a filtered list shows the meetings of."""
    if view.kind == "e":
        experiment = await ctx.repos.experiments.get(int(view.value))
        return experiment.title(ctx.lang) if experiment is not None else f"#{view.value}"
    named = ctx.profile.theme(view.value) if view.kind == "t" else None
    named = named or ctx.profile.neighbourhood(view.value)
    return named.name(ctx.lang) if named is not None else view.value


# A meeting's card ------------------------------------------------------------------------------


@feature.action("mt.open", role=Role.RESIDENT)
async def open_card(ctx: Context) -> Response:
    """``mt.open:<id>[:<view>]``: a meeting's card, with what this person can do with it."""
    raw_id, _, raw_view = ctx.value.partition(":")
    meeting_id = parse_id(raw_id)
    view = View.decode(raw_view, ctx) if raw_view else View()
    if meeting_id is None or view is None:
        return await stale_button(ctx)
    back = [[Button(label="meetings.btn_back_to_list", payload=f"mt.list:{view.encode()}")]]
    meeting = await ctx.repos.meetings.get(meeting_id)
    if meeting is None:
        return respond(Reply(key="meetings.gone", buttons=back))
    if meeting.cancelled:
        return respond(
            Reply(key="meetings.was_cancelled", params={"title": meeting.title}, buttons=back)
        )
    mine = await ctx.repos.meetings.registration(meeting.id, ctx.user.id)
    shown = meeting_card(ctx, meeting, mine.status if mine is not None else None)
    return respond(shown.model_copy(update={"buttons": [*shown.buttons, *back]}))


def meeting_card(ctx: Context, meeting: Meeting, place: Place | None) -> Reply:
    """A meeting's card with the buttons for this person: come (or not after all), the
    calendar file for someone with a place, and for staff what they can do with it.

    Once it began (a list stays on screen for days, and lists a meeting until it ends) it
    says so instead, with nothing to sign up for or give up: those would change nothing."""
    if meeting.starts_at <= ctx.now:
        return card_after_start(ctx, meeting)
    buttons: list[list[Button]] = []
    if place is None or (place is Place.WAITING and not meeting.full):
        # Waiting with a place free: one that came free while they could not be reached
        # (see Meetings.fill), theirs when they ask.
        buttons.append([Button(label="meetings.btn_go", payload=f"mt.go:{meeting.id}")])
    if place is not None:
        buttons.append([Button(label="meetings.btn_not_going", payload=f"mt.no:{meeting.id}")])
        if place is Place.GOING:
            buttons.append([Button(label="meetings.btn_calendar", payload=f"mt.ics:{meeting.id}")])
    if ctx.user.role.allows(Role.CIVIL_SERVANT):
        buttons.append([Button(label="meetings.btn_staff", payload=f"mt.staff:{meeting.id}")])
    shown = card(
        meeting,
        ctx.timezone,
        going=meeting.going,
        waiting=meeting.waiting,
        buttons=buttons,
    )
    if place is not None:
        if place is Place.GOING:
            # Only the reminders still to come.
            soon = reminders_to_come(meeting, ctx.timezone, ctx.now)
            mark = Reply(key="meetings.you_going", parts=soon)
        else:
            mark = Reply(key="meetings.you_waiting")
        shown = shown.model_copy(update={"parts": [*shown.parts, mark]})
    return shown


def card_after_start(ctx: Context, meeting: Meeting) -> Reply:
    """The card of a meeting that began or is over: what it was, and that it began or is
    over; staff still reach the registrations and the door list."""
    buttons: list[list[Button]] = []
    if ctx.user.role.allows(Role.CIVIL_SERVANT):
        buttons.append([Button(label="meetings.btn_staff", payload=f"mt.staff:{meeting.id}")])
    shown = card(
        meeting, ctx.timezone, going=meeting.going, waiting=meeting.waiting, buttons=buttons
    )
    over = meeting.ends_at <= ctx.now
    mark = Reply(key="meetings.card_over" if over else "meetings.card_began")
    return shown.model_copy(update={"parts": [*shown.parts, mark]})


# Filters ---------------------------------------------------------------------------------------


@feature.action("mt.filter", role=Role.RESIDENT)
async def choose_filter(ctx: Context) -> Response:
    """Which meetings to see: a theme or a neighbourhood (those that have meetings), or
    ``mt.filter:e:<page>``: a page of the experiments that have meetings."""
    subjects = await ctx.repos.meetings.upcoming_subjects(ctx.now)
    running = await ctx.repos.experiments.running()
    experiments = [e for e in running if e.id in subjects.experiments]
    kind, _, raw_page = ctx.value.partition(":")
    if kind == "e":
        page = paging.number(raw_page)
        if page is None:
            return await stale_button(ctx)
        if experiments:
            return respond(_experiments(experiments, page, ctx))
        # An old button: their experiments ended, or their meetings did. The filters
        # there still are, not a question with nothing to choose.
    elif ctx.value:
        return await stale_button(ctx)
    choices: list[list[Button]] = []
    if experiments:
        choices.append(
            [
                Button(
                    label="meetings.btn_by_experiment",
                    payload="mt.filter:e:1",
                    params={"count": len(experiments)},
                )
            ]
        )
    themes = [
        Button.raw(t.name(ctx.lang), f"mt.list:{View('t', t.id).encode()}")
        for t in ctx.profile.themes
        if t.id in subjects.themes
    ]
    hoods = [
        Button.raw(n.name(ctx.lang), f"mt.list:{View('n', n.id).encode()}")
        for n in ctx.profile.neighbourhoods
        if n.id in subjects.neighbourhoods
    ]
    choices += [*rows(themes), *rows(hoods, 2)]
    choices.append([Button(label="meetings.btn_filter_all", payload="mt.list")])
    return respond(Reply(key="meetings.ask_filter", buttons=choices))


def _experiments(experiments: list[Experiment], page: int, ctx: Context) -> Reply:
    """A page of the experiments that have upcoming meetings, a button each."""
    shown = paging.page(page, len(experiments))
    buttons = [
        [Button.raw(paging.short(e.title(ctx.lang)), f"mt.list:{View('e', str(e.id)).encode()}")]
        for e in experiments[shown.offset : shown.offset + shown.size]
    ]
    buttons += paging.turn(shown, lambda label, n: Button(label=label, payload=f"mt.filter:e:{n}"))
    buttons.append([Button(label="meetings.btn_back", payload="mt.filter")])
    return Reply(
        key="meetings.ask_experiment_filter",
        params={"page": shown.number, "pages": shown.pages},
        buttons=buttons,
    )
