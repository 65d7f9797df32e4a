"""Posters: an A4 PNG with the municipality, the title and a QR code of the deep link."""

from __future__ import annotations

import asyncio
import io
import threading
import unicodedata
from typing import Any

import pytest
from PIL import Image, ImageDraw

from bot.app import App
from handlers.contract import Platform, Role
from handlers.news import posters
from handlers.news.posters import HEIGHT, MARGIN, WIDTH, render_poster
from storage.clock import utcnow
from storage.ideas.ideas import Removal
from tests.handlers.ideas.helpers import seed_idea
from tests.people import civil_servant, person, with_role
from tests.waiting import WAIT


async def test_a_poster_for_an_experiment_is_a_portrait_png(app: App) -> None:
    [playground, *_] = await app.repos.experiments.running()
    ria = await civil_servant(app)
    await ria.send(f"/poster exp_{playground.id}")
    assert ria.keys == ["posters.ready"]
    document = ria.last[0].reply.document
    assert document is not None
    assert document.filename == f"poster-exp_{playground.id}.png"
    assert document.mime_type == "image/png"
    image = Image.open(io.BytesIO(document.data))
    assert image.format == "PNG"
    width, height = image.size
    assert 1.35 < height / width < 1.45  # A4 portrait
    # Without a known bot address the poster tells what to type.
    assert f"/start exp_{playground.id}" in ria.text


