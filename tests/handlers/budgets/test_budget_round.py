"""A budget round ("Velsen kiest") walked through the router: staff set it up, residents
vote, a restart in the middle, the reminder, the close, the winners and what follows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.admin.open_data import BUDGET_PROJECTS, BUDGET_ROUNDS, collect
from bot.app import App
from bot.settings import Settings
from handlers.budgets.schedule import advance
from handlers.contract import Timer
from handlers.profile import DEFAULT_PROFILE
from storage.budgets.rounds import RoundStatus
from storage.users import Role
from tests.people import (
    TimerLog,
    audit_actions,
    connector,
    for_user,
    outbox,
    person,
    row,
    subscribe,
    with_role,
)
from tests.support import Chat

#: Tuesday 1 December 2026, 11:00 in Velsen.
START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


async def _open(settings: Settings, clock: Clock) -> App:
    return await App.open(settings, clock=clock)


def payload(chat: Chat, prefix: str, title: str) -> str:
    """The payload of the button (``bv.add`` / ``bv.del``) for the project ``title``:
    beside its name on the ballot's page, or under its card."""
    for seen in chat.last:
        for buttons in seen.reply.buttons:
            if any(title in str(b.params.get("text", "")) for b in buttons):
                return next(b.payload for b in buttons if b.payload.startswith(prefix))
        if seen.key.startswith("budgets.card") and title in seen.text:
            return next(data for _, data in seen.buttons if data.startswith(prefix))
    raise AssertionError(f"no {prefix} button for {title!r}")


async def choices(app: App, chat: Chat) -> set[str]:
    user = await row(app, chat)
    rows = await app.db.fetchall(
        "SELECT p.title FROM budget_choices c JOIN budget_projects p ON p.id = c.project_id"
        " WHERE c.user_id = ?",
        (user.id,),
    )
    return {r[0] for r in rows}


async def votes(app: App, chat: Chat) -> set[str]:
    user = await row(app, chat)
    rows = await app.db.fetchall(
        "SELECT p.title FROM budget_votes v JOIN budget_projects p ON p.id = v.project_id"
        " WHERE v.user_id = ?",
        (user.id,),
    )
    return {r[0] for r in rows}


async def set_up_round(ria: Chat, closes: str = "11-12-2026 17:00") -> None:
    """Ria sets up a round of three projects, open now, for all residents, ties to the
    cheaper project."""
    await ria.send("/nieuweronde")
    assert ria.keys == ["budgets.ask_name"]
    await ria.send("Velsen kiest 2027")
    assert ria.keys == ["budgets.ask_total"]
    for bad in ("0", "-100", "heel veel"):
        await ria.send(bad)
        assert ria.keys == ["budgets.amount_invalid", "budgets.ask_total"]
    await ria.send("€\u00a010.000")
    assert ria.keys == ["budgets.ask_hoods"]
    await ria.press("Geen wijkbudgetten")
    assert ria.keys == ["budgets.ask_project"]
    await ria.send("Speeltuin | 6000 | Nieuwe toestellen in de speeltuin | IJmuiden")
    assert ria.keys == ["budgets.project_added", "budgets.ask_project"]
    await ria.photo()
    assert ria.keys == ["budgets.photo_added", "budgets.ask_project"]
    await ria.send("Bankjes | 3.000 | Bankjes langs het water")
    await ria.send("Moestuin | 3000 | Een moestuin bij de school")
    # Bad input changes nothing: a cost of 0 or below, a project twice, nonsense.
    for bad, key in (
        ("Gratis | 0 | Kost niets", "budgets.cost_invalid"),
        ("Schuld | -500 | Negatief", "budgets.cost_invalid"),
        ("Paleis | 20000 | Te duur", "budgets.cost_too_high"),
        ("bankjes | 1000 | Nog eens", "budgets.project_twice"),
        ("zomaar wat tekst", "budgets.project_invalid"),
        ("Brug | 100 | Over het kanaal | Atlantis", "budgets.hood_unknown"),
        ("#99 | 100 | Een idee dat er niet is", "budgets.source_unknown"),
    ):
        await ria.send(bad)
        assert ria.keys == [key, "budgets.ask_project"], bad
    assert "(3 tot nu toe)" in ria.text
    await ria.press("Klaar met projecten")
    assert ria.keys == ["budgets.ask_opens"]
    await ria.press("Nu")
    assert ria.keys == ["budgets.ask_closes"]
    await ria.send("30-11-2026 17:00")
    assert ria.keys == ["budgets.when_past", "budgets.ask_closes"]
    await ria.send(closes)
    assert ria.keys == ["budgets.ask_who"]
    await ria.press("Alle inwoners")
    assert ria.keys == ["budgets.ask_tie"]
    await ria.press("Goedkoopste project eerst")
    assert ria.keys == ["budgets.preview", "budgets.preview_ask"]
    assert "Speeltuin" in ria.text and "€\u00a06.000" in ria.text and "📷" in ria.text
    assert "goedkoopste project" in ria.text  # the tie rule is stated
    open_button = next(p for label, p in ria.buttons() if "Openen" in label)
    await ria.press_payload(open_button)
    assert ria.keys == ["budgets.opened"]
    # Pressing "Openen" again (a double tap, an old message) opens nothing twice.
    await ria.press_payload(open_button)
    assert ria.keys == ["general.stale_button"]
    assert len(await ria.app.repos.budgets.all()) == 1


