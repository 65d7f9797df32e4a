"""Voting in a budget round ("Velsen kiest"): knapsack voting in the chat.

Every tap is saved at once (write-through), so a restart or a week's pause loses nothing;
only a confirmed ballot counts, and it can be changed and confirmed again until the round
closes. A project that does not fit what is left of the budget cannot be added.

    /stemmen ──► (a postcode round, first time: "de vier cijfers van je postcode?"
                   ──► in the round's ranges: kept with the ballot; else why not)
             ──► the rules, then the ballot: one message, a page of 5 projects
                   (each its cost, ✅ when chosen, ➕ / ➖, and its name opening its card
                   with photo and description), ◄─ vorige / volgende ─►, chosen, total
                   and what is left
                   └─► after each tap (on the page or the card): that message brought up
                       to date in place, saying what the tap did
                         ├─ Bekijk mijn keuze ──► the chosen projects
                         └─ Stem uitbrengen ──► "klopt dat?" ──► Ja ──► counted
                              (a counted ballot emptied: "stem intrekken?" ──► Ja ──►
                               the vote no longer counts)

The invitation a round sends when it opens (:mod:`handlers.budgets.invitations`) leads to
``bv.round:<round>``; its "no more invitations" is ``bv.inv:off`` (``bv.inv:on`` undoes it,
offered again by /stemmen while no round is open). A round of residents with a neighbourhood
asks someone without one to choose it first (``bv.hood:<round>:<neighbourhood>``, or its
name typed while that question is open).

Buttons carry the round and project ids (``bv.add:<round>:<project>``, ``:c`` added on the
card) or the page (``bv.page:<round>:<page>``); every tap checks the round is still open and
the project is on its ballot, so an old button changes nothing. A ballot of many projects
stays one message: a message per project would reach a Telegram voter one a second.
The confirmation carries a short fingerprint of the choice it showed: after a change it is
stale and the voter is shown the new choice instead.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from typing import NamedTuple

from handlers import paging
from handlers.answers import (
    parse_id,
    something_written,
    typed_choice,
    visible_length,
    whole_number,
)
from handlers.budgets.invitations import batch as invitations_batch
from handlers.budgets.rounds import brand, ranges_text, tie_text
from handlers.contract import Button, Dialog, Reply, Response, Role, given_back, respond, rows
from handlers.feature import Context, Expects, Feature
from handlers.money import format_euro
from handlers.when import day_month
from handlers.when import moment as shown_moment
from storage.budgets.rounds import (
    REMINDER_KIND,
    Ballot,
    Project,
    Round,
    RoundStatus,
    postcode_area,
)
from storage.outbox import DONE_FIRST

feature = Feature("budget_voting")
feature.menu_entry("budgets.menu", "bv", order=45, params=brand)

POSTCODE = "budget_postcode"
HOOD = "budget_hood"
#: Projects on one page of the ballot: a page is one message, short enough to read on a
#: phone, with two buttons per project (well under Telegram's 100).
PAGE_SIZE = 5
MAX_PAGE = 99


def euro(ctx: Context, cents: int) -> str:
    return format_euro(cents, ctx.lang)


def when(ctx: Context, round_: Round) -> str:
    return shown_moment(ctx.local(round_.closes_at), ctx.lang)


def fingerprint(chosen: set[int]) -> str:
    """A short tag of a set of choices (so a stale confirmation is recognised)."""
    text = ",".join(str(i) for i in sorted(chosen))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _ids(value: str, count: int) -> list[int] | None:
    parts = value.split(":")
    if len(parts) != count:
        return None
    ids = [parse_id(part) for part in parts]
    return [i for i in ids if i is not None] if all(ids) else None


async def _open_round(ctx: Context, round_id: int) -> Round | Response:
    """The round if one may vote in it now, else the answer why not (nothing changes)."""
    found = await ctx.repos.budgets.get(round_id)
    if found is None:
        return respond(Reply(key="budgets.not_found", buttons=_back()))
    if found.status is not RoundStatus.OPEN or found.closes_at <= ctx.now:
        key = {
            RoundStatus.SCHEDULED: "budgets.not_open_yet",
            RoundStatus.CANCELLED: "budgets.cancelled",
        }.get(found.status, "budgets.closed")
        return respond(Reply(key=key, params={"name": found.name}, buttons=_back()))
    if found.hood_only and not ctx.user.neighbourhood:
        # Who said at the start they would rather not tell chooses it here (nowhere else
        # asks it again), or goes back.
        return _ask_hood(ctx, found)
    if found.postcodes is not None:
        ballot = await ctx.repos.budgets.ballot(found.id, ctx.user.id)
        if ballot.postcode is None:
            # Every entry to a postcode round passes here, old and forged buttons too.
            return _ask_postcode(ctx, found)
    return found


def _ask_hood(ctx: Context, found: Round, *first: Reply) -> Response:
    """The neighbourhood a round of residents with one needs: a button each (pressed, or
    typed by name while the question is open). The way out ends the question, as the
    postcode's does: "Menu" would find it open and ask whether to go on with it."""
    hoods = [
        Button.raw(n.name(ctx.lang), f"bv.hood:{found.id}:{n.id}")
        for n in ctx.profile.neighbourhoods
    ]
    return respond(
        *first,
        Reply(
            key="budgets.need_hood",
            params={"name": found.name},
            buttons=[*rows(hoods, 2), [Button(label="budgets.btn_stop", payload="cancel")]],
        ),
        dialog=Dialog(name=HOOD, step="hood", data={"round_id": found.id}),
    )


