"""Text catalogs: every resident-facing sentence, per language, from ``messages/<lang>.toml``.

A catalog entry may carry simple HTML markup (``<b>``, ``<i>``, ``<code>``); parameters are
data and are always escaped, so a resident's ``<b>`` in an idea title stays literal text.

Any number of languages: a ``<lang>.toml`` beside ``nl.toml`` is a language (see the README).

A text that shows a count to people may be a plural table: a TOML table whose keys are CLDR
plural categories (``zero``, ``one``, ``two``, ``few``, ``many``, ``other``), ``other``
always among them. The form is chosen with the language's CLDR rules (Babel) from the
reply's ``count`` parameter::

    [ideas.supporters]
    one = "{count} steunbetuiging"
    other = "{count} steunbetuigingen"

In a right-to-left language every parameter is wrapped in Unicode isolates (FSI ... PDI), so a
Latin name, a number or an emoji inside Arabic text keeps its own direction and does not pull
the sentence around it out of order. In a left-to-right language only a value with
right-to-left letters is (an Arabic name in a Dutch sentence): other values stay as they are.
"""

from __future__ import annotations

import html
import logging
import re
import string
import tomllib
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal

from handlers import when
from handlers.contract import Button, Reply
from handlers.locales import DEFAULT_LANGUAGE, babel_locale, plural_categories, right_to_left

log = logging.getLogger(__name__)

MESSAGES_DIR = Path(__file__).resolve().parent.parent / "messages"
_TAG = re.compile(r"</?(?:b|i|u|code|pre)>")
#: CLDR's plural categories: a catalog table with only these keys is one plural text.
PLURAL_CATEGORIES = frozenset({"zero", "one", "two", "few", "many", "other"})
#: The one line under staff's and residents' words, and the profile's Dutch-only texts,
#: for a reader in another language: no machine translation, the words as they were written.
ORIGINAL_NOTE = "languages.as_written"
#: The parameter a plural text's form is chosen by.
COUNT = "count"
#: FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE: embedded text keeps its own direction.
FSI = "\u2068"
PDI = "\u2069"
#: The bidirectional formatting characters, as a regular expression's character class: the
#: embeddings and overrides (U+202A to U+202E) and the isolates (U+2066 to U+2069). One in
#: a title or a comment turns the text after it around, the bot's own words included.
BIDI_FORMATTING = "\u202a-\u202e\u2066-\u2069"
_BIDI = re.compile(f"[{BIDI_FORMATTING}]")
#: The isolate initiators: LRI, RLI and FSI (each is closed by a PDI).
_OPENS_ISOLATE = "\u2066\u2067\u2068"

#: One catalog entry: a text, or a plural text as CLDR category -> text.
Entry = str | dict[str, str]


def _is_plural(table: Mapping[str, Any]) -> bool:
    return "other" in table and set(table) <= PLURAL_CATEGORIES


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Entry]:
    flat: dict[str, Entry] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and _is_plural(value):
            if not all(isinstance(form, str) for form in value.values()):
                raise ValueError(f"catalog entry {name}: every plural form must be text")
            flat[name] = dict(value)
        elif isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, str):
            flat[name] = value
        else:
            raise ValueError(f"catalog entry {name} must be text")
    return flat


def placeholders(template: Entry) -> set[str]:
    """The named fields a catalog entry expects (of a plural text: of all its forms)."""
    if isinstance(template, dict):
        return set().union(*(placeholders(form) for form in template.values()))
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def markup_tags(template: Entry) -> list[str]:
    """The markup tags of a catalog entry, sorted (of a plural text: of its ``other`` form)."""
    if isinstance(template, dict):
        template = template["other"]
    return sorted(_TAG.findall(template))