def counts_from(settings: Settings, tmp_path: Path, threshold: int) -> Settings:
    """The settings of a municipality whose results show counts from ``threshold`` people on
    (Velsen: 5; see test_small_rounds for a round fewer voted in)."""
    profile = tmp_path / "profile.toml"
    text = DEFAULT_PROFILE.read_text(encoding="utf-8")
    assert text.count("suppression_threshold = 5") == 1
    profile.write_text(
        text.replace("suppression_threshold = 5", f"suppression_threshold = {threshold}"),
        encoding="utf-8",
    )
    return settings.model_copy(update={"profile": profile})


async def test_a_round_from_set_up_to_winners_experiments_and_open_data(
    settings: Settings, tmp_path: Path
) -> None:
    # Two voters, in a municipality that publishes counts from two people on.
    settings = counts_from(settings, tmp_path, 2)
    clock = Clock()
    app = await _open(settings, clock)
    timers = TimerLog(app)
    ria = await connector(app)
    anna = await person(app, "anna")
    bob = await person(app, "bob", hood="Velsen-Noord")
    cees = await person(app, "cees")
    dirk = await person(app, "dirk")
    await subscribe(dirk)

    await set_up_round(ria)
    [found] = await app.repos.budgets.all()
    assert found.status is RoundStatus.OPEN
    closes = datetime(2026, 12, 11, 16, 0, tzinfo=UTC)  # 17:00 in Velsen
    assert found.closes_at == closes
    assert Timer(job=f"budget:{found.id}", at=closes - timedelta(days=2)) in timers.armed

    # Anna: two projects fit, the third no longer does; adding one twice changes nothing.
    await anna.send("/stemmen")
    # The rules, then the ballot as one message: every project, its cost, a ➕ beside it.
    assert anna.keys == ["budgets.intro", "budgets.page_single"]
    assert "• Bankjes · €\u00a03.000" in anna.text and "Over: €\u00a010.000" in anna.text
    assert [label for label, _ in anna.buttons()].count("➕ Toevoegen") == 3
    add_speeltuin = payload(anna, "bv.add:", "Speeltuin")
    add_bankjes = payload(anna, "bv.add:", "Bankjes")
    add_moestuin = payload(anna, "bv.add:", "Moestuin")
    assert all(len(p.encode()) <= 64 for p in (add_speeltuin, add_bankjes, add_moestuin))
    await anna.press_payload(add_speeltuin)
    assert anna.keys == ["budgets.added"] and "Over: €\u00a04.000" in anna.text
    await anna.press_payload(add_bankjes)
    assert "Over: €\u00a01.000" in anna.text and "nog niet gestemd" in anna.text
    await anna.press_payload(add_moestuin)
    assert anna.keys == ["budgets.no_fit"]
    assert "kost €\u00a03.000" in anna.text and "nog €\u00a01.000 over" in anna.text
    await anna.press_payload(add_speeltuin)
    assert anna.keys == ["budgets.already_added"]
    assert await choices(app, anna) == {"Speeltuin", "Bankjes"}
    await anna.press("Bekijk mijn keuze")
    assert anna.keys == ["budgets.mine"] and "Speeltuin · €\u00a06.000" in anna.text
    await anna.press("Stem uitbrengen")
    assert (
        anna.keys == ["budgets.confirm"]
        and "samen €\u00a09.000" in anna.text
        and "Bankjes · €\u00a03.000" in anna.text
    )
    await anna.press("Ja, stem uitbrengen")
    assert anna.keys == ["budgets.voted"]
    assert await votes(app, anna) == {"Speeltuin", "Bankjes"}

    # Bob votes, then changes his mind: an old confirmation is stale, the new one counts.
    await bob.send("/stemmen")
    await bob.press_payload(add_bankjes)
    await bob.press_payload(add_moestuin)
    await bob.press("Stem uitbrengen")
    old_confirm = next(p for _, p in bob.buttons() if p.startswith("bv.ok:"))
    await bob.press("Ja, stem uitbrengen")
    assert await votes(app, bob) == {"Bankjes", "Moestuin"}
    await bob.press_payload(payload_for(add_moestuin, "bv.del:"))
    assert bob.keys == ["budgets.removed"] and "Stem opnieuw" in bob.text
    await bob.press_payload(add_speeltuin)
    await bob.press_payload(old_confirm)
    assert bob.keys == ["budgets.confirm_stale"]
    assert await votes(app, bob) == {"Bankjes", "Moestuin"}
    await bob.press("Stem uitbrengen")
    await bob.press("Ja, stem uitbrengen")
    assert bob.keys == ["budgets.voted_again"]
    assert await votes(app, bob) == {"Bankjes", "Speeltuin"}

    # Cees chooses one project and never confirms.
    await cees.send("/stemmen")
    await cees.press_payload(add_moestuin)
    assert await votes(app, cees) == set()

    # The connector sees live counts, never who voted for what.
    await ria.send("/rondes")
    await ria.press("Velsen kiest 2027")
    assert ria.keys == ["budgets.round_live"]
    assert "Speeltuin · €\u00a06.000 · stemmen: 2" in ria.text
    assert "Moestuin · €\u00a03.000 · stemmen: 0" in ria.text
    assert "Gestemd: 2. Begonnen maar nog niet gestemd: 1." in ria.text
    for someone in (anna, bob, cees):
        assert someone.name not in ria.text and someone.user_id not in ria.text

    # A restart in the middle of the ballot loses nothing.
    await app.close()
    app = await _open(settings, clock)
    anna, bob, cees, ria, dirk = (
        Chat(app, user_id=c.user_id, name=c.name) for c in (anna, bob, cees, ria, dirk)
    )
    assert await app.repos.budgets.pending(app.settings.zone) == [
        (found.id, closes - timedelta(days=2))
    ]
    await cees.send("/stemmen")
    assert "✅ Moestuin · €\u00a03.000" in cees.text and "Over: €\u00a07.000" in cees.text

    # Two days before closing: one reminder, to Cees only, and only once.
    clock.now = closes - timedelta(days=2)
    nxt = await advance(
        app.repos, app.catalog, app.profile, app.router.timezone, found.id, clock.now
    )
    assert nxt == Timer(job=f"budget:{found.id}", at=closes)
    await advance(app.repos, app.catalog, app.profile, app.router.timezone, found.id, clock.now)
    reminders = await outbox(app, "budget_reminder")
    assert [q.user_id for q in reminders] == [(await row(app, cees)).id]
    text = reminders[0].text(app, "nl")
    assert "Je hebt 1 project gekozen" in text and "tot vrijdag 17:00" in text
    assert reminders[0].payloads() == [f"bv.round:{found.id}"]

    # Closing: winners by votes while they fit; the tie (2 votes each) goes to the cheaper.
    clock.now = closes
    assert (
        await advance(app.repos, app.catalog, app.profile, app.router.timezone, found.id, closes)
        is None
    )
    projects = {p.title: p for p in await app.repos.budgets.projects(found.id)}
    assert {t: (p.votes, p.winner) for t, p in projects.items()} == {
        "Speeltuin": (2, True),
        "Bankjes": (2, True),
        "Moestuin": (0, False),
    }
    closed = await app.repos.budgets.get(found.id)
    assert closed is not None and (closed.voters, closed.spent_cents) == (2, 900_000)
    results = await outbox(app, "budget_result")
    told = {q.user_id for q in results}
    assert told == {(await row(app, c)).id for c in (anna, bob, dirk)}
    text = results[0].text(app, "nl")
    assert "Aantal stemmers: 2" in text and "€\u00a09.000 van €\u00a010.000" in text
    assert text.index("Bankjes") < text.index("Speeltuin") < text.index("Moestuin")
    assert "Gemeente Velsen gaat ermee aan de slag." in text and "gemeente Gemeente" not in text
    # Ria set the round up: she hears it closed, with the way to the result.
    [note] = await outbox(app, "budget_closed")
    assert note.user_id == (await row(app, ria)).id
    assert "Aantal stemmers: 2. Gekozen projecten: 2." in note.text(app, "nl")
    assert note.payloads() == [f"bs.show:{found.id}"]

    # After closing nothing changes: no vote, no change, no second close.
    await anna.press_payload(payload_for(add_speeltuin, "bv.del:"))
    assert anna.keys == ["budgets.closed"]
    await cees.press_payload(add_bankjes)
    assert cees.keys == ["budgets.closed"]
    await anna.send("/stemmen")
    assert anna.keys == ["budgets.none_open"]
    assert await votes(app, anna) == {"Speeltuin", "Bankjes"}
    assert await choices(app, cees) == {"Moestuin"}

    # Staff name the winners' experiments.
    await ria.send("/rondes")
    await ria.press("Velsen kiest 2027")
    assert ria.keys == ["budgets.round_closed"] and "🏆 Bankjes" in ria.text
    await ria.press("Maak experiment: Bankjes")
    assert ria.keys == ["budgets.ask_experiment_name"]
    await ria.send("Bankjes aan het water")
    assert ria.keys == ["budgets.experiment_made", "budgets.round_closed"]
    experiment_id = (await app.repos.budgets.project(projects["Bankjes"].id)).experiment_id  # type: ignore[union-attr]
    assert experiment_id is not None
    experiment = await app.repos.experiments.get(experiment_id)
    assert experiment is not None and experiment.title.nl == "Bankjes aan het water"
    assert experiment.status == "running"
    assert ria.buttons()[0][0].startswith("🧪 Maak experiment: Speeltuin")
    await ria.press_payload(f"bs.exp:{projects['Bankjes'].id}")
    assert ria.keys == ["budgets.not_a_winner"]
    await ria.press_payload(f"bs.exp:{projects['Moestuin'].id}")
    assert ria.keys == ["budgets.not_a_winner"]
    actions = await audit_actions(app)
    assert actions.count("budget.create") == 1 and "budget.close" in actions
    # The audit log (exported to staff) holds no vote: no voter acts or is a subject there.
    voter_ids = {(await row(app, c)).id for c in (anna, bob, cees)}
    logged = await app.db.fetchall(
        "SELECT actor_user_id, subject FROM audit_log WHERE action LIKE 'budget.%'"
    )
    assert logged and all(r[0] not in voter_ids for r in logged)
    assert {r[1] for r in logged} == {f"budget:{found.id}"}
    assert "experiment.create" in actions

    # Open data: rounds, projects, costs, totals and winners; nobody's vote.
    tables = await collect(app)
    [published] = tables[BUDGET_ROUNDS.name]
    assert (published["voters"], published["spent_cents"]) == (2, 900_000)
    rows = {r["title"]: r for r in tables[BUDGET_PROJECTS.name]}
    assert (rows["Bankjes"]["votes"], rows["Bankjes"]["winner"]) == (2, 1)
    assert rows["Bankjes"]["experiment"] == experiment_id
    dumped = json.dumps(tables, default=str)
    for someone in (anna, bob, cees):
        assert someone.user_id not in dumped and someone.name not in dumped

    # /mijngegevens holds one's own ballot; /vergeetmij removes it, the totals stay.
    await anna.send("/mijngegevens")
    data = exported(anna)
    assert {r["project"] for r in data["sections"]["budget_votes"]["rows"]} == {
        "Speeltuin",
        "Bankjes",
    }
    await anna.send("/vergeetmij")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]
    left = await app.db.fetchval(
        "SELECT COUNT(*) FROM budget_votes WHERE round_id = ?", (found.id,)
    )
    assert left == 2  # Bob's two
    assert {p.title: p.votes for p in await app.repos.budgets.projects(found.id)}["Bankjes"] == 2
    await app.close()


