"""Ideas: browse them, open an idea's card, support and follow it; a resident's own ideas.

Reading is public (no consent needed); supporting and following need consent. Lists and
cards are button actions, not dialogs, so an old list or card keeps working, or says kindly
why it cannot (the idea was removed, you already support it). Submitting an idea is the
dialog in ``handlers/idea_submit.py``; the comment thread is ``handlers/comments.py``.

    🔎 Ideeën bekijken ──► list: newest | most supported, all | a category | a neighbourhood
    /ideeen bankjes ─────► list: the ideas with those words, best first
    /ideeen 12 ──────────► the card of idea #12
                             ◄─ vorige / volgende ─►  │
                                                      └─► card ──► steun / steun intrekken
                                                               ├─► volgen / niet meer volgen
                                                               ├─► reacties
                                                               └─► terug naar de lijst
    📋 Mijn ideeën ──► my ideas, each with its status and the reason given ──► card
    /start idee_42 ──► card #42
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from handlers import paging
from handlers.answers import as_ascii_digits, digits
from handlers.contract import Button, Reply, Response, Role, respond, rows
from handlers.feature import Context, Feature
from handlers.phrases import number, phrase
from handlers.start.menu import stale_button
from storage.ideas.ideas import (
    Idea,
    IdeaCard,
    IdeaPage,
    IdeaSort,
    IdeaStatus,
    Removal,
    StatusChange,
    search_words,
)

feature = Feature("ideas")
feature.menu_entry("ideas.menu_browse", "ideas.list", order=20)
feature.menu_entry("ideas.menu_mine", "ideas.mine", order=30)

#: Ideas on one page of a list (each line says a lot).
PAGE_SIZE = 5
MAX_NUMBER_DIGITS = 12
#: Telegram refuses callback data over 64 bytes.
MAX_PAYLOAD = 64
#: What a category's or neighbourhood's id in the profile looks like (``Named.id``).
_PROFILE_ID = re.compile(r"[a-z0-9-]{1,32}")
#: The bytes of a search's words its buttons carry (``ideas.list:new:s:bankjes,park:2``):
#: as many as a category's id, so a card opened from the results still knows the way back
#: within Telegram's 64 bytes. Words typed beyond them are not searched, and the answer
#: says so; the search is in the buttons, so an old or forwarded one still works.
SEARCH_BYTES = 32
#: What joins a search's words in a payload (never part of a word, nor a colon).
_JOIN = ","


@dataclass(frozen=True)
class View:
    """Which list a resident is looking at; travels in button payloads (``new:c:wonen:2``).

    ``kind`` is ``a`` (all ideas), ``c`` (one category) or ``h`` (one neighbourhood), or
    ``m``: the resident's own ideas (``new:m::2``), so that a card opened from "Mijn
    ideeën" goes back there, or ``s``: the ideas with the words in ``value``
    (``new:s:bankjes,park:1``), best matches first, whatever ``sort`` says.
    """

    sort: IdeaSort = IdeaSort.NEWEST
    kind: str = "a"
    value: str = ""
    page: int = 1

    def encode(self) -> str:
        return f"{self.sort.value}:{self.kind}:{self.value}:{self.page}"

    @classmethod
    def decode(cls, text: str, ctx: Context) -> View | None:
        """The view in a payload, or None if it is not one we could have sent.

        A category or neighbourhood the profile no longer has (the municipality dropped it
        since the button was sent) is all ideas in the same order: the button was ours, and
        the card it sits under must keep working.
        """
        parts = text.split(":")
        if len(parts) != 4:
            return None
        sort, kind, value, page = parts
        number_ = paging.number(page)
        if sort not in {s.value for s in IdeaSort} or number_ is None:
            return None
        if kind in {"a", "m"}:
            return cls(IdeaSort(sort), kind, page=number_) if value == "" else None
        if kind == "s":
            # Any words are only a search (a forged button searches for them): taken as a
            # search takes what is typed, and cut to what our buttons carry.
            words, _ = fitted(value.replace(_JOIN, " "))
            return cls(kind="s", value=_JOIN.join(words), page=number_) if words else None
        if kind not in {"c", "h"} or not _PROFILE_ID.fullmatch(value):
            return None
        found = ctx.profile.category(value) if kind == "c" else ctx.profile.neighbourhood(value)
        if found is None:
            return cls(IdeaSort(sort))
        return cls(IdeaSort(sort), kind, value, number_)


def fitted(text: str) -> tuple[list[str], bool]:
    """The words of ``text`` a search looks for, as many as its buttons carry
    (:data:`SEARCH_BYTES`), and whether any were left out (or cut short: a word longer
    than all of them keeps its beginning, which the search takes as a prefix)."""
    words = search_words(text)
    kept: list[str] = []
    for word in words:
        if len(_JOIN.join([*kept, word]).encode()) <= SEARCH_BYTES:
            kept.append(word)
            continue
        if not kept:
            # Its first letters that fit, cut in one go (a word may be 100,000 letters).
            kept.append(word.encode()[:SEARCH_BYTES].decode(errors="ignore"))
        break
    # A word cut short may be no word to search for any more (all digits, say).
    kept = search_words(" ".join(kept))
    return kept, kept != words


def category_name(ctx: Context, category: str) -> str:
    found = ctx.profile.category(category)
    return found.name(ctx.lang) if found else category


def neighbourhood_name(ctx: Context, neighbourhood: str | None) -> str:
    """The neighbourhood's name; one the profile no longer has is shown by its id (it is
    still where the idea is about), only no neighbourhood at all is "the whole town"."""
    if not neighbourhood:
        return phrase(ctx, "ideas.no_neighbourhood")
    found = ctx.profile.neighbourhood(neighbourhood)
    return found.name(ctx.lang) if found else neighbourhood


def status_label(ctx: Context, idea: Idea) -> str:
    if idea.withdrawn:
        return phrase(ctx, "ideas.withdrawn_label")
    if idea.removed:
        return phrase(ctx, "ideas.removed_label")
    return phrase(ctx, f"ideas.status.{idea.status.value}")


def card_params(ctx: Context, idea: Idea) -> dict[str, str | int]:
    """What an idea's card shows about it (the public card, the connector's card)."""
    return {
        "number": number(idea.id),
        "title": idea.title,
        "description": idea.description,
        "category": category_name(ctx, idea.category),
        "neighbourhood": neighbourhood_name(ctx, idea.neighbourhood),
        "status": status_label(ctx, idea),
        "supporters": idea.supporters,
        "comments": idea.comments,
        "date": ctx.show_date(idea.created_at),
    }


def idea_button(idea: Idea, payload: str) -> Button:
    """A button that names an idea by its number and (shortened) title."""
    return Button.raw(f"#{number(idea.id)} {paging.short(idea.title)}", payload)


def with_view(name: str, idea_id: int, view: View | None) -> str:
    """A card button payload that remembers the list to go back to, if it fits."""
    bare = f"{name}:{idea_id}"
    if view is None:
        return bare
    full = f"{bare}:{view.encode()}"
    return full if len(full.encode()) <= MAX_PAYLOAD else bare


def history_lines(ctx: Context, change: StatusChange) -> list[Reply]:
    """One status change as a line (with its details), and its reason on the next line."""
    theme = ctx.profile.theme(change.theme)
    department = ctx.profile.department(change.department)
    params = {
        "date": ctx.show_date(change.at),
        "theme": theme.name(ctx.lang) if theme else change.theme or "",
        "department": department.name(ctx.lang) if department else change.department or "",
        "merged": number(change.merged_into) if change.merged_into is not None else "?",
    }
    lines = [Reply(key=f"ideas.history.{change.status.value}", params=params)]
    if change.reason:
        lines.append(Reply(key="ideas.history_reason", params={"reason": change.reason}))
    return lines


# Browsing ---------------------------------------------------------------------------------


@feature.command(
    "ideeen",
    "ideeën",
    translations={"en": "ideas"},
    consent=False,
    describe="ideas.cmd_browse",
    role=Role.RESIDENT,
    words=True,
)
@feature.action("ideas.list", consent=False, role=Role.RESIDENT)
async def show_list(ctx: Context) -> Response:
    """A page of ideas, with buttons to open them, page, sort and filter; words typed
    after the command search for them."""
    if ctx.event.button is None and ctx.value.strip():
        wanted = as_ascii_digits(ctx.value.strip()).removeprefix("#").strip()
        if digits(wanted):
            # "/ideeen 12" or "/ideeen #12": the idea with that number, as on its poster.
            if len(wanted) > MAX_NUMBER_DIGITS:
                return respond(_not_found(wanted[:MAX_NUMBER_DIGITS]))
            ctx.value = wanted
            return await open_card(ctx)
        return respond(await _search(ctx, ctx.value))
    from_button = ctx.event.button is not None and ctx.value != ""
    view = View.decode(ctx.value, ctx) if from_button else View()
    if view is None or view.kind == "m":
        return await stale_button(ctx)
    return respond(await list_reply(ctx, view))


async def _search(ctx: Context, typed: str) -> Reply:
    """The first page of the ideas with the words typed, or why there is none."""
    words, cut = fitted(typed)
    if not words:
        return Reply(
            key="ideas.search_no_words",
            params={"typed": paging.short(typed), "command": _command(ctx)},
            buttons=_search_way_on(),
        )
    return await list_reply(ctx, View(kind="s", value=_JOIN.join(words)), cut=cut)


def _command(ctx: Context) -> str:
    """The command that lists and searches ideas, as the reader's language names it."""
    return "/" + ctx.registry.commands["ideeen"].name_in(ctx.lang)