class Catalog:
    """All languages' texts, with the default language as the fallback."""

    def __init__(self, texts: Mapping[str, Mapping[str, Entry]], default: str = DEFAULT_LANGUAGE):
        if default not in texts:
            raise ValueError(f"no catalog for the default language {default!r}")
        self.texts: dict[str, dict[str, Entry]] = {
            lang: dict(entries) for lang, entries in texts.items()
        }
        self.default = default
        #: Texts without parameters, as written out once (status and category names in
        #: every list line and card).
        self._plain: dict[tuple[str, str, bool], str] = {}

    @classmethod
    def load(cls, directory: Path = MESSAGES_DIR, default: str = DEFAULT_LANGUAGE) -> Catalog:
        """Read every ``<lang>.toml`` in ``directory`` (two-letter names only)."""
        texts: dict[str, dict[str, Entry]] = {}
        for path in sorted(directory.glob("??.toml")):
            with path.open("rb") as fh:
                texts[path.stem] = _flatten(tomllib.load(fh))
        return cls(texts, default)

    @property
    def languages(self) -> list[str]:
        return sorted(self.texts)

    def language(self, wanted: str | None) -> str:
        """The supported language closest to ``wanted`` (a hint such as ``en-GB``)."""
        short = (wanted or "").replace("_", "-").split("-")[0].lower()
        return short if short in self.texts else self.default

    def speaks(self, lang: str | None) -> bool:
        """Whether ``lang`` is one of this catalog's languages (a forged code is not)."""
        return lang is not None and lang in self.texts

    def template(self, lang: str, key: str, count: Any = None) -> str:
        """The text of ``key`` in ``lang`` (Dutch where it lacks it); a plural text's form
        for ``count``."""
        if lang not in self.texts:
            lang = self.default
        found = self.texts[lang].get(key)
        if found is None:
            lang = self.default
            found = self.texts[lang].get(key)
        if found is None:
            raise KeyError(f"no catalog entry {key!r}")
        if isinstance(found, str):
            return found
        category = babel_locale(lang).plural_form(_number(count))
        return found.get(category, found["other"])

    def text(self, lang: str, key: str, params: Mapping[str, Any], *, markup: bool) -> str:
        """One entry with its parameters filled in, as HTML (``markup``) or plain text."""
        if not params and lang in self.texts:
            known = self._plain.get((lang, key, markup))
            if known is None:
                known = self._plain[(lang, key, markup)] = self._text(lang, key, {}, markup)
            return known
        return self._text(lang, key, params, markup)

    def _text(self, lang: str, key: str, params: Mapping[str, Any], markup: bool) -> str:
        template = self.template(lang, key, params.get(COUNT))
        if not markup:
            template = html.unescape(_TAG.sub("", template))
        values = {k: _display(v, lang) for k, v in params.items()}
        template = _without_double_punctuation(template, values)
        if markup:
            values = {k: html.escape(v, quote=False) for k, v in values.items()}
        # A value that is the whole text (a raw label, a name on a button) has nothing
        # around it to keep in order.
        if template not in {"{" + k + "}" for k in values}:
            rtl = lang in self.texts and right_to_left(lang)
            values = {k: _isolated(v, rtl or _turns_around(v)) for k, v in values.items()}
        return template.format_map(_Values(values, key))

    def problems(self, lang: str) -> list[str]:
        """How ``lang``'s catalog is out of step with the default language's, one line each:
        missing or extra keys, other placeholders or markup tags, a plain text where the
        default has a plural one (or back), plural forms other than ``lang``'s CLDR ones."""
        reference, texts = self.texts[self.default], self.texts[lang]
        found = [f"missing: {key}" for key in sorted(set(reference) - set(texts))]
        found += [f"not in {self.default}: {key}" for key in sorted(set(texts) - set(reference))]
        wanted = plural_categories(lang)
        for key in sorted(set(reference) & set(texts)):
            mine, theirs = texts[key], reference[key]
            if isinstance(mine, dict) != isinstance(theirs, dict):
                found.append(f"{key}: plural in one language, plain text in the other")
                continue
            if isinstance(mine, dict) and set(mine) != wanted:
                found.append(f"{key}: plural forms {sorted(mine)}, {lang} needs {sorted(wanted)}")
            if isinstance(mine, dict) and isinstance(theirs, dict):
                if placeholders(mine["other"]) != placeholders(theirs["other"]):
                    found.append(f"{key}: other placeholders in the form 'other'")
                if not placeholders(mine) <= placeholders(theirs):
                    found.append(f"{key}: a form has placeholders {self.default} lacks")
            elif placeholders(mine) != placeholders(theirs):
                found.append(f"{key}: other placeholders")
            if markup_tags(mine) != markup_tags(theirs):
                found.append(f"{key}: other markup tags")
        return found

    def render(self, lang: str, message: Reply, *, markup: bool) -> str:
        """A whole Reply: its main text and its parts, one per line."""
        return "\n".join(self.blocks(lang, message, markup=markup))

    def blocks(self, lang: str, message: Reply, *, markup: bool) -> list[str]:
        """A Reply's main text, each part, and the note that what was filled in is shown
        as written (:attr:`Reply.original`, for a reader in another language): the
        pieces a long message may be cut between. Empty ones are left out."""
        lines = [self.text(lang, message.key, message.params, markup=markup)]
        lines += [self.render(lang, part, markup=markup) for part in message.parts]
        if message.original and self.language(lang) != self.default:
            lines.append(self.text(lang, ORIGINAL_NOTE, {}, markup=markup))
        return [line for line in lines if line]

    def label(self, lang: str, button: Button) -> str:
        """A button's label as plain text (buttons never carry markup)."""
        return self.text(lang, button.label, button.params, markup=False)

    def isolated(self, lang: str, text: str) -> str:
        """``text`` to stand beside other text on one line (an option after its number), as
        a parameter does: between isolates in a right-to-left language, or where it holds
        right-to-left letters or bidirectional formatting."""
        return _isolated(text, (lang in self.texts and right_to_left(lang)) or _turns_around(text))