def _ask_postcode(ctx: Context, found: Round, *first: Reply) -> Response:
    dialog = Dialog(name=POSTCODE, step="postcode", data={"round_id": found.id})
    return respond(
        *first,
        Reply(
            key="budgets.ask_postcode",
            params={"name": found.name, "ranges": ranges_text(found.postcodes or [])},
            buttons=[[Button(label="budgets.btn_stop", payload="cancel")]],
        ),
        dialog=dialog,
    )


def read_postcode(text: str) -> str | None:
    """The four digits of a postcode as ASCII, or None. Digits of other scripts (Arabic,
    full-width) count as the digits they are; spaces and invisible marks are ignored."""
    kept = "".join(ch for ch in text if visible_length(ch))
    if not kept or not all(ch.isdecimal() for ch in kept):
        return None
    digits = "".join(str(unicodedata.decimal(ch)) for ch in kept)
    return digits if re.fullmatch(r"[1-9][0-9]{3}", digits) else None


postcode = feature.dialog(POSTCODE, role=Role.RESIDENT, subject="drafts.subject.budget_postcode")


@postcode.step("postcode", expects=Expects.TEXT)
async def postcode_step(ctx: Context, dialog: Dialog) -> Response:
    """The four digits of the voter's postcode: in the round's ranges, or why not."""
    round_id = int(dialog.data["round_id"])
    found = await ctx.repos.budgets.get(round_id)
    if found is None or found.postcodes is None:
        return respond(Reply(key="budgets.not_found", buttons=_back()), *_written_back(ctx))
    still = await _open_round(ctx, round_id)
    if isinstance(still, Response) and (still.dialog is None or still.dialog.name != POSTCODE):
        # Closed meanwhile (or the neighbourhood rule): the reason, and the dialog ends.
        return _with_written_back(ctx, still)
    if isinstance(still, Round):
        # Given meanwhile (another device, a double tap): the ballot as it is.
        return _with_written_back(ctx, await _cards(ctx, still))
    typed = ctx.text if ctx.event.photo is None and ctx.event.unsupported is None else ""
    digits = read_postcode(typed)
    if digits is None:
        shown = "".join(ch for ch in typed if ch.isdecimal())
        if not visible_length(typed):
            key = "budgets.postcode_empty"
        elif shown and len(shown) != len("".join(ch for ch in typed if visible_length(ch))):
            key = "budgets.postcode_letters"
        elif shown and len(shown) != 4:
            key = "budgets.postcode_length"
        else:
            key = "budgets.postcode_invalid"
        hint = Reply(key=key, params={"count": len(shown)})
        return _ask_postcode(ctx, found, hint, *_written_back(ctx))
    if postcode_area(found.postcodes, int(digits)) is None:
        # Not kept: only a postcode that lets someone vote is stored.
        return respond(
            Reply(
                key="budgets.postcode_outside",
                params={
                    "postcode": digits,
                    "name": found.name,
                    "ranges": ranges_text(found.postcodes),
                },
                buttons=[
                    [Button(label="budgets.btn_postcode_again", payload=f"bv.round:{found.id}")],
                    *_back(),
                ],
            )
        )
    await ctx.repos.budgets.give_postcode(found.id, ctx.user.id, digits, ctx.now)
    return await _cards(ctx, found)