def _search_way_on() -> list[list[Button]]:
    """What a search that found nothing offers: all ideas, or send one in."""
    return [
        [Button(label="ideas.btn_all", payload=f"ideas.list:{View().encode()}")],
        [
            Button(label="ideas.btn_submit", payload="ideas.submit"),
            Button(label="menu.back", payload="menu"),
        ],
    ]


async def list_reply(ctx: Context, view: View, *, cut: bool = False) -> Reply:
    """The list message for a view (a page past the end shows the last page); ``cut``:
    a search left some of the words typed out."""
    page = await _page(ctx, view)
    shown = paging.page(view.page, page.total, PAGE_SIZE)
    if shown.number != view.page:
        view = replace(view, page=shown.number)
        page = await _page(ctx, view)
    searched = " ".join(view.value.split(_JOIN))
    said_cut = [Reply(key="ideas.search_cut")] if cut else []
    if view.kind == "s" and not page.ideas:
        return Reply(
            key="ideas.search_none",
            params={"words": searched},
            parts=said_cut,
            buttons=_search_way_on(),
        )
    lines = [
        Reply(
            key="ideas.list_line",
            params={
                "number": number(idea.id),
                "title": idea.title,
                "supporters": idea.supporters,
                "comments": idea.comments,
                "status": status_label(ctx, idea),
            },
        )
        for idea in page.ideas
    ] or [Reply(key="ideas.list_empty")]
    if view.kind != "s" and page.ideas:
        # How to search: residents look for an idea by its words.
        lines.append(Reply(key="ideas.search_hint", params={"command": _command(ctx)}))
    buttons = [[idea_button(idea, with_view("idea.open", idea.id, view))] for idea in page.ideas]
    buttons += _list_buttons(view, shown)
    if view.kind == "s":
        return Reply(
            key="ideas.search_title",
            params={
                "words": searched,
                "page": shown.number,
                "pages": shown.pages,
                "total": page.total,
            },
            parts=[*said_cut, *lines],
            buttons=buttons,
        )
    return Reply(
        key="ideas.list_title",
        params={
            "order": phrase(ctx, f"ideas.order_{view.sort.value}"),
            "scope": _scope(ctx, view),
            "page": shown.number,
            "pages": shown.pages,
            "total": page.total,
        },
        parts=lines,
        buttons=buttons,
    )


