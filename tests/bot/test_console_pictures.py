"""The console's /foto: a file is a photo only when its content is a picture."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from PIL import Image

SAMENSPEL = [sys.executable, "-m", "bot.admin.cli"]
IDEA = [
    "/start",
    "1",
    "1",
    "1",
    "/idee",
    "1",
    "Meer bankjes in het Velserbeekpark",
    "Ouderen willen onderweg even kunnen uitrusten, vooral bij de vijver.",
    "Sla over",
]


def _chat(script: list[str], folder: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENSPEL_")}
    env["SAMENSPEL_DB"] = str(folder / "chat.db")
    done = subprocess.run(
        [*SAMENSPEL, "chat", "--as", "anna"],
        input="\n".join(script) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return done.stdout


def _media(folder: Path) -> list[tuple[str, bytes]]:
    with sqlite3.connect(folder / "chat.db") as conn:
        return [
            (row[0], bytes(row[1])) for row in conn.execute("SELECT mime_type, data FROM media")
        ]


def test_a_text_file_named_png_is_not_taken_as_a_photo(tmp_path: Path) -> None:
    (tmp_path / "foto.png").write_text("Boodschappen: melk, brood, kaas\n")
    out = _chat([*IDEA, "/foto foto.png"], tmp_path)
    assert "Dat bestand kan ik niet openen als foto" in out
    assert _media(tmp_path) == [], "nothing stored"


def test_a_real_picture_is_taken_with_the_type_its_content_shows(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), "green").save(buffer, "PNG")
    (tmp_path / "foto.jpg").write_bytes(buffer.getvalue())  # named .jpg, a PNG inside
    out = _chat([*IDEA, "/foto foto.jpg", "Versturen"], tmp_path)
    assert "niet openen als foto" not in out and "#1" in out
    assert _media(tmp_path) == [("image/png", buffer.getvalue())]


def test_where_a_photo_was_taken_is_not_stored(tmp_path: Path) -> None:
    image = Image.new("RGB", (32, 24), "green")
    exif = image.getexif()
    exif[0x013B] = "Anna de Vries"  # Artist
    exif[0x8825] = {1: "N", 2: (52.0, 27.0, 48.5), 3: "E", 4: (4.0, 36.0, 12.25)}  # GPS
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    (tmp_path / "tuin.jpg").write_bytes(buffer.getvalue())

    out = _chat([*IDEA, "/foto tuin.jpg", "Versturen"], tmp_path)

    assert "#1" in out
    [(mime, stored)] = _media(tmp_path)
    assert mime == "image/jpeg" and b"Anna" not in stored
    with Image.open(io.BytesIO(stored)) as picture:
        assert not picture.getexif().get_ifd(0x8825), "no place in the stored photo"