def _back() -> list[list[Button]]:
    return [[Button(label="menu.back", payload="menu")]]


@feature.command(
    "stemmen", translations={"en": "vote"}, describe="budgets.cmd", role=Role.RESIDENT
)
@feature.action("bv", role=Role.RESIDENT)
async def start(ctx: Context) -> Response:
    """The open round's ballot (a choice of rounds when more than one is open)."""
    rounds = await ctx.repos.budgets.open_rounds(ctx.now)
    if not rounds:
        if not await ctx.repos.budgets.invitations_on(ctx.user.id):
            # "Je hoort het als er een begint" is not true for them: say so, and offer it.
            return respond(
                Reply(
                    key="budgets.none_open_uninvited",
                    buttons=[
                        [Button(label="budgets.btn_invitations_on", payload="bv.inv:on")],
                        *_back(),
                    ],
                )
            )
        return respond(Reply(key="budgets.none_open", buttons=_back()))
    if len(rounds) > 1:
        return respond(Reply(key="budgets.choose_round", buttons=_round_buttons(ctx, rounds)))
    return await _cards(ctx, rounds[0])


def _round_buttons(ctx: Context, rounds: list[Round]) -> list[list[Button]]:
    """A button per open round, named by the round (cut to fit a button). Rounds whose
    names read the same on a button (two "Velsen kiest 2027: buurtbudget Zeewijk …") are
    told apart by the day they close, and where that is the same too, by a number in the
    order shown (the one closing soonest first)."""
    labels = {r.id: paging.short(r.name) for r in rounds}
    alike = _alike(labels)
    days = {r.id: _closing_day(ctx, r) for r in rounds if r.id in alike}
    for r in rounds:
        if r.id in days:
            labels[r.id] = _closing_label(ctx, r.name, days[r.id])
    still = _alike({round_id: labels[round_id] for round_id in days})
    seen: Counter[str] = Counter()
    for r in rounds:
        if r.id in still:
            group = labels[r.id].casefold()
            seen[group] += 1
            labels[r.id] = _closing_label(ctx, r.name, f"{days[r.id]} · {seen[group]}")
    return [[Button.raw(labels[r.id], f"bv.round:{r.id}")] for r in rounds] + _back()


def _alike(labels: dict[int, str]) -> set[int]:
    """The rounds whose labels read the same as another's (case aside)."""
    counts = Counter(label.casefold() for label in labels.values())
    return {round_id for round_id, label in labels.items() if counts[label.casefold()] > 1}


def _closing_day(ctx: Context, round_: Round) -> str:
    """The day a round closes, short ("15 dec")."""
    return day_month(ctx.local(round_.closes_at), ctx.lang)


def _closing_label(ctx: Context, name: str, day: str) -> str:
    """A round's name with the day it closes, the name cut (between whole characters) so
    that the whole label fits a button."""
    room = paging.LABEL - len(_label(ctx, "", day))
    label = _label(ctx, paging.short(name, max(room, 1)), day)
    while len(label) > paging.LABEL and room > 1:
        # The name set apart from the words around it (right-to-left marks) takes more.
        room -= 1
        label = _label(ctx, paging.short(name, room), day)
    return label


def _label(ctx: Context, name: str, day: str) -> str:
    button = Button(
        label="budgets.btn_round_closes", payload="", params={"name": name, "day": day}
    )
    return ctx.catalog.label(ctx.lang, button)


@feature.action("bv.inv", role=Role.RESIDENT)
async def invitations(ctx: Context) -> Response:
    """``bv.inv:off`` / ``bv.inv:on``: an invitation when a round opens, or none."""
    if ctx.value not in ("on", "off"):
        return respond(Reply(key="budgets.not_found", buttons=_back()))
    on = ctx.value == "on"
    await ctx.repos.budgets.set_invitations(ctx.user.id, on, ctx.now)
    other = Button(
        label="budgets.btn_invitations_off" if on else "budgets.btn_invitations_on",
        payload="bv.inv:off" if on else "bv.inv:on",
    )
    return respond(
        Reply(
            key="budgets.invitations_on" if on else "budgets.invitations_off",
            buttons=[[other], *_back()],
        )
    )


