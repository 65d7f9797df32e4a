"""Bar charts as PNG, drawn with Pillow: figures a civil servant can forward as they are.

One image holds several sections (ideas per category, per status, ...), each a heading and
one horizontal bar per row with its count at the end. A line that reads from right to left
(an Arabic title, heading or label) stands against the right edge of its place
(:func:`aligned`); the bars still grow to the right, as the figures' own digits read.
"""

from __future__ import annotations

import asyncio
import io
import unicodedata
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageDraw, features

from handlers import fonts
from storage import graphemes
from storage.db import Database

#: Whether Pillow lays text out with libraqm, which takes a paragraph's direction.
_LAYOUT_TAKES_DIRECTION = bool(features.check("raqm"))

WIDTH = 1200
MARGIN = 40
LABEL_WIDTH = 440
ROW = 38
BAR = 26
HEADING = 60
#: How much lower each further line of a wrapped title, subtitle or heading comes.
TITLE_LINE = 42
SUBTITLE_LINE = 26
HEADING_LINE = 32
BAND = (0, 84, 140)
BARS = (60, 140, 200)
INK = (25, 25, 25)
MUTED = (110, 110, 110)

Section = tuple[str, list[tuple[str, int]]]


async def drawn(db: Database, draw: Callable[..., bytes], *args: Any, **kwargs: Any) -> bytes:
    """``draw(*args, **kwargs)`` on a thread of its own, the event's unit of work stepped
    aside meanwhile (:meth:`Database.aside`): Pillow takes tens of milliseconds for a chart
    or a poster, and neither the event loop nor anybody else's answer waits for it.

    Call it once everything the picture shows is read, before anything is written.
    """
    async with db.aside():
        return await asyncio.to_thread(draw, *args, **kwargs)


