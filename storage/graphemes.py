"""What a reader sees as one character, so that a cut text never ends in half of one.

A button label, a preview or a typed text shown back is cut to a number of characters; a
cut between two code points of one emoji leaves a broken symbol before the "…": a family
(👩‍👩‍👧, joined by U+200D) becomes 👩‍, a flag (🇳🇱, two regional indicators) a lone letter
box, a 👍🏽 loses its skin tone, a keycap (1️⃣) its frame, an accented letter written with a
combining mark its accent. :func:`cut` cuts between whole characters only.

The standard's extended grapheme clusters (UAX #29) without a library: the rules that keep
these together, which is all a cut for a reader needs. A mark, a variation selector, a skin
tone, a tag (in the flag of a part of a country, Scotland's), U+200C/D and the keycap's
U+20E3 belong to what comes before them; after U+200D the next character belongs to it too
(the standard asks for an emoji there; joining any letter only ever cuts a little earlier);
regional indicators pair up from the start of their run. Hangul jamo sequences and
prepended marks (rules the standard has for a few scripts that Samenspel's languages do not
write) are not treated: a cut there splits as a cut by code points would.

It lives in ``storage`` because storage shortens texts too (a budget project's description
standing in for its title) and imports nothing of ``handlers``; the features import it here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

ZWJ, ZWNJ = "\u200d", "\u200c"
#: The categories of marks written on the character before them.
_MARKS = ("Mn", "Me", "Mc")


def _extends(ch: str) -> bool:
    """Whether ``ch`` belongs to the character before it (UAX #29's Extend, SpacingMark
    and ZWJ, as far as a reader sees them)."""
    code = ord(ch)
    return (
        unicodedata.category(ch) in _MARKS
        or ch in (ZWJ, ZWNJ)
        or 0xFE00 <= code <= 0xFE0F  # variation selectors (text or emoji style)
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tags (subdivision flags)
        or 0xE0100 <= code <= 0xE01EF  # more variation selectors
    )


def _regional(ch: str) -> bool:
    """Whether ``ch`` is one of the letters two of which make a flag (🇳 🇱)."""
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def clusters(text: str) -> Iterator[str]:
    """The characters of ``text`` as a reader sees them, in order."""
    start = 0
    regional = 0  # regional indicators in the current cluster
    for i in range(1, len(text) + 1):
        if i < len(text):
            ch, before = text[i], text[i - 1]
            if _regional(before):
                regional += 1
            if _extends(ch) or before == ZWJ:
                continue
            if _regional(ch) and _regional(before) and regional % 2 == 1:
                continue
        yield text[start:i]
        start = i
        regional = 0


def cut(text: str, length: int) -> str:
    """The longest start of ``text`` of at most ``length`` code points that ends between
    two whole characters (all of ``text`` if it is that short)."""
    if len(text) <= length:
        return text
    end = 0
    for cluster in clusters(text):
        if end + len(cluster) > length:
            break
        end += len(cluster)
    return text[:end]
