"""Experiments: see what runs in the municipality, read a card, join or leave.

Participants receive the experiment's updates (a civil servant's "Wist je dat" addressed to
them). A poster's QR code opens a card straight away: ``/start exp_<id>``.

    🧪 Experimenten ──► list ──► card ──Doe mee──► joined (card again)
         ◄ vorige / volgende ►    └──Stop met meedoen──► left (and out of its room)

A card opened from a page of the list remembers that page (``exp:<id>:<page>``, and its
join and leave buttons too), so that "Alle experimenten" goes back there.
"""

from __future__ import annotations

from handlers import paging
from handlers.answers import as_ascii_digits, parse_id
from handlers.consultations.jobs import Surroundings, give_back_evaluations, withdraw_evaluations
from handlers.contract import Button, Reply, Response, Role, respond
from handlers.experiments.rooms import MAX_SEARCH, invite_to_rooms, take_out
from handlers.feature import Context, Feature
from handlers.profile import Profile
from handlers.start.menu import stale_button
from storage.experiments.experiments import Experiment, NewExperiment

feature = Feature("experiments")
feature.menu_entry("experiments.menu", "exp", order=30)


def experiment_seeds(profile: Profile) -> list[NewExperiment]:
    """The profile's running experiments, as storage takes them (seeded at start-up)."""
    return [
        NewExperiment(
            slug=seed.slug,
            title=seed.title,
            summary=seed.summary,
            place=seed.place,
            organiser=seed.organiser,
            neighbourhood=seed.neighbourhood,
            theme=seed.theme,
        )
        for seed in profile.experiments
    ]


@feature.command(
    "experimenten",
    translations={"en": "experiments"},
    consent=False,
    describe="experiments.cmd",
    role=Role.RESIDENT,
    words=True,
)
@feature.action("exp", consent=False, role=Role.RESIDENT)
async def experiments(ctx: Context) -> Response:
    """The list of running experiments, or one card (``exp:<id>``). Typed after the command,
    a number ("2", "#2", "٢") opens that card; words list those with them in their name."""
    if ctx.value and ctx.event.button is None:
        number = parse_id(as_ascii_digits(ctx.value.strip().lstrip("#")))
        if number is None:
            return respond(await list_reply(ctx, 1, words=ctx.value))
        ctx.value = str(number)
    if ctx.value:
        return await open_card(ctx)
    return respond(await list_reply(ctx, 1))


@feature.action("exp.list", consent=False, role=Role.RESIDENT)
async def another_page(ctx: Context) -> Response:
    """``exp.list:<page>``: another page of the list."""
    wanted = paging.number(ctx.value)
    if wanted is None:
        return await stale_button(ctx)
    return respond(await list_reply(ctx, wanted))


async def list_reply(ctx: Context, wanted: int, words: str | None = None) -> Reply:
    """A page of the running experiments (a page past the end shows the last one). With
    ``words``: the first page of those with them in their name, or (none has) said so
    above the whole list."""
    repo = ctx.repos.experiments
    matching = words.strip()[:MAX_SEARCH] if words else None
    total = await repo.count_running(matching=matching)
    found: list[Reply] = []
    if matching and total == 0:
        found = [Reply(key="rooms.link_not_found", params={"words": matching})]
        matching, total = None, await repo.count_running()
    shown = paging.page(wanted, total)
    running = await repo.running(limit=shown.size, offset=shown.offset, matching=matching)
    if matching:
        # Its pages would turn through all of them: the words find one, or more words do.
        shown = paging.page(1, len(running))
    if not running:
        return Reply(key="experiments.none", buttons=_list_buttons(ctx, [], shown))
    lines = [
        Reply(
            key="experiments.list_line",
            params={
                "title": experiment.title(ctx.lang),
                "place": experiment.place(ctx.lang),
                "count": experiment.participants,
            },
        )
        for experiment in running
    ]
    return Reply(
        key="experiments.list_title",
        parts=[*found, *lines, *paging.where(shown)],
        buttons=_list_buttons(ctx, running, shown),
    )


def _list_buttons(
    ctx: Context, running: list[Experiment], shown: paging.Page
) -> list[list[Button]]:
    buttons = [
        [Button.raw(paging.short(e.title(ctx.lang)), f"exp:{e.id}:{shown.number}")]
        for e in running
    ]
    buttons += paging.turn(shown, lambda label, n: Button(label=label, payload=f"exp.list:{n}"))
    buttons.append([Button(label="experiments.btn_propose", payload="prop.new")])
    buttons.append([Button(label="experiments.btn_my_proposals", payload="prop.mine")])
    buttons.append([Button(label="menu.back", payload="menu")])
    return buttons


@feature.deep_link("exp", consent=False)
async def open_card(ctx: Context) -> Response:
    """One experiment's card: what, where, who runs it, how many take part."""
    page = _page(ctx)
    if page is None:
        return await stale_button(ctx)
    experiment = await _running(ctx)
    if experiment is None:
        return _not_found()
    return respond(await card(ctx, experiment, page))