@feature.action("bv.round", role=Role.RESIDENT)
async def show_round(ctx: Context) -> Response:
    """``bv.round:<round>``: the rules and the ballot of one round."""
    round_id = parse_id(ctx.value)
    if round_id is None:
        return respond(Reply(key="budgets.not_found", buttons=_back()))
    found = await _open_round(ctx, round_id)
    if not isinstance(found, Round):
        return found
    return await _cards(ctx, found)


@feature.action("bv.hood", role=Role.RESIDENT)
async def choose_hood(ctx: Context) -> Response:
    """``bv.hood:<round>:<neighbourhood>``: the neighbourhood a round of residents with one
    asked for, then its ballot."""
    round_part, _, hood_id = ctx.value.partition(":")
    chosen = await _choose_hood(ctx, parse_id(round_part), hood_id)
    if ctx.dialog is not None and ctx.dialog.name == HOOD and chosen.dialog is None:
        # Pressed while the question waits for a typed name: it is answered.
        return chosen.model_copy(update={"end_dialog": True})
    return chosen


hood_question = feature.dialog(HOOD, role=Role.RESIDENT, subject="drafts.subject.budget_hood")


@hood_question.ask("hood")
@postcode.ask("postcode")
async def ask_again(ctx: Context, dialog: Dialog) -> Response:
    """The round's question (neighbourhood or postcode) again, for a chat opened anew:
    asked as entering the round asks it, so a round closed meanwhile says so and the
    question ends, and one answered meanwhile (another device) shows its ballot."""
    found = await _open_round(ctx, int(dialog.data["round_id"]))
    if isinstance(found, Round):
        found = await _cards(ctx, found)
    if found.dialog is None:
        return found.model_copy(update={"end_dialog": True})
    return found


@hood_question.step("hood")
async def hood_step(ctx: Context, dialog: Dialog) -> Response:
    """A neighbourhood typed by name (any case, spaces, accents; in any language the bot
    speaks) where a round asked for one, read as its button; anything else asks again."""
    names = {
        n.id: [n.id, *(n.name(lang) for lang in ctx.catalog.languages)]
        for n in ctx.profile.neighbourhoods
    }
    hood_id = typed_choice(ctx, names)
    if hood_id is not None:
        return await _choose_hood(ctx, int(dialog.data["round_id"]), hood_id)
    # Given meanwhile (another device): the ballot as it is; else the question again.
    found = await ask_again(ctx, dialog)
    if found.dialog is not None and found.dialog.name == HOOD:
        hint = Reply(key="answers.use_buttons")
        return respond(hint, *_written_back(ctx), *found.replies, dialog=found.dialog)
    return _with_written_back(ctx, found)


def _written_back(ctx: Context) -> list[Reply]:
    """A sentence typed where a neighbourhood or postcode was asked ("ik woon bij de
    haven, hoe zit dat?"): not one, and sent nowhere, so it comes back above the question
    asked again (or with why it is asked no more), not lost without a word."""
    return given_back(ctx.event) if something_written(ctx.text) else []


def _with_written_back(ctx: Context, response: Response) -> Response:
    """``response`` (the question is not asked again: the round closed, or the answer was
    given meanwhile) with a sentence typed at it given back first."""
    back = _written_back(ctx)
    if not back:
        return response
    return response.model_copy(update={"replies": [*back, *response.replies]})


async def _choose_hood(ctx: Context, round_id: int | None, hood_id: str) -> Response:
    """Keep the neighbourhood chosen for a round, then show its ballot. Only for someone
    without one, while the round is open: an older button of another neighbourhood does
    not move them."""
    hood = ctx.profile.neighbourhood(hood_id)
    found = await ctx.repos.budgets.get(round_id) if round_id is not None else None
    if hood is None or found is None:
        return respond(Reply(key="budgets.not_found", buttons=_back()))
    votable = found.status is RoundStatus.OPEN and found.closes_at > ctx.now
    if votable and found.hood_only and not ctx.user.neighbourhood:
        # Given only to vote: a button of a round that closed meanwhile keeps nothing.
        await ctx.repos.users.set_neighbourhood(ctx.user.id, hood.id)
        ctx.user = ctx.user.model_copy(update={"neighbourhood": hood.id})
    return await _cards(ctx, found)


