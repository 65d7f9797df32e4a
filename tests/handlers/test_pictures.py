"""Pictures: the content decides whether a file is one, not its name or declared type."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from handlers.pictures import MAX_PIXELS, MIME_TYPES, as_photo, picture_type


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


# What a phone writes beside a photo: where it was taken, by what, by whom.
GPS = {1: "N", 2: (52.0, 27.0, 48.5), 3: "E", 4: (4.0, 36.0, 12.25)}
OWNER = "Anna de Vries, Zeeweg 12"


def with_metadata(fmt: str, orientation: int = 6) -> bytes:
    """A picture carrying GPS, an owner's name and a comment in every way its format allows."""
    image = Image.new("RGB", (64, 48), "red")
    exif = image.getexif()
    exif[0x0112] = orientation  # turned a quarter by the phone
    exif[0x013B] = OWNER  # Artist
    exif[0x8825] = GPS
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, fmt, exif=exif, comment=OWNER.encode())
    elif fmt == "PNG":
        from PIL import PngImagePlugin

        text = PngImagePlugin.PngInfo()
        text.add_text("Author", OWNER)
        text.add_itxt("Description", OWNER)
        image.save(buffer, fmt, exif=exif, pnginfo=text)
    elif fmt == "WEBP":
        image.save(buffer, fmt, exif=exif, xmp=f"<x:xmpmeta>{OWNER}</x:xmpmeta>".encode())
    else:
        image.save(buffer, fmt, comment=OWNER.encode())
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_where_and_by_whom_a_photo_was_taken_is_not_stored(fmt: str) -> None:
    original = with_metadata(fmt)
    assert OWNER.encode() in original or b"Anna" in original  # the fixture carries it

    photo = as_photo(original, None)

    assert photo is not None and photo.mime_type == MIME_TYPES[fmt]
    assert b"Anna" not in photo.data and b"Zeeweg" not in photo.data
    with Image.open(io.BytesIO(photo.data)) as stored:
        exif = stored.getexif()
        assert 0x8825 not in exif and 0x013B not in exif
        assert not exif.get_ifd(0x8825)
        assert "comment" not in stored.info and "Author" not in stored.info
        assert "xmp" not in stored.info and "XML:com.adobe.xmp" not in stored.info
        stored.load()  # still a whole picture
        assert stored.size == (64, 48)
    assert picture_type(photo.data) == MIME_TYPES[fmt]


def test_the_pixels_of_a_jpeg_are_not_encoded_again_and_it_stays_the_right_way_up() -> None:
    original = with_metadata("JPEG", orientation=6)

    photo = as_photo(original, None)

    assert photo is not None
    with Image.open(io.BytesIO(photo.data)) as stored:
        assert stored.getexif().get(0x0112) == 6, "the orientation is kept"
    scan = original.index(b"\xff\xda")
    assert photo.data.endswith(original[scan:]), "the compressed picture is copied as it was"


def test_a_picture_without_metadata_is_stored_as_it_came() -> None:
    for fmt in ("JPEG", "PNG", "WEBP"):
        plain = encoded(fmt)
        photo = as_photo(plain, None)
        assert photo is not None
        with Image.open(io.BytesIO(photo.data)) as stored:
            assert stored.tobytes() == Image.open(io.BytesIO(plain)).tobytes()


def test_an_animated_gif_keeps_its_frames_and_its_looping() -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "GIF", save_all=True, append_images=frames[1:], loop=0, comment=OWNER.encode()
    )

    photo = as_photo(buffer.getvalue(), None)

    assert photo is not None and b"Anna" not in photo.data
    with Image.open(io.BytesIO(photo.data)) as stored:
        assert stored.n_frames == 3 and stored.info.get("loop") == 0


def test_a_video_or_second_picture_a_phone_appends_to_a_jpeg_is_left_behind() -> None:
    original = with_metadata("JPEG") + b"ftypmp42 a motion photo of Anna's garden"

    photo = as_photo(original, None)

    assert photo is not None and photo.data.endswith(b"\xff\xd9")
    assert b"motion photo" not in photo.data
