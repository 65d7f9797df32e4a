"""Starting an experiment from a triage decision: staff name it and describe it, with a preview.

A quick win (an idea) or an approved proposal becomes an experiment residents can join and
that the open data publishes. Residents read what the connector writes here, after seeing it
as they will: nothing a resident wrote (the text of a proposal, its free-text partners)
becomes public without this step. Where the place is a neighbourhood, its name comes from
the profile; otherwise it is the municipality. The organiser is the connector with the
municipality.

    decision ──► title ──► short description ──► preview ──┬ Goedkeuren ──► reason (triage)
                   ▲                                        └ Opnieuw ─┐
                   └───────────────────────────────────────────────────┘
"""

from __future__ import annotations

from handlers.answers import one_line, read_text
from handlers.consultations.jobs import evaluate_started_experiment
from handlers.contract import Dialog, Reply, Response, respond
from handlers.experiments.join import card_params
from handlers.feature import Context, Expects
from handlers.phrases import phrase
from handlers.review import Step
from storage.experiments.experiments import Experiment, NewExperiment
from storage.localized import Localized

TITLE, SUMMARY, PREVIEW = "exp_title", "exp_summary", "exp_preview"
MAX_TITLE = 80
MIN_TITLE = 3
MAX_SUMMARY = 500
MIN_SUMMARY = 10


def _what(ctx: Context, dialog: Dialog) -> str:
    return phrase(ctx, f"triage.item_{dialog.data['kind']}", id=dialog.data["id"])


def _written(key: str, field: str, following: str, lengths: tuple[int, int]) -> Step:
    """A step where the connector writes one of the experiment's texts."""
    shortest, longest = lengths

    async def ask(ctx: Context, dialog: Dialog) -> Reply:
        return Reply(key=key, params={"what": _what(ctx, dialog), "max": longest})

    async def answer(ctx: Context, dialog: Dialog, choice: str | None) -> Dialog | Reply:
        if choice is not None:
            return Reply(key="answers.use_buttons_or_type")
        text = read_text(ctx, longest, min_length=shortest)
        if isinstance(text, Reply):
            return text
        return dialog.to(following, **{field: text})

    return Step(ask, answer, Expects.TEXT)


async def _ask_preview(ctx: Context, dialog: Dialog) -> Reply:
    """The experiment's card as residents will read it (without its buttons), then the choice."""
    card = Reply(key="experiments.card", params=card_params(ctx, planned(ctx, dialog), 0))
    return Reply(
        key="triage.exp_preview",
        parts=[card],
        buttons=[
            [dialog.button("triage.btn_exp_ok", "ok")],
            [dialog.button("triage.btn_exp_redo", "redo")],
        ],
    )


async def _preview(ctx: Context, dialog: Dialog, choice: str | None) -> Dialog | Reply:
    if choice == "ok":
        return dialog.to("reason")
    if choice == "redo":
        return dialog.to(TITLE)
    return Reply(key="answers.use_buttons")


#: The steps, by name, for a triage kind that starts experiments.
STEPS = {
    TITLE: _written("triage.ask_exp_title", TITLE, SUMMARY, (MIN_TITLE, MAX_TITLE)),
    SUMMARY: _written("triage.ask_exp_summary", SUMMARY, PREVIEW, (MIN_SUMMARY, MAX_SUMMARY)),
    PREVIEW: Step(_ask_preview, _preview),
}


def planned(ctx: Context, dialog: Dialog) -> NewExperiment:
    """The experiment the dialog describes: its title and summary as the connector wrote."""
    neighbourhood = dialog.data.get("neighbourhood")
    hood = ctx.profile.neighbourhood(neighbourhood)
    place = hood.name if hood is not None else ctx.profile.name

    def organiser(lang: str) -> str:
        return ctx.catalog.text(
            lang,
            "triage.experiment_organiser",
            {"connector": ctx.profile.connector(lang)},
            markup=False,
        )

    return NewExperiment(
        title=Localized.same(one_line(str(dialog.data[TITLE]))),
        summary=Localized.same(str(dialog.data[SUMMARY])),
        place=place,
        organiser=Localized(**{lang: organiser(lang) for lang in ctx.catalog.languages}),
        neighbourhood=hood.id if hood is not None else None,
    )


#: The steps whose words a refused decision gives back (see :func:`written`).
WRITES = frozenset({TITLE, SUMMARY})


def written(data: dict[str, object]) -> list[Reply]:
    """The experiment's title and description as the connector wrote them, for a decision
    refused before it was made (someone else decided meanwhile, the item went): given back,
    never dropped without a word."""
    title, summary = data.get(TITLE), data.get(SUMMARY)
    if not title:
        return []
    parts = []
    if summary:
        parts.append(Reply(key="triage.exp_summary_unused", params={"summary": summary}))
    return [Reply(key="triage.exp_title_unused", params={"title": title}, parts=parts)]


def named_meanwhile(
    ctx: Context, dialog: Dialog, experiment: Experiment | None, card: Reply
) -> Response | None:
    """A connector who named an experiment for an item that became one meanwhile (decided
    by someone else, and reopened since): refused, never a second experiment, nor theirs
    dropped for the one it became without a word (:func:`written` gives it back)."""
    if experiment is None or not dialog.data.get(TITLE):
        return None
    line = Reply(key="triage.exp_named_meanwhile", params={"title": experiment.title(ctx.lang)})
    return respond(line, card)


def again(ctx: Context, question: Reply, experiment: Experiment | None) -> Reply:
    """The reason's question for a decision that starts an experiment, where the item became
    one already (decided, reopened, decided again): it tells the connector it is that one
    again, not a second (nothing to name), and whether it has ended (it stays so)."""
    if experiment is None:
        return question
    key = "triage.exp_again" if experiment.status == "running" else "triage.exp_again_ended"
    line = Reply(key=key, params={"title": experiment.title(ctx.lang)})
    return question.model_copy(update={"parts": [*question.parts, line]})


async def start(ctx: Context, dialog: Dialog) -> Experiment:
    """Create the experiment the dialog describes, and log it (``experiment.create``)."""
    experiment_id = await ctx.repos.experiments.create(planned(ctx, dialog), ctx.now)
    await ctx.repos.audit.record(
        "experiment.create",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"experiment:{experiment_id}",
        detail={"from": f"{dialog.data['kind']}:{dialog.data['id']}"},
    )
    experiment = await ctx.repos.experiments.get(experiment_id)
    assert experiment is not None
    # Its participants are asked how it goes, like those of the Burgertop's experiments (and
    # staff can mark it ended from that evaluation's card).
    await evaluate_started_experiment(
        ctx.repos,
        ctx.profile,
        experiment_id,
        experiment.title.model_dump(exclude_none=True),
        ctx.now,
    )
    return experiment