async def _page(ctx: Context, view: View) -> IdeaPage:
    if view.kind == "s":
        return await ctx.repos.ideas.search(
            view.value.split(_JOIN), limit=PAGE_SIZE, offset=(view.page - 1) * PAGE_SIZE
        )
    return await ctx.repos.ideas.browse(
        view.sort,
        category=view.value if view.kind == "c" else None,
        neighbourhood=view.value if view.kind == "h" else None,
        limit=PAGE_SIZE,
        offset=(view.page - 1) * PAGE_SIZE,
    )


def _scope(ctx: Context, view: View) -> str:
    if view.kind == "c":
        return category_name(ctx, view.value)
    if view.kind == "h":
        return neighbourhood_name(ctx, view.value)
    return phrase(ctx, "ideas.scope_all")


def _list_buttons(view: View, shown: paging.Page) -> list[list[Button]]:
    turn = paging.turn(
        shown,
        lambda label, n: Button(
            label=label, payload=f"ideas.list:{replace(view, page=n).encode()}"
        ),
    )
    if view.kind == "s":
        # Best matches first: no other order, and no filter on top of the words.
        return [*turn, *_search_way_on()]
    other = IdeaSort.MOST_SUPPORTED if view.sort == IdeaSort.NEWEST else IdeaSort.NEWEST
    resorted = replace(view, sort=other, page=1)
    sort = view.sort.value
    filters = [
        Button(label=f"ideas.btn_order_{other.value}", payload=f"ideas.list:{resorted.encode()}"),
        Button(label="ideas.btn_by_category", payload=f"ideas.filter:c:{sort}"),
        Button(label="ideas.btn_by_neighbourhood", payload=f"ideas.filter:h:{sort}"),
    ]
    if view.kind != "a":
        unfiltered = View(sort=view.sort)
        filters.append(Button(label="ideas.btn_all", payload=f"ideas.list:{unfiltered.encode()}"))
    closing = [
        Button(label="ideas.btn_submit", payload="ideas.submit"),
        Button(label="menu.back", payload="menu"),
    ]
    return [*turn, *rows(filters, 2), closing]


