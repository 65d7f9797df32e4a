"""Reading amounts and moments the way people type them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from handlers import when
from handlers.catalog import Catalog
from handlers.contract import Reply
from handlers.money import AmountTooLarge, format_euro, parse_euro, read_euro
from handlers.when import parse_moment, typed

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=AMSTERDAM)


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("1500", 150_000),
        ("€ 1.500", 150_000),
        ("€1.500", 150_000),
        ("1500,50", 150_050),
        ("1.500,5", 150_050),
        ("1500,-", 150_000),
        ("1500 euro", 150_000),
        ("EUR 250", 25_000),
        ("1,500.50", 150_050),
        ("1500.50", 150_050),
        ("0", 0),
        (" 12 ", 1_200),
        ("€\u00a01.250.000", 125_000_000),
        ("ongeveer 800 euro", 80_000),
        ("ca. € 1.500", 150_000),
        ("about €1,500", 150_000),
        ("1.000", 100_000),
        ("1.000,50", 100_050),
        ("1,5", 150),
        ("0,05", 5),
        ("1,000.50", 100_050),
        ("1,000", 100_000),
    ],
)
def test_amounts_in_dutch_and_english_notation_are_read(text: str, cents: int) -> None:
    assert parse_euro(text) == cents


@pytest.mark.parametrize(
    "text",
    ["", "veel", "-500", "1.5.0", "15OO", "1500 dollar", "1,2,3", "€", "99999999999", "1e6"],
)
def test_nonsense_is_not_an_amount(text: str) -> None:
    assert parse_euro(text) is None


@pytest.mark.parametrize("text", ["0,001", "0.001", "€ 0,001", "1,2345", "1.000,505", "1,000.505"])
def test_more_than_two_decimals_is_not_an_amount(text: str) -> None:
    # "0,001" was read as one euro: its ",001" taken for a thousands group.
    assert parse_euro(text) is None


def test_an_amount_that_is_too_large_is_told_apart_from_nonsense() -> None:
    with pytest.raises(AmountTooLarge):
        read_euro("99999999999")
    assert read_euro("veel") is None


def test_amounts_are_shown_per_language() -> None:
    assert format_euro(150_000, "nl") == "€\u00a01.500"
    assert format_euro(150_050, "nl") == "€\u00a01.500,50"
    assert format_euro(150_050, "en") == "€1,500.50"
    assert format_euro(150_000, "pl") == "1\u00a0500\u00a0€"
    assert format_euro(5, "tr") == "€0,05"
    # CLDR's symbol for the euro in Ukrainian is its code; the sign is shown instead.
    assert format_euro(150_050, "uk") == "1\u00a0500,50\u00a0€"
    assert format_euro(150_000, "uk") == "1\u00a0500\u00a0€"
    # A language Babel does not know is shown the Dutch way, not refused.
    assert format_euro(150_000, "xx") == format_euro(150_000, "nl")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12-12-2026 9:30", datetime(2026, 12, 12, 9, 30)),
        ("12-12-2026 09:30", datetime(2026, 12, 12, 9, 30)),
        ("2026-12-12 09:30", datetime(2026, 12, 12, 9, 30)),
        ("2026-12-12T09:30", datetime(2026, 12, 12, 9, 30)),
        ("1/4/2026 om 20.15", datetime(2026, 4, 1, 20, 15)),
        ("morgen 9:00", datetime(2026, 3, 11, 9, 0)),
        ("Morgen om 9 uur", datetime(2026, 3, 11, 9, 0)),
        ("tomorrow at 17:45", datetime(2026, 3, 11, 17, 45)),
        ("vandaag 18:00", datetime(2026, 3, 10, 18, 0)),
        ("overmorgen 8:00", datetime(2026, 3, 12, 8, 0)),
    ],
)
def test_moments_are_read_in_local_time(text: str, expected: datetime) -> None:
    assert parse_moment(text, NOW) == expected.replace(tzinfo=AMSTERDAM)


@pytest.mark.parametrize(
    "text", ["", "volgende week", "31-02-2026 9:00", "12-12-2026 25:00", "12-12-2026", "9:30"]
)
def test_unclear_moments_are_not_guessed(text: str) -> None:
    assert parse_moment(text, NOW) is None


def test_a_typed_moment_reads_back_the_same() -> None:
    moment = datetime(2026, 10, 25, 9, 5, tzinfo=AMSTERDAM)
    assert parse_moment(typed(moment), NOW) == moment


def test_moments_are_shown_in_each_language_in_amsterdam_time() -> None:
    moment = datetime(2026, 12, 4, 9, 5, tzinfo=ZoneInfo("UTC")).astimezone(AMSTERDAM)
    assert when.moment(moment, "nl") == "4 dec 2026, 10:05"
    assert when.moment(moment, "en") == "4 Dec 2026, 10:05"
    assert when.day(moment, "tr") == "4 Ara 2026"
    assert when.day(moment, "pl") == "4 gru 2026"
    assert when.recent(moment, "uk") == "4 груд., 10:05"
    assert when.clock(moment, "ar").startswith("10:05")
    assert when.day_month(moment, "nl") == "4 dec"


def test_an_example_of_a_typed_moment_is_read_back() -> None:
    shown = when.typed_day(NOW) + " 9:30"
    assert parse_moment(shown, NOW) == NOW.replace(hour=9, minute=30)
    assert parse_moment(typed(NOW), NOW) == NOW


def test_no_handler_writes_a_date_format_by_hand() -> None:
    # Dates and times for people are written in one place, handlers/when.py.
    by_hand = [
        str(path)
        for path in Path("handlers").rglob("*.py")
        if "strftime" in path.read_text() and path.name != "when.py"
    ]
    assert by_hand == []


def test_a_span_kept_in_a_stored_message_is_written_in_the_readers_language() -> None:
    catalog = Catalog.load()
    starts = datetime(2026, 12, 8, 19, 30, tzinfo=AMSTERDAM)
    evening = when.span(starts, starts.replace(hour=21, minute=0))
    # Stored as JSON (the outbox) and read back, it is still a span.
    stored = Reply.model_validate_json(
        Reply(
            key="meetings.reminder_day",
            params={"title": "Buurtavond", "when": evening, "where": "Zeewijk"},
        ).model_dump_json()
    )
    assert "8 dec 2026, 19:30–21:00" in catalog.render("nl", stored, markup=False)
    assert "8 Dec 2026, 19:30–21:00" in catalog.render("en", stored, markup=False)
    assert "8 Ara 2026 19:30–21:00" in catalog.render("tr", stored, markup=False)
    overnight = when.span(starts, datetime(2026, 12, 9, 1, 0, tzinfo=AMSTERDAM))
    assert when.shown(overnight, "nl") == "8 dec 2026, 19:30–9 dec 2026, 01:00"
    # In summer time the local hour is kept, not the UTC one.
    june = datetime(2026, 6, 8, 19, 30, tzinfo=AMSTERDAM)
    summer = when.span(june, june.replace(hour=20, minute=0))
    assert when.shown(summer, "nl") == "8 jun 2026, 19:30–20:00"


@pytest.mark.parametrize(
    "value",
    [{"span": ["2026-12-08T19:30:00+01:00"]}, {"span": ["gisteren", "morgen"]}, {"other": 1}],
)
def test_a_mapping_that_is_no_span_is_not_read_as_one(value: dict[str, object]) -> None:
    assert when.shown(value, "nl") is None
