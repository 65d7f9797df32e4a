"""Reading residents' Matrix messages: commands, mentions, quoted replies, edits, places."""

from __future__ import annotations

import pytest

from bot.platforms._matrix_events import (
    addressing,
    is_edit,
    parse_command,
    parse_geo_uri,
    strip_reply_fallback,
)

BOT = "@samenspel:example.org"
NAMES = {"Samenspel", "samenspel"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start", ("start", "")),
        ("  !help  ", ("help", "")),
        ("/start poster_12", ("start", "poster_12")),
        ("/taal@samenspel en", ("taal", "en")),
        ("!idee mijn plan\nmet twee regels", ("idee", "mijn plan\nmet twee regels")),
        ("/ideeën", ("ideeën", "")),
        ("!mijnideeën 2", ("mijnideeën", "2")),
        ("/допомога", ("допомога", "")),
        ("//niet", None),
        ("/_x", None),
        ("/ideeën/x", None),
        ("/ start", None),
        ("/123", None),
        ("hallo /start", None),
        ("!", None),
    ],
)
def test_commands_start_with_a_slash_or_an_exclamation_mark(
    text: str, expected: tuple[str, str] | None
) -> None:
    assert parse_command(text) == expected


def test_the_quote_of_a_reply_is_dropped() -> None:
    body = "> <@samenspel:example.org> Wat wil je doen?\n> [1] Idee\n\n1"
    assert strip_reply_fallback(body) == "1"
    assert strip_reply_fallback("gewoon tekst\n> geen quote") == "gewoon tekst\n> geen quote"


@pytest.mark.parametrize(
    ("text", "content", "expected"),
    [
        ("Samenspel: hoi", {}, (True, "hoi")),
        ("samenspel, help", {}, (True, "help")),
        ("@samenspel:example.org 1", {}, (True, "1")),
        ("Wat vindt Samenspel ervan?", {}, (True, "Wat vindt Samenspel ervan?")),
        ("Anna: hoi", {"m.mentions": {"user_ids": [BOT]}}, (True, "Anna: hoi")),
        ("hoi", {"formatted_body": f'<a href="https://matrix.to/#/{BOT}">x</a>'}, (True, "hoi")),
        ("!help", {}, (True, "!help")),
        ("hallo allemaal", {}, (False, "hallo allemaal")),
        ("samenspelletjes zijn leuk", {}, (False, "samenspelletjes zijn leuk")),
        ("Anna: hoi", {"m.mentions": {"user_ids": ["@anna:example.org"]}}, (False, "Anna: hoi")),
    ],
)
def test_in_a_group_the_bot_is_addressed_by_name_mention_or_command(
    text: str, content: dict[str, object], expected: tuple[bool, str]
) -> None:
    assert addressing(text, content, BOT, NAMES) == expected


def test_edits_are_recognised() -> None:
    assert is_edit({"m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}})
    assert is_edit({"m.new_content": {"body": "x"}})
    assert not is_edit({"m.relates_to": {"m.in_reply_to": {"event_id": "$x"}}})
    assert not is_edit({"body": "x"})


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("geo:52.4608,4.6262", (52.4608, 4.6262)),
        ("geo:52.46,4.62;u=35", (52.46, 4.62)),
        ("geo:-33.9,151.2", (-33.9, 151.2)),
        ("geo:91,4", None),
        ("https://maps.example/52,4", None),
        (None, None),
    ],
)
def test_a_shared_location_is_read_from_its_geo_uri(
    uri: object, expected: tuple[float, float] | None
) -> None:
    assert parse_geo_uri(uri) == expected