@feature.action("ideas.filter", consent=False, role=Role.RESIDENT)
async def choose_filter(ctx: Context) -> Response:
    """Pick a category or neighbourhood to list ideas of."""
    kind, _, sort = ctx.value.partition(":")
    if kind not in {"c", "h"} or sort not in {s.value for s in IdeaSort}:
        return await stale_button(ctx)
    items = ctx.profile.categories if kind == "c" else ctx.profile.neighbourhoods
    choices = [
        Button.raw(
            item.name(ctx.lang), f"ideas.list:{View(IdeaSort(sort), kind, item.id).encode()}"
        )
        for item in items
    ]
    buttons = rows(choices, 1 if kind == "c" else 2)
    buttons.append(
        [
            Button(label="ideas.btn_all", payload=f"ideas.list:{View(IdeaSort(sort)).encode()}"),
            Button(label="menu.back", payload="menu"),
        ]
    )
    key = "ideas.choose_category" if kind == "c" else "ideas.choose_neighbourhood"
    return respond(Reply(key=key, buttons=buttons))


# The card ---------------------------------------------------------------------------------


@feature.action("idea.open", consent=False, role=Role.RESIDENT)
async def open_card(ctx: Context) -> Response:
    """An idea's card, with its photo."""
    target = await _target(ctx)
    if isinstance(target, Response):
        return target
    card, view = target
    return respond(*await card_replies(ctx, card, view, photo=True))


@feature.deep_link("idee", consent=False)
async def open_from_link(ctx: Context) -> Response:
    """``/start idee_42`` (a link or a QR code on a poster) opens idea #42; a link cut off
    before its number (``idee_``) opens the list of ideas."""
    if not ctx.value:
        return respond(await list_reply(ctx, View()))
    if not digits(ctx.value) or len(ctx.value) > MAX_NUMBER_DIGITS:
        return respond(_not_found(ctx.value[:MAX_NUMBER_DIGITS]))
    return await open_card(ctx)


async def card_replies(
    ctx: Context, card: IdeaCard, view: View | None, *, photo: bool, edit: bool = False
) -> list[Reply]:
    """The idea's card (and photo): what it says, where it stands, what you can do."""
    idea = card.idea
    if idea.removed:
        return [removed_reply(ctx, idea)]
    replies = []
    if photo and idea.photo_id is not None:
        replies.append(
            Reply(
                key="ideas.photo_caption",
                params={"number": number(idea.id), "title": idea.title},
                photo_id=idea.photo_id,
            )
        )
    parts = []
    if idea.author_user_id == ctx.user.id:
        parts.append(Reply(key="ideas.card_yours"))
    parts.append(Reply(key="ideas.card_history"))
    history = card.history
    for change in history:
        parts.extend(history_lines(ctx, change))
    merged_into = next(
        (c.merged_into for c in reversed(history) if c.status == IdeaStatus.MERGED), None
    )
    replies.append(
        Reply(
            key="ideas.card",
            params=card_params(ctx, idea),
            parts=parts,
            buttons=await _card_buttons(ctx, card, view, merged_into),
            edit=edit,
            original=True,
        )
    )
    return replies


