"""Amounts in euro as residents type them ("1500", "€ 1.500", "1500,50") and as we show them."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from babel.numbers import format_currency, get_currency_symbol

from handlers.locales import babel_locale

#: How the euro is shown in every language.
EURO_SIGN = "€"
#: A budget above this is surely a typing mistake (in euro).
MAX_EURO = 10_000_000

_CURRENCY = re.compile(r"(?i)^\s*(?:€|eur(?:o)?)?\s*(.*?)\s*(?:€|eur(?:o)?|euro's)?\s*$")
#: "ongeveer 800 euro": the question asks for an amount "ongeveer" (about), so people say so.
_ABOUT = re.compile(
    r"(?i)^\s*(?:ongeveer|ong\.|circa|ca\.?|zo'n|zon|rond(?:om)?|about|around|approx(?:imately|\.)?"
    r"|roughly|some|max(?:imaal|imum|\.)?|hooguit|at most|tot|up to|~)\s*"
)
#: Groups of three after a separator are thousands, never decimals: at most two decimals
#: (whole cents) after the decimal sign. A grouped number does not begin with 0, so
#: "0,001" and "0.001" (a thousandth of a euro, or a typing mistake) are no amount, where
#: reading the separator as a thousands sign made them one euro.
_DUTCH = re.compile(r"^[1-9]\d{0,2}(?:\.\d{3})+(?:,\d{1,2})?$|^\d+(?:,\d{1,2})?$")
_ENGLISH = re.compile(r"^[1-9]\d{0,2}(?:,\d{3})+(?:\.\d{1,2})?$|^\d+\.\d{1,2}$")
_DASH_CENTS = re.compile(r"^(.*),-{1,2}$")
#: Marks that show nothing: direction marks and isolates (an amount copied from right-to-left
#: text, or typed on an Arabic keyboard, comes wrapped in them), zero-width spaces and
#: joiners, a byte-order mark.
_UNSEEN = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\u061c\ufeff]")
#: An Arabic keyboard's thousands and decimal signs ("١٬٥٠٠٫٥٠"), as the Dutch ones.
_ARABIC_SIGNS = str.maketrans({"\u066c": ".", "\u066b": ","})


class AmountTooLarge(ValueError):
    """An amount above :data:`MAX_EURO`: surely a typing mistake, and said so."""


def parse_euro(text: str) -> int | None:
    """The amount in cents, or None when the text is not a plain amount in euro (or one
    that is too large: :func:`read_euro` tells the two apart)."""
    try:
        return read_euro(text)
    except AmountTooLarge:
        return None


def read_euro(text: str) -> int | None:
    """The amount in cents, or None when the text is not a plain amount in euro.

    Dutch notation first ("1.500" is fifteen hundred, "1500,50" has cents, "1500,-" too);
    English notation ("1,500.50", "1500.50") where it cannot be Dutch. A word for "about"
    before it is fine ("ongeveer 800 euro"). More than two decimals ("0,001", "1,2345",
    "1.000,505") is no amount: nobody pays a part of a cent.

    Raises:
        AmountTooLarge: a plain amount above :data:`MAX_EURO`.
    """
    spaced = _UNSEEN.sub("", text).replace("\u00a0", " ").replace("\u202f", " ")
    spaced = _ascii_digits(spaced.translate(_ARABIC_SIGNS))
    text = _ABOUT.sub("", spaced, count=1)
    match = _CURRENCY.match(text)
    if match is None:
        return None
    number = match.group(1).replace(" ", "")
    dash = _DASH_CENTS.match(number)
    if dash:
        number = dash.group(1)
    if _DUTCH.match(number):
        whole, _, cents = number.replace(".", "").partition(",")
    elif _ENGLISH.match(number):
        whole, _, cents = number.replace(",", "").partition(".")
    else:
        return None
    amount = int(whole) * 100 + int(cents.ljust(2, "0") or 0)
    if amount > MAX_EURO * 100:
        raise AmountTooLarge(text)
    return amount


def _ascii_digits(text: str) -> str:
    """``text`` with the digits of any script as 0-9 ("١٥٠٠" is "1500"; "²" is no digit)."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def format_euro(cents: int, lang: str) -> str:
    """An amount as people read it in ``lang``: "€ 1.500" or "€ 1.500,50" in Dutch,
    "€1,500.50" in English, "1 500,50 €" in Polish and Ukrainian; no cents when there are
    none."""
    locale = babel_locale(lang)
    amount = Decimal(cents) / 100
    if cents % 100:
        shown = format_currency(amount, "EUR", locale=locale)
    else:
        pattern = locale.currency_formats["standard"].pattern.replace(".00", "")
        shown = format_currency(
            amount, "EUR", format=pattern, locale=locale, currency_digits=False
        )
    # CLDR gives some languages the code as the euro's symbol ("1 500,50 EUR" in
    # Ukrainian; its narrow symbol is €, which Babel does not carry). Residents read €
    # on every price tag here, so the sign is shown in every language.
    symbol = get_currency_symbol("EUR", locale)
    return shown if symbol == EURO_SIGN else shown.replace(symbol, EURO_SIGN)
