"""Budget rounds for staff (verbinder, admin): set one up, follow the counts, name winners.

    /nieuweronde ──► name ──► total budget ──► neighbourhood budgets (or none)
        ──► projects, one message each ("titel | kosten | uitleg | wijk"; a photo after
            one is its picture) ──► opens (or "nu") ──► closes
        ──► who may vote (everyone taking part / with a neighbourhood / with a postcode in
            the profile's ranges) ──► the tie rule (cost / own neighbourhood / earliest / lot)
        ──► preview ──► Openen (stored; opened, reminded and closed by the scheduler; at
            its opening everyone who may vote is invited, and the connector hears how many)

    /rondes ──► a round: votes per project so far (counts only, never who; closed with
        fewer voters than the threshold: a note that residents do not see the counts;
        cancelled because its author lost the role before it opened: what was planned)
        ──► closed: "Maak experiment" for a winner ──► its name ──► experiment

A project's title may name an approved idea (``#12``) or proposal (``v3``): the project
then keeps the link and takes its title from it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from handlers import paging, when
from handlers.answers import excerpt, given_back_text, one_line, parse_id, read_text
from handlers.budgets import disclosure, invitations
from handlers.contract import Button, Dialog, Reply, Response, Role, Timer, given_back, respond
from handlers.experiments import launch
from handlers.feature import Context, Expects, Feature
from handlers.money import MAX_EURO, AmountTooLarge, format_euro, read_euro
from handlers.profile import Profile
from handlers.when import parse_moment
from storage.budgets.rounds import NewProject, PostcodeRange, Round, RoundStatus
from storage.budgets.tally import TieRule
from storage.experiments.proposals import ProposalStatus
from storage.ideas.ideas import IdeaStatus

feature = Feature("budget_rounds")
feature.menu_entry("budgets.menu_staff", "bs", order=66, role=Role.CONNECTOR)

DIALOG = "budget_round"
NAMING = "budget_experiment"
MAX_NAME = 80
MAX_TITLE = 80
MAX_DESCRIPTION = 300
MAX_PROJECTS = 30
APPROVED_IDEAS = (IdeaStatus.QUICK_WIN, IdeaStatus.ADOPTED)
APPROVED_PROPOSALS = (ProposalStatus.APPROVED, ProposalStatus.FUNDED, ProposalStatus.COFUNDED)


def brand(profile: Profile, lang: str) -> dict[str, str]:
    """The name residents know budget rounds by ("Velsen kiest"), as a text's ``name``."""
    return {"name": profile.budgets.name(lang)}


def _stop() -> list[Button]:
    return [Button(label="budgets.btn_stop", payload="cancel")]


def _euro(ctx: Context, cents: int) -> str:
    return format_euro(cents, ctx.lang)


def _shown(ctx: Context, moment: datetime) -> str:
    return when.moment(ctx.local(moment), ctx.lang)


@feature.command(
    "nieuweronde",
    translations={"en": "newround"},
    describe="budgets.cmd_new",
    role=Role.CONNECTOR,
    words=True,
)
@feature.action("bs.new", role=Role.CONNECTOR)
async def new_round(ctx: Context) -> Response:
    """Start setting up a round (``/nieuweronde Buurtbudget 2027`` is its name already:
    the total is asked next)."""
    dialog = Dialog(name=DIALOG, step="name")
    typed = ctx.value.strip() if ctx.event.command is not None else ""
    if typed:
        return _name(ctx, dialog, typed)
    return respond(_ask_name(ctx), dialog=dialog)


def _ask_name(ctx: Context) -> Reply:
    return Reply(key="budgets.ask_name", params=brand(ctx.profile, ctx.lang), buttons=[_stop()])


def _ask_total() -> Reply:
    return Reply(key="budgets.ask_total", buttons=[_stop()])


def _ask_closes() -> Reply:
    return Reply(key="budgets.ask_closes", buttons=[_stop()])


setup = feature.dialog(DIALOG, role=Role.CONNECTOR, subject="drafts.subject.budget_round")


@setup.ask("name", "total", "hoods", "projects", "opens", "closes", "who", "tie")
async def ask_question(ctx: Context, dialog: Dialog) -> Response:
    """The question of the step they are at, again (a chat opened anew)."""
    return respond(_question(ctx, dialog), dialog=dialog)


