"""Pictures people send: accepted only when the bytes are one, whatever the file claims.

A file's name or declared type says nothing: a text file called ``foto.png`` is not a
picture, and storing it as one would show every resident a broken image (or worse, hand a
crafted file to whatever opens it next). So every adapter (Telegram, Matrix, the console's
``/foto``) passes what it received through :func:`received_photo` before it becomes a
:class:`~handlers.contract.Photo`:

    bytes ──► starts like JPEG, PNG, GIF or WebP? ──► at most MAX_PIXELS? ──► decodes? ──► Photo
                       │ no                                │ no                  │ no
                       └───────────────────────────────────┴─────────────────────┴──► None

The type stored with the picture is the one its content shows. A file that is not a picture
becomes an event with ``unsupported=NOT_A_PICTURE``; the feature asking for a photo answers
it kindly (:func:`handlers.answers.photo_hint`) and nothing is stored.
"""

from __future__ import annotations

import asyncio
import io
import threading

from PIL import Image

from handlers.contract import Photo

#: What an adapter sets as ``Event.unsupported`` for a file that is not a picture.
NOT_A_PICTURE = "not_a_picture"
#: Width times height at most: a 48-megapixel phone photo fits; a file that claims more
#: (a few kilobytes can claim billions, and decoding them would take gigabytes) does not.
MAX_PIXELS = 50_000_000

#: The formats accepted, by the bytes they start with, and the MIME type each is stored as.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}

#: One picture is decoded at a time: a burst of large pictures from many people then costs
#: one decoder's memory (at most a few hundred megabytes), not one per picture.
_ONE_AT_A_TIME = threading.Lock()


def signature(data: bytes) -> str | None:
    """The format the first bytes announce (Pillow's name for it), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((name for magic, name in _SIGNATURES if data.startswith(magic)), None)


def picture_type(data: bytes) -> str | None:
    """The MIME type of ``data`` when it is a picture the bot accepts, else None.

    Its first bytes must announce JPEG, PNG, GIF or WebP, that format's decoder (and no
    other) must read it, within :data:`MAX_PIXELS` (checked from its header, before
    decoding), to the end without an error. A JPEG is decoded at an eighth of its size,
    which reads every byte at a fraction of the cost.
    """
    fmt = signature(data)
    if fmt is None:
        return None
    with _ONE_AT_A_TIME:
        try:
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                width, height = image.size
                if width < 1 or height < 1 or width * height > MAX_PIXELS:
                    return None
                if fmt == "JPEG":
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
            # What Pillow raises for a broken or truncated file, or one claiming a size
            # beyond its own limit (twice Pillow's, far beyond ours).
            return None
    return MIME_TYPES[fmt]


def as_photo(data: bytes, platform_ref: str | None) -> Photo | None:
    """A Photo of ``data`` when it is a picture (see :func:`picture_type`), else None."""
    mime_type = picture_type(data)
    if mime_type is None:
        return None
    return Photo(data=data, mime_type=mime_type, platform_ref=platform_ref)


async def received_photo(data: bytes, platform_ref: str | None) -> Photo | None:
    """:func:`as_photo` on a worker thread, so decoding never holds up other people."""
    return await asyncio.to_thread(as_photo, data, platform_ref)
