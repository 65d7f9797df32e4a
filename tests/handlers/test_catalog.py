"""Text catalogs: every language has every key with the same placeholders."""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

import pytest

from handlers import FEATURES, registry
from handlers.catalog import Catalog, placeholders
from handlers.contract import Button, Reply
from handlers.locales import own_name, right_to_left

CATALOG = Catalog.load()
REGISTRY = registry()
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
def test_every_language_has_every_key_with_the_same_placeholders_tags_and_plurals(
    lang: str,
) -> None:
    assert CATALOG.problems(lang) == []


def test_every_text_of_every_language_can_be_filled_in() -> None:
    for lang in CATALOG.languages:
        for key, entry in CATALOG.texts[lang].items():
            params = dict.fromkeys(placeholders(entry), 2)
            for markup in (True, False):
                assert CATALOG.text(lang, key, params, markup=markup), (lang, key)


def test_a_language_out_of_step_with_dutch_is_told_exactly_how() -> None:
    catalog = Catalog(
        {
            "nl": {
                "a": "{x} <b>y</b>",
                "b": {"one": "{count} dag", "other": "{count} dagen"},
                "c": "c",
                "d": "{count} keer",
            },
            "pl": {
                "a": "{z} y",
                "b": {"one": "{count} dzień", "other": "{count} dni"},
                "e": "e",
                "d": {"one": "{count}", "other": "{count}"},
            },
            "ar": {
                "a": "{x} <b>y</b>",
                "b": dict.fromkeys(("zero", "one", "two", "few", "many", "other"), "{count} يوم"),
                "c": "c",
                "d": "{count}",
            },
        }
    )
    assert catalog.problems("pl") == [
        "missing: c",
        "not in nl: e",
        "a: other placeholders",
        "a: other markup tags",
        "b: plural forms ['one', 'other'], pl needs ['few', 'many', 'one', 'other']",
        "d: plural in one language, plain text in the other",
    ]
    assert catalog.problems("ar") == []


@pytest.mark.parametrize(
    ("lang", "count", "expected"),
    [
        ("nl", 1, "1 dag"),
        ("nl", 7, "7 dagen"),
        ("nl", 0, "0 dagen"),
        ("en", 1, "1 day"),
        ("en", 2, "2 days"),
    ],
)
def test_a_plural_text_takes_the_form_of_its_count(lang: str, count: int, expected: str) -> None:
    assert CATALOG.text(lang, "moderation.days", {"count": count}, markup=False) == expected


def test_plural_forms_follow_each_languages_cldr_rules() -> None:
    forms = {c: f"{c} {{count}}" for c in ("zero", "one", "two", "few", "many", "other")}
    catalog = Catalog(
        {"nl": {"d": {"one": "one", "other": "other"}}, "pl": {"d": forms}, "ar": {"d": forms}}
    )
    shown = {
        lang: [
            catalog.text(lang, "d", {"count": n}, markup=False).split()[0]
            for n in (0, 1, 2, 3, 5, 11, 22, 100)
        ]
        for lang in ("pl", "ar")
    }
    assert shown["pl"] == ["many", "one", "few", "few", "many", "many", "few", "many"]
    assert shown["ar"] == ["zero", "one", "two", "few", "few", "many", "many", "other"]
    # A count that is not a number takes the form of 0 rather than failing.
    assert catalog.text("pl", "d", {"count": "x"}, markup=True) == "many x"


def test_in_a_right_to_left_language_every_parameter_is_isolated() -> None:
    catalog = Catalog({"nl": {"x": "{name}: {n}"}, "ar": {"x": "<b>مرحبا</b> {name} ({n})"}})
    html = catalog.text("ar", "x", {"name": "Anna <3", "n": 1234}, markup=True)
    assert html == "<b>مرحبا</b> \u2068Anna &lt;3\u2069 (\u20681,234\u2069)"
    plain = catalog.text("ar", "x", {"name": "Anna <3", "n": 1234}, markup=False)
    assert plain == "مرحبا \u2068Anna <3\u2069 (\u20681,234\u2069)"
    # In a left-to-right language only right-to-left values are isolated; an empty value
    # gets no isolates.
    assert catalog.text("nl", "x", {"name": "أحمد", "n": ""}, markup=True) == "\u2068أحمد\u2069: "
    assert catalog.text("nl", "x", {"name": "Anna", "n": 3}, markup=True) == "Anna: 3"
    assert catalog.text("ar", "x", {"name": "", "n": ""}, markup=False) == "مرحبا  ()"