def _question(ctx: Context, dialog: Dialog) -> Reply:
    """The question of a step before the preview, as the step before it asked it."""
    match dialog.step:
        case "name":
            return _ask_name(ctx)
        case "total":
            return _ask_total()
        case "hoods":
            return _ask_hoods(ctx, dialog)
        case "projects":
            return _ask_project(dialog)
        case "opens":
            return _ask_opens(dialog)
        case "closes":
            return _ask_closes()
        case "who":
            return _ask_who(ctx, dialog)
        case _:
            return _ask_tie(dialog)


@setup.ask("preview")
async def ask_preview(ctx: Context, dialog: Dialog) -> Response:
    """The preview with its buttons again (a chat opened anew); what "Openen" would refuse
    (a project whose idea or proposal went, a closing time passed) is said at once."""
    return await _outdated(ctx, dialog) or respond(*_preview(ctx, dialog), dialog=dialog)


def _written(data: dict[str, Any]) -> list[Reply]:
    """The round's name and its projects as typed ("title | cost | description"), given
    back with the word that it stopped when its connector may no longer set one up (a role
    revoked): never lost unseen."""
    lines = [name] if isinstance(name := data.get("name"), str) and name.strip() else []
    for project in data.get("projects") or []:
        if isinstance(project, dict) and isinstance(project.get("title"), str):
            cost = project.get("cost_cents")
            shown = format_euro(cost, "nl") if isinstance(cost, int) else ""
            lines.append(f"{project['title']} | {shown} | {project.get('description') or ''}")
    if not lines:
        return []
    return [Reply(key="general.typed_not_kept", params={"text": "\n".join(lines)})]


setup.written = _written


@setup.step("name", expects=Expects.TEXT)
async def name_step(ctx: Context, dialog: Dialog) -> Response:
    return _name(ctx, dialog)


def _name(ctx: Context, dialog: Dialog, typed: str | None = None) -> Response:
    """The round's name: typed at its question, or ``typed`` after the command (shown back
    with the reason when it cannot be the name)."""
    answer = read_text(ctx, MAX_NAME, min_length=3, text=typed)
    if isinstance(answer, Reply):
        return respond(*given_back_text(typed), answer, _ask_name(ctx), dialog=dialog)
    # One line wherever it shows (the ballot, the invitation, the list of rounds).
    nxt = dialog.to("total", name=one_line(answer))
    return respond(_ask_total(), dialog=nxt)


@setup.step("total", expects=Expects.NUMBER)
async def total_step(ctx: Context, dialog: Dialog) -> Response:
    try:
        cents = read_euro(ctx.text) if ctx.text else None
    except AmountTooLarge:
        return respond(
            Reply(key="budgets.amount_too_large", params={"max": _euro(ctx, MAX_EURO * 100)}),
            _ask_total(),
            dialog=dialog,
        )
    if cents is None or cents <= 0:
        return respond(
            Reply(key="budgets.amount_invalid", params={"typed": ctx.text}),
            _ask_total(),
            dialog=dialog,
        )
    nxt = dialog.to("hoods", total=cents)
    return respond(_ask_hoods(ctx, nxt), dialog=nxt)


def _ask_hoods(ctx: Context, dialog: Dialog) -> Reply:
    example = ctx.profile.neighbourhoods[0].name(ctx.lang)
    return Reply(
        key="budgets.ask_hoods",
        params={"example": example},
        buttons=[[dialog.button("budgets.btn_no_hoods", "none")], _stop()],
    )


