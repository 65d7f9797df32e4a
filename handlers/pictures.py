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

What a camera writes beside the picture (EXIF with the place it was taken, the phone, the
owner's name; XMP; comments) is taken out before the picture is stored, without decoding
and encoding it again (:func:`without_metadata`): a resident's photo of their own street
must not tell everyone where they live. Only the orientation is kept, so that the picture
still stands the right way up.
"""

from __future__ import annotations

import asyncio
import io
import struct
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
    inspected = _inspect(data)
    return None if inspected is None else MIME_TYPES[inspected[0]]


def _inspect(data: bytes) -> tuple[str, int | None] | None:
    """The format of ``data`` and its EXIF orientation, when it is a picture (see above)."""
    fmt = signature(data)
    if fmt is None:
        return None
    with _ONE_AT_A_TIME:
        try:
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                width, height = image.size
                if width < 1 or height < 1 or width * height > MAX_PIXELS:
                    return None
                orientation = image.getexif().get(_ORIENTATION) if fmt == "JPEG" else None
                if fmt == "JPEG":
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
            # What Pillow raises for a broken or truncated file, or one claiming a size
            # beyond its own limit (twice Pillow's, far beyond ours).
            return None
    return fmt, orientation if isinstance(orientation, int) and 1 < orientation <= 8 else None


#: EXIF's tag for which way up the picture stands (1 is as stored).
_ORIENTATION = 0x0112


def without_metadata(data: bytes, fmt: str, orientation: int | None = None) -> bytes:
    """``data`` (a picture already read by the decoder) without EXIF, XMP and comments.

    The pixels are left as they are: only the containers' metadata blocks are dropped
    (JPEG APPn segments other than JFIF, ICC and Adobe, comments and what follows the end
    marker; PNG text, time and
    EXIF chunks; WebP EXIF and XMP chunks; GIF comments and application blocks other than
    the looping one). A JPEG turned by its EXIF orientation gets a minimal EXIF block with
    only that orientation back.
    """
    if fmt == "JPEG":
        return _jpeg(data, orientation)
    if fmt == "PNG":
        return _png(data)
    if fmt == "WEBP":
        return _webp(data)
    return _gif(data)


#: JPEG segments kept: JFIF (APP0), the ICC colour profile (APP2; not the multi-picture index
#: that shares it), the Adobe colour transform (APP14).
_JPEG_KEPT_APPS = {0xE0, 0xE2, 0xEE}


def _jpeg(data: bytes, orientation: int | None) -> bytes:
    out = bytearray(data[:2])  # SOI
    if orientation is not None:
        exif = Image.Exif()
        exif[_ORIENTATION] = orientation
        block = exif.tobytes()
        out += b"\xff\xe1" + struct.pack(">H", len(block) + 2) + block
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is the picture itself
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            out += data[pos : pos + 2]
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segment = data[pos : pos + 2 + length]
        kept = marker in _JPEG_KEPT_APPS and (
            marker != 0xE2 or segment[4:16] == b"ICC_PROFILE\x00"
        )
        if kept or not (0xE1 <= marker <= 0xEF or marker == 0xFE):
            out += segment
        pos += 2 + length
    # The picture runs to its end marker; what a phone appends after it (a second picture,
    # a "motion photo" video) is left behind with the block that pointed to it.
    end = data.find(b"\xff\xd9", pos)
    return bytes(out + (data[pos:] if end < 0 else data[pos : end + 2]))


#: PNG chunks that carry words, times or EXIF rather than the picture.
_PNG_METADATA = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}


def _png(data: bytes) -> bytes:
    out = bytearray(data[:8])
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos : pos + 12 + length]
        if kind not in _PNG_METADATA:
            out += chunk
        pos += 12 + length
        if kind == b"IEND":
            break
    return bytes(out)


def _webp(data: bytes) -> bytes:
    body = bytearray()
    pos = 12
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        chunk = bytearray(data[pos : pos + 8 + length + (length & 1)])
        pos += len(chunk)
        if kind in (b"EXIF", b"XMP "):
            continue
        if kind == b"VP8X":  # VP8X: clear the "has EXIF" and "has XMP" flags
            chunk[8] &= ~0x0C & 0xFF
        body += chunk
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + bytes(body)


def _gif(data: bytes) -> bytes:
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    out = bytearray(data[:pos])
    while pos < len(data):
        introducer = data[pos]
        if introducer == 0x3B:  # trailer
            out.append(0x3B)
            break
        start = pos
        if introducer == 0x21:  # extension: label, then sub-blocks
            label = data[pos + 1]
            pos = _sub_blocks_end(data, pos + 2)
            block = data[start:pos]
            looping = label == 0xFF and data[start + 3 : start + 14] in (
                b"NETSCAPE2.0",
                b"ANIMEXTS1.0",
            )
            if label not in (0xFE, 0xFF) or looping:
                out += block
        elif introducer == 0x2C:  # image: descriptor, colour table, LZW size, sub-blocks
            local = data[pos + 9]
            pos += 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0) + 1
            pos = _sub_blocks_end(data, pos)
            out += data[start:pos]
        else:
            break
    return bytes(out)


def _sub_blocks_end(data: bytes, pos: int) -> int:
    while pos < len(data) and data[pos] != 0:
        pos += data[pos] + 1
    return pos + 1


def as_photo(data: bytes, platform_ref: str | None) -> Photo | None:
    """A Photo of ``data`` when it is a picture (see :func:`picture_type`), else None."""
    inspected = _inspect(data)
    if inspected is None:
        return None
    fmt, orientation = inspected
    return Photo(
        data=without_metadata(data, fmt, orientation),
        mime_type=MIME_TYPES[fmt],
        platform_ref=platform_ref,
    )


async def received_photo(data: bytes, platform_ref: str | None) -> Photo | None:
    """:func:`as_photo` on a worker thread, so decoding never holds up other people."""
    return await asyncio.to_thread(as_photo, data, platform_ref)