class _Values(dict[str, str]):
    """The values filled into one text. A message stored before its text changed (in the
    outbox, or kept for a replay) may lack one the text now expects: it shows as "…" and the
    message still goes out, rather than fail every time it is tried."""

    def __init__(self, values: dict[str, str], key: str):
        super().__init__(values)
        self.key = key

    def __missing__(self, field: str) -> str:
        log.warning("catalog text without its value key=%s field=%s", self.key, field)
        return "…"


#: A value that ends a sentence itself ("Natuurlijk!", "in het buurthuis.").
_ENDS_SENTENCE = re.compile(r"[.!?…]$")
#: The catalog's punctuation right after a placeholder (and any closing markup between).
_AFTER_FIELD = re.compile(r"\{(\w+)\}((?:</[a-z]+>)*)([.:;,])")


def _without_double_punctuation(template: str, values: dict[str, str]) -> str:
    """The template (and ``values``) without doubled punctuation where a value already ends
    a sentence: "{title}." with "Natuurlijk!" reads "Natuurlijk!", not "Natuurlijk!.";
    "{what}:" with "in het buurthuis." reads "in het buurthuis:" (``values`` is changed)."""

    def fix(found: re.Match[str]) -> str:
        name, closing, mark = found.groups()
        value = values.get(name, "").rstrip()
        if not value or not _ENDS_SENTENCE.search(value):
            return found.group(0)
        if mark == ".":
            return "{" + name + "}" + closing
        if value.endswith(".") and not value.endswith(".."):
            values[name] = value[:-1]  # the catalog's ":" or "," goes on
        return found.group(0)  # "Natuurlijk!: 1" is a label and its count

    if "}" not in template:
        return template
    return _AFTER_FIELD.sub(fix, template)


def _display(value: Any, lang: str) -> str:
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, int):
        return format_decimal(value, locale=babel_locale(lang))
    if isinstance(value, dict):
        # A span of time kept as its moments (a message stored once, read in any language).
        written = when.shown(value, lang)
        if written is not None:
            return written
    return str(value)


def _has_right_to_left(text: str) -> bool:
    """Whether ``text`` has a letter written right to left (an Arabic name in Dutch text)."""
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def _turns_around(text: str) -> bool:
    """Whether ``text`` would pull the text around it out of order in a left-to-right
    language: it has right-to-left letters or bidirectional formatting."""
    return _has_right_to_left(text) or _BIDI.search(text) is not None


def _isolated(text: str, isolate: bool) -> str:
    """``text`` between FSI and PDI (right-to-left languages, right-to-left letters or
    bidirectional formatting in it), unless it is empty.

    Within an isolate, its closing PDI ends every embedding and override the text opened,
    so nothing the text holds reaches what follows it; the text's own isolates are balanced
    first (see :func:`balanced_isolates`), or one of its PDIs would close ours.
    """
    return f"{FSI}{balanced_isolates(text)}{PDI}" if isolate and text else text


def balanced_isolates(text: str) -> str:
    """``text`` with its isolates balanced: a PDI that closes nothing is dropped, and an
    isolate left open is closed at the end."""
    if PDI not in text and not any(ch in text for ch in _OPENS_ISOLATE):
        return text
    kept, open_ = [], 0
    for ch in text:
        if ch in _OPENS_ISOLATE:
            open_ += 1
        elif ch == PDI:
            if not open_:
                continue
            open_ -= 1
        kept.append(ch)
    return "".join(kept) + PDI * open_


def _number(count: Any) -> int | float:
    """A plural text's count as a number (0 when a reply left it out or it is not one)."""
    if isinstance(count, bool):
        return 0
    if isinstance(count, int | float):
        return count
    try:
        return int(str(count))
    except ValueError:
        return 0