async def _card_buttons(
    ctx: Context, card: IdeaCard, view: View | None, merged_into: int | None
) -> list[list[Button]]:
    idea, me = card.idea, ctx.user.id
    buttons: list[list[Button]] = []
    if idea.status == IdeaStatus.MERGED and merged_into is not None:
        buttons.append(
            [
                Button(
                    label="ideas.btn_open_merged",
                    payload=f"idea.open:{merged_into}",
                    params={"number": number(merged_into)},
                )
            ]
        )
    elif idea.author_user_id != me and idea.status != IdeaStatus.MERGED:
        if card.supported:
            buttons.append([_card_button("ideas.btn_unsupport", "idea.unsupport", idea, view)])
        else:
            buttons.append([_card_button("ideas.btn_support", "idea.support", idea, view)])
    if idea.status == IdeaStatus.QUICK_WIN:
        # A quick win became an experiment (handlers/triage.py): show the way to join it.
        experiment = await ctx.repos.experiments.of_idea(idea.id)
        if experiment is not None:
            buttons.append(
                [Button(label="triage.btn_to_experiment", payload=f"exp:{experiment.id}")]
            )
    if card.following:
        buttons.append([_card_button("ideas.btn_unfollow", "idea.unfollow", idea, view)])
    else:
        buttons.append([_card_button("ideas.btn_follow", "idea.follow", idea, view)])
    buttons.append(
        [
            Button(
                label="ideas.btn_comments",
                payload=f"idea.comments:{idea.id}",
                params={"comments": idea.comments},
            )
        ]
    )
    if idea.author_user_id == me and idea.editable:
        buttons.append(
            [
                Button(label="ideas.btn_edit", payload=f"idea.edit:{idea.id}"),
                Button(label="ideas.btn_withdraw", payload=f"idea.withdraw:{idea.id}"),
            ]
        )
    if idea.author_user_id != me and ctx.user.role is Role.RESIDENT:
        # Something that does not belong here: the connector decides (staff/reporting.py).
        # Staff moderate in /meldingen instead, as under comments.
        buttons.append([Button(label="ideas.btn_report", payload=f"idea.report:{idea.id}")])
    if ctx.user.role.allows(Role.CONNECTOR):
        buttons.append(
            [
                Button(
                    label="triage.btn_triage_card",
                    payload=f"tri.card:i{idea.id}",
                    params={"number": number(idea.id)},
                )
            ]
        )
    if view is None:
        back = "ideas.list"
    elif view.kind == "m":
        back = f"ideas.mine:{view.page}"
    else:
        back = f"ideas.list:{view.encode()}"
    buttons.append(
        [
            Button(label="ideas.btn_back_to_list", payload=back),
            Button(label="menu.back", payload="menu"),
        ]
    )
    return buttons


def _card_button(label: str, name: str, idea: Idea, view: View | None) -> Button:
    return Button(label=label, payload=with_view(name, idea.id, view))


def not_found_or_removed(key: str, shown_number: str) -> Reply:
    """No such idea, or a removed one: say so, and offer the list and the menu."""
    return Reply(
        key=key,
        params={"number": shown_number},
        buttons=[
            [
                Button(label="ideas.btn_browse", payload="ideas.list"),
                Button(label="menu.back", payload="menu"),
            ]
        ],
    )


def _not_found(shown_number: str) -> Reply:
    return not_found_or_removed("ideas.not_found", shown_number)


#: Out of view for now: the connector hid it, or residents' reports did until they decide.
HIDDEN = frozenset({Removal.HIDDEN, Removal.REPORTS})


def removed_reply(ctx: Context, idea: Idea) -> Reply:
    """Why an idea out of view cannot be opened, said to its author as theirs."""
    key = "ideas.withdrawn_card" if idea.withdrawn else "ideas.removed"
    if idea.author_user_id == ctx.user.id:
        if idea.withdrawn:
            key = "ideas.withdrawn_yours"
        elif idea.removal in HIDDEN:
            # Its author was told it is hidden (and may be shown again), not removed.
            key = "ideas.hidden_yours"
    return not_found_or_removed(key, number(idea.id))


async def _target(ctx: Context) -> tuple[IdeaCard, View | None] | Response:
    """The idea (and list view) a card button points at, or the answer if there is none."""
    raw_id, _, rest = ctx.value.partition(":")
    view = View.decode(rest, ctx) if rest else None
    if not digits(raw_id) or len(raw_id) > MAX_NUMBER_DIGITS or (rest and view is None):
        return await stale_button(ctx)
    card = await ctx.repos.ideas.card(int(raw_id), ctx.user.id)
    if card is None:
        return respond(_not_found(raw_id))
    if card.idea.removed:
        return respond(removed_reply(ctx, card.idea))
    return card, view


# Support and follow -----------------------------------------------------------------------
# Each button changes one thing about the card in front of the resident, confirms it in a
# short line, and brings the card up to date in place. What the card already shows (you
# support this, you follow this) is not written again.


