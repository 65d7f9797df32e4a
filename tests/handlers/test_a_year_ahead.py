"""One rule for "more than a year ahead" wherever staff type a moment: a meeting's start, a
broadcast's sending time, a poll's opening, closing and moved closing, a budget round's
opening.

A moment may be up to the same date next year in Velsen, at any time of that day; the day
after is too far. A year from the 29th of February ends on the 28th. The rule is the same
whatever the clocks did in between (here a year always crosses both changes of 2027).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from bot.app import App
from bot.settings import Settings
from tests.consultations import Clock, compose_poll, last_consultation
from tests.meetings import ZONE
from tests.people import civil_servant, connector, person, subscribe
from tests.support import Chat


def _local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZONE)  # type: ignore[misc]


async def _meeting(app: App) -> Chat:
    ria = await civil_servant(app)
    await ria.send("/nieuwebijeenkomst")
    await ria.send("Buurtavond")
    await ria.send("Praat mee over de buurt.")
    await ria.press("Op een adres")
    await ria.send("Dorpsstraat 1")
    await ria.press("Niet in één wijk")
    await ria.press("Geen kaart")
    assert ria.keys == ["meetings.ask_starts"], ria.keys
    return ria


async def _broadcast(app: App) -> Chat:
    await subscribe(await person(app, "anna"))
    ria = await civil_servant(app)
    await ria.send("/nieuwbericht")
    await ria.send("Wist je dat we 12 nieuwe bankjes plaatsen?")
    await ria.press("Zonder foto")
    await ria.press("Alle abonnees")
    await ria.press("Inplannen")
    assert ria.keys == ["composer.ask_when"], ria.keys
    return ria


async def _poll(app: App) -> Chat:
    ria = await civil_servant(app)
    await ria.send("/nieuwepeiling")
    await ria.send("Nieuwe speelplek Zeewijk")
    await ria.send("Wat vind jij belangrijk?")
    await ria.press("Eén keuze")
    await ria.send("Wat moet er zeker komen?")
    await ria.send("Schommel\nKlimrek")
    await ria.press("Klaar met de vragen")
    await ria.send("We laten je weten wat er gekozen is.")
    await ria.press("Iedereen")
    await ria.press("Later")
    assert ria.keys == ["consultations.ask_opens"], ria.keys
    return ria


async def _moved_poll(app: App) -> Chat:
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    await ria.press_payload(f"cs.mv:{await last_consultation(app)}")
    return ria


async def _round(app: App) -> Chat:
    ria = await connector(app)
    await ria.send("/nieuweronde")
    await ria.send("Velsen kiest 2028")
    await ria.send("10000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("Speeltuin | 6000 | Nieuwe toestellen in de speeltuin")
    await ria.press("Klaar met projecten")
    assert ria.keys == ["budgets.ask_opens"], ria.keys
    return ria


#: How to reach each typed moment, what "too far" says there, and what comes after a
#: moment that is fine.
FEATURES: list[tuple[Callable[[App], Awaitable[Chat]], str, str]] = [
    (_meeting, "meetings.when_too_far", "meetings.ask_ends"),
    (_broadcast, "composer.when_too_far", "composer.scheduled"),
    (_poll, "composer.when_too_far", "consultations.ask_closes"),
    (_moved_poll, "composer.when_too_far", "consultations.moved"),
    (_round, "budgets.when_too_far", "budgets.ask_closes"),
]

BOUNDARIES = [
    # Today 6 December 2026 (winter time); 6 December 2027 is the last day.
    pytest.param(_local(2026, 12, 6, 17, 20), "06-12-2027 23:30", "07-12-2027 00:00", id="dec"),
    # From the 29th of February the year ends on the 28th.
    pytest.param(_local(2028, 2, 29, 10, 0), "28-02-2029 17:00", "01-03-2029 09:00", id="leap"),
    # Across the 29th: the same date, 366 days on.
    pytest.param(_local(2027, 3, 1, 10, 0), "01-03-2028 17:00", "02-03-2028 09:00", id="over-29"),
    # Typed in summer time for a day in summer time next year, across two changes.
    pytest.param(_local(2027, 6, 30, 23, 30), "30-06-2028 23:59", "01-07-2028 00:00", id="june"),
]


@pytest.mark.parametrize(("reach", "too_far", "fine"), FEATURES)
@pytest.mark.parametrize(("now", "last", "after"), BOUNDARIES)
async def test_a_typed_moment_may_be_up_to_the_same_date_next_year(
    settings: Settings,
    reach: Callable[[App], Awaitable[Chat]],
    too_far: str,
    fine: str,
    now: datetime,
    last: str,
    after: str,
) -> None:
    app = await App.open(settings, clock=Clock(now.astimezone(UTC)))
    try:
        ria = await reach(app)
        await ria.send(after)
        assert ria.keys[0] == too_far, ria.keys
        await ria.send(last)
        assert ria.keys[0] == fine, ria.keys
    finally:
        await app.close()


async def test_a_poll_closes_at_most_a_year_after_it_opens(settings: Settings) -> None:
    app = await App.open(settings, clock=Clock(_local(2028, 2, 28, 10, 0).astimezone(UTC)))
    try:
        ria = await _poll(app)
        await ria.send("29-02-2028 12:00")
        assert ria.keys == ["consultations.ask_closes"], ria.keys
        await ria.send("01-03-2029 00:00")
        assert ria.keys[0] == "composer.when_too_far", ria.keys
        await ria.send("28-02-2029 23:59")
        assert ria.keys[0] == "consultations.preview_intro", ria.keys
    finally:
        await app.close()


#: How to reach each typed moment and what an unclear one gets there.
UNCLEAR = [
    (_meeting, "meetings.when_invalid"),
    (_broadcast, "composer.when_invalid"),
    (_poll, "composer.when_invalid"),
    (_moved_poll, "composer.when_invalid"),
    (_round, "budgets.when_invalid"),
]


@pytest.mark.parametrize(("reach", "unclear"), UNCLEAR)
@pytest.mark.parametrize("typed", ["01-01-0001 00:10", "0001-01-01 0:00"])
async def test_a_moment_before_any_in_utc_is_not_understood_and_the_question_stays(
    settings: Settings, reach: Callable[[App], Awaitable[Chat]], unclear: str, typed: str
) -> None:
    app = await App.open(settings, clock=Clock(_local(2027, 3, 28, 1, 30).astimezone(UTC)))
    try:
        ria = await reach(app)
        await ria.send(typed)
        assert ria.keys[0] == unclear, ria.keys
        await ria.send("28-03-2028 10:00")  # the dialog goes on from where it was
        assert not ria.keys[0].endswith(("when_invalid", "when_too_far")), ria.keys
    finally:
        await app.close()