def payload_for(add: str, prefix: str) -> str:
    """The same project's other button (``bv.add:1:2`` → ``bv.del:1:2``)."""
    return prefix + add.split(":", 1)[1]


def exported(chat: Chat) -> dict[str, Any]:
    [document] = [seen.reply.document for seen in chat.last if seen.reply.document]
    assert document is not None
    loaded: dict[str, Any] = json.loads(document.data)
    return loaded


#: How Velsen's profile names its budget rounds.
VELSEN_KIEST = 'name = { nl = "Velsen kiest", en = "Velsen decides" }'


async def menu_labels(chat: Chat) -> list[str]:
    await chat.send("/menu")
    return [label for label, _ in chat.buttons()]


def asked_name(ria: Chat) -> str:
    """What the first question of a new round said (set_up_round answers it at once)."""
    [asked] = [seen for answer in ria.history for seen in answer if seen.key == "budgets.ask_name"]
    return asked.text


async def test_in_velsen_budget_rounds_are_called_velsen_kiest(app: App) -> None:
    anna = await person(app, "anna")
    assert "🗳️ Velsen kiest" in await menu_labels(anna)
    emma = await person(app, "emma", language="English")
    assert "🗳️ Velsen decides" in await menu_labels(emma)
    ria = await connector(app)
    await ria.send("/nieuweronde")
    assert "Bijvoorbeeld: Velsen kiest 2027." in asked_name(ria)