def card_params(ctx: Context, experiment: NewExperiment, count: int) -> dict[str, str | int]:
    """What an experiment's card says about it (also in the connector's preview)."""
    return {
        "title": experiment.title(ctx.lang),
        "summary": experiment.summary(ctx.lang),
        "place": experiment.place(ctx.lang),
        "organiser": experiment.organiser(ctx.lang),
        "count": count,
    }


async def card(ctx: Context, experiment: Experiment, page: int = 1) -> Reply:
    """The card of an experiment with the button that fits this person; "Alle
    experimenten" goes back to ``page`` of the list."""
    joined = await ctx.repos.experiments.takes_part(experiment.id, ctx.user.id)
    parts = []
    theme = ctx.profile.theme(experiment.theme)
    if theme is not None:
        parts.append(Reply(key="experiments.card_theme", params={"theme": theme.name(ctx.lang)}))
    if joined:
        parts.append(Reply(key="experiments.card_you_take_part"))
    on = f"{experiment.id}:{page}" if page > 1 else str(experiment.id)
    toggle = (
        Button(label="experiments.btn_leave", payload=f"exp.leave:{on}")
        if joined
        else Button(label="experiments.btn_join", payload=f"exp.join:{on}")
    )
    return Reply(
        key="experiments.card",
        params=card_params(ctx, experiment, experiment.participants),
        parts=parts,
        original=not all(text.has(ctx.lang) for text in (experiment.title, experiment.summary)),
        buttons=[
            [toggle],
            [_all(page)],
            [Button(label="menu.back", payload="menu")],
        ],
    )


def _all(page: int) -> Button:
    """Back to the list, at the page a card was opened from."""
    return Button(label="experiments.btn_all", payload=f"exp.list:{page}" if page > 1 else "exp")


@feature.action("exp.join", role=Role.RESIDENT)
async def join(ctx: Context) -> Response:
    """Take part in an experiment; a second press says so and changes nothing."""
    page = _page(ctx)
    if page is None:
        return await stale_button(ctx)
    experiment = await _running(ctx)
    if experiment is None:
        return _not_found()
    title = experiment.title(ctx.lang)
    if not await ctx.repos.experiments.join(experiment.id, ctx.user.id, ctx.now):
        return respond(Reply(key="experiments.already_joined", params={"title": title}))
    fresh = await ctx.repos.experiments.get(experiment.id)
    assert fresh is not None
    invited = await invite_to_rooms(ctx, experiment.id)
    # Back after leaving: an invitation to evaluate it withdrawn then is theirs again.
    await give_back_evaluations(Surroundings.of(ctx), experiment.id, ctx.user.id, ctx.now)
    notes = [Reply(key="rooms.invite_coming")] if invited else []
    return respond(
        Reply(key="experiments.joined", params={"title": title}, parts=notes),
        await card(ctx, fresh, page),
    )


@feature.action("exp.leave", role=Role.RESIDENT)
async def leave(ctx: Context) -> Response:
    """Stop taking part; updates stop too."""
    page = _page(ctx)
    if page is None:
        return await stale_button(ctx)
    experiment_id = parse_id(ctx.value.partition(":")[0])
    experiment = await ctx.repos.experiments.get(experiment_id) if experiment_id else None
    if experiment is None:
        return _not_found()
    title = experiment.title(ctx.lang)
    if not await ctx.repos.experiments.leave(experiment.id, ctx.user.id):
        return respond(Reply(key="experiments.not_joined", params={"title": title}))
    # An invite to its room that was still to be made is no longer theirs, and they go out
    # of the room itself (an invite sent already is withdrawn).
    await ctx.repos.rooms.drop_invites(experiment.id, ctx.user.id)
    await take_out(ctx.repos, ctx.user.id, ctx.now, experiment_id=experiment.id)
    # An invitation to evaluate it (or a reminder) not sent yet is no longer theirs.
    await withdraw_evaluations(ctx.repos, experiment.id, ctx.user.id)
    return respond(
        Reply(
            key="experiments.left",
            params={"title": title},
            buttons=[[_all(page)], [Button(label="menu.back", payload="menu")]],
        )
    )


def _page(ctx: Context) -> int | None:
    """The page of the list a card's button came from (``exp:<id>:<page>``; 1 without),
    or None for a page we could not have sent (typed after the command: the first)."""
    _, paged, page = ctx.value.partition(":")
    if not paged or ctx.event.button is None:
        return 1
    return paging.number(page)


async def _running(ctx: Context) -> Experiment | None:
    experiment_id = parse_id(ctx.value.partition(":")[0])
    if experiment_id is None:
        return None
    experiment = await ctx.repos.experiments.get(experiment_id)
    if experiment is None or experiment.status != "running":
        return None
    return experiment


def _not_found() -> Response:
    return respond(
        Reply(
            key="experiments.not_found",
            buttons=[
                [Button(label="experiments.btn_all", payload="exp")],
                [Button(label="menu.back", payload="menu")],
            ],
        )
    )
