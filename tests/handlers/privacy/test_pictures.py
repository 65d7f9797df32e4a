"""Pictures a resident sent: every one is in their data and goes with them, also one that
nothing shows any more; one replaced, or left in a draft that stopped, goes at once."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from bot.admin.retention import run_retention
from bot.app import App
from storage.clock import iso, utcnow
from tests.handlers.ideas.helpers import DESCRIPTION, TITLE, submit_idea
from tests.handlers.privacy.test_your_data import exported
from tests.people import person, row
from tests.support import Chat

FIRST = b"\xff\xd8\xff\xe0 anna's front door, house number visible"
SECOND = b"\xff\xd8\xff\xe0 a picture of the park instead"


async def stored(app: App, data: bytes) -> bool:
    digest = hashlib.sha256(data).hexdigest()
    return await app.db.fetchval("SELECT 1 FROM media WHERE sha256 = ?", (digest,)) is not None


async def to_the_photo(chat: Chat) -> None:
    await chat.send("/idee")
    await chat.press("Ruimtelijke")
    await chat.send(TITLE)
    await chat.send(DESCRIPTION)
    await chat.press("Sla over")
    assert chat.keys == ["ideas.ask_photo"]


async def forget(app: App, chat: Chat) -> None:
    await chat.send("/vergeetmij")
    if any("Ook wissen" in label for label, _ in chat.buttons()):
        await chat.press("Ook wissen")
    await chat.press("Ja")
    assert chat.keys == ["privacy.forget.done"]
    await app.db.settled()


async def test_a_photo_replaced_in_the_preview_is_deleted_at_once(app: App) -> None:
    anna = await person(app, "anna")
    await to_the_photo(anna)
    await anna.photo(FIRST)
    await anna.press("Foto")
    await anna.photo(SECOND)
    assert not await stored(app, FIRST), "the replaced photo is kept"
    await anna.press("Versturen")
    assert anna.keys == ["ideas.submitted"]
    assert await stored(app, SECOND)


async def test_the_photo_of_a_stopped_draft_is_deleted_at_once(app: App) -> None:
    anna = await person(app, "anna")
    await to_the_photo(anna)
    await anna.photo(FIRST)
    await anna.press("Stoppen")
    assert anna.keys == ["ideas.submit_cancelled"]
    assert not await stored(app, FIRST)


async def test_a_photo_someone_else_holds_in_a_draft_stays_when_one_stops(app: App) -> None:
    anna, bob = await person(app, "anna"), await person(app, "bob")
    for chat in (anna, bob):
        await to_the_photo(chat)
        await chat.photo(FIRST)
    await anna.press("Stoppen")
    assert await stored(app, FIRST), "Bob's draft lost its photo"
    await bob.press("Versturen")
    assert bob.keys == ["ideas.submitted"]
    await forget(app, anna)
    assert await stored(app, FIRST), "Bob's idea lost its photo"


async def test_the_old_photo_of_an_idea_whose_author_changed_it_is_deleted(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, photo=FIRST)
    await anna.press_payload("idea.edit:1")
    await anna.press("Foto")
    await anna.photo(SECOND)
    assert await stored(app, FIRST), "the idea shows it until the change is saved"
    await anna.press("Opslaan")
    assert anna.keys == ["ideas.edit_saved"]
    assert not await stored(app, FIRST)
    assert await stored(app, SECOND)


async def test_every_photo_sent_is_in_my_data_and_goes_with_me(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, photo=FIRST)
    # A photo nothing refers to (as left behind by older versions): still Anna's.
    async with app.db.transaction():
        await app.repos.media.save(SECOND, "image/jpeg", utcnow(), by=(await row(app, anna)).id)
    await anna.send("/mijngegevens")
    pictures = exported(anna)["sections"]["media"]["rows"]
    digests = {hashlib.sha256(data).hexdigest() for data in (FIRST, SECOND)}
    assert {picture["sha256"] for picture in pictures} == digests
    assert all(picture["sent_by_you_at"] for picture in pictures)
    await forget(app, anna)
    assert not await stored(app, SECOND), "the photo nothing showed outlives the erasure"
    assert not await stored(app, FIRST)
    assert await app.db.fetchval("SELECT COUNT(*) FROM media_uploads") == 0


async def test_the_photo_of_an_expired_draft_goes_with_the_daily_run(app: App) -> None:
    anna, bob = await person(app, "anna"), await person(app, "bob")
    await to_the_photo(anna)
    await anna.photo(FIRST)
    await to_the_photo(bob)
    await bob.photo(SECOND)
    anna_id = (await row(app, anna)).id
    two_days_ago = iso(utcnow() - timedelta(days=2))
    async with app.db.transaction():
        await app.db.execute("UPDATE media SET created_at = ?", (two_days_ago,))
        await app.db.execute(
            "UPDATE dialogs SET updated_at = ? WHERE user_id = ?", (two_days_ago, anna_id)
        )
    report = await run_retention(app, utcnow())
    assert report.media_swept == 1
    assert not await stored(app, FIRST), "the expired draft's photo is kept"
    assert await stored(app, SECOND), "Bob's draft is still alive"
    await bob.press("Versturen")
    assert bob.keys == ["ideas.submitted"]