async def test_another_municipality_names_its_budget_rounds_in_its_profile(
    settings: Settings, tmp_path: Path
) -> None:
    text = DEFAULT_PROFILE.read_text()
    assert text.count(VELSEN_KIEST) == 1
    profile = tmp_path / "elders.toml"
    profile.write_text(
        text.replace(VELSEN_KIEST, 'name = { nl = "Haarlem beslist", en = "Haarlem chooses" }')
    )
    app = await _open(settings.model_copy(update={"profile": profile}), Clock())
    try:
        anna = await person(app, "anna")
        emma = await person(app, "emma", language="English")
        # Not written in Turkish: the Dutch name, as with the name of polls.
        ayse = await person(app, "ayse", language="Türkçe")
        assert "🗳️ Haarlem beslist" in await menu_labels(anna)
        assert "🗳️ Haarlem chooses" in await menu_labels(emma)
        assert "🗳️ Haarlem beslist" in await menu_labels(ayse)
        for chat in (anna, emma, ayse):
            seen = " ".join(s.text + " ".join(s.labels()) for a in chat.history for s in a)
            assert "Velsen kiest" not in seen and "Velsen decides" not in seen
        ria = await connector(app)
        await set_up_round(ria)  # a round its staff call "Velsen kiest 2027" after all
        assert "Bijvoorbeeld: Haarlem beslist 2027." in asked_name(ria)
        # The menu's button opens the round.
        await anna.send("/menu")
        await anna.press("Haarlem beslist")
        assert anna.keys[0] == "budgets.intro"
    finally:
        await app.close()


