"""Amounts in euro as residents type them ("1500", "€ 1.500", "1500,50") and as we show them."""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import format_currency

from handlers.catalog import babel_locale

#: A budget above this is surely a typing mistake (in euro).
MAX_EURO = 10_000_000

_CURRENCY = re.compile(r"(?i)^\s*(?:€|eur(?:o)?)?\s*(.*?)\s*(?:€|eur(?:o)?|euro's)?\s*$")
_DUTCH = re.compile(r"^\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?$|^\d+(?:,\d{1,2})?$")
_ENGLISH = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?$|^\d+\.\d{1,2}$")
_DASH_CENTS = re.compile(r"^(.*),-{1,2}$")


def parse_euro(text: str) -> int | None:
    """The amount in cents, or None when the text is not a plain amount in euro.

    Dutch notation first ("1.500" is fifteen hundred, "1500,50" has cents, "1500,-" too);
    English notation ("1,500.50", "1500.50") where it cannot be Dutch.
    """
    match = _CURRENCY.match(text.replace("\u00a0", " "))
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
        return None
    return amount


def format_euro(cents: int, lang: str) -> str:
    """An amount as people read it in ``lang``: "€ 1.500" or "€ 1.500,50" in Dutch,
    "€1,500.50" in English, "1 500,50 €" in Polish; no cents when there are none."""
    locale = babel_locale(lang)
    amount = Decimal(cents) / 100
    if cents % 100:
        return format_currency(amount, "EUR", locale=locale)
    pattern = locale.currency_formats["standard"].pattern.replace(".00", "")
    return format_currency(amount, "EUR", format=pattern, locale=locale, currency_digits=False)
