"""The typeface of charts and posters draws every catalog language, and the doctor says when
the machine lacks it (Pillow's own font has only ASCII)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PIL import features

from bot.admin.cli import main
from handlers import fonts
from handlers.charts import bar_chart

#: Letters of each catalog language beyond ASCII, as residents and staff write them.
LETTERS = "ëéïó çğışöü ąćęłńóśźż їєґжщ العربية"


@pytest.fixture
def no_font(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine without DejaVu, as a slim image without its font package."""
    monkeypatch.setattr(fonts, "FILES", {False: ("nowhere.ttf",), True: ("nowhere-bold.ttf",)})
    fonts.font.cache_clear()
    yield
    fonts.font.cache_clear()


def test_charts_and_posters_have_a_letter_for_every_languages_letters() -> None:
    assert fonts.found() and fonts.found(bold=True)
    assert fonts.missing(LETTERS) == ""
    assert fonts.missing(LETTERS, bold=True) == ""
    # The check itself: a character no font has is reported, once.
    assert fonts.missing("a\uffffb\uffff") == "\uffff"


def test_without_the_font_package_letters_beyond_ascii_are_missing(no_font: None) -> None:
    assert not fonts.found()
    assert set(fonts.missing(LETTERS)) >= set("ëęжع")
    # A chart is still drawn (the bot answers), only harder to read.
    assert bar_chart("Peiling", "Wolę nie mówić", [("Вибір", [("ë", 1)])]).startswith(b"\x89PNG")


def test_the_doctor_warns_when_the_font_is_missing_without_failing(
    no_font: None,
    tmp_path: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SAMENSPEL_DB", f"{tmp_path}/bot.db")
    assert main(["doctor"]) == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if " fonts: " in line]
    assert line == (
        "warn fonts: DejaVuSans.ttf not found: letters beyond ASCII are drawn as boxes"
        " (install fonts-dejavu-core); DejaVuSans-Bold.ttf not found: letters beyond ASCII"
        " are drawn as boxes (install fonts-dejavu-core)"
    )


def test_the_doctor_warns_when_arabic_letters_cannot_be_joined(
    tmp_path: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    check = features.check
    monkeypatch.setattr(fonts.features, "check", lambda name: name != "raqm" and check(name))
    monkeypatch.setenv("SAMENSPEL_DB", f"{tmp_path}/bot.db")
    assert main(["doctor"]) == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if " fonts: " in line]
    assert line == (
        "warn fonts: ar: letters would not be joined nor set right to left (install libfribidi0)"
    )
