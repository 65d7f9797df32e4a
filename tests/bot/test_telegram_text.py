"""Telegram's limits measured as Telegram measures them, and long texts split so every piece
parses: checked against the loopback Bot API server's HTML parser (the same checks it
applies to what the bot sends)."""

from __future__ import annotations

import html
import random

import pytest

from bot.platforms._telegram_text import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    fits,
    pack,
    split,
    utf16_len,
    visible_length,
)
from handlers.catalog import Catalog
from handlers.contract import Reply
from tests.e2e.botapi import _check_html
from tests.e2e.botapi import utf16_len as telegram_utf16_len


def shown(piece: str, *, markup: bool = True) -> str:
    """What Telegram shows of a piece (raises as Telegram would refuse it)."""
    return _check_html(piece) if markup else piece


def assert_well_split(text: str, pieces: list[str], limit: int, *, markup: bool = True) -> None:
    """Every piece parses, fits and shows something; together they show all of ``text``."""
    for piece in pieces:
        assert telegram_utf16_len(shown(piece, markup=markup)) <= limit
        assert shown(piece, markup=markup).strip()
    # A cut drops the one space or line break it was made at, nothing else.
    together = "".join("".join(shown(piece, markup=markup).split()) for piece in pieces)
    assert together == "".join(shown(text, markup=markup).split())


def test_length_is_counted_in_utf16_units_of_what_telegram_shows() -> None:
    assert utf16_len("😀") == 2 == telegram_utf16_len("😀")
    assert utf16_len("é€") == 2
    assert visible_length("<b>x</b> &amp; &lt;y&gt;") == len("x & <y>")
    assert visible_length("&#128512;") == 2
    assert visible_length("a & b", markup=False) == 5
    # 1,000 ampersands are 5,000 characters of HTML but 1,000 on the screen.
    assert fits("<i>" + "&amp;" * 1000 + "</i>", TEXT_LIMIT)
    # 2,000 emoji are 2,000 code points but 4,000 units: over a caption, within a text.
    assert not fits("😀" * 2000, CAPTION_LIMIT) and fits("😀" * 2000, TEXT_LIMIT)
    assert not fits("😀" * 2049, TEXT_LIMIT)


def test_a_text_within_the_limit_is_one_piece_as_it_is() -> None:
    text = "<b>Kop</b>\n" + "&amp;" * 4000
    assert split(text) == [text]


def test_a_thousand_ampersands_over_two_lines_in_a_card_stay_one_message() -> None:
    catalog = Catalog.load()
    body = "&" * 500 + "\n" + "&" * 499
    card = catalog.render(
        "nl",
        Reply(
            key="moderation.card",
            params={
                "waiting": 1,
                "number": "1",
                "title": "t",
                "author": "een inwoner",
                "when": "vandaag",
                "state": "zichtbaar",
                "body": body,
            },
        ),
        markup=True,
    )
    assert len(card) > TEXT_LIMIT  # the HTML alone is longer than a message
    assert split(card) == [card]
    assert body in shown(card)


def test_a_long_text_is_cut_at_line_breaks_outside_tags() -> None:
    line = "<b>Een inwoner</b> · vandaag\n<i>" + "woord\n" * 150 + "</i>"
    text = "\n".join([line] * 12)
    pieces = split(text)
    assert len(pieces) > 1
    assert_well_split(text, pieces, TEXT_LIMIT)
    # Never inside an italic comment, though it has line breaks of its own: no tag had to
    # be closed and opened again, every cut took out one line break and nothing else.
    assert "\n".join(pieces) == text


def test_whole_parts_go_together_and_only_a_part_too_long_is_split() -> None:
    header = "<b>Reacties</b>"
    comment = "<b>Een inwoner</b> · vandaag\n<i>" + "woord " * 150 + "</i>"
    long_one = "<b>Een inwoner</b> · gisteren\n<i>" + "lang " * 1000 + "</i>"
    blocks = [header, *[comment] * 8, long_one, comment]
    messages = pack(blocks)
    assert_well_split("\n".join(blocks), messages, TEXT_LIMIT)
    # Cut only between parts: the first messages hold the header and whole comments.
    assert messages[0] == "\n".join([header, *[comment] * 4])
    assert messages[1] == "\n".join([comment] * 4)
    # The long comment is split inside itself; the next part follows its last piece.
    assert messages[2].startswith("<b>Een inwoner</b> · gisteren") and messages[3].startswith(
        "<i>lang"
    )
    assert messages[3].endswith(comment) and len(messages) == 4
    assert pack(["kort", "ook kort"]) == ["kort\nook kort"]


def test_one_comment_longer_than_a_message_is_cut_at_a_space_inside_its_tag() -> None:
    text = "<b>Kop</b>\n<i>" + " ".join(["😀&amp;&lt;b&gt;"] * 1000) + "</i>"
    pieces = split(text)
    assert len(pieces) == 2
    assert_well_split(text, pieces, TEXT_LIMIT)
    assert pieces[0].endswith("</i>") and pieces[1].startswith("<i>")


def test_a_word_longer_than_a_message_is_cut_between_characters_not_inside_an_entity() -> None:
    text = "<b>" + "&amp;😀" * 3000 + "</b>"
    pieces = split(text)
    assert len(pieces) == 3
    assert_well_split(text, pieces, TEXT_LIMIT)
    assert all(piece.startswith("<b>") and piece.endswith("</b>") for piece in pieces)


def test_plain_text_is_split_without_reading_markup() -> None:
    text = "<b> & </i>\n" * 1000
    pieces = split(text, markup=False)
    assert len(pieces) == 3
    assert_well_split(text, pieces, TEXT_LIMIT, markup=False)
    assert pieces[0].startswith("<b> & </i>")


def test_pieces_that_would_show_nothing_are_left_out() -> None:
    text = "a" * 10 + "\n" * 30 + "b" * 10
    assert split(text, 12) == ["a" * 10, "b" * 10]


@pytest.mark.parametrize("seed", range(200))
def test_random_cards_split_into_pieces_telegram_accepts(seed: int) -> None:
    """Catalog-like markup around escaped resident text full of what breaks splitters."""
    rng = random.Random(seed)
    family = "\U0001f469\u200d\U0001f469\u200d\U0001f467"
    alphabet = [*'ab  \n&<>"é\u200f', "😀", family, "x" * 30]
    lines = []
    for _ in range(rng.randint(1, 40)):
        user = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        escaped = html.escape(user, quote=False)
        tag = rng.choice(["b", "i", "code", None])
        lines.append(f"<{tag}>{escaped}</{tag}>" if tag else escaped)
    text = "\n".join(lines)
    limit = rng.choice([7, 40, 200, 1024, TEXT_LIMIT])
    pieces = split(text, limit)
    if "".join(shown(text).split()):
        assert_well_split(text, pieces, limit)
    else:
        assert pieces in ([], [text])