async def _cards(ctx: Context, round_: Round) -> Response:
    """The round's rules, then the first page of its ballot (as new messages)."""
    found = await _open_round(ctx, round_.id)
    if not isinstance(found, Round):
        return found
    projects = await ctx.repos.budgets.projects(found.id)
    ballot = await ctx.repos.budgets.ballot(found.id, ctx.user.id)
    intro = Reply(
        key="budgets.intro",
        params={
            "name": found.name,
            "total": euro(ctx, found.total_cents),
            "closes": when(ctx, found),
            "tie": tie_text(ctx, found),
        },
        # The round's name and its projects are staff's Dutch: the note once, above the
        # cards (each its own message, a photo's caption with little room to spare).
        original=True,
    )
    return respond(intro, _page(ctx, found, projects, ballot, 1))


def _page_of(projects: list[Project], project: Project) -> int:
    """The page of the ballot a project is on."""
    index = next((i for i, p in enumerate(projects) if p.id == project.id), 0)
    return index // PAGE_SIZE + 1


def _page(
    ctx: Context,
    round_: Round,
    projects: list[Project],
    ballot: Ballot,
    page: int,
    notice: Reply | None = None,
    *,
    edit: bool = False,
) -> Reply:
    """One page of the ballot as one message: a line per project (its cost, and whether it
    is chosen), a button to open each and one to add or remove it, the way to the other
    pages, and what is chosen and left with "Stem uitbrengen" under it.

    ``notice`` (what a tap did) comes first. With ``edit`` the page replaces the message
    the tap came from, so the voter keeps one ballot instead of a new one per tap."""
    at = paging.page(page, len(projects), PAGE_SIZE)
    shown = projects[at.offset : at.offset + at.size]
    header = Reply(
        key="budgets.page" if at.pages > 1 else "budgets.page_single",
        params={"name": round_.name, "page": at.number, "pages": at.pages},
    )
    lines = [
        Reply(
            key="budgets.line_chosen" if p.id in ballot.chosen else "budgets.line",
            params={"title": p.title, "cost": euro(ctx, p.cost_cents)},
        )
        for p in shown
    ]
    buttons = [
        [_open_button(round_, p, p.id in ballot.chosen), _choice_button(round_, p, ballot)]
        for p in shown
    ]
    buttons += paging.turn(
        at, lambda label, to: Button(label=label, payload=f"bv.page:{round_.id}:{to}")
    )
    buttons += [
        [Button(label="budgets.btn_mine", payload=f"bv.mine:{round_.id}")],
        [Button(label="budgets.btn_vote", payload=f"bv.vote:{round_.id}")],
        *_back(),
    ]
    totals = _totals(ctx, round_, projects, ballot)
    first, parts = (notice, [header, *lines, totals]) if notice else (header, [*lines, totals])
    return first.model_copy(update={"parts": parts, "buttons": buttons, "edit": edit})


def _open_button(round_: Round, project: Project, chosen: bool) -> Button:
    """A button that names a project (shortened, with room for the tick when chosen) and
    opens its card."""
    tick = "✅ " if chosen else ""
    title = paging.short(project.title, paging.LABEL - len(tick))
    return Button.raw(f"{tick}{title}", f"bv.card:{round_.id}:{project.id}")


def _choice_button(round_: Round, project: Project, ballot: Ballot, where: str = "") -> Button:
    """➖ for a chosen project, ➕ for one that is not (``where``: ``:c`` on its card)."""
    if project.id in ballot.chosen:
        return Button(
            label="budgets.btn_remove", payload=f"bv.del:{round_.id}:{project.id}{where}"
        )
    return Button(label="budgets.btn_add", payload=f"bv.add:{round_.id}:{project.id}{where}")


