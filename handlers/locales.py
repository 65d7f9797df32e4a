"""The languages' locales: Babel's data for writing dates, numbers and plurals in a catalog
language, its direction, its own name and its name in another language.

Babel reads a language's data from disk the first time it is asked (some milliseconds);
the locales and the names are kept once found.
"""

from __future__ import annotations

from babel import Locale, UnknownLocaleError

#: The language every catalog is measured against and falls back to.
DEFAULT_LANGUAGE = "nl"


#: The region a language's dates and numbers are written for, where its first one would be
#: wrong here: English as written in Europe (day before month, 24-hour clock).
_REGIONS = {"en": "en_GB"}


def babel_locale(lang: str) -> Locale:
    """Babel's locale for formatting in a catalog language (Dutch for a code Babel does not
    know)."""
    try:
        return _locale(_REGIONS.get(lang, lang))
    except (UnknownLocaleError, ValueError):
        return _locale(DEFAULT_LANGUAGE)


_LOCALES: dict[str, Locale] = {}


def _locale(lang: str) -> Locale:
    found = _LOCALES.get(lang)
    if found is None:
        found = _LOCALES[lang] = Locale.parse(lang)
    return found


def plural_categories(lang: str) -> frozenset[str]:
    """The CLDR plural categories a plural text needs in ``lang`` (``other`` included)."""
    return frozenset(babel_locale(lang).plural_form.tags) | {"other"}


def right_to_left(lang: str) -> bool:
    """Whether ``lang`` is written right to left (Arabic)."""
    return babel_locale(lang).character_order == "right-to-left"


def own_name(lang: str) -> str:
    """A language's name in that language ("Türkçe", "العربية", "Polski")."""
    known = _OWN_NAMES.get(lang)
    if known is not None:
        return known
    try:
        name = _locale(lang).display_name or lang
    except (UnknownLocaleError, ValueError):
        return lang
    # Babel composes the name anew on every call (about 20 microseconds), and the language
    # question shows every catalog's: kept, like the locales, once found.
    named = _OWN_NAMES[lang] = name[:1].upper() + name[1:]
    return named


_OWN_NAMES: dict[str, str] = {}


def name_in(lang: str, reader: str) -> str:
    """A language's name in the reader's language ("Turks" for a Dutch reader); its own
    name where Babel has none in the reader's."""
    return babel_locale(reader).languages.get(lang) or own_name(lang)