@setup.step("hoods", expects=Expects.TEXT)
async def hoods_step(ctx: Context, dialog: Dialog) -> Response:
    if ctx.event.button is not None and ctx.value == "none":
        nxt = dialog.to("projects", hoods={}, projects=[])
        return respond(_ask_project(nxt), dialog=nxt)
    answer = read_text(ctx, 2000)
    if isinstance(answer, Reply):
        return respond(answer, _ask_hoods(ctx, dialog), dialog=dialog)
    names = _hood_names(ctx)
    budgets: dict[str, int] = {}
    for line in answer.splitlines():
        if not line.strip():
            continue
        try:
            hood_id, cents = _hood_line(line, names)
        except AmountTooLarge:
            # Surely more than the whole budget (itself at most the largest amount).
            return respond(
                Reply(
                    key="budgets.hoods_too_much",
                    params={"total": _euro(ctx, dialog.data["total"])},
                ),
                _ask_hoods(ctx, dialog),
                dialog=dialog,
            )
        if hood_id is None or cents is None or cents <= 0 or hood_id in budgets:
            return respond(
                Reply(key="budgets.hood_invalid", params={"line": line.strip()}),
                _ask_hoods(ctx, dialog),
                dialog=dialog,
            )
        budgets[hood_id] = cents
    if sum(budgets.values()) > int(dialog.data["total"]):
        return respond(
            Reply(
                key="budgets.hoods_too_much", params={"total": _euro(ctx, dialog.data["total"])}
            ),
            _ask_hoods(ctx, dialog),
            dialog=dialog,
        )
    nxt = dialog.to("projects", hoods=budgets, projects=[])
    return respond(_ask_project(nxt), dialog=nxt)


def _hood_names(ctx: Context) -> dict[str, str]:
    """Each neighbourhood's id and its name in every language the bot speaks (the example
    asked with is the staff member's own), folded, to the neighbourhood's id."""
    names = {}
    for hood in ctx.profile.neighbourhoods:
        names[hood.id.casefold()] = hood.id
        for lang in ctx.catalog.languages:
            names[hood.name(lang).casefold()] = hood.id
    return names


def _hood_line(line: str, names: dict[str, str]) -> tuple[str | None, int | None]:
    """A neighbourhood and its amount from one line, typed as the total may be:
    "IJmuiden 10.000", "IJmuiden € 10.000", "Velsen-Noord: 1.500,50 euro" (the longest
    name the line begins with, then a space or a colon, then the amount).

    Raises:
        AmountTooLarge: an amount above the largest a budget may be.
    """
    folded = line.strip().casefold()
    for name in sorted(names, key=len, reverse=True):
        rest = folded.removeprefix(name)
        if rest == folded or not rest[:1] or rest[:1] not in " \t:":
            continue
        return names[name], read_euro(rest.lstrip(" \t:"))
    return None, None


def _ask_project(dialog: Dialog) -> Reply:
    buttons = [_stop()]
    if dialog.data.get("projects"):
        buttons.insert(0, [dialog.button("budgets.btn_projects_done", "done")])
    return Reply(
        key="budgets.ask_project",
        params={"count": len(dialog.data.get("projects", []))},
        buttons=buttons,
    )


@setup.step("projects", expects=Expects.TEXT, photo=True)
async def projects_step(ctx: Context, dialog: Dialog) -> Response:
    projects: list[dict[str, Any]] = list(dialog.data.get("projects", []))
    if ctx.event.button is not None and ctx.value == "done" and projects:
        nxt = dialog.to("opens")
        return respond(_ask_opens(nxt), dialog=nxt)
    if ctx.event.photo is not None:
        if not projects:
            return respond(Reply(key="budgets.photo_first"), _ask_project(dialog), dialog=dialog)
        photo = ctx.event.photo
        photo_id = await ctx.repos.media.save(photo.data, photo.mime_type, ctx.now, by=ctx.user.id)
        projects[-1] = {**projects[-1], "photo_id": photo_id}
        nxt = dialog.to("projects", projects=projects)
        return respond(
            Reply(key="budgets.photo_added", params={"title": projects[-1]["title"]}),
            _ask_project(nxt),
            dialog=nxt,
        )
    answer = read_text(ctx, 1000)
    if isinstance(answer, Reply):
        return respond(answer, _ask_project(dialog), dialog=dialog)
    if len(projects) >= MAX_PROJECTS:
        return respond(
            Reply(key="budgets.too_many", params={"max": MAX_PROJECTS}),
            _ask_project(dialog),
            dialog=dialog,
        )
    project = await _read_project(ctx, answer, int(dialog.data["total"]))
    if isinstance(project, Reply):
        return respond(project, _ask_project(dialog), dialog=dialog)
    clash = any(
        p["title"].casefold() == project.title.casefold()
        or (project.idea_id and p.get("idea_id") == project.idea_id)
        or (project.proposal_id and p.get("proposal_id") == project.proposal_id)
        for p in projects
    )
    if clash:
        return respond(
            Reply(key="budgets.project_twice", params={"title": project.title}),
            _ask_project(dialog),
            dialog=dialog,
        )
    projects.append(project.model_dump())
    nxt = dialog.to("projects", projects=projects)
    return respond(
        Reply(
            key="budgets.project_added",
            params={"title": project.title, "cost": _euro(ctx, project.cost_cents)},
        ),
        _ask_project(nxt),
        dialog=nxt,
    )