def _card(
    ctx: Context,
    round_: Round,
    project: Project,
    projects: list[Project],
    ballot: Ballot,
    notice: Reply | None = None,
    *,
    edit: bool = False,
) -> Reply:
    """A project's card: what it is, its cost and neighbourhood, ➕ or ➖, and the way back
    to its page of the ballot. After a tap, what it did and what is left."""
    chosen = project.id in ballot.chosen
    hood = ctx.profile.neighbourhood(project.neighbourhood)
    card = Reply(
        key="budgets.card_chosen" if chosen else "budgets.card",
        params={
            "title": project.title,
            "cost": euro(ctx, project.cost_cents),
            "text": project.description,
            "hood": hood.name(ctx.lang) if hood else ctx.profile.name(ctx.lang),
        },
    )
    buttons = [
        [_choice_button(round_, project, ballot, ":c")],
        [
            Button(
                label="budgets.btn_list",
                payload=f"bv.page:{round_.id}:{_page_of(projects, project)}",
            )
        ],
        [Button(label="budgets.btn_vote", payload=f"bv.vote:{round_.id}")],
        *_back(),
    ]
    if notice is not None:
        card = notice.model_copy(update={"parts": [card, _totals(ctx, round_, projects, ballot)]})
    # Its title and description are staff's Dutch, in a message of its own.
    return card.model_copy(update={"buttons": buttons, "edit": edit, "original": True})


def _spent(projects: list[Project], chosen: set[int]) -> int:
    return sum(p.cost_cents for p in projects if p.id in chosen)


def _totals(
    ctx: Context, round_: Round, projects: list[Project], ballot: Ballot, key: str = ""
) -> Reply:
    """What is chosen, spent and left, and whether the vote counts."""
    spent = _spent(projects, ballot.chosen)
    if ballot.confirmed_at is None:
        state = "budgets.state_open"
    elif ballot.changed_since_confirmed:
        state = "budgets.state_changed"
    else:
        state = "budgets.state_voted"
    return Reply(
        key=key or "budgets.status",
        params={
            "count": len(ballot.chosen),
            "spent": euro(ctx, spent),
            "total": euro(ctx, round_.total_cents),
            "left": euro(ctx, round_.total_cents - spent),
            "state": ctx.catalog.text(ctx.lang, state, {}, markup=False),
        },
    )


def _status(
    ctx: Context, round_: Round, projects: list[Project], ballot: Ballot, key: str = ""
) -> Reply:
    """The totals as a message of their own, with the ways on."""
    return _totals(ctx, round_, projects, ballot, key).model_copy(
        update={
            "buttons": [
                [Button(label="budgets.btn_mine", payload=f"bv.mine:{round_.id}")],
                [Button(label="budgets.btn_vote", payload=f"bv.vote:{round_.id}")],
                [Button(label="budgets.btn_all", payload=f"bv.page:{round_.id}:1")],
                *_back(),
            ]
        }
    )


@feature.action("bv.page", role=Role.RESIDENT)
async def show_page(ctx: Context) -> Response:
    """``bv.page:<round>:<page>``: another page of the ballot, in place of this one (a page
    past the end shows the last)."""
    page = whole_number(ctx.value.partition(":")[2], MAX_PAGE, low=1)
    if page is None:
        return respond(Reply(key="budgets.not_found", buttons=_back()))
    found = await _round_from_value(ctx)
    if not isinstance(found, Round):
        return found
    projects = await ctx.repos.budgets.projects(found.id)
    ballot = await ctx.repos.budgets.ballot(found.id, ctx.user.id)
    return respond(_page(ctx, found, projects, ballot, page, edit=True))


async def _tap(ctx: Context) -> tuple[Round, Project, bool] | Response:
    """The round and project a project's button names, and whether it was on the card
    (``:c``), or the answer why it changes nothing."""
    on_card = ctx.value.endswith(":c")
    ids = _ids(ctx.value.removesuffix(":c"), 2)
    if ids is None:
        return respond(Reply(key="budgets.not_found", buttons=_back()))
    found = await _open_round(ctx, ids[0])
    if not isinstance(found, Round):
        return found
    project = await ctx.repos.budgets.project(ids[1])
    if project is None or project.round_id != found.id:
        return respond(Reply(key="budgets.not_found", buttons=_back()))
    return found, project, on_card


class _Tapped(NamedTuple):
    """What a tap on a project's button is about, read before it changes anything."""

    round_: Round
    project: Project
    #: The tap came from the project's card (``:c``), not from a page of the ballot.
    on_card: bool
    #: Every project on the round's ballot.
    projects: list[Project]
    ballot: Ballot


async def _tapped(ctx: Context) -> _Tapped | Response:
    """The round and project a project's button names with the round's projects and the
    voter's ballot as they are now, or the answer why the tap changes nothing."""
    tapped = await _tap(ctx)
    if isinstance(tapped, Response):
        return tapped
    round_, project, on_card = tapped
    projects = await ctx.repos.budgets.projects(round_.id)
    ballot = await ctx.repos.budgets.ballot(round_.id, ctx.user.id)
    return _Tapped(round_, project, on_card, projects, ballot)


