"""Text catalogs: every resident-facing sentence, per language, from ``messages/<lang>.toml``.

A catalog entry may carry simple HTML markup (``<b>``, ``<i>``, ``<code>``); parameters are
data and are always escaped, so a resident's ``<b>`` in an idea title stays literal text.
"""

from __future__ import annotations

import html
import re
import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from handlers.contract import Button, Reply

MESSAGES_DIR = Path(__file__).resolve().parent.parent / "messages"
DEFAULT_LANGUAGE = "nl"
_TAG = re.compile(r"</?(?:b|i|u|code|pre)>")


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, str):
            flat[name] = value
        else:
            raise ValueError(f"catalog entry {name} must be text")
    return flat


def placeholders(template: str) -> set[str]:
    """The named fields a catalog entry expects."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


#: The parts of a date the ``when.*`` formats may use (see ``handlers/when.py``).
DATE_PARTS = frozenset({"day", "dd", "mm", "month", "year", "time"})


def same_placeholders(key: str, reference: str, other: str) -> bool:
    """Whether a translation fills in what the reference does. How a date is written
    differs per language (12-03-2026, 12 March 2026): a ``when.*`` format may use any
    of the parts of a date."""
    if key.startswith("when."):
        return placeholders(other) <= DATE_PARTS
    return placeholders(reference) == placeholders(other)


class Catalog:
    """All languages' texts, with the default language as the fallback."""

    def __init__(self, texts: dict[str, dict[str, str]], default: str = DEFAULT_LANGUAGE):
        if default not in texts:
            raise ValueError(f"no catalog for the default language {default!r}")
        self.texts = texts
        self.default = default

    @classmethod
    def load(cls, directory: Path = MESSAGES_DIR, default: str = DEFAULT_LANGUAGE) -> Catalog:
        """Read every ``<lang>.toml`` in ``directory`` (two-letter names only)."""
        texts: dict[str, dict[str, str]] = {}
        for path in sorted(directory.glob("??.toml")):
            with path.open("rb") as fh:
                texts[path.stem] = _flatten(tomllib.load(fh))
        return cls(texts, default)

    @property
    def languages(self) -> list[str]:
        return sorted(self.texts)

    def language(self, wanted: str | None) -> str:
        """The supported language closest to ``wanted`` (a hint such as ``en-GB``)."""
        short = (wanted or "").split("-")[0].lower()
        return short if short in self.texts else self.default

    def template(self, lang: str, key: str) -> str:
        texts = self.texts.get(lang, self.texts[self.default])
        found = texts.get(key)
        if found is None:
            found = self.texts[self.default].get(key)
        if found is None:
            raise KeyError(f"no catalog entry {key!r}")
        return found

    def text(self, lang: str, key: str, params: Mapping[str, Any], *, markup: bool) -> str:
        """One entry with its parameters filled in, as HTML (``markup``) or plain text."""
        template = self.template(lang, key)
        if not markup:
            template = html.unescape(_TAG.sub("", template))
        values = {k: _display(v, lang) for k, v in params.items()}
        template = _without_double_punctuation(template, values)
        if markup:
            values = {k: html.escape(v, quote=False) for k, v in values.items()}
        return template.format_map(values)

    def render(self, lang: str, message: Reply, *, markup: bool) -> str:
        """A whole Reply: its main text and its parts, one per line."""
        lines = [self.text(lang, message.key, message.params, markup=markup)]
        lines += [self.render(lang, part, markup=markup) for part in message.parts]
        return "\n".join(line for line in lines if line)

    def label(self, lang: str, button: Button) -> str:
        """A button's label as plain text (buttons never carry markup)."""
        return self.text(lang, button.label, button.params, markup=False)


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
        grouped = f"{value:,}"
        return grouped if lang == "en" else grouped.replace(",", ".")
    return str(value)