async def _read_project(ctx: Context, line: str, total: int) -> NewProject | Reply:
    """A project from "titel | kosten | uitleg | wijk", or why it cannot be one."""
    parts = [part.strip() for part in line.split("|")]
    # The title is one line wherever it shows (the ballot, a button, the result).
    title = one_line(parts[0])
    if len(parts) not in (3, 4) or not title or not parts[2]:
        return Reply(key="budgets.project_invalid")
    cost_text, description = parts[1], parts[2]
    try:
        cost = read_euro(cost_text)
    except AmountTooLarge:
        # More than the largest budget, so more than this one.
        return Reply(key="budgets.cost_too_high", params={"total": _euro(ctx, total)})
    if cost is None or cost <= 0:
        return Reply(key="budgets.cost_invalid", params={"typed": cost_text})
    if cost > total:
        return Reply(key="budgets.cost_too_high", params={"total": _euro(ctx, total)})
    if len(description) > MAX_DESCRIPTION or len(title) > MAX_TITLE:
        return Reply(
            key="budgets.project_too_long",
            params={"title": MAX_TITLE, "description": MAX_DESCRIPTION},
        )
    hood: str | None = None
    if len(parts) == 4 and parts[3]:
        hood = _hood_names(ctx).get(parts[3].casefold())
        if hood is None:
            return Reply(key="budgets.hood_unknown", params={"typed": parts[3]})
    idea_id = proposal_id = None
    if title.startswith("#"):
        idea = await ctx.repos.ideas.get(parse_id(title[1:]) or 0)
        if idea is None or idea.removed_at is not None or idea.status not in APPROVED_IDEAS:
            return Reply(key="budgets.source_unknown", params={"typed": title})
        idea_id, title = idea.id, excerpt(idea.title, MAX_TITLE)
    elif title[:1] in "vV" and title[1:].isdigit():
        proposal = await ctx.repos.proposals.get(parse_id(title[1:]) or 0)
        if proposal is None or proposal.status not in APPROVED_PROPOSALS:
            return Reply(key="budgets.source_unknown", params={"typed": title})
        proposal_id, title = proposal.id, excerpt(proposal.what, MAX_TITLE)
    return NewProject(
        title=title,
        description=description,
        cost_cents=cost,
        neighbourhood=hood,
        idea_id=idea_id,
        proposal_id=proposal_id,
    )


async def _source_approved(ctx: Context, project: dict[str, Any]) -> bool:
    """Whether the idea or proposal a project was taken from is still approved and in view
    (a project typed by staff has none and always is)."""
    if project.get("idea_id"):
        idea = await ctx.repos.ideas.get(int(project["idea_id"]))
        return idea is not None and not idea.removed and idea.status in APPROVED_IDEAS
    if project.get("proposal_id"):
        proposal = await ctx.repos.proposals.get(int(project["proposal_id"]))
        return proposal is not None and proposal.status in APPROVED_PROPOSALS
    return True


def _ask_opens(dialog: Dialog) -> Reply:
    return Reply(
        key="budgets.ask_opens", buttons=[[dialog.button("budgets.btn_now", "now")], _stop()]
    )


def _read_moment(ctx: Context) -> datetime | Reply:
    local = ctx.local(ctx.now)
    moment = parse_moment(ctx.text, local) if ctx.text else None
    if moment is None:
        return Reply(key="budgets.when_invalid", params={"typed": ctx.text})
    if moment.astimezone(UTC) <= ctx.now:
        return Reply(key="budgets.when_past", params={"when": when.moment(moment, ctx.lang)})
    if not when.within_a_year(moment, local):
        return Reply(key="budgets.when_too_far")
    return moment.astimezone(UTC)