@feature.action("bv.card", role=Role.RESIDENT)
async def open_card(ctx: Context) -> Response:
    """``bv.card:<round>:<project>``: a project's photo and card."""
    tapped = await _tapped(ctx)
    if isinstance(tapped, Response):
        return tapped
    round_, project, on_card, projects, ballot = tapped
    if on_card:
        return respond(Reply(key="budgets.not_found", buttons=_back()))
    photo = (
        [Reply(key="budgets.photo", params={"title": project.title}, photo_id=project.photo_id)]
        if project.photo_id is not None
        else []
    )
    return respond(*photo, _card(ctx, round_, project, projects, ballot))


def _after_tap(
    ctx: Context,
    round_: Round,
    project: Project,
    ballot: Ballot,
    projects: list[Project],
    on_card: bool,
    notice: Reply,
) -> Response:
    """The card or the page the tap came from, brought up to date in place."""
    if on_card:
        return respond(_card(ctx, round_, project, projects, ballot, notice, edit=True))
    page = _page_of(projects, project)
    return respond(_page(ctx, round_, projects, ballot, page, notice, edit=True))


@feature.action("bv.add", role=Role.RESIDENT)
async def add(ctx: Context) -> Response:
    """``bv.add:<round>:<project>[:c]``: put a project on the ballot, if it fits."""
    tapped = await _tapped(ctx)
    if isinstance(tapped, Response):
        return tapped
    round_, project, on_card, projects, ballot = tapped
    left = round_.total_cents - _spent(projects, ballot.chosen)
    if project.id in ballot.chosen:
        notice = Reply(key="budgets.already_added", params={"title": project.title})
    elif project.cost_cents > left:
        notice = Reply(
            key="budgets.no_fit",
            params={
                "title": project.title,
                "cost": euro(ctx, project.cost_cents),
                "left": euro(ctx, left),
            },
        )
    else:
        await ctx.repos.budgets.choose(round_.id, ctx.user.id, project.id, ctx.now)
        ballot = await ctx.repos.budgets.ballot(round_.id, ctx.user.id)
        notice = Reply(key="budgets.added", params={"title": project.title})
    return _after_tap(ctx, round_, project, ballot, projects, on_card, notice)


@feature.action("bv.del", role=Role.RESIDENT)
async def remove(ctx: Context) -> Response:
    """``bv.del:<round>:<project>[:c]``: take a project off the ballot."""
    tapped = await _tap(ctx)
    if isinstance(tapped, Response):
        return tapped
    round_, project, on_card = tapped
    taken = await ctx.repos.budgets.unchoose(round_.id, ctx.user.id, project.id, ctx.now)
    projects = await ctx.repos.budgets.projects(round_.id)
    ballot = await ctx.repos.budgets.ballot(round_.id, ctx.user.id)
    notice = Reply(
        key="budgets.removed" if taken else "budgets.not_chosen", params={"title": project.title}
    )
    return _after_tap(ctx, round_, project, ballot, projects, on_card, notice)


async def _round_from_value(ctx: Context) -> Round | Response:
    round_id = parse_id(ctx.value.split(":")[0]) if ctx.value else None
    if round_id is None:
        return respond(Reply(key="budgets.not_found", buttons=_back()))
    return await _open_round(ctx, round_id)


def _chosen_lines(ctx: Context, projects: list[Project], chosen: set[int]) -> list[Reply]:
    return [
        Reply(key="budgets.line", params={"title": p.title, "cost": euro(ctx, p.cost_cents)})
        for p in projects
        if p.id in chosen
    ]


@feature.action("bv.mine", role=Role.RESIDENT)
async def mine(ctx: Context) -> Response:
    """``bv.mine:<round>``: "Bekijk mijn keuze"."""
    found = await _round_from_value(ctx)
    if not isinstance(found, Round):
        return found
    projects = await ctx.repos.budgets.projects(found.id)
    ballot = await ctx.repos.budgets.ballot(found.id, ctx.user.id)
    status = _status(ctx, found, projects, ballot, "budgets.mine")
    lines = _chosen_lines(ctx, projects, ballot.chosen)
    # The projects' titles as staff wrote them (none chosen: no title to say it of).
    return respond(status.model_copy(update={"parts": lines, "original": bool(lines)}))


