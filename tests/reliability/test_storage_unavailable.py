"""When nothing can be saved: a full disk, a read-only file, a lock held elsewhere.

Residents hear that their message was not stored, and keep browsing ideas, reading cards
and getting help; the dialog they are in does not move on; the file stays sound. Each case
uses SQLite's own error path, not a stand-in:

* a full disk: ``PRAGMA max_page_count`` pinned to the file's current size, so a write
  that needs a new page fails with SQLITE_FULL, as it does when the disk is full;
* a read-only file: the bot's connection reopened with ``mode=ro``, so the file is opened
  for reading only and every write fails with SQLITE_READONLY (file permissions would not
  do: the tests run as root, who may write any file);
* a lock held elsewhere: a second connection keeps the write lock past the wait.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from bot.app import App
from tests.handlers.ideas.helpers import TITLE, seed_idea, submit_idea
from tests.reliability.faults import disk_full, read_only_file
from tests.support import Chat

MakeChat = Callable[..., Chat]
STORAGE = "errors.storage"


def _integrity(app: App) -> str:
    with sqlite3.connect(app.db.path) as check:
        return str(check.execute("PRAGMA integrity_check").fetchone()[0])


async def _count(app: App, table: str) -> int:
    return int(await app.db.fetchval(f"SELECT COUNT(*) FROM {table}"))


async def _reads_still_answer(anna: Chat) -> None:
    await anna.send("/ideeen")
    assert anna.keys == ["ideas.list_title"]
    assert TITLE in anna.text
    await anna.press(TITLE)
    assert anna.keys == ["ideas.card"]
    await anna.send("/help")
    assert anna.keys == ["general.help_title"]
    await anna.press_payload("menu")
    assert anna.keys == ["menu.title"]


async def test_with_a_full_disk_residents_keep_reading_and_hear_a_photo_is_not_saved(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await submit_idea(anna)
    bram = chat("bram")
    await bram.onboard()
    await bram.send("/idee")
    await bram.press("Verkeer")
    await bram.send("Een zebrapad bij de school aan de Lange Nieuwstraat")
    await bram.send("Kinderen steken daar elke ochtend over, tussen de auto's door.")
    await bram.press("Sla over")
    assert bram.keys == ["ideas.ask_photo"]
    # A photo of a few hundred kilobytes needs far more pages than the file has free.
    photo = b"\xff\xd8\xff" + bytes(range(256)) * 1200
    media = await _count(app, "media")

    async with disk_full(app):
        await _reads_still_answer(anna)
        await bram.photo(photo)
        assert bram.keys == [STORAGE]
        assert "niet opgeslagen" in bram.text
        bram_id = (await app.repos.users.find("test", "bram")).id  # type: ignore[union-attr]
        dialog = await app.repos.dialogs.load(bram_id)
        assert dialog is not None and dialog.step == "photo"

    assert await _count(app, "media") == media
    assert _integrity(app) == "ok"
    # Room again: the same photo now moves the dialog on to the preview.
    await bram.photo(photo)
    assert bram.keys == ["ideas.preview_photo", "ideas.preview"]


async def test_with_a_read_only_file_reads_answer_and_every_write_is_refused(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await submit_idea(anna)
    idea = await seed_idea(app, "Een pontje naar het strand", description="x" * 30)
    supports = await _count(app, "idea_supports")

    async with read_only_file(app):
        await _reads_still_answer(anna)
        await anna.press_payload(f"idea.open:{idea.id}")
        assert anna.keys == ["ideas.card"]
        await anna.press("Steun")
        assert anna.keys == [STORAGE]
        await anna.send("/idee")
        assert anna.keys == [STORAGE]
        anna_id = (await app.repos.users.find("test", "anna")).id  # type: ignore[union-attr]
        assert await app.repos.dialogs.load(anna_id) is None
        # Someone new cannot be taken in, and hears why; the list is open to them.
        carla = chat("carla")
        await carla.send("/start")
        assert carla.keys == [STORAGE]
        await carla.send("/ideeen")
        assert carla.keys == ["ideas.list_title"]
        assert await app.repos.users.find("test", "carla") is None

    assert await _count(app, "idea_supports") == supports
    assert _integrity(app) == "ok"
    await anna.press_payload(f"idea.open:{idea.id}")
    await anna.press("Steun")
    assert anna.keys[0] == "ideas.supported"


async def test_a_dialog_step_that_writes_nothing_is_answered_while_reading_only(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await anna.send("/idee")
    await anna.press("Verkeer")
    async with read_only_file(app):
        # Too short: the same question again, nothing to save, so it is answered.
        await anna.send("kort")
        assert anna.keys == ["ideas.title_too_short", "ideas.ask_title"]
        # Help keeps the dialog where it is.
        await anna.send("/help")
        assert anna.keys == ["general.help_title"]
        # A good title would move the dialog on: that cannot be saved.
        await anna.send("Een zebrapad bij de school")
        assert anna.keys == [STORAGE]
    await anna.send("Een zebrapad bij de school")
    assert anna.keys == ["ideas.ask_description"]


async def test_numbered_options_shown_while_reading_only_mean_what_was_shown(
    app: App, chat: MakeChat
) -> None:
    await seed_idea(app, "Een pontje naar het strand", description="x" * 30)
    anna = chat("anna", platform="console")
    await anna.onboard()
    async with read_only_file(app):
        await anna.send("/ideeen")
        number = next(n for n, (label, _) in enumerate(anna.buttons(), 1) if "pontje" in label)
        await anna.send(str(number))
        assert anna.keys == ["ideas.card"]
        assert "pontje" in anna.text


async def test_a_write_lock_held_elsewhere_leaves_reads_answered(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await anna.onboard()
    await submit_idea(anna)
    app.db.busy_wait = 0.05
    other = sqlite3.connect(app.db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        await _reads_still_answer(anna)
        await anna.send("/idee")
        assert anna.keys == [STORAGE]
    finally:
        other.execute("ROLLBACK")
        other.close()
    await anna.send("/idee")
    assert anna.keys == ["ideas.ask_category"]
