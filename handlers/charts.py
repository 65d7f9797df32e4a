"""Bar charts as PNG, drawn with Pillow: figures a civil servant can forward as they are.

One image holds several sections (ideas per category, per status, ...), each a heading and
one horizontal bar per row with its count at the end.
"""

from __future__ import annotations

import asyncio
import io
import unicodedata
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageDraw

from handlers import fonts
from storage.db import Database

WIDTH = 1200
MARGIN = 40
LABEL_WIDTH = 440
ROW = 38
BAR = 26
HEADING = 60
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
    """A PNG with a title band and one block of horizontal bars per section."""
    height = 150 + sum(HEADING + ROW * max(1, len(rows)) + 20 for _, rows in sections)
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 110), fill=BAND)
    draw.text((MARGIN, 38), plain(title), font=fonts.font(34), fill="white", anchor="lm")
    draw.text((MARGIN, 80), plain(subtitle), font=fonts.font(20), fill="white", anchor="lm")
    top = 140
    bar_space = WIDTH - 2 * MARGIN - LABEL_WIDTH - 90
    for heading, rows in sections:
        draw.text((MARGIN, top + 20), plain(heading), font=fonts.font(26), fill=BAND, anchor="lm")
        top += HEADING
        largest = max((count for _, count in rows), default=0)
        for label, count in rows or [("-", 0)]:
            middle = top + ROW // 2
            draw.text(
                (MARGIN, middle), _fit(draw, label), font=fonts.font(20), fill=INK, anchor="lm"
            )
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


def plain(text: str) -> str:
    """Text without emoji and other symbols (chart fonts have no glyphs for them)."""
    kept = "".join(
        ch for ch in text if unicodedata.category(ch) not in ("So", "Sk", "Mn", "Cf", "Co")
    )
    return " ".join(kept.split())


def _fit(draw: ImageDraw.ImageDraw, label: str) -> str:
    """The label without symbols, cut with an ellipsis to fit the label column."""
    font = fonts.font(20)
    label = plain(label)
    if draw.textlength(label, font=font) <= LABEL_WIDTH - 20:
        return label
    while label and draw.textlength(f"{label}…", font=font) > LABEL_WIDTH - 20:
        label = label[:-1]
    return f"{label.rstrip()}…"