@feature.action("idea.support", role=Role.RESIDENT)
async def support(ctx: Context) -> Response:
    """Support an idea (once; it also follows it)."""

    async def change(card: IdeaCard) -> str:
        idea = card.idea
        if idea.author_user_id == ctx.user.id:
            return "ideas.own_idea"
        if idea.status == IdeaStatus.MERGED:
            return "ideas.merged_no_support"
        if card.supported or not await ctx.repos.ideas.support(idea.id, ctx.user.id, ctx.now):
            return "ideas.already_supported"
        return "ideas.supported"

    return await _on_card(ctx, change)


@feature.action("idea.unsupport", role=Role.RESIDENT)
async def withdraw_support(ctx: Context) -> Response:
    """Take a support back (the resident keeps following until they unfollow)."""

    async def change(card: IdeaCard) -> str:
        if card.supported and await ctx.repos.ideas.withdraw_support(card.idea.id, ctx.user.id):
            return "ideas.unsupported"
        return "ideas.not_supported"

    return await _on_card(ctx, change)


@feature.action("idea.follow", role=Role.RESIDENT)
async def follow(ctx: Context) -> Response:
    """Hear about every status change of an idea."""

    async def change(card: IdeaCard) -> str:
        if card.following or not await ctx.repos.ideas.follow(card.idea.id, ctx.user.id, ctx.now):
            return "ideas.already_following"
        return "ideas.followed"

    return await _on_card(ctx, change)


@feature.action("idea.unfollow", role=Role.RESIDENT)
async def unfollow(ctx: Context) -> Response:
    """Stop hearing about an idea."""

    async def change(card: IdeaCard) -> str:
        if card.following and await ctx.repos.ideas.unfollow(card.idea.id, ctx.user.id):
            return "ideas.unfollowed"
        return "ideas.not_following"

    return await _on_card(ctx, change)


async def _on_card(ctx: Context, change: Callable[[IdeaCard], Awaitable[str]]) -> Response:
    """Make ``change`` to the card's idea; confirm it and bring the card up to date."""
    target = await _target(ctx)
    if isinstance(target, Response):
        return target
    card, view = target
    notice = await change(card)
    fresh = await ctx.repos.ideas.card(card.idea.id, ctx.user.id)
    assert fresh is not None
    return respond(
        Reply(key=notice, params={"number": number(card.idea.id)}),
        *await card_replies(ctx, fresh, view, photo=False, edit=True),
    )


# My ideas ---------------------------------------------------------------------------------


@feature.command(
    "mijnideeen",
    "mijnideeën",
    translations={"en": "myideas"},
    describe="ideas.cmd_mine",
    role=Role.RESIDENT,
)
@feature.action("ideas.mine", role=Role.RESIDENT)
async def my_ideas(ctx: Context) -> Response:
    """The resident's own ideas, newest first, each with its status and the reason for it."""
    wanted = paging.asked(ctx)
    if wanted is None:
        return await stale_button(ctx)
    ideas = ctx.repos.ideas
    total = await ideas.count_by_author(ctx.user.id)
    shown = paging.page(wanted, total, PAGE_SIZE)
    mine = await ideas.by_author(ctx.user.id, limit=shown.size, offset=shown.offset)
    latest = await ideas.latest_changes([idea.id for idea in mine])
    parts: list[Reply] = []
    for idea in mine:
        parts.append(
            Reply(key="ideas.mine_line", params={"number": number(idea.id), "title": idea.title})
        )
        if idea.withdrawn:
            parts.append(Reply(key="ideas.mine_withdrawn"))
        elif idea.removed:
            hidden = idea.removal in HIDDEN
            parts.append(Reply(key="ideas.mine_hidden" if hidden else "ideas.mine_removed"))
        elif idea.id in latest:
            parts.extend(history_lines(ctx, latest[idea.id]))
    here = View(kind="m", page=shown.number)
    buttons = [[idea_button(idea, with_view("idea.open", idea.id, here))] for idea in mine]
    buttons += paging.turn(shown, lambda label, n: Button(label=label, payload=f"ideas.mine:{n}"))
    buttons.append(
        [
            Button(label="ideas.btn_submit", payload="ideas.submit"),
            Button(label="menu.back", payload="menu"),
        ]
    )
    key = "ideas.mine_title" if total else "ideas.mine_empty"
    return respond(
        Reply(
            key=key,
            params={"total": total, "page": shown.number, "pages": shown.pages},
            parts=parts,
            buttons=buttons,
        )
    )
