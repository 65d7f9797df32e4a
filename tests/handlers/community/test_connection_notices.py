"""What the people around a request to connect two residents read: the two residents see
until when they can answer, and the notices about how it ended reach a connector who is
one now, not someone whose role was taken away since."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app import App
from tests.handlers.ideas.helpers import seed_idea
from tests.people import connector, for_user, person, row
from tests.support import Chat


async def _two_with_ideas(app: App, *, bob_language: str = "Nederlands") -> tuple[Chat, Chat]:
    """Anna wrote idea #1, Bob idea #2; they look alike."""
    anna = await person(app, "anna")
    bob = await person(app, "bob", language=bob_language)
    for who, title in ((anna, "Bankjes in het park"), (bob, "Bankjes bij de vijver")):
        await seed_idea(
            app,
            title,
            author=(await row(app, who)).id,
            description="Zet bankjes bij de vijver in het park neer.",
        )
    return anna, bob


async def test_the_question_says_until_when_each_can_answer_in_their_own_language(
    app: App,
) -> None:
    anna, bob = await _two_with_ideas(app, bob_language="English")
    ria = await connector(app)
    # Asked on a winter evening (19:13 UTC is 20:13 in Velsen); 14 days to answer.
    app.router.clock = lambda: datetime(2026, 12, 5, 19, 13, tzinfo=UTC)
    await ria.send("/verbind #1 #2")
    assert ria.keys == ["connect.asked"]

    [to_anna] = await for_user(app, anna, "connect")
    assert "Antwoorden kan tot 19 dec 2026, 20:13." in to_anna.text(app, "nl")
    [to_bob] = await for_user(app, bob, "connect")
    assert "You can answer until 19 Dec 2026, 20:13." in to_bob.text(app, "en")


async def test_the_deadline_is_the_local_time_across_the_change_to_summer_time(
    app: App,
) -> None:
    anna, _bob = await _two_with_ideas(app)
    ria = await connector(app)
    # 12:00 UTC is 13:00 in March before the clocks go forward, 14:00 after.
    app.router.clock = lambda: datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
    await ria.send("/verbind #1 #2")
    [to_anna] = await for_user(app, anna, "connect")
    assert "Antwoorden kan tot 3 apr 2027, 14:00." in to_anna.text(app, "nl")