async def test_a_profile_that_does_not_name_budget_rounds_calls_them_burgerbegroting(
    settings: Settings, tmp_path: Path
) -> None:
    text = DEFAULT_PROFILE.read_text()
    profile = tmp_path / "elders.toml"
    profile.write_text(text.replace(f"[budgets]\n{VELSEN_KIEST}\n", ""))
    app = await _open(settings.model_copy(update={"profile": profile}), Clock())
    try:
        assert "🗳️ Burgerbegroting" in await menu_labels(await person(app, "anna"))
        emma = await person(app, "emma", language="English")
        assert "🗳️ Participatory budget" in await menu_labels(emma)
    finally:
        await app.close()


async def test_a_round_nobody_voted_in_says_so_to_subscribers_and_to_its_organiser(
    settings: Settings,
) -> None:
    clock = Clock()
    app = await _open(settings, clock)
    try:
        ria = await connector(app)
        dirk = await person(app, "dirk")
        emma = await person(app, "emma", language="English")
        await subscribe(dirk)
        await emma.send("/wistjedat")
        await emma.press("Subscribe")
        assert emma.keys == ["news.subscribed"]
        await set_up_round(ria)
        [found] = await app.repos.budgets.all()
        # Someone chose a project but never voted: that is no vote.
        cees = await person(app, "cees")
        await cees.send("/stemmen")
        await cees.press_payload(payload(cees, "bv.add:", "Moestuin"))

        clock.now = found.closes_at
        args = (app.repos, app.catalog, app.profile, app.router.timezone, found.id)
        assert await advance(*args, clock.now) is None
        closed = await app.repos.budgets.get(found.id)
        assert closed is not None and (closed.voters, closed.spent_cents) == (0, 0)

        results = {q.user_id: q for q in await outbox(app, "budget_result")}
        assert set(results) == {(await row(app, c)).id for c in (dirk, emma)}
        dutch = results[(await row(app, dirk)).id]
        assert [r.key for r in dutch.replies] == ["budgets.result_no_votes"]
        text = dutch.text(app, "nl")
        assert "Niemand heeft gestemd. Daarom is er geen project gekozen." in text
        assert "(€\u00a010.000) is niet verdeeld" in text
        for wrong in ("Aantal stemmers: 0", "Gekozen projecten: 0", "aan de slag"):
            assert wrong not in text
        english = results[(await row(app, emma)).id].text(app, "en")
        assert "Nobody voted. So no project was chosen." in english
        assert "(€\u00a010,000)" in english or "(€10,000)" in english

        # Ria, who set it up, hears it too, and sees the round's closed card.
        [note] = await outbox(app, "budget_closed")
        assert note.user_id == (await row(app, ria)).id
        assert note.replies[0].key == "budgets.closed_staff_no_votes"
        assert "Niemand heeft gestemd" in note.text(app, "nl")
        await ria.press_payload(note.payloads()[0])
        assert ria.keys == ["budgets.round_closed"] and "Aantal stemmers: 0" in ria.text
    finally:
        await app.close()