async def test_residents_are_answered_while_a_poster_is_being_drawn(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    [playground, *_] = await app.repos.experiments.running()
    ria, anna = await civil_servant(app), await person(app, "anna")
    drawing, may_finish = threading.Event(), threading.Event()

    def slow_poster(**drawn: Any) -> bytes:
        drawing.set()
        may_finish.wait(WAIT)
        return render_poster(**drawn)

    monkeypatch.setattr(posters, "render_poster", slow_poster)
    making = asyncio.create_task(ria.send(f"/poster exp_{playground.id}"))
    assert await asyncio.to_thread(drawing.wait, WAIT)
    try:
        # Anna's tap is answered while Pillow still draws; it does not wait for the poster.
        await asyncio.wait_for(anna.send("/help"), WAIT / 2)
        assert anna.keys == ["general.help_title"]
        assert not making.done()
    finally:
        may_finish.set()
    await asyncio.wait_for(making, WAIT)
    assert ria.keys == ["posters.ready"]
    assert ria.last[0].reply.document is not None


async def test_the_qr_link_uses_the_bots_public_address_when_known(app: App) -> None:
    [playground, *_] = await app.repos.experiments.running()
    app.router.declare(
        Platform(name="telegram", start_link="https://t.me/samenspel_velsen_bot?start=")
    )
    ria = await civil_servant(app)
    await ria.send("/poster")
    assert ria.keys == ["posters.choose"]
    await ria.press("Speeltuin")
    assert ria.keys == ["posters.ready"]
    assert f"https://t.me/samenspel_velsen_bot?start=exp_{playground.id}" in ria.text


async def test_unknown_targets_are_not_found(app: App) -> None:
    ria = await civil_servant(app)
    for target in ("exp_999", "exp_x", "idee_42", "foo_1", "zomaar"):
        await ria.send(f"/poster {target}")
        assert ria.keys == ["posters.not_found"], target
        assert ria.last[0].reply.document is None


async def test_a_poster_for_an_idea_only_while_everyone_can_see_it(app: App) -> None:
    shown = await seed_idea(app, "Meer bankjes in het park")
    hidden = await seed_idea(app, "Weg met de buren op nummer 12")
    removed = await seed_idea(app, "Schreeuwerige titel")
    async with app.db.transaction():
        await app.repos.ideas.remove(hidden.id, utcnow(), how=Removal.HIDDEN, reason="Smaad")
        await app.repos.ideas.remove(removed.id, utcnow(), how=Removal.REMOVED, reason="Spam")
    ria = await civil_servant(app)
    await ria.send(f"/poster idee_{shown.id}")
    assert ria.keys == ["posters.ready"]
    assert "Meer bankjes in het park" in ria.text
    # What the connector took out of view is never printed and hung up.
    for idea in (hidden, removed):
        await ria.send(f"/poster idee_{idea.id}")
        assert ria.keys == ["posters.not_found"]
        assert ria.last[0].reply.document is None
        assert idea.title not in ria.text
    # Shown again, it can have its poster again.
    async with app.db.transaction():
        assert await app.repos.ideas.restore(hidden.id, utcnow())
    await ria.send(f"/poster idee_{hidden.id}")
    assert ria.keys == ["posters.ready"]


async def test_a_poster_number_typed_in_another_scripts_digits_is_that_number(app: App) -> None:
    shown = await seed_idea(app, "Meer bankjes in het park")
    ria = await civil_servant(app)
    # Arabic-Indic and full-width digits, as a keyboard in Arabic or Japanese types them.
    for typed in ("\u0661", "\uff11"):
        await ria.send(f"/poster idee_{typed}")
        assert ria.keys == ["posters.ready"], typed
        assert f"idee_{shown.id}" in ria.text
        document = ria.last[0].reply.document
        assert document is not None and document.filename == f"poster-idee_{shown.id}.png"


def _inked(image: Image.Image, box: tuple[int, int, int, int]) -> bool:
    """Whether anything dark is drawn inside ``box`` (left, top, right, bottom)."""
    darkest, _ = image.convert("L").crop(box).getextrema()
    return bool(darkest < 128)


def _title_lines(image: Image.Image) -> list[bool]:
    """For each of the four title lines' places: does a line of text begin there?

    A line begins at the left margin; the QR code, lower down, stays clear of that strip."""
    return [_inked(image, (MARGIN, top, MARGIN + 100, top + 80)) for top in (270, 374, 478, 582)]


def test_the_poster_drawing_is_generic_and_wraps_long_titles_within_the_margins() -> None:
    def poster(title: str) -> Image.Image:
        data = render_poster(
            municipality="Gemeente Velsen",
            title=title,
            call="Steun dit idee!",
            link="https://t.me/bot?start=idee_42",
        )
        image = Image.open(io.BytesIO(data))
        assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
        return image

    long = poster(
        "Een heel lang idee " * 12 + "Superlangwoordzonderspatiesdatnietoppastopeenregel" * 3
    )
    # Four lines of title (the most there is room for), each from the left margin ...
    assert _title_lines(long) == [True, True, True, True]
    # ... and nothing runs into the right margin: words wrap, a word too long is cut.
    assert not _inked(long, (WIDTH - MARGIN + 2, 210, WIDTH, HEIGHT - 50))
    # What does not fit on four lines ends the fourth with an ellipsis: a cut title
    # does not read as a whole one.
    drawn: list[str] = []
    text = ImageDraw.ImageDraw.text

    def noted(self: ImageDraw.ImageDraw, xy: Any, line: str, *args: Any, **kw: Any) -> None:
        drawn.append(line)
        text(self, xy, line, *args, **kw)

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(ImageDraw.ImageDraw, "text", noted)
        poster("Een heel lang idee " * 12)
        poster("🌳 Meer bomen 🌳 in Zeewijk")
    title_lines = [line for line in drawn if line.startswith("Een heel")]
    assert len(title_lines) == 4 and title_lines[-1].endswith("…"), title_lines
    assert not any(line.endswith("…") for line in title_lines[:-1])
    # DejaVu has no emoji: they are left out rather than drawn as empty boxes.
    assert {"Meer bomen in", "Zeewijk"} <= set(drawn)
    assert not any("🌳" in line for line in drawn)
    # A short title takes one line; the call to action follows on the next.
    short = poster("Speeltuin")
    assert _title_lines(short) == [True, True, False, False]
    assert not _inked(short, (WIDTH - MARGIN + 2, 210, WIDTH, HEIGHT - 50))


async def test_an_arabic_poster_stands_its_title_and_call_against_the_right_margin(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idea written in Arabic, its poster made by a civil servant who reads Arabic: the
    title and the call stand against the right margin; the municipality's Latin name
    stays at the left."""
    drawn: list[tuple[Any, str, str | None]] = []
    text = ImageDraw.ImageDraw.text

    def noted(self: ImageDraw.ImageDraw, xy: Any, line: str, *args: Any, **kw: Any) -> None:
        drawn.append((xy, line, kw.get("anchor")))
        text(self, xy, line, *args, **kw)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", noted)
    idea = await seed_idea(app, "مقاعد أكثر في الحديقة")
    amal = await with_role(app, await person(app, "amal", language="العربية"), Role.CIVIL_SERVANT)
    await amal.send(f"/poster idee_{idea.id}")
    assert amal.keys == ["posters.ready"]
    arabic = [(xy, anchor) for xy, line, anchor in drawn if _arabic(line)]
    assert len(arabic) >= 2  # the title and the call
    assert all(xy[0] == WIDTH - MARGIN and anchor == "ra" for xy, anchor in arabic), arabic
    [(municipality, anchor)] = [(xy, a) for xy, line, a in drawn if line == "Gemeente Velsen"]
    assert municipality[0] == MARGIN and anchor == "lm"


def _arabic(line: str) -> bool:
    return any(unicodedata.bidirectional(ch) == "AL" for ch in line)


async def test_an_arabic_title_with_a_latin_place_name_keeps_every_line_at_the_right_margin(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Arabic title wraps so that a line begins with the Latin name of a place: the line
    belongs to the Arabic title, so it stands against the right margin like the others."""
    drawn: list[tuple[Any, str, str | None]] = []
    text = ImageDraw.ImageDraw.text

    def noted(self: ImageDraw.ImageDraw, xy: Any, line: str, *args: Any, **kw: Any) -> None:
        drawn.append((xy, line, kw.get("anchor")))
        text(self, xy, line, *args, **kw)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", noted)
    title = "مقاعد أكثر في الحديقة الكبيرة بجانب IJmuiden Noord en Velsen-Zuid اليوم"
    idea = await seed_idea(app, title)
    amal = await with_role(app, await person(app, "amal", language="العربية"), Role.CIVIL_SERVANT)
    await amal.send(f"/poster idee_{idea.id}")
    assert amal.keys == ["posters.ready"]
    lines = [(xy, line, anchor) for xy, line, anchor in drawn if line in title and line.strip()]
    assert any(line.startswith("Noord") for _, line, _ in lines), lines
    assert all(xy[0] == WIDTH - MARGIN and anchor == "ra" for xy, _, anchor in lines), lines
