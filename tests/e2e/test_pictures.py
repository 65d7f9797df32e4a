"""Files that are not pictures, sent as photos through the real adapters: a kind answer, and
nothing stored. (The console's /foto: ``tests/bot/test_console_pictures.py``.)"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from bot.app import App
from tests.e2e.botapi import BotApiServer
from tests.e2e.matrix_support import MatrixBot, MatrixResident, Residents, containing
from tests.e2e.telegram_support import (
    IDEA_DESCRIPTION,
    IDEA_TITLE,
    idea_until,
    onboard,
    running_bot,
    telegram_settings,
    wait_for_text,
)

pytestmark = pytest.mark.e2e

NOT_A_PICTURE = "Dat bestand kan ik niet openen als foto"
TEXT_FILE = b"Boodschappen: melk, brood, kaas\n"


def jpeg() -> bytes:
    """A phone's photo: with the place it was taken and the owner's name in its EXIF."""
    image = Image.new("RGB", (40, 30), "blue")
    exif = image.getexif()
    exif[0x013B] = "Anna de Vries"  # Artist
    exif[0x8825] = {1: "N", 2: (52.0, 27.0, 48.5), 3: "E", 4: (4.0, 36.0, 12.25)}  # GPS
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


async def _nothing_personal_in_stored_photos(app: App) -> None:
    for row in await app.db.fetchall("SELECT data FROM media"):
        data = bytes(row["data"])
        assert b"Anna" not in data
        with Image.open(io.BytesIO(data)) as picture:
            assert not picture.getexif().get_ifd(0x8825), "no place in a stored photo"


async def _media(app: App) -> list[str]:
    return [row["mime_type"] for row in await app.db.fetchall("SELECT mime_type FROM media")]


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer() as started:
        yield started


async def test_on_telegram_a_photo_that_is_not_a_picture_is_answered_and_not_stored(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(3301)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await idea_until(server, anna, "photo")

        anna.send_photo(TEXT_FILE)
        await wait_for_text(server, anna.chat_id, NOT_A_PICTURE)
        assert await _media(app) == []
        anna.send_photo(jpeg())
        await wait_for_text(server, anna.chat_id, "Versturen")
        assert await _media(app) == ["image/jpeg"]
        await _nothing_personal_in_stored_photos(app)


async def test_on_telegram_a_photo_sent_as_a_file_is_taken_as_the_photo(
    server: BotApiServer, tmp_path: Path
) -> None:
    """Telegram Desktop, and "send as file" on a phone, send a photo uncompressed, as a
    document: it is the photo the resident meant, checked like any other."""
    anna = server.user(3302)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await idea_until(server, anna, "photo")

        before = len(server.messages(anna.chat_id))
        anna.send_document(TEXT_FILE, "plaatje.jpg", "image/jpeg")
        await wait_for_text(server, anna.chat_id, NOT_A_PICTURE, after=before)
        assert await _media(app) == []
        anna.send_document(jpeg(), "IMG_2041.JPG", "image/jpeg")
        await wait_for_text(server, anna.chat_id, "Versturen")
        assert await _media(app) == ["image/jpeg"]
        await _nothing_personal_in_stored_photos(app)


async def test_on_telegram_text_written_with_a_photo_or_file_is_given_back(
    server: BotApiServer, tmp_path: Path
) -> None:
    """No step reads a caption: rather than lose it without a word, the bot gives it back
    (escaped, whatever it holds) and goes on where the person was."""
    anna = server.user(3303)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await idea_until(server, anna, "title")

        # A file where a title is asked: not taken, its words come back.
        before = len(server.messages(anna.chat_id))
        anna.send_document(TEXT_FILE, "lijstje.txt", "text/plain", caption="Bankjes <b>bij</b>")
        await wait_for_text(server, anna.chat_id, "Bankjes &lt;b&gt;bij&lt;/b&gt;", after=before)
        await wait_for_text(server, anna.chat_id, "korte titel", after=before)
        await anna.send_text(IDEA_TITLE)
        await wait_for_text(server, anna.chat_id, "20 tot 2.000 tekens")
        await anna.send_text(IDEA_DESCRIPTION)
        await wait_for_text(server, anna.chat_id, "Over welke wijk")
        await anna.press("Sla over")
        await wait_for_text(server, anna.chat_id, "Geen foto")

        # A photo with words: the photo is taken, the words come back before the preview.
        before = len(server.messages(anna.chat_id))
        anna.send_photo(jpeg(), caption="Hier bij de vijver 🦆, naast de eendjes")
        await wait_for_text(server, anna.chat_id, "Versturen", after=before)
        sent = [m.get("text") or m.get("caption") or "" for m in server.messages(anna.chat_id)]
        given_back = [text for text in sent[before:] if "gebruik ik niet" in text]
        assert len(given_back) == 1 and "naast de eendjes" in given_back[0]
        assert "gebruik ik niet" not in sent[-1], "the preview with its buttons comes last"
        assert await _media(app) == ["image/jpeg"]


async def _to_photo_step(anna: MatrixResident, bot: MatrixBot) -> None:
    await anna.open_chat(bot.user_id)
    await anna.wait_for_reply(containing("Welkom"))
    for answer, question in (
        ("1", "In welke taal"),
        ("Nederlands", "In welke wijk"),
        ("IJmuiden", "Klaar, welkom!"),
        ("/idee", "Waar gaat je idee over"),
        ("1", "korte titel"),
        ("Meer bankjes in het Velserbeekpark", "Vertel wat je idee is"),
        ("Ouderen willen onderweg even kunnen uitrusten, bij de vijver.", "Over welke wijk"),
        ("Sla over", "Heb je een foto"),
    ):
        await anna.send(answer)
        await anna.wait_for_reply(containing(question))


async def test_on_matrix_an_image_that_is_not_a_picture_is_answered_and_not_stored(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    await _to_photo_step(anna, matrix_bot)

    # Her app says image/png; the content is a shopping list.
    await anna.send_image(TEXT_FILE, mime="image/png")
    await anna.wait_for_reply(containing(NOT_A_PICTURE))
    assert await _media(matrix_bot.running) == []
    await anna.send_image(jpeg(), mime="image/png")
    await anna.wait_for_reply(containing("Versturen"))
    assert await _media(matrix_bot.running) == ["image/jpeg"]
    await _nothing_personal_in_stored_photos(matrix_bot.running)