#: Isolate initiators (LRI, RLI, FSI): what follows, up to the matching PDI, keeps its own
#: direction and is skipped when a paragraph's direction is found (Unicode bidi P2).
ISOLATES = "\u2066\u2067\u2068"
#: Word lists matched against what people type, never shown as a paragraph.
NOT_SHOWN = ("drafts.words.", "news.item_prefix")


def _first_strong(paragraph: str) -> str | None:
    """The direction of a paragraph by its first strong character outside isolates (Unicode
    bidi P2/P3): "L", "R", or None when it has none (then the reader's direction holds)."""
    depth = 0
    for ch in paragraph:
        if ch in ISOLATES:
            depth += 1
        elif ch == "\u2069":
            depth = max(0, depth - 1)
        elif depth == 0:
            kind = unicodedata.bidirectional(ch)
            if kind == "L":
                return "L"
            if kind in ("R", "AL"):
                return "R"
    return None


def _left_to_right_paragraphs(key: str, template: str) -> list[str]:
    """The paragraphs of a right-to-left text that a chat app lays out left to right:
    those whose first strong character is a Latin letter or an LTR-strong symbol (🆕, ℹ)
    rather than an Arabic letter or an RLM. Values are filled in as the catalog does in a
    right-to-left language, between isolates, so a Latin value does not count."""
    if key.startswith(NOT_SHOWN) or re.fullmatch(r"\{\w+\}", template):
        return []  # a value alone (a raw label) has its own direction
    text = html.unescape(re.sub(r"</?(?:b|i|u|code|pre)>", "", template))
    text = re.sub(r"\{\w+\}", "\u2068Anna\u2069", text)
    return [line for line in text.split("\n") if _first_strong(line) == "L"]


def test_the_direction_check_sees_what_a_chat_app_sees() -> None:
    for wrong in (
        "<b>Samenspel</b> في {municipality}",
        "🆕 الأحدث أولًا",
        "ℹ️ هذا هو النص الأصلي بالهولندية. Samenspel لا يترجم النصوص.",
        "📰 Wist je dat",
        "مرحبا\nSamenspel",
    ):
        assert _left_to_right_paragraphs("x", wrong), wrong
    for right in (
        "\u200f<b>Samenspel</b> في {municipality}",
        "\u200f🆕 الأحدث أولًا",
        "{title}: عدد الأسئلة",
        "💡 هل تعلم",
        "{text}",
        "\u2066Samenspel\u2069 مرحبا",
    ):
        assert not _left_to_right_paragraphs("x", right), right


@pytest.mark.parametrize("lang", [lang for lang in CATALOG.languages if right_to_left(lang)])
def test_every_paragraph_of_a_right_to_left_language_starts_right_to_left(lang: str) -> None:
    """Telegram and Matrix clients (dir=auto) give each paragraph the direction of its first
    strong character: an Arabic line that starts with "Samenspel" or 🆕 reads left to right,
    its words out of order. Start such a line with an Arabic word or U+200F (RLM)."""
    wrong = {}
    for key, entry in CATALOG.texts[lang].items():
        forms = entry.items() if isinstance(entry, dict) else [("", entry)]
        for form, template in forms:
            found = _left_to_right_paragraphs(key, template)
            if found:
                wrong[f"{key}.{form}" if form else key] = found
    assert wrong == {}


def test_languages_are_named_in_their_own_language() -> None:
    names = {lang: own_name(lang) for lang in ("nl", "en", "tr", "ar", "pl", "uk")}
    assert names == {
        "nl": "Nederlands",
        "en": "English",
        "tr": "Türkçe",
        "ar": "العربية",
        "pl": "Polski",
        "uk": "Українська",
    }


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


#: A command in a text: "/mydata", not "</b>", "en/of" or a link's path.
COMMAND_IN_TEXT = re.compile(r"(?<![\w/<:.])/([^\W\d_]\w*)")
#: The English name of every command that has one; a new command with an alias is added here
#: (and declared with ``translations={"en": ...}`` where it is not its first name).
ENGLISH_COMMANDS = frozenset(
    [
        "help",
        "cancel",
        "language",
        "mydata",
        "forgetme",
        "ideas",
        "myideas",
        "idea",
        "experiments",
        "link",
        "unlink",
        "rules",
        "flag",
        "newexperiment",
        "myproposals",
        "news",
        "newpost",
        "scheduled",
        "civilservants",
        "introduce",
        "question",
        "myquestions",
        "queue",
        "reports",
        "restrictions",
        "connect",
        "auditlog",
        "stats",
        "vote",
        "newround",
        "rounds",
        "polls",
        "newpoll",
        "meetings",
        "newmeeting",
    ]
)