@setup.step("opens", expects=Expects.TEXT)
async def opens_step(ctx: Context, dialog: Dialog) -> Response:
    if ctx.event.button is not None and ctx.value == "now":
        opens = ctx.now
    else:
        moment = _read_moment(ctx)
        if isinstance(moment, Reply):
            return respond(moment, _ask_opens(dialog), dialog=dialog)
        opens = moment
    nxt = dialog.to("closes", opens=opens.isoformat())
    return respond(_ask_closes(), dialog=nxt)


@setup.step("closes", expects=Expects.TEXT)
async def closes_step(ctx: Context, dialog: Dialog) -> Response:
    moment = _read_moment(ctx)
    opens = datetime.fromisoformat(dialog.data["opens"])
    if not isinstance(moment, Reply) and moment <= opens:
        moment = Reply(key="budgets.closes_before_opens", params={"opens": _shown(ctx, opens)})
    if isinstance(moment, Reply):
        return respond(moment, _ask_closes(), dialog=dialog)
    nxt = dialog.to("who", closes=moment.isoformat())
    return respond(_ask_who(ctx, nxt), dialog=nxt)


WHO = ("all", "hood", "postcode")


def _ask_who(ctx: Context, dialog: Dialog) -> Reply:
    buttons = [
        [dialog.button("budgets.btn_who_all", "all")],
        [dialog.button("budgets.btn_who_hood", "hood")],
    ]
    if ctx.profile.postcodes:
        # Offered only where the profile knows the municipality's postcodes (the preview
        # lists the ranges, however many there are).
        buttons.append([dialog.button("budgets.btn_who_postcode", "postcode")])
    return Reply(key="budgets.ask_who", buttons=[*buttons, _stop()])


def ranges_text(ranges: list[PostcodeRange]) -> str:
    """Postcode ranges as people read them: "1951, 1970–1976, 1981"."""
    return ", ".join(r.shown() for r in ranges)


@setup.step("who")
async def who_step(ctx: Context, dialog: Dialog) -> Response:
    choice = ctx.value if ctx.event.button is not None else ""
    if choice not in WHO or (choice == "postcode" and not ctx.profile.postcodes):
        return respond(_ask_who(ctx, dialog), dialog=dialog)
    # The ranges are copied into the round as they are now: a later change of the profile
    # does not change who may vote in a round already set up.
    postcodes = [r.model_dump() for r in ctx.profile.postcodes] if choice == "postcode" else None
    nxt = dialog.to("tie", hood_only=choice == "hood", postcodes=postcodes)
    return respond(_ask_tie(nxt), dialog=nxt)


def _ask_tie(dialog: Dialog) -> Reply:
    return Reply(
        key="budgets.ask_tie",
        buttons=[
            *([dialog.button(f"budgets.btn_tie_{rule.value}", rule.value)] for rule in TieRule),
            _stop(),
        ],
    )


@setup.step("tie")
async def tie_step(ctx: Context, dialog: Dialog) -> Response:
    if ctx.event.button is None or ctx.value not in set(TieRule):
        return respond(_ask_tie(dialog), dialog=dialog)
    nxt = dialog.to("preview", tie=ctx.value)
    return respond(*_preview(ctx, nxt), dialog=nxt)


def tie_text(ctx: Context, found: Round | None = None, rule: str = "") -> str:
    """The tie rule as the round states it (with the lot's seed once it is drawn)."""
    if found is not None:
        rule = found.tie_rule.value
        if found.tie_seed:
            return ctx.catalog.text(
                ctx.lang, "budgets.tie_lot_drawn", {"seed": found.tie_seed}, markup=False
            )
    return ctx.catalog.text(ctx.lang, f"budgets.tie_{rule}", {}, markup=False)


def who_text(ctx: Context, hood_only: bool, postcodes: list[PostcodeRange] | None) -> str:
    if postcodes is not None:
        params = {"ranges": ranges_text(postcodes)}
        return ctx.catalog.text(ctx.lang, "budgets.who_postcode", params, markup=False)
    who = "budgets.who_hood" if hood_only else "budgets.who_all"
    return ctx.catalog.text(ctx.lang, who, {}, markup=False)