async def test_a_round_whose_organiser_is_no_longer_a_connector_is_told_to_the_connectors(
    settings: Settings,
) -> None:
    clock = Clock()
    app = await _open(settings, clock)
    try:
        ria = await connector(app)
        await set_up_round(ria)
        [found] = await app.repos.budgets.all()
        # Ria stopped being a connector while the round ran; Kim is one now.
        await with_role(app, ria, Role.RESIDENT)
        kim = await connector(app, "kim")
        clock.now = found.closes_at
        args = (app.repos, app.catalog, app.profile, app.router.timezone, found.id)
        await advance(*args, clock.now)
        [note] = await outbox(app, "budget_closed")
        assert note.user_id == (await row(app, kim)).id
        await kim.press_payload(note.payloads()[0])
        assert kim.keys == ["budgets.round_closed"]
    finally:
        await app.close()


async def test_the_result_names_the_municipality_once_in_every_language(
    settings: Settings, tmp_path: Path
) -> None:
    text = DEFAULT_PROFILE.read_text()
    velsen = 'name = { nl = "Gemeente Velsen", en = "Municipality of Velsen" }'
    assert text.count(velsen) == 1
    profile = tmp_path / "elders.toml"
    profile.write_text(
        text.replace(velsen, 'name = { nl = "Gemeente Haarlem", en = "Municipality of Haarlem" }')
    )
    clock = Clock()
    app = await _open(settings.model_copy(update={"profile": profile}), clock)
    try:
        ria = await connector(app)
        await set_up_round(ria)
        [found] = await app.repos.budgets.all()
        # One voter reading each language (the result is written in each reader's).
        languages = {
            "nl": "Nederlands",
            "en": "English",
            "pl": "Polski",
            "tr": "Türkçe",
            "uk": "Українська",
            "ar": "العربية",
        }
        voters = {
            lang: await person(app, f"voter-{lang}", language=label)
            for lang, label in languages.items()
        }
        for chat in voters.values():
            await chat.send("/stemmen")
            await chat.press_payload(payload(chat, "bv.add:", "Bankjes"))
            await chat.press_payload(next(p for _, p in chat.buttons() if p.startswith("bv.vote")))
            await chat.press_payload(next(p for _, p in chat.buttons() if p.startswith("bv.ok:")))
        assert (await app.repos.budgets.live_counts(found.id))[1] == len(languages)
        clock.now = found.closes_at
        args = (app.repos, app.catalog, app.profile, app.router.timezone, found.id)
        await advance(*args, clock.now)
        results = {q.user_id: q for q in await outbox(app, "budget_result")}
        read = {
            lang: results[(await row(app, chat)).id].text(app, lang)
            for lang, chat in voters.items()
        }
        assert "Gemeente Haarlem gaat ermee aan de slag." in read["nl"]
        assert "The Municipality of Haarlem gets to work on them." in read["en"]
        for lang, shown in read.items():
            assert shown.count("Haarlem") == 1, (lang, shown)
            for doubled in ("gemeente Gemeente", "of Municipality", "Gmina Gemeente"):
                assert doubled not in shown, (lang, shown)
            assert "Муніципалітет Gemeente" not in shown and "بلدية Gemeente" not in shown
    finally:
        await app.close()


