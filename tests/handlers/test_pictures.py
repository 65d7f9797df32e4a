"""Pictures: the content decides whether a file is one, not its name or declared type."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from handlers.pictures import MAX_PIXELS, as_photo, picture_type


def encoded(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "red" if mode == "RGB" else 0).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_real_pictures_are_accepted_with_the_type_their_content_shows(fmt: str, mime: str) -> None:
    data = encoded(fmt)
    assert picture_type(data) == mime
    photo = as_photo(data, "ref-1")
    assert photo is not None and (photo.mime_type, photo.data) == (mime, data)


@pytest.mark.parametrize(
    "data",
    [
        b"Boodschappen: melk, brood, kaas\n",  # a text file called foto.png
        b"\xff\xd8\xff fake jpeg",  # the right first bytes, nothing behind them
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40,
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"BM" + bytes(60),  # a bitmap: a picture, but not one the bot takes
        b"",
    ],
    ids=["text", "jpeg-magic", "png-magic", "pdf", "bmp", "empty"],
)
def test_files_that_are_not_pictures_are_refused(data: bytes) -> None:
    assert picture_type(data) is None and as_photo(data, None) is None


def test_a_cut_off_picture_is_refused() -> None:
    buffer = io.BytesIO()
    Image.effect_noise((400, 300), 60).convert("RGB").save(buffer, "JPEG")
    whole = buffer.getvalue()
    assert picture_type(whole) == "image/jpeg"
    assert picture_type(whole[: len(whole) // 2]) is None
    png = encoded("PNG", (400, 300))
    assert picture_type(png[: len(png) // 2]) is None


def test_a_picture_with_too_many_pixels_is_refused_before_it_is_decoded() -> None:
    # A few kilobytes that claim 64 million pixels: decoding would take 64 MB, or far more.
    bomb = encoded("PNG", (8000, 8000), mode="L")
    assert len(bomb) < 100_000 and MAX_PIXELS < 8000 * 8000
    assert picture_type(bomb) is None
    assert picture_type(encoded("PNG", (2000, 1500), mode="L")) == "image/png"


def test_the_first_bytes_and_the_decoder_must_agree() -> None:
    # A PNG behind a JPEG's first bytes is not read as a PNG.
    assert picture_type(b"\xff\xd8\xff" + encoded("PNG")) is None
