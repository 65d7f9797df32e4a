"""Who staff send something to: everyone, or the people of a theme, neighbourhood or experiment.

Wherever staff reach residents ("Wist je dat", a poll, an invitation), they choose in the
same two steps: first the kind of audience, then which theme, neighbourhood or experiment.
:class:`AudienceSteps` asks and reads both for any staff dialog; what differs per feature
is how many people an audience has (a broadcast counts subscribers, a poll everyone who
may answer), which words it uses and where the dialog goes next.

    "audience" ──everyone──────────────────────────────► then (chosen)
        │ theme / neighbourhood / experiment (offered only while one is running)
        ▼
    "audience_theme" | "audience_hood" | "audience_experiment" ──one of them──► then
        │ ◄ vorige / volgende ►: another page of them (running experiments can be many)
        │ back
        └──► "audience"
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from handlers import paging
from handlers.answers import parse_id
from handlers.contract import Button, Dialog, Reply, Response, respond, rows
from handlers.feature import Context
from storage.news.broadcasts import Audience, AudienceKind

#: The step that asks which kind of audience.
STEP = "audience"
#: The steps that ask which one, and the kind each picks.
PICKERS = {
    "audience_theme": AudienceKind.THEME,
    "audience_hood": AudienceKind.NEIGHBOURHOOD,
    "audience_experiment": AudienceKind.EXPERIMENT,
}
_PICKER_OF = {
    "theme": "audience_theme",
    "hood": "audience_hood",
    "experiment": "audience_experiment",
}

#: How many people an audience has, as the feature counts them.
Counter = Callable[[Context, Audience], Awaitable[int]]
#: The same for several audiences of one kind at once (a picker's page): value ➜ people.
Counts = Callable[[Context, AudienceKind, Sequence[str]], Awaitable[Mapping[str, int]]]
#: What follows once the audience is chosen (the dialog is at ``then``, the audience in it).
Chosen = Callable[[Context, Dialog], Awaitable[Response]]


def audience_of(dialog: Dialog) -> Audience:
    """The audience chosen in ``dialog``."""
    return Audience(
        kind=AudienceKind(dialog.data["audience_kind"]), value=dialog.data.get("audience_value")
    )


async def options(
    ctx: Context, kind: AudienceKind, wanted: int = 1
) -> tuple[paging.Page, list[tuple[str, str]]]:
    """A page of (value, name): the themes, neighbourhoods or running experiments."""
    if kind is AudienceKind.EXPERIMENT:
        experiments = ctx.repos.experiments
        shown = paging.page(wanted, await experiments.count_running())
        running = await experiments.running(limit=shown.size, offset=shown.offset)
        return shown, [(str(e.id), e.title(ctx.lang)) for e in running]
    found = ctx.profile.themes if kind is AudienceKind.THEME else ctx.profile.neighbourhoods
    shown = paging.page(wanted, len(found))
    every = [(item.id, item.name(ctx.lang)) for item in found]
    return shown, every[shown.offset : shown.offset + shown.size]


async def name_of(
    ctx: Context, kind: AudienceKind, value: str | None, *, running: bool = True
) -> str | None:
    """The name of one theme, neighbourhood or running experiment; None if there is none.

    With ``running=False`` an experiment that ended is named too: what was sent or
    scheduled for its participants is still theirs (a picker offers running ones only)."""
    if kind is AudienceKind.THEME:
        theme = ctx.profile.theme(value)
        return theme.name(ctx.lang) if theme else None
    if kind is AudienceKind.NEIGHBOURHOOD:
        hood = ctx.profile.neighbourhood(value)
        return hood.name(ctx.lang) if hood else None
    number = parse_id(value or "")
    experiment = await ctx.repos.experiments.get(number) if number is not None else None
    if experiment is None or (running and experiment.status != "running"):
        return None
    return experiment.title(ctx.lang)


async def describe(ctx: Context, audience: Audience, section: str) -> str:
    """Who ``audience`` is, in words: ``<section>.audience_<kind>`` with its name."""
    name = None
    if audience.kind is not AudienceKind.ALL:
        name = await name_of(ctx, audience.kind, audience.value, running=False)
    return ctx.catalog.text(
        ctx.lang,
        f"{section}.audience_{audience.kind.value}",
        {"name": name or audience.value or ""},
        markup=False,
    )


@dataclass(frozen=True)
class AudienceSteps:
    """The audience steps of one staff dialog.

    ``count`` counts one audience, ``counts`` a page of them in one go. ``section`` is the
    catalog section with ``ask_audience`` and ``ask_<kind>``;
    ``everyone`` the label of the "everyone" button (with ``{count}``); ``stop`` the
    dialog's stop button.
    """

    count: Counter
    counts: Counts
    then: str
    chosen: Chosen
    section: str
    everyone: str
    stop: Button

    async def ask(self, ctx: Context, dialog: Dialog) -> Reply:
        """Which kind of audience (everyone with how many they are); an experiment's
        participants only while an experiment is running (else its picker would be empty)."""
        everyone = await self.count(ctx, Audience(kind=AudienceKind.ALL))
        experiment = []
        if await ctx.repos.experiments.count_running():
            experiment = [[dialog.button("composer.btn_experiment", "experiment")]]
        return Reply(
            key=f"{self.section}.ask_audience",
            buttons=[
                [dialog.button(self.everyone, "all", count=everyone)],
                [dialog.button("composer.btn_theme", "theme")],
                [dialog.button("composer.btn_hood", "hood")],
                *experiment,
                [self.stop],
            ],
        )

    async def _none_running(self, ctx: Context, kind: AudienceKind) -> bool:
        """Whether ``kind`` is experiments and none is running (any more)."""
        return kind is AudienceKind.EXPERIMENT and not await ctx.repos.experiments.count_running()

    async def _no_experiment(self, ctx: Context, dialog: Dialog) -> Response:
        """Experiments were chosen (an old button, or all ended since): say there is none
        running and ask which kind of audience again."""
        back = dialog.to(STEP)
        return respond(Reply(key="composer.no_experiment"), await self.ask(ctx, back), dialog=back)

    async def ask_pick(self, ctx: Context, dialog: Dialog, wanted: int = 1) -> Reply:
        """Which theme, neighbourhood or experiment (a page of them), each with how many
        people it has."""
        kind = PICKERS[dialog.step]
        shown, found = await options(ctx, kind, wanted)
        counts = await self.counts(ctx, kind, [value for value, _ in found])
        buttons = [
            dialog.button(
                "composer.btn_option", value, name=paging.short(name), count=counts.get(value, 0)
            )
            for value, name in found
        ]
        return Reply(
            key=f"{self.section}.ask_{kind.value}",
            parts=paging.where(shown),
            buttons=[
                *rows(buttons),
                *paging.turn(shown, lambda label, n: dialog.button(label, f"{paging.TURN}{n}")),
                [dialog.button("composer.btn_back", "back")],
            ],
        )

    async def asked(self, ctx: Context, dialog: Dialog) -> Response:
        """The question of the audience step ``dialog`` is at (to go on with a draft)."""
        if dialog.step in PICKERS:
            if await self._none_running(ctx, PICKERS[dialog.step]):
                return await self._no_experiment(ctx, dialog)
            return respond(await self.ask_pick(ctx, dialog), dialog=dialog)
        return respond(await self.ask(ctx, dialog), dialog=dialog)

    async def nobody(self, ctx: Context, dialog: Dialog) -> Response:
        """The chosen audience has nobody in it (now): say so and ask again."""
        back = dialog.to(STEP)
        return respond(
            Reply(key=f"{self.section}.audience_empty"), await self.ask(ctx, back), dialog=back
        )

    async def start(self, ctx: Context, dialog: Dialog) -> Response:
        """Move ``dialog`` to the audience question."""
        nxt = dialog.to(STEP)
        return respond(await self.ask(ctx, nxt), dialog=nxt)

    async def choose(self, ctx: Context, dialog: Dialog) -> Response:
        """The answer at :data:`STEP`: everyone, or on to one of the pickers."""
        choice = ctx.value if ctx.event.button is not None else None
        if choice == "all":
            chosen = dialog.to(
                self.then, audience_kind=AudienceKind.ALL.value, audience_value=None
            )
            return await self.chosen(ctx, chosen)
        if choice in _PICKER_OF:
            nxt = dialog.to(_PICKER_OF[choice])
            if await self._none_running(ctx, PICKERS[nxt.step]):
                return await self._no_experiment(ctx, dialog)
            return respond(await self.ask_pick(ctx, nxt), dialog=nxt)
        return respond(
            Reply(key="answers.use_buttons"), await self.ask(ctx, dialog), dialog=dialog
        )

    async def pick(self, ctx: Context, dialog: Dialog) -> Response:
        """The answer at one of :data:`PICKERS`: one that exists (now), or back."""
        kind = PICKERS[dialog.step]
        choice = ctx.value if ctx.event.button is not None else None
        if choice == "back":
            return await self.start(ctx, dialog)
        if await self._none_running(ctx, kind):
            return await self._no_experiment(ctx, dialog)
        wanted = paging.turned(choice)
        if wanted is not None:
            return respond(await self.ask_pick(ctx, dialog, wanted), dialog=dialog)
        if choice is None or await name_of(ctx, kind, choice) is None:
            return respond(
                Reply(key="answers.use_buttons"), await self.ask_pick(ctx, dialog), dialog=dialog
            )
        return await self.chosen(
            ctx, dialog.to(self.then, audience_kind=kind.value, audience_value=choice)
        )
