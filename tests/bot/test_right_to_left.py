"""Arabic reads right to left: names, numbers and emoji that residents and staff wrote keep
their own direction inside Arabic text (Unicode isolates), in what Telegram and Matrix get,
and the isolates change nothing about Telegram's limits and splitting."""

from __future__ import annotations

import io
import re
import unicodedata

from bot.app import App
from bot.platforms._matrix_render import render as matrix_render
from bot.platforms._telegram_text import TEXT_LIMIT, pack, utf16_len
from bot.platforms.console import Console
from bot.render import numbered_lines
from handlers.catalog import FSI, PDI, Catalog
from handlers.contract import Button, Reply
from tests.e2e.botapi import _check_html
from tests.e2e.botapi import utf16_len as telegram_utf16_len

#: A small Dutch and Arabic catalog: the real Arabic one may not be there (yet).
CATALOG = Catalog(
    {
        "nl": {
            "card": "<b>#{number} {title}</b>\n👍 Steun: {supporters}",
            "line": "\n{n}. <b>{name}</b>\n{body}",
            "raw": "{text}",
        },
        "ar": {
            "card": "<b>#{number} {title}</b>\n👍 الدعم: {supporters}",
            "line": "\n{n}. <b>{name}</b>\n{body}",
            "raw": "{text}",
        },
    }
)
CARD = Reply(
    key="card",
    params={"number": 12, "title": "Bankjes <voor> Velsen 🌳", "supporters": 1234},
)


def test_user_text_in_arabic_is_isolated_in_telegram_html_and_parses() -> None:
    html = CATALOG.render("ar", CARD, markup=True)
    assert html == (
        f"<b>#{FSI}12{PDI} {FSI}Bankjes &lt;voor&gt; Velsen 🌳{PDI}</b>\n👍 الدعم: {FSI}1,234{PDI}"
    )
    # What Telegram shows: the isolates are there, around the name and the numbers only.
    shown = _check_html(html)
    assert shown.count(FSI) == shown.count(PDI) == 3
    assert f"{FSI}Bankjes <voor> Velsen 🌳{PDI}" in shown
    # Dutch is left exactly as before.
    assert FSI not in CATALOG.render("nl", CARD, markup=True)


def test_user_text_in_arabic_is_isolated_in_matrix_body_and_formatted_body() -> None:
    [message] = matrix_render(CATALOG, "ar", [CARD])
    content = message.text_content()
    assert f"{FSI}Bankjes &lt;voor&gt; Velsen 🌳{PDI}" in content["formatted_body"]
    assert f"{FSI}Bankjes <voor> Velsen 🌳{PDI}" in content["body"]
    [dutch] = matrix_render(CATALOG, "nl", [CARD])
    assert FSI not in dutch.text_content()["formatted_body"]


def test_isolates_count_as_one_utf16_unit_each_as_telegram_counts_them() -> None:
    text = CATALOG.text("ar", "card", {"number": 1, "title": "😀", "supporters": 2}, markup=False)
    assert text == f"#{FSI}1{PDI} {FSI}😀{PDI}\n👍 الدعم: {FSI}2{PDI}"
    assert utf16_len(text) == len(text) + 2 == telegram_utf16_len(text)
    # A value that is the whole text has nothing around it to keep in order.
    assert CATALOG.text("ar", "raw", {"text": "😀"}, markup=False) == "😀"


def test_an_arabic_card_with_emoji_and_markup_over_the_limit_splits_as_telegram_takes() -> None:
    # Comments full of emoji, Latin names and markup-looking text, right at 4,096 units.
    lines = [
        Reply(
            key="line",
            params={"n": n, "name": f"Anna <b>{n}</b> 🇳🇱", "body": "مرحبا Velsen 😀 " * 40},
        )
        for n in range(1, 12)
    ]
    card = Reply(key="card", params=CARD.params, parts=lines)
    blocks = CATALOG.blocks("ar", card, markup=True)
    pieces = pack(blocks, TEXT_LIMIT, markup=True)
    assert len(pieces) > 1
    for piece in pieces:
        shown = _check_html(piece)  # raises where Telegram would refuse the HTML
        assert telegram_utf16_len(shown) <= TEXT_LIMIT
    together = "".join("".join(_check_html(p).split()) for p in pieces)
    assert together == "".join(_check_html("\n".join(blocks)).split())
    # Whole lines went together: every piece opens as many isolates as it closes.
    for piece in pieces:
        assert piece.count(FSI) == piece.count(PDI)


def test_an_arabic_name_inside_dutch_text_is_isolated_and_latin_text_is_not() -> None:
    reply = Reply(key="card", params={"number": 7, "title": "حديقة Zeewijk", "supporters": 3})
    html = CATALOG.render("nl", reply, markup=True)
    # Without the isolates the "7" before and the text after would be pulled into the name.
    assert html == f"<b>#7 {FSI}حديقة Zeewijk{PDI}</b>\n👍 Steun: 3"
    assert FSI not in CATALOG.render("nl", CARD, markup=True)


def _runs_outside_isolates(line: str) -> str:
    """``line`` without what its isolates hold: what the bidirectional algorithm orders
    the numbers ``[5]`` among."""
    kept, depth = [], 0
    for ch in line:
        if ch in "\u2066\u2067\u2068":
            depth += 1
        elif ch == PDI:
            depth = max(0, depth - 1)
        elif depth == 0:
            kept.append(ch)
    return "".join(kept)


def _option_lines(shown: str) -> list[str]:
    return [line for line in shown.split("\n") if re.match(r"\[\d+\] ", line)]


async def test_an_arabic_reader_in_the_console_sees_each_number_beside_its_own_option(
    app: App,
) -> None:
    # "[5] 📰 Wist je dat   [6] 🗳️ Velsen kiest" in an Arabic line: a terminal or Matrix
    # client joins the "[6]" to the Latin words before it, so it shows "Wist je dat" as
    # option 6 and typing 6 opened something else. Each label keeps to itself.
    typed = "/start\nنعم\nالعربية\nIJmuiden\n/menu\n"
    out = io.StringIO()
    await Console(app, "anna", io.StringIO(typed), out).run()
    menu = out.getvalue().rsplit("> /menu", 1)[1]
    lines = _option_lines(menu)
    assert any("Wist je dat" in line for line in lines), menu
    for line in lines:
        outside = _runs_outside_isolates(line)
        assert not any(unicodedata.bidirectional(ch) in ("L", "R", "AL") for ch in outside), line
    [row] = [line for line in lines if "Wist je dat" in line]
    assert re.search(rf"\[5\] {FSI}[^{PDI}]*Wist je dat{PDI}", row), row
    # Typing the number still chooses the option it stands beside.
    out = io.StringIO()
    await Console(app, "anna", io.StringIO("5\n"), out).run()
    assert "Wist je dat" in out.getvalue()


async def test_an_arabic_title_among_dutch_options_leaves_the_numbers_in_reading_order(
    app: App,
) -> None:
    [(_, _, options)] = numbered_lines(
        app.catalog,
        "nl",
        [
            Reply(
                key="raw",
                params={"text": "Kies"},
                buttons=[[Button.raw("حديقة Zeewijk", "x"), Button.raw("Meer", "y")]],
            )
        ],
        markup=False,
    )
    assert options == f"[1] {FSI}حديقة Zeewijk{PDI}   [2] Meer"
