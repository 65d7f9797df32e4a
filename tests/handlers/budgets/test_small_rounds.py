"""A round too few residents voted in publishes its winners but not its votes: with one or two
voters, the votes per project would tell anyone who knows someone voted what they chose.
The consultations' small-groups rule (README, "Small groups in results") decides, with the
profile's threshold (5 in Velsen; test_budget_round's journey runs with 2, so its two
voters' counts are shown); a count of 1 among enough voters is shown."""

from __future__ import annotations

from bot.admin.open_data import BUDGET_PROJECTS, BUDGET_ROUNDS, collect
from bot.app import App
from bot.settings import Settings
from tests.consultations import Jobs
from tests.handlers.budgets.test_budget_round import Clock, payload, set_up_round
from tests.people import connector, outbox, person, row, subscribe
from tests.support import Chat

LANGUAGES = {
    "nl": "Nederlands",
    "en": "English",
    "pl": "Polski",
    "tr": "Türkçe",
    "uk": "Українська",
    "ar": "العربية",
}


async def vote(chat: Chat, *titles: str) -> None:
    """Choose ``titles`` on the ballot with the buttons and confirm."""
    await chat.send("/stemmen")
    adds = [payload(chat, "bv.add:", title) for title in titles]
    for add in adds:
        await chat.press_payload(add)
    await chat.press("Stem uitbrengen")
    await chat.press("Ja, stem uitbrengen")
    assert chat.keys == ["budgets.voted"]


async def close_by_its_job(app: App, clock: Clock) -> int:
    """Move the clock to the round's closing and run its job as the runtime does."""
    [found] = await app.repos.budgets.all()
    clock.now = found.closes_at
    await Jobs.of(app).runtime.scheduler.kinds["budget"].runner(str(found.id))
    return found.id


async def test_two_voters_learn_which_projects_won_but_not_the_votes_and_neither_does_anyone(
    settings: Settings,
) -> None:
    clock = Clock()
    app = await App.open(settings, clock=clock)
    try:
        ria = await connector(app)
        await set_up_round(ria)
        anna = await person(app, "anna")
        bob = await person(app, "bob", hood="Velsen-Noord")
        dirk = await person(app, "dirk")
        await subscribe(dirk)
        readers = {
            lang: await person(app, f"reader-{lang}", language=label)
            for lang, label in LANGUAGES.items()
            if lang != "nl"
        }
        for reader in readers.values():
            await reader.send("/wistjedat")
            await reader.press_payload(next(p for _, p in reader.buttons() if p == "news.sub"))
            assert reader.keys == ["news.subscribed"]
        await vote(anna, "Speeltuin", "Bankjes")
        await vote(bob, "Bankjes")

        round_id = await close_by_its_job(app, clock)
        # Counted as always: Bankjes 2 votes, Speeltuin 1 (and it still fits), Moestuin none.
        projects = {p.title: p for p in await app.repos.budgets.projects(round_id)}
        assert {t: (p.votes, p.winner) for t, p in projects.items()} == {
            "Speeltuin": (1, True),
            "Bankjes": (2, True),
            "Moestuin": (0, False),
        }

        results = {q.user_id: q for q in await outbox(app, "budget_result")}
        assert set(results) == {
            (await row(app, c)).id for c in (anna, bob, dirk, *readers.values())
        }
        for chat in (anna, bob, dirk):
            queued = results[(await row(app, chat)).id]
            assert [r.key for r in queued.replies] == ["budgets.result_few"]
            text = queued.text(app, "nl")
            assert "Er hebben minder dan 5 mensen gestemd." in text
            assert "Daarom laten we niet zien hoeveel stemmen elk project kreeg." in text
            assert "Gekozen projecten: 2, samen €\u00a09.000 van €\u00a010.000." in text
            assert "🏆 Speeltuin · €\u00a06.000" in text and "🏆 Bankjes · €\u00a03.000" in text
            assert "• Moestuin · €\u00a03.000" in text
            assert "stemmen:" not in text and "Aantal stemmers" not in text
            # The winners as on the ballot: an order by votes would give Bankjes's 2 away.
            assert text.index("Speeltuin") < text.index("Bankjes") < text.index("Moestuin")
        for lang, reader in readers.items():
            text = results[(await row(app, reader)).id].text(app, lang)
            text = text.replace("\u2068", "").replace("\u2069", "")  # Arabic's isolates
            assert "5" in text and "{" not in text, (lang, text)
            assert "🏆 Speeltuin" in text and "🏆 Bankjes" in text, (lang, text)
        english = results[(await row(app, readers["en"])).id].text(app, "en")
        assert "Fewer than 5 people voted. So we do not show how many votes" in english
        assert "votes:" not in english and "Voters:" not in english

        # The open data: the winners and what they cost; no votes, not even how many voted.
        tables = await collect(app)
        [published] = tables[BUDGET_ROUNDS.name]
        assert (published["voters"], published["spent_cents"]) == (None, 900_000)
        rows = {r["title"]: r for r in tables[BUDGET_PROJECTS.name]}
        assert {t: (r["votes"], r["winner"]) for t, r in rows.items()} == {
            "Speeltuin": (None, 1),
            "Bankjes": (None, 1),
            "Moestuin": (None, 0),
        }

        # Staff see the counts, as they do a poll's, and are told residents do not.
        await ria.send("/rondes")
        await ria.press("Velsen kiest 2027")
        assert ria.keys == ["budgets.round_closed"]
        assert "Bankjes · €\u00a03.000 · stemmen: 2" in ria.text
        assert "Aantal stemmers: 2" in ria.text
        assert "Inwoners en de open data zien daarom alleen welke projecten gekozen zijn" in (
            ria.text
        )
    finally:
        await app.close()


async def test_a_count_of_one_is_published_when_enough_residents_voted(
    settings: Settings,
) -> None:
    clock = Clock()
    app = await App.open(settings, clock=clock)
    try:
        ria = await connector(app)
        await set_up_round(ria)
        voters = [await person(app, f"voter-{n}") for n in range(5)]
        for chat in voters[:4]:
            await vote(chat, "Bankjes")
        await vote(voters[4], "Bankjes", "Moestuin")

        await close_by_its_job(app, clock)
        # Five voters: everyone's Bankjes and one Moestuin do not say whose ballot is whose.
        [result, *_] = await outbox(app, "budget_result")
        assert [r.key for r in result.replies] == ["budgets.result"]
        text = result.text(app, "nl")
        assert "Aantal stemmers: 5." in text
        assert "🏆 Bankjes · €\u00a03.000 · stemmen: 5" in text
        assert "🏆 Moestuin · €\u00a03.000 · stemmen: 1" in text
        assert "• Speeltuin · €\u00a06.000 · stemmen: 0" in text
        assert "minder dan" not in text

        tables = await collect(app)
        assert tables[BUDGET_ROUNDS.name][0]["voters"] == 5
        rows = {r["title"]: r for r in tables[BUDGET_PROJECTS.name]}
        assert {t: r["votes"] for t, r in rows.items()} == {
            "Speeltuin": 0,
            "Bankjes": 5,
            "Moestuin": 1,
        }
        await ria.send("/rondes")
        await ria.press("Velsen kiest 2027")
        assert "stemmen: 5" in ria.text and "Inwoners en de open data" not in ria.text
    finally:
        await app.close()