def _preview(ctx: Context, dialog: Dialog) -> list[Reply]:
    data = dialog.data
    hoods = [
        Reply(
            key="budgets.preview_hood",
            params={"hood": _hood_name(ctx, hood), "amount": _euro(ctx, cents)},
        )
        for hood, cents in data["hoods"].items()
    ]
    projects = [
        Reply(
            key="budgets.preview_project",
            params={
                "title": p["title"],
                "cost": _euro(ctx, p["cost_cents"]),
                "text": p["description"],
                "hood": _hood_name(ctx, p.get("neighbourhood")),
                "photo": "📷" if p.get("photo_id") else "",
            },
        )
        for p in data["projects"]
    ]
    return [
        Reply(
            key="budgets.preview",
            params={
                "name": data["name"],
                "total": _euro(ctx, data["total"]),
                "opens": _shown(ctx, datetime.fromisoformat(data["opens"])),
                "closes": _shown(ctx, datetime.fromisoformat(data["closes"])),
                "who": who_text(ctx, bool(data["hood_only"]), _postcodes(data)),
                "tie": tie_text(ctx, rule=data.get("tie", TieRule.COST.value)),
            },
            parts=hoods + projects,
        ),
        Reply(
            key="budgets.preview_ask",
            buttons=[[dialog.button("budgets.btn_open", "open")], _stop()],
        ),
    ]


def _postcodes(data: dict[str, Any]) -> list[PostcodeRange] | None:
    ranges = data.get("postcodes")
    return None if ranges is None else [PostcodeRange.model_validate(r) for r in ranges]


def _hood_name(ctx: Context, hood_id: str | None) -> str:
    hood = ctx.profile.neighbourhood(hood_id)
    return hood.name(ctx.lang) if hood else ctx.profile.name(ctx.lang)


async def _sources_gone(ctx: Context, dialog: Dialog) -> Response | None:
    """The projects whose idea or proposal was hidden, removed or decided otherwise since
    the set-up named it, said and left out (its words do not go on a public ballot), with
    the preview again (or the projects question, with none left); None if all are there."""
    projects = dialog.data["projects"]
    kept = [p for p in projects if await _source_approved(ctx, p)]
    if len(kept) == len(projects):
        return None
    gone = [
        Reply(key="budgets.source_gone", params={"title": p["title"]})
        for p in projects
        if p not in kept
    ]
    if not kept:
        nxt = dialog.to("projects", projects=[])
        return respond(*gone, _ask_project(nxt), dialog=nxt)
    nxt = dialog.to("preview", projects=kept)
    return respond(*gone, *_preview(ctx, nxt), dialog=nxt)


async def _outdated(ctx: Context, dialog: Dialog) -> Response | None:
    """What in the preview no longer holds, said, with the question that mends it: a
    project whose idea or proposal went (left out), or a closing moment the preview waited
    past (a new one asked); None if it can be opened as it is."""
    gone = await _sources_gone(ctx, dialog)
    if gone is not None:
        return gone
    closes = datetime.fromisoformat(dialog.data["closes"])
    if closes <= ctx.now:
        nxt = dialog.to("closes")
        return respond(
            Reply(key="budgets.when_past", params={"when": _shown(ctx, closes)}),
            _ask_closes(),
            dialog=nxt,
        )
    return None


