"""Cutting text between whole characters: emoji sequences and marks stay together."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.answers import excerpt
from handlers.paging import short
from storage.graphemes import clusters, cut

FAMILY = "👩\u200d👩\u200d👧"
FLAGS = "🇳🇱🇧🇪"
THUMB = "👍🏽"
KEYCAP = "1\ufe0f\u20e3"
SCOTLAND = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
HEART = "❤\ufe0f"
ACCENT = "e\u0301"  # é written with a combining mark


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"a{FAMILY}b", ["a", FAMILY, "b"]),
        (FLAGS, ["🇳🇱", "🇧🇪"]),
        (f"x{FLAGS}🇩", ["x", "🇳🇱", "🇧🇪", "🇩"]),
        (f"{THUMB}{THUMB}", [THUMB, THUMB]),
        (f"{KEYCAP}2", [KEYCAP, "2"]),
        (SCOTLAND, [SCOTLAND]),
        (f"{HEART}{ACCENT}", [HEART, ACCENT]),
        ("👨\u200d💻 ok", ["👨\u200d💻", " ", "o", "k"]),
        ("", []),
    ],
)
def test_clusters_keep_emoji_sequences_and_marks_whole(text: str, expected: list[str]) -> None:
    assert list(clusters(text)) == expected


@pytest.mark.parametrize(
    ("text", "length", "expected"),
    [
        (f"ab{FAMILY}", 4, "ab"),
        (f"ab{FAMILY}", 7, f"ab{FAMILY}"),
        (f"a{FLAGS}", 2, "a"),
        (f"a{FLAGS}", 4, "a🇳🇱"),
        (f"a{THUMB}", 2, "a"),
        (f"a{KEYCAP}", 3, "a"),
        (f"a{ACCENT}", 2, "a"),
        ("kort", 10, "kort"),
    ],
)
def test_a_cut_falls_between_whole_characters(text: str, length: int, expected: str) -> None:
    assert cut(text, length) == expected


@given(
    st.text(
        alphabet=st.sampled_from(
            ["a", " ", "\u200d", "\ufe0f", "🇳", "🏽", "👩", "\u0301", "\u20e3"]
        )
    ),
    st.integers(0, 30),
)
def test_clusters_make_up_the_text_and_a_cut_is_a_start_of_whole_ones(
    text: str, length: int
) -> None:
    parts = list(clusters(text))
    assert "".join(parts) == text
    assert all(parts)
    start = cut(text, length)
    assert len(start) <= length or start == text
    assert text.startswith(start)
    assert start in {"".join(parts[:n]) for n in range(len(parts) + 1)}


def test_a_button_label_and_an_excerpt_never_end_in_half_an_emoji() -> None:
    assert short("a" * 38 + FAMILY) == "a" * 38 + "…"
    assert short("a" * 38 + FLAGS) == "a" * 38 + "…"
    assert short("a" * 37 + FLAGS) == "a" * 37 + "🇳🇱…"
    assert excerpt("a" * 78 + THUMB + " rest", 80) == "a" * 78 + "…"