def bar_chart(title: str, subtitle: str, sections: list[Section]) -> bytes:
    """A PNG with a title band and one block of horizontal bars per section.

    Titles, subtitles and headings as long as staff may write them (a question of 200
    characters) are wrapped onto a few lines within the picture, the last one cut with an
    ellipsis if even that is too little: nothing runs off its right edge."""
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = WIDTH - 2 * MARGIN
    titles = wrapped(measure, title, fonts.font(34), width, 2)
    subtitles = wrapped(measure, subtitle, fonts.font(20), width, 2)
    headings = [wrapped(measure, heading, fonts.font(26), width, 3) for heading, _ in sections]
    band = 110 + TITLE_LINE * (len(titles) - 1) + SUBTITLE_LINE * (len(subtitles) - 1)
    height = band + 40
    height += sum(
        HEADING + HEADING_LINE * (len(lines) - 1) + ROW * max(1, len(rows)) + 20
        for lines, (_, rows) in zip(headings, sections, strict=True)
    )
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, band), fill=BAND)
    across = (MARGIN, WIDTH - MARGIN)
    for number, line in enumerate(titles):
        middle = 38 + TITLE_LINE * number
        draw_line(draw, middle, line, across, fonts.font(34), "white", paragraph=title)
    for number, line in enumerate(subtitles):
        middle = 80 + TITLE_LINE * (len(titles) - 1) + SUBTITLE_LINE * number
        draw_line(draw, middle, line, across, fonts.font(20), "white", paragraph=subtitle)
    top = band + 30
    bar_space = WIDTH - 2 * MARGIN - LABEL_WIDTH - 90
    for lines, (heading, rows) in zip(headings, sections, strict=True):
        for number, line in enumerate(lines):
            middle = top + 20 + HEADING_LINE * number
            draw_line(draw, middle, line, across, fonts.font(26), BAND, paragraph=heading)
        top += HEADING + HEADING_LINE * (len(lines) - 1)
        largest = max((count for _, count in rows), default=0)
        for label, count in rows or [("-", 0)]:
            middle = top + ROW // 2
            fitted = _fit(draw, label)
            x, anchor = aligned(fitted, MARGIN, MARGIN + LABEL_WIDTH - 20)
            draw.text((x, middle), fitted, font=fonts.font(20), fill=INK, anchor=anchor)
            left = MARGIN + LABEL_WIDTH
            length = round(bar_space * count / largest) if largest else 0
            if length:
                draw.rectangle(
                    (left, middle - BAR // 2, left + length, middle + BAR // 2), fill=BARS
                )
            draw.text(
                (left + length + 10, middle),
                str(count),
                font=fonts.font(20),
                fill=MUTED,
                anchor="lm",
            )
            top += ROW
        top += 20
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def right_to_left(text: str) -> bool:
    """Whether ``text`` reads from right to left: its first letter with a direction of its
    own is Arabic or Hebrew (how a paragraph's direction is found; digits and symbols have
    none)."""
    for ch in text:
        direction = unicodedata.bidirectional(ch)
        if direction in ("R", "AL"):
            return True
        if direction == "L":
            return False
    return False


def aligned(
    text: str, left: int, right: int, vertical: str = "m", *, paragraph: str | None = None
) -> tuple[int, str]:
    """Where a line of ``text`` between ``left`` and ``right`` is drawn, and Pillow's anchor
    for it (``vertical``: at its middle, "a" at its top): against the left edge, or against
    the right edge when it reads from right to left, as an Arabic reader expects. A line
    wrapped from a longer ``paragraph`` goes the paragraph's way: the line of an Arabic
    title that begins with a Latin place name stands at the right with the others."""
    whole = text if paragraph is None else paragraph
    return (right, f"r{vertical}") if right_to_left(whole) else (left, f"l{vertical}")


def draw_line(
    draw: ImageDraw.ImageDraw,
    y: int,
    line: str,
    across: tuple[int, int],
    font: fonts.Font,
    fill: str | tuple[int, int, int],
    *,
    paragraph: str,
    vertical: str = "m",
) -> None:
    """Draw one ``line`` of a wrapped ``paragraph`` at height ``y`` between the two edges
    ``across``, against the edge and in the direction the paragraph reads."""
    x, anchor = aligned(line, *across, vertical, paragraph=paragraph)
    draw.text((x, y), line, font=font, fill=fill, anchor=anchor, direction=direction(paragraph))


def direction(paragraph: str) -> str | None:
    """The direction to lay out the lines of ``paragraph`` in (Pillow's ``direction``):
    right to left for an Arabic one, so that a line of it beginning with a Latin word still
    reads in its order; None (each line its own way) otherwise, or without libraqm, the
    layout engine that takes a direction."""
    return "rtl" if right_to_left(paragraph) and _LAYOUT_TAKES_DIRECTION else None


def wrapped(
    draw: ImageDraw.ImageDraw, text: str, font: fonts.Font, width: int, most: int
) -> list[str]:
    """``text`` without symbols on at most ``most`` lines of ``width`` pixels, broken
    between words (inside one only where a word is wider than a line); what does not fit
    is cut, with an ellipsis."""
    words = plain(text).split(" ")
    lines: list[str] = []
    line = ""
    while words:
        word = words[0]
        tried = f"{line} {word}" if line else word
        if draw.textlength(tried, font=font) <= width:
            line = tried
            words.pop(0)
            continue
        if not line:
            # One word wider than a line: as much of it as fits, the rest on the next.
            cut = len(word) - 1
            while cut > 1 and draw.textlength(word[:cut], font=font) > width:
                cut -= 1
            line, words[0] = word[:cut], word[cut:]
        lines.append(line)
        line = ""
        if len(lines) == most:
            return [*lines[:-1], _cut(draw, " ".join([lines[-1], *words]), font, width)]
    return [*lines, line] if line or not lines else lines


def _cut(draw: ImageDraw.ImageDraw, text: str, font: fonts.Font, width: int) -> str:
    """``text`` cut with an ellipsis to fit ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    # Whole characters off the end (a letter with its marks), never half of one.
    kept = list(graphemes.clusters(text))
    while kept and draw.textlength(f"{''.join(kept)}…", font=font) > width:
        kept.pop()
    return f"{''.join(kept).rstrip()}…"


def plain(text: str) -> str:
    """Text without emoji and other symbols (chart fonts have no glyphs for them)."""
    kept = "".join(
        ch for ch in text if unicodedata.category(ch) not in ("So", "Sk", "Mn", "Cf", "Co")
    )
    return " ".join(kept.split())


def _fit(draw: ImageDraw.ImageDraw, label: str) -> str:
    """The label without symbols, cut with an ellipsis to fit the label column."""
    return _cut(draw, plain(label), fonts.font(20), LABEL_WIDTH - 20)
