"""The typeface of the pictures Samenspel draws (charts, posters): DejaVu Sans.

Its letters cover every catalog language: Dutch and Turkish accents, Polish, Ukrainian
(Cyrillic) and Arabic. Pillow's own font has only ASCII: without DejaVu an ë, every Cyrillic
and every Arabic letter would come out as an empty box. Arabic also needs FriBiDi, which
Pillow loads when it is installed, to join its letters and set right-to-left text in order.
The image installs both (Debian's ``fonts-dejavu-core`` and ``libfribidi0``), and
``samenspel doctor`` warns when either is missing (:func:`problems`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from PIL import ImageFont, features

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

_DEJAVU = "/usr/share/fonts/truetype/dejavu"
#: Where the typeface is looked for: by name (FreeType's own search), then Debian's place.
FILES = {
    False: ("DejaVuSans.ttf", f"{_DEJAVU}/DejaVuSans.ttf"),
    True: ("DejaVuSans-Bold.ttf", f"{_DEJAVU}/DejaVuSans-Bold.ttf"),
}
#: A character no font has: what a font draws for it is its "no such letter" box.
_NO_LETTER = "\uffff"


@functools.lru_cache(maxsize=32)
def font(size: int, *, bold: bool = False) -> Font:
    """DejaVu Sans (bold) at ``size`` pixels; Pillow's own font when it is not installed."""
    for name in FILES[bold]:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def found(*, bold: bool = False) -> bool:
    """Whether the typeface itself was found (not Pillow's own font in its place)."""
    face = font(20, bold=bold)
    return isinstance(face, ImageFont.FreeTypeFont) and str(face.getname()[0]).startswith("DejaVu")


def missing(text: str, *, bold: bool = False) -> str:
    """The characters of ``text`` the font has no letter for (each once, in order)."""
    face = font(20, bold=bold)
    box = _drawn(face, _NO_LETTER)
    return "".join(
        ch for ch in dict.fromkeys(text) if not ch.isspace() and _drawn(face, ch) == box
    )


def _drawn(face: Font, ch: str) -> tuple[tuple[int, int], bytes]:
    mask = face.getmask(ch)
    return mask.size, bytes(mask)


def problems(texts: Iterable[tuple[str, str, bool]]) -> list[str]:
    """What would spoil the pictures for these texts, each a sentence for the operator.

    ``texts``: (language, the characters pictures may show in it, whether it is written
    right to left).
    """
    found_problems = []
    for bold in (False, True):
        if not found(bold=bold):
            name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
            found_problems.append(
                f"{name} not found: letters beyond ASCII are drawn as boxes"
                " (install fonts-dejavu-core)"
            )
    gaps = []
    right_to_left = []
    for lang, letters, rtl in texts:
        lacking = missing(letters) + missing(letters, bold=True)
        if lacking:
            gaps.append(f"{lang} {''.join(dict.fromkeys(lacking))[:12]}")
        if rtl:
            right_to_left.append(lang)
    if gaps and not found_problems:
        found_problems.append(f"no letter in the font for: {'; '.join(gaps)}")
    if right_to_left and not features.check("raqm"):
        found_problems.append(
            f"{', '.join(right_to_left)}: letters would not be joined nor set right to left"
            " (install libfribidi0)"
        )
    return found_problems