def _command_names() -> dict[str, frozenset[str]]:
    """Every registered command and alias -> all names of that command."""
    handlers_by_name = {
        name: spec.handler for feature in FEATURES for name, spec in feature.commands.items()
    }
    return {
        name: frozenset(n for n, h in handlers_by_name.items() if h is handler)
        for name, handler in handlers_by_name.items()
    }


def _commands_in(lang: str) -> dict[str, set[str]]:
    """Every /command in a language's texts -> the keys of the texts naming it."""
    found: dict[str, set[str]] = {}
    for key, entry in CATALOG.texts[lang].items():
        for form in entry.values() if isinstance(entry, dict) else [entry]:
            for name in COMMAND_IN_TEXT.findall(form):
                found.setdefault(name, set()).add(key)
    return found


def test_every_name_a_menu_or_a_text_shows_is_a_command_on_telegram_and_matrix() -> None:
    """Telegram (and Matrix clients) take only a-z, digits and _ in a command: "/ideeën"
    is plain text there. The name menus and texts show is the ASCII one; a spelling with
    other letters may only be an alias (answered where it arrives as a command)."""
    for spec in REGISTRY.commands.values():
        for name in (spec.first, *(name for _, name in spec.names)):
            assert re.fullmatch(r"[a-z0-9_]{1,32}", name), name


def test_every_command_with_an_alias_has_one_english_name() -> None:
    for names in set(_command_names().values()):
        if len(names) > 1:
            assert len(names & ENGLISH_COMMANDS) == 1, sorted(names)


@pytest.mark.parametrize("lang", CATALOG.languages)
def test_every_command_a_text_names_is_registered_and_named_one_way(lang: str) -> None:
    commands = _command_names()
    named = _commands_in(lang)
    assert {name: keys for name, keys in named.items() if name not in commands} == {}
    ways: dict[frozenset[str], set[str]] = {}
    for name in named:
        ways.setdefault(commands[name], set()).add(name)
    assert [sorted(used) for used in ways.values() if len(used) > 1] == []


def test_english_texts_name_the_english_command() -> None:
    commands = _command_names()
    dutch = {
        name: keys
        for name, keys in _commands_in("en").items()
        if commands[name] & ENGLISH_COMMANDS and name not in ENGLISH_COMMANDS
    }
    assert dutch == {}


def test_each_command_is_called_in_english_by_its_english_name() -> None:
    for names in set(_command_names().values()):
        english = names & ENGLISH_COMMANDS
        for name in names:
            called = REGISTRY.commands[name].name_in("en")
            assert {called} == (english or {called}), sorted(names)


@pytest.mark.parametrize("lang", CATALOG.languages)
def test_every_command_a_text_names_is_what_the_command_is_called_in_that_language(
    lang: str,
) -> None:
    # The command menu names each command as the registry calls it in the menu's language.
    called = {name: REGISTRY.commands[name].name_in(lang) for name in _commands_in(lang)}
    assert {name: other for name, other in called.items() if other != name} == {}


def _open_after(text: str, marker: str) -> list[str]:
    """The bidirectional embeddings, overrides and isolates still open where ``marker``
    (the catalog's own words after a value) begins, as the Unicode algorithm pairs them: a
    PDI closes the newest open isolate and whatever was opened inside it; a PDF closes an
    embedding or override opened inside the current isolate."""
    stack: list[str] = []
    for ch in text[: text.index(marker)]:
        if ch in "\u202a\u202b\u202d\u202e":
            stack.append(ch)
        elif ch == "\u202c" and stack and stack[-1] not in "\u2066\u2067\u2068":
            stack.pop()
        elif ch in "\u2066\u2067\u2068":
            stack.append(ch)
        elif ch == "\u2069" and any(c in "\u2066\u2067\u2068" for c in stack):
            while stack.pop() not in "\u2066\u2067\u2068":
                pass
    return stack


@pytest.mark.parametrize(
    "title",
    [
        "Bankjes \u202e",  # an override left open
        "Bankjes \u202b\u202e\u202d",  # several
        "Bankjes \u2069\u202e",  # a PDI first, to close the isolate around it
        "Bankjes \u2067 open",  # an isolate left open
        "Bankjes \u2069\u2069\u2066\u202e",
    ],
)
@pytest.mark.parametrize("lang", ["nl", "en", "ar"])
def test_bidirectional_formatting_in_a_value_stays_inside_it(title: str, lang: str) -> None:
    params = {"number": "1", "title": title, "status": "nieuw", "supporters": 3}
    for markup in (False, True):
        text = CATALOG.text(lang, "ideas.similar_line", params, markup=markup)
        assert _open_after(text, " (") == [], repr(text)