async def test_on_matrix_numbers_typed_while_setting_up_a_round_are_the_answers(
    app: App,
) -> None:
    """Matrix numbers the options ("Stoppen", "Geen wijkbudgetten", "Nu"): a number typed
    for the name, the budget, the projects or the moments is that answer, never an option."""
    ria = await with_role(app, await person(app, "ria", platform="matrix"), Role.CONNECTOR)
    await ria.send("/nieuweronde")
    await ria.send("1")  # too short a name: asked again, not stopped
    assert ria.keys[-1] == "budgets.ask_name", ria.keys
    await ria.send("2027")
    assert ria.keys == ["budgets.ask_total"]
    await ria.send("1")  # one euro: a budget, not "Stoppen"
    assert ria.keys == ["budgets.ask_hoods"], ria.keys
    await ria.send("1")  # not a neighbourhood's budget, not "Geen wijkbudgetten"
    assert ria.keys == ["budgets.hood_invalid", "budgets.ask_hoods"], ria.keys
    await ria.press("Geen wijkbudgetten")
    await ria.send("Bankje | 1 | Een bankje bij de haven")
    assert ria.keys == ["budgets.project_added", "budgets.ask_project"]
    await ria.send("1")  # not "Klaar met projecten"
    assert ria.keys == ["budgets.project_invalid", "budgets.ask_project"], ria.keys
    await ria.press("Klaar met projecten")
    await ria.send("1")  # not "Nu"
    assert ria.keys == ["budgets.when_invalid", "budgets.ask_opens"], ria.keys
    await ria.press("Nu")
    await ria.send("2")  # not "Stoppen"
    assert ria.keys == ["budgets.when_invalid", "budgets.ask_closes"], ria.keys
    assert await app.repos.budgets.all() == []


async def test_a_rounds_dutch_words_come_with_the_note_once_for_a_reader_in_another_language(
    settings: Settings,
) -> None:
    """The round's name and its projects are staff's Dutch: a reader in another language is
    told so once a message (the ballot once, not under every card), a Dutch reader never."""
    clock = Clock()
    app = await _open(settings, clock)
    try:
        ria = await connector(app)
        emma = await person(app, "emma", language="English")
        dirk = await person(app, "dirk")
        await set_up_round(ria)
        [found] = await app.repos.budgets.all()
        note = app.catalog.text("en", "languages.as_written", {}, markup=False)
        dutch_note = app.catalog.text("nl", "languages.as_written", {}, markup=False)

        [invited] = await for_user(app, emma, "budget_invitation")
        assert "Velsen kiest 2027" in invited.text(app, "en")
        assert invited.text(app, "en").endswith(note)
        [invited] = await for_user(app, dirk, "budget_invitation")
        assert dutch_note not in invited.text(app, "nl")

        await emma.send("/stemmen")
        assert "Speeltuin" in emma.text  # as Ria wrote it
        assert emma.text.count(note) == 1
        assert emma.last[0].key == "budgets.intro" and emma.last[0].text.endswith(note)
        # A project's card, with its description, is a message of its own: the note too.
        await emma.press_payload(next(p for label, p in emma.buttons() if "Speeltuin" in label))
        card = emma.last[-1]
        assert "Nieuwe toestellen in de speeltuin" in card.text and card.text.endswith(note)
        await emma.send("/stemmen")
        await emma.press_payload(payload(emma, "bv.add:", "Bankjes"))
        await emma.press_payload(f"bv.mine:{found.id}")
        assert "Bankjes" in emma.text and emma.text.count(note) == 1
        await emma.press_payload(f"bv.vote:{found.id}")
        assert emma.keys == ["budgets.confirm"] and emma.text.endswith(note)
        await emma.press_payload(next(p for _, p in emma.buttons() if p.startswith("bv.ok:")))

        await dirk.send("/stemmen")
        assert "Speeltuin" in dirk.text and dutch_note not in dirk.text
        await dirk.press_payload(payload(dirk, "bv.add:", "Moestuin"))
        await dirk.press_payload(f"bv.mine:{found.id}")
        assert "Moestuin" in dirk.text and dutch_note not in dirk.text

        clock.now = found.closes_at
        args = (app.repos, app.catalog, app.profile, app.router.timezone, found.id)
        await advance(*args, clock.now)
        [result] = await for_user(app, emma, "budget_result")
        shown = result.text(app, "en")
        assert "Bankjes" in shown and shown.count(note) == 1 and shown.endswith(note)
    finally:
        await app.close()