@setup.step("preview")
async def preview_step(ctx: Context, dialog: Dialog) -> Response:
    if ctx.event.button is None or ctx.value != "open":
        return respond(*_preview(ctx, dialog), dialog=dialog)
    outdated = await _outdated(ctx, dialog)
    if outdated is not None:
        return outdated
    data = dialog.data
    opens = datetime.fromisoformat(data["opens"])
    closes = datetime.fromisoformat(data["closes"])
    round_id = await ctx.repos.budgets.create(
        name=data["name"],
        total_cents=int(data["total"]),
        hood_budgets={k: int(v) for k, v in data["hoods"].items()},
        opens_at=opens,
        closes_at=closes,
        hood_only=bool(data["hood_only"]),
        projects=[NewProject.model_validate(p) for p in data["projects"]],
        now=ctx.now,
        postcodes=_postcodes(data),
        tie_rule=TieRule(data.get("tie", TieRule.COST.value)),
        author_user_id=ctx.user.id,
    )
    await ctx.repos.audit.record(
        "budget.create",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"budget:{round_id}",
        detail={
            "projects": len(data["projects"]),
            "total_cents": int(data["total"]),
            "tie_rule": data.get("tie", TieRule.COST.value),
            "postcodes": _postcodes(data) is not None,
        },
    )
    created = await ctx.repos.budgets.get(round_id)
    assert created is not None
    timers = [Timer(job=f"budget:{round_id}", at=created.next_moment(ctx.timezone))]
    if created.status is RoundStatus.OPEN:
        # Open at once: everyone who may vote is invited in this same transaction.
        invited = await invitations.invite(ctx.repos, ctx.catalog, ctx.timezone, created, ctx.now)
        await ctx.repos.audit.record(
            "budget.open",
            now=ctx.now,
            actor_user_id=ctx.user.id,
            subject=f"budget:{round_id}",
            detail={"invited": invited},
        )
        return respond(invitations.opened(created, invited, ctx.lang, ctx.timezone), timers=timers)
    return respond(
        Reply(
            key="budgets.scheduled",
            params={
                "name": created.name,
                "opens": _shown(ctx, created.opens_at),
                "closes": _shown(ctx, created.closes_at),
            },
            buttons=[[Button(label="budgets.btn_rounds", payload="bs")]],
        ),
        timers=timers,
    )


@feature.command(
    "rondes", translations={"en": "rounds"}, describe="budgets.cmd_rounds", role=Role.CONNECTOR
)
@feature.action("bs", role=Role.CONNECTOR)
async def rounds(ctx: Context) -> Response:
    """The latest rounds, each a button to its counts."""
    found = await ctx.repos.budgets.all()
    buttons = []
    for r in found:
        status = ctx.catalog.text(ctx.lang, f"budgets.status_{r.status.value}", {}, markup=False)
        # A long name is cut, not the status after it (a phone cuts a label's end off).
        name = paging.short(r.name, paging.LABEL - len(status) - len(" ()"))
        buttons.append(
            [
                Button(
                    label="budgets.btn_round",
                    payload=f"bs.show:{r.id}",
                    params={"name": name, "status": status},
                )
            ]
        )
    buttons.append([Button(label="budgets.btn_new", payload="bs.new")])
    return respond(Reply(key="budgets.rounds" if found else "budgets.no_rounds", buttons=buttons))


@feature.action("bs.show", role=Role.CONNECTOR)
async def show(ctx: Context) -> Response:
    """``bs.show:<round>``: votes per project (live while open), ballots, winners."""
    round_id = parse_id(ctx.value)
    found = await ctx.repos.budgets.get(round_id) if round_id else None
    if found is None:
        return respond(Reply(key="budgets.not_found"))
    return respond(await round_card(ctx, found))


