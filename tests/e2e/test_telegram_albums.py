"""Several photos sent at once (a Telegram album), through the real adapter.

Telegram sends an album as one message per photo, sharing a ``media_group_id``. A step
that takes one photo takes the first; the person hears once that the others are not kept;
the other photos change nothing and get no answer of their own (they are never read as
answers to the next question). Where no photo is asked for, an album is one message.
An album that begins with a video (or a file that is no picture) at the photo step has
its first photo taken all the same. The photos that are not used are not downloaded.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image

from bot.app import App
from tests.e2e.botapi import BotApiServer, new_media_group_id
from tests.e2e.telegram_support import (
    IDEA_QUESTIONS,
    IDEA_TITLE,
    idea_until,
    onboard,
    running_bot,
    telegram_settings,
    texts,
    wait_for_text,
)

pytestmark = pytest.mark.e2e

ONLY_THE_FIRST = "Ik gebruik alleen de eerste foto"
PREVIEW = "Versturen"
RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)


def jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "JPEG")
    return buffer.getvalue()


async def _stored_colours(app: App) -> list[tuple[int, int, int]]:
    """The colour of each stored photo (in the middle), oldest first."""
    colours = []
    for row in await app.db.fetchall("SELECT data FROM media ORDER BY id"):
        with Image.open(io.BytesIO(bytes(row["data"]))) as picture:
            colours.append(picture.convert("RGB").getpixel((20, 15)))
    return colours


def _near(found: tuple[int, int, int], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(found, colour, strict=True))


async def _settled(server: BotApiServer, chat_id: int, after: int, wait: float = 2.5) -> list[str]:
    """The chat's texts after the first ``after``, once the bot answered and then said
    nothing more for a moment (longer than a chat waits for its next message)."""
    await server.wait_for_messages(chat_id, after + 1)
    seen = -1
    while seen != len(server.messages(chat_id)):
        seen = len(server.messages(chat_id))
        await asyncio.sleep(wait)
    return texts(server, chat_id)[after:]


async def test_an_album_at_the_photo_step_keeps_the_first_photo_and_says_so_once(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(4101)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await idea_until(server, anna, "photo")
        before = len(server.messages(anna.chat_id))

        anna.send_album([jpeg(RED), jpeg(GREEN), jpeg(BLUE)])
        await wait_for_text(server, anna.chat_id, ONLY_THE_FIRST, after=before)
        answers = await _settled(server, anna.chat_id, before)

        assert len([a for a in answers if ONLY_THE_FIRST in a]) == 1
        assert len([a for a in answers if PREVIEW in a or IDEA_TITLE in a]) == 1, answers
        # The preview (its photo, then its text), then the word about the others.
        assert len(answers) == 3 and ONLY_THE_FIRST in answers[2], answers
        colours = await _stored_colours(app)
        assert len(colours) == 1 and _near(colours[0], RED), colours
        assert len(server.calls_to("getFile")) == 1, "the others are not downloaded"

        await anna.press(PREVIEW)
        await wait_for_text(server, anna.chat_id, "#1", after=before)
        idea = await app.repos.ideas.get(1)
        assert idea is not None and idea.photo_id is not None
        assert _near((await _stored_colours(app))[0], RED)


async def test_an_album_whose_photos_come_one_by_one_changes_nothing_after_the_first(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(4102)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await idea_until(server, anna, "photo")
        before = len(server.messages(anna.chat_id))
        album = new_media_group_id()

        anna.send_photo(jpeg(RED), media_group_id=album)
        await wait_for_text(server, anna.chat_id, PREVIEW, after=before)
        # The next photos come while the preview is shown: no answer to the preview.
        anna.send_photo(jpeg(GREEN), media_group_id=album)
        await asyncio.sleep(0.05)
        anna.send_photo(jpeg(BLUE), media_group_id=album)
        await wait_for_text(server, anna.chat_id, ONLY_THE_FIRST, after=before)
        answers = await _settled(server, anna.chat_id, before)

        assert len(answers) == 3 and ONLY_THE_FIRST in answers[2], answers
        colours = await _stored_colours(app)
        assert len(colours) == 1 and _near(colours[0], RED), colours
        # The preview still waits for its buttons.
        await anna.press(PREVIEW)
        await wait_for_text(server, anna.chat_id, "#1", after=before)


async def test_an_album_where_no_photo_is_asked_for_is_answered_as_one_message(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(4103)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        before = len(server.messages(anna.chat_id))
        anna.send_photo(jpeg(RED))
        one_photo = await _settled(server, anna.chat_id, before)
        assert one_photo

        before = len(server.messages(anna.chat_id))
        anna.send_album([jpeg(RED), jpeg(GREEN), jpeg(BLUE), jpeg(RED)])
        album = await _settled(server, anna.chat_id, before)

        assert album == one_photo
        assert await _stored_colours(app) == []
        assert len(server.calls_to("getFile")) == 2, "one for the photo, one for the album"


async def test_an_album_where_a_text_is_asked_for_gets_one_hint_and_the_question_stays(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(4104)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")):
        await onboard(server, anna)
        await idea_until(server, anna, "title")
        before = len(server.messages(anna.chat_id))

        anna.send_album([jpeg(RED), jpeg(GREEN), jpeg(BLUE)])
        answers = await _settled(server, anna.chat_id, before)

        assert answers, "the first photo is answered"
        assert not [a for a in answers if ONLY_THE_FIRST in a]
        hints = [a for a in answers if "tekst nodig" in a]
        assert len(hints) == 1 and len(answers) <= 2, answers  # the question may come again
        await anna.send_text(IDEA_TITLE)
        await wait_for_text(server, anna.chat_id, IDEA_QUESTIONS["description"], after=before)


async def test_two_albums_one_after_the_other_are_two_messages(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(4105)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await idea_until(server, anna, "photo")
        before = len(server.messages(anna.chat_id))
        anna.send_album([jpeg(RED), jpeg(GREEN)])
        await wait_for_text(server, anna.chat_id, ONLY_THE_FIRST, after=before)
        # Change the photo from the preview with a second album: its first photo is taken.
        await anna.press("✏️ Foto aanpassen")
        await wait_for_text(server, anna.chat_id, IDEA_QUESTIONS["photo"], after=before + 3)
        middle = len(server.messages(anna.chat_id))
        anna.send_album([jpeg(BLUE), jpeg(GREEN)])
        await wait_for_text(server, anna.chat_id, ONLY_THE_FIRST, after=middle)
        await wait_for_text(server, anna.chat_id, PREVIEW, after=middle)
        colours = await _stored_colours(app)
        assert _near(colours[-1], BLUE), colours


async def test_the_rest_of_an_album_after_a_restart_changes_nothing_either(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(4106)
    settings = telegram_settings(server, tmp_path / "bot.db")
    album = new_media_group_id()
    async with running_bot(settings):
        await onboard(server, anna)
        await idea_until(server, anna, "photo")
        before = len(server.messages(anna.chat_id))
        anna.send_photo(jpeg(RED), media_group_id=album)
        await wait_for_text(server, anna.chat_id, PREVIEW, after=before)
    # The bot was down while the rest of the album came.
    anna.send_photo(jpeg(GREEN), media_group_id=album)
    anna.send_photo(jpeg(BLUE), media_group_id=album)
    async with running_bot(settings) as app:
        answers = await _settled(server, anna.chat_id, before + 2)
        assert len(answers) == 1 and ONLY_THE_FIRST in answers[0], answers
        colours = await _stored_colours(app)
        assert len(colours) == 1 and _near(colours[0], RED), colours
        assert len(server.calls_to("getFile")) == 1, "the rest is not downloaded"
        await anna.press(PREVIEW)
        await wait_for_text(server, anna.chat_id, "#1", after=before)


@pytest.mark.parametrize("first", ["video", "no picture"])
async def test_an_album_whose_first_item_is_no_photo_keeps_its_first_photo_at_the_photo_step(
    server: BotApiServer, tmp_path: Path, first: str
) -> None:
    """A video first (or a file that is no picture): it is answered for itself, the album's
    first photo is then taken, and the person hears once that the others are not kept."""
    anna = server.user(4107)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await idea_until(server, anna, "photo")
        before = len(server.messages(anna.chat_id))
        album = new_media_group_id()

        if first == "video":
            anna.send_video(media_group_id=album)
        else:
            anna.send_photo(b"no picture at all", media_group_id=album)
        for colour in (RED, GREEN, BLUE):
            anna.send_photo(jpeg(colour), media_group_id=album)
        await wait_for_text(server, anna.chat_id, ONLY_THE_FIRST, after=before)
        answers = await _settled(server, anna.chat_id, before)

        assert len([a for a in answers if ONLY_THE_FIRST in a]) == 1, answers
        assert len([a for a in answers if PREVIEW in a or IDEA_TITLE in a]) == 1, answers
        assert ONLY_THE_FIRST in answers[-1], answers
        colours = await _stored_colours(app)
        assert len(colours) == 1 and _near(colours[0], RED), colours
        # The file that is no picture is looked at, the first photo taken, no more.
        downloads = 1 if first == "video" else 2
        assert len(server.calls_to("getFile")) == downloads, server.calls_to("getFile")
        await anna.press(PREVIEW)
        await wait_for_text(server, anna.chat_id, "#1", after=before)
        idea = await app.repos.ideas.get(1)
        assert idea is not None and idea.photo_id is not None


async def test_an_album_whose_first_item_is_a_video_where_a_text_is_asked_gets_one_hint(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(4108)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await idea_until(server, anna, "title")
        before = len(server.messages(anna.chat_id))
        album = new_media_group_id()

        anna.send_video(media_group_id=album)
        anna.send_photo(jpeg(RED), media_group_id=album)
        anna.send_photo(jpeg(GREEN), media_group_id=album)
        answers = await _settled(server, anna.chat_id, before)

        hints = [a for a in answers if "tekst nodig" in a]
        assert len(hints) == 1 and len(answers) <= 2, answers
        assert not [a for a in answers if ONLY_THE_FIRST in a]
        assert await _stored_colours(app) == []
        assert server.calls_to("getFile") == []