async def test_the_name_typed_after_the_command_is_kept(app: App) -> None:
    """/nieuweronde Velsen kiest 2027: the total is asked next; a name too short is shown
    back with the reason, and the name is asked."""
    ria = await connector(app)
    await ria.send("/nieuweronde Velsen kiest 2027")
    assert ria.keys == ["budgets.ask_total"]
    await ria.send("/annuleer")
    await ria.send("/newround VK")
    assert ria.keys == ["general.typed_not_kept", "answers.too_short", "budgets.ask_name"]
    await ria.send("Velsen kiest 2027")
    assert ria.keys == ["budgets.ask_total"]


async def test_a_neighbourhood_named_in_the_connectors_language_is_read_as_shown(
    settings: Settings, tmp_path: Path
) -> None:
    """A profile may name a neighbourhood in Ukrainian: a connector who reads Ukrainian is
    shown that name as the example, and the name typed back (for a neighbourhood's budget
    or a project's neighbourhood) is read as that neighbourhood."""
    text = DEFAULT_PROFILE.read_text()
    ijmuiden = 'name = { nl = "IJmuiden", en = "IJmuiden" }'
    assert text.count(ijmuiden) == 1
    profile = tmp_path / "elders.toml"
    profile.write_text(
        text.replace(ijmuiden, 'name = { nl = "IJmuiden", en = "IJmuiden", uk = "Еймейден" }')
    )
    app = await _open(settings.model_copy(update={"profile": profile}), Clock())
    try:
        olena = await person(app, "olena", language="Українська", hood="Еймейден")
        await with_role(app, olena, Role.CONNECTOR)
        await olena.send("/nieuweronde")
        await olena.send("Velsen kiest 2027")
        await olena.send("10.000")
        assert olena.keys == ["budgets.ask_hoods"]
        assert "Еймейден" in olena.text
        await olena.send("еймейден 4.000")
        assert olena.keys == ["budgets.ask_project"], olena.text
        await olena.send("Speeltuin | 3000 | Nieuwe toestellen | Еймейден")
        assert olena.keys == ["budgets.project_added", "budgets.ask_project"], olena.text
    finally:
        await app.close()


async def test_a_project_title_typed_over_several_lines_is_one_line(app: App) -> None:
    """Its title shows on a line of the ballot, a button and the result: typed over two
    lines, or with a direction override in it, it is kept as the one line it reads as."""
    ria = await connector(app)
    await ria.send("/nieuweronde")
    await ria.send("Velsen kiest 2027")
    await ria.send("10.000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("Nieuwe\nspeeltuin | 6000 | Toestellen\nvoor kleine kinderen")
    assert ria.keys == ["budgets.project_added", "budgets.ask_project"]
    await ria.send("Bank\u202ejes | 3000 | Langs het water")
    assert ria.keys == ["budgets.project_added", "budgets.ask_project"]
    await ria.press("Klaar met projecten")
    await ria.press("Nu")
    await ria.send("11-12-2026 17:00")
    await ria.press("Alle inwoners")
    await ria.press("Goedkoopste project eerst")
    await ria.press("Openen")
    assert ria.keys == ["budgets.opened"]
    [found] = await app.repos.budgets.all()
    projects = await app.repos.budgets.projects(found.id)
    assert [(p.title, p.description) for p in projects] == [
        ("Nieuwe speeltuin", "Toestellen\nvoor kleine kinderen"),
        ("Bankjes", "Langs het water"),
    ]