async def round_card(ctx: Context, found: Round) -> Reply:
    """A round as staff see it: totals per project, never who voted for what."""
    projects = await ctx.repos.budgets.projects(found.id)
    if found.status is RoundStatus.CANCELLED:
        # It never opened: no counts, only what was planned (to set it up again from).
        return Reply(
            key="budgets.round_cancelled",
            params={
                "name": found.name,
                "total": _euro(ctx, found.total_cents),
                "opens": _shown(ctx, found.opens_at),
                "closes": _shown(ctx, found.closes_at),
            },
            parts=[
                Reply(
                    key="budgets.line",
                    params={"title": p.title, "cost": _euro(ctx, p.cost_cents)},
                )
                for p in projects
            ],
            buttons=[[Button(label="budgets.btn_rounds", payload="bs")]],
        )
    counts, confirmed, started = await ctx.repos.budgets.live_counts(found.id)
    closed = found.status is RoundStatus.CLOSED
    lines = []
    buttons = []
    for p in projects:
        votes = p.votes if closed and p.votes is not None else counts.get(p.id, 0)
        lines.append(
            Reply(
                key="budgets.count_winner" if p.winner else "budgets.count",
                params={"title": p.title, "cost": _euro(ctx, p.cost_cents), "votes": votes},
            )
        )
        if p.winner and p.experiment_id is None:
            buttons.append(
                [
                    Button(
                        label="budgets.btn_make_experiment",
                        payload=f"bs.exp:{p.id}",
                        params={"title": excerpt(p.title, 30)},
                    )
                ]
            )
    if closed and found.voters and not disclosure.votes_shown(ctx.profile, found.voters):
        # Staff see the counts, as they do a poll's; residents and the open data do not.
        lines.append(
            Reply(
                key="budgets.counts_not_public", params={"min": disclosure.threshold(ctx.profile)}
            )
        )
    buttons.append([Button(label="budgets.btn_rounds", payload="bs")])
    return Reply(
        key="budgets.round_closed" if closed else "budgets.round_live",
        params={
            "name": found.name,
            "total": _euro(ctx, found.total_cents),
            "spent": _euro(ctx, found.spent_cents or 0),
            "voters": found.voters if closed and found.voters is not None else confirmed,
            "started": started,
            "opens": _shown(ctx, found.opens_at),
            "closes": _shown(ctx, found.closes_at),
            "who": who_text(ctx, found.hood_only, found.postcodes),
            "tie": tie_text(ctx, found),
        },
        parts=lines,
        buttons=buttons,
    )


@feature.action("bs.exp", role=Role.CONNECTOR)
async def make_experiment(ctx: Context) -> Response:
    """``bs.exp:<project>``: a winner becomes an experiment; staff name it first."""
    project_id = parse_id(ctx.value)
    project = await ctx.repos.budgets.project(project_id) if project_id else None
    if project is None or not project.winner or project.experiment_id is not None:
        return respond(Reply(key="budgets.not_a_winner"))
    dialog = Dialog(name=NAMING, step="name", data={"project_id": project.id})
    return respond(_ask_experiment_name(project.title), dialog=dialog)


def _ask_experiment_name(title: str) -> Reply:
    return Reply(key="budgets.ask_experiment_name", params={"title": title}, buttons=[_stop()])


naming = feature.dialog(NAMING, role=Role.CONNECTOR, subject="drafts.subject.budget_experiment")


@naming.ask("name")
async def ask_experiment_name(ctx: Context, dialog: Dialog) -> Response:
    """The question again (a chat opened anew), while the project still waits for its
    experiment (another connector may have made it meanwhile)."""
    project = await ctx.repos.budgets.project(int(dialog.data["project_id"]))
    if project is None or not project.winner or project.experiment_id is not None:
        return respond(Reply(key="budgets.not_a_winner"), end_dialog=True)
    return respond(_ask_experiment_name(project.title), dialog=dialog)


@naming.step("name", expects=Expects.TEXT)
async def naming_step(ctx: Context, dialog: Dialog) -> Response:
    answer = read_text(ctx, MAX_TITLE, min_length=3)
    if isinstance(answer, Reply):
        return respond(answer, Reply(key="budgets.ask_experiment_name_again"), dialog=dialog)
    project = await ctx.repos.budgets.project(int(dialog.data["project_id"]))
    if project is None or not project.winner or project.experiment_id is not None:
        # Made meanwhile (by another connector): the name typed comes back, not lost.
        return respond(*given_back(ctx.event), Reply(key="budgets.not_a_winner"))
    # The experiment is made as a triage decision makes one (issue 10's naming step): the
    # title staff just gave it, the project's description (staff's words) as its summary.
    planned = Dialog(
        name=NAMING,
        step="done",
        data={
            "kind": "budget_project",
            "id": project.id,
            launch.TITLE: answer,
            launch.SUMMARY: project.description,
            "neighbourhood": project.neighbourhood,
        },
    )
    experiment = await launch.start(ctx, planned)
    experiment_id = experiment.id
    if project.idea_id is not None:
        await ctx.repos.experiments.link_idea(experiment_id, project.idea_id)
    await ctx.repos.budgets.link_experiment(project.id, experiment_id)
    found = await ctx.repos.budgets.get(project.round_id)
    assert found is not None
    return respond(
        Reply(key="budgets.experiment_made", params={"title": answer, "id": experiment_id}),
        await round_card(ctx, found),
    )
