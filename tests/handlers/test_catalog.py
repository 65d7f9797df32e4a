"""Text catalogs: every language has every key with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers.catalog import Catalog, same_placeholders
from handlers.contract import Button, Reply

CATALOG = Catalog.load()
SOURCES = [*Path("handlers").rglob("*.py"), *Path("bot").rglob("*.py")]
# Catalog keys named in code: key="a.b", label="a.b", or a "a.b" first argument of a reply.
KEY_IN_CODE = re.compile(
    r"(?:key=|label=|menu_reply\(ctx, |Reply\(|reply\(|button\(|describe=)"
    r'"([a-z_]+\.[a-z_0-9.]+)"'
)


def test_there_is_a_dutch_default_and_an_english_catalog() -> None:
    assert CATALOG.default == "nl"
    assert {"nl", "en"} <= set(CATALOG.languages)


@pytest.mark.parametrize("lang", CATALOG.languages)
def test_every_language_has_every_key_with_the_same_placeholders(lang: str) -> None:
    reference = CATALOG.texts["nl"]
    texts = CATALOG.texts[lang]
    assert sorted(set(reference) - set(texts)) == [], "missing keys"
    assert sorted(set(texts) - set(reference)) == [], "keys only in this language"
    for key, template in reference.items():
        # A date format may use any part of a date (12-03-2026, 12 March 2026).
        assert same_placeholders(key, template, texts[key]), key


def test_every_key_named_in_the_code_exists() -> None:
    named = {key for path in SOURCES for key in KEY_IN_CODE.findall(path.read_text())}
    assert named, "the pattern found no keys: it is out of date"
    missing = sorted(key for key in named if key not in CATALOG.texts["nl"])
    assert missing == []


def test_user_text_in_parameters_is_escaped_but_catalog_markup_is_kept() -> None:
    html = CATALOG.text("nl", "onboarding.language_set", {"language": "<b>&"}, markup=True)
    assert "&lt;b&gt;&amp;" in html
    help_title = CATALOG.text("nl", "general.help_title", {"municipality": "X"}, markup=True)
    assert help_title.startswith("<b>Samenspel</b>")


def test_plain_text_drops_markup_and_keeps_user_text_literal() -> None:
    plain = CATALOG.text("nl", "general.help_title", {"municipality": "<i>V&V</i>"}, markup=False)
    assert plain == "Samenspel van <i>V&V</i>"


def test_numbers_are_grouped_the_dutch_or_english_way() -> None:
    for markup in (False, True):
        assert CATALOG.text("nl", "raw", {"text": 1234567}, markup=markup) == "1.234.567"
        assert CATALOG.text("en", "raw", {"text": 1234567}, markup=markup) == "1,234,567"


def test_quotes_in_user_text_stay_quotes_in_markup() -> None:
    said = CATALOG.text("nl", "raw", {"text": 'Tom\'s "idee"'}, markup=True)
    assert said == 'Tom\'s "idee"'


def test_a_reply_renders_its_parts_line_by_line_and_buttons_as_plain_labels() -> None:
    reply = Reply(key="raw", params={"text": "a"}, parts=[Reply(key="raw", params={"text": "b"})])
    assert CATALOG.render("en", reply, markup=False) == "a\nb"
    assert CATALOG.label("en", Button.raw("<b>x</b>", "p")) == "<b>x</b>"


def test_language_hints_fall_back_to_dutch() -> None:
    assert CATALOG.language("en-GB") == "en"
    assert CATALOG.language("fr") == "nl"
    assert CATALOG.language(None) == "nl"


def test_a_reply_and_its_parts_are_escaped_in_markup_and_shown_in_the_readers_language() -> None:
    part = Reply(key="onboarding.language_set", params={"language": "<i>Engels</i>"})
    reply = Reply(key="raw", params={"text": "Tom & <b>Jerry</b>"}, parts=[part])
    assert CATALOG.render("en", reply, markup=True).split("\n") == [
        "Tom &amp; &lt;b&gt;Jerry&lt;/b&gt;",
        CATALOG.text("en", "onboarding.language_set", part.params, markup=True),
    ]
    assert "&lt;i&gt;Engels&lt;/i&gt;" in CATALOG.render("en", reply, markup=True)
    assert CATALOG.render("en", reply, markup=False).split("\n") == [
        "Tom & <b>Jerry</b>",
        CATALOG.text("en", "onboarding.language_set", part.params, markup=False),
    ]
    # The parts are in the reader's language, not the default one.
    english = CATALOG.text("en", "onboarding.language_set", part.params, markup=False)
    assert english != CATALOG.text("nl", "onboarding.language_set", part.params, markup=False)


def test_yes_and_no_are_shown_as_marks() -> None:
    catalog = Catalog({"nl": {"x": "{done} {open}"}})
    assert catalog.text("nl", "x", {"done": True, "open": False}, markup=False) == "✓ ✗"
    assert catalog.text("nl", "x", {"done": True, "open": False}, markup=True) == "✓ ✗"