@feature.action("bv.vote", role=Role.RESIDENT)
async def vote(ctx: Context) -> Response:
    """``bv.vote:<round>``: ask to confirm the choice as it is now."""
    found = await _round_from_value(ctx)
    if not isinstance(found, Round):
        return found
    projects = await ctx.repos.budgets.projects(found.id)
    ballot = await ctx.repos.budgets.ballot(found.id, ctx.user.id)
    if not ballot.chosen and ballot.confirmed:
        # Everything taken off a counted ballot: casting it now takes the vote back.
        return respond(
            Reply(
                key="budgets.withdraw_confirm",
                params={"name": found.name, "closes": when(ctx, found)},
                buttons=[
                    [
                        Button(
                            label="budgets.btn_withdraw",
                            payload=f"bv.ok:{found.id}:{fingerprint(set())}",
                        )
                    ],
                    [Button(label="budgets.btn_change", payload=f"bv.page:{found.id}:1")],
                ],
            )
        )
    if not ballot.chosen:
        return respond(_status(ctx, found, projects, ballot, "budgets.choose_first"))
    return respond(
        Reply(
            key="budgets.confirm",
            params={
                "count": len(ballot.chosen),
                "spent": euro(ctx, _spent(projects, ballot.chosen)),
                "name": found.name,
            },
            parts=_chosen_lines(ctx, projects, ballot.chosen),
            original=True,
            buttons=[
                [
                    Button(
                        label="budgets.btn_confirm",
                        payload=f"bv.ok:{found.id}:{fingerprint(ballot.chosen)}",
                    )
                ],
                [Button(label="budgets.btn_change", payload=f"bv.page:{found.id}:1")],
            ],
        )
    )


@feature.action("bv.ok", role=Role.RESIDENT)
async def confirm(ctx: Context) -> Response:
    """``bv.ok:<round>:<fingerprint>``: count the ballot the voter just saw (or, for a
    counted ballot they emptied, take the vote back)."""
    found = await _round_from_value(ctx)
    if not isinstance(found, Round):
        return found
    _, _, shown = ctx.value.partition(":")
    projects = await ctx.repos.budgets.projects(found.id)
    ballot = await ctx.repos.budgets.ballot(found.id, ctx.user.id)
    if not ballot.chosen and ballot.confirmed and shown == fingerprint(set()):
        await ctx.repos.budgets.withdraw(found.id, ctx.user.id, ctx.now)
        return respond(
            Reply(
                key="budgets.withdrawn",
                params={"name": found.name, "closes": when(ctx, found)},
                buttons=[
                    [Button(label="budgets.btn_all", payload=f"bv.page:{found.id}:1")],
                    *_back(),
                ],
            )
        )
    if not ballot.chosen:
        return respond(_status(ctx, found, projects, ballot, "budgets.choose_first"))
    if shown != fingerprint(ballot.chosen):
        return respond(_status(ctx, found, projects, ballot, "budgets.confirm_stale"))
    if _spent(projects, ballot.chosen) > found.total_cents:
        # Cannot happen through the buttons; a last guard for the count.
        return respond(_status(ctx, found, projects, ballot, "budgets.choose_first"))
    # Cast as it was counted already (a double tap, or a choice changed and changed back):
    # nothing to count again, and no "your previous vote no longer counts".
    again = ballot.changed_since_confirmed
    if ballot.confirmed_at is None or again:
        await ctx.repos.budgets.confirm(found.id, ctx.user.id, ctx.now)
    # A reminder still on its way ("chosen, but not voted yet") is no longer true, nor is
    # an invitation still waiting its turn in a large fan-out ("come and vote").
    await ctx.repos.outbox.withdraw_pending(ctx.user.id, REMINDER_KIND, f"bv.round:{found.id}")
    await ctx.repos.outbox.withdraw(
        [invitations_batch(found.id)], people=[ctx.user.id], why=DONE_FIRST
    )
    return respond(
        Reply(
            key="budgets.voted_again" if again else "budgets.voted",
            params={"count": len(ballot.chosen), "closes": when(ctx, found), "name": found.name},
            buttons=[[Button(label="budgets.btn_mine", payload=f"bv.mine:{found.id}")], *_back()],
        )
    )
