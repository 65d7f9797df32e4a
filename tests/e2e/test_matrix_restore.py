"""A backup restored on Matrix: the sync position it kept makes the homeserver hand over
again everything sent since, and what an erased resident sent before her erasure is not
answered, nor is she brought back by it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.admin.backup import backup
from tests.e2e.matrix_support import MatrixBot, MatrixResident, Residents, containing
from tests.e2e.test_matrix import DONE, HOOD, LANGUAGE, WELCOME
from tests.privacy import traces

pytestmark = pytest.mark.e2e


async def _onboard(person: MatrixResident, bot: MatrixBot) -> None:
    await person.open_chat(bot.user_id)
    await person.wait_for_reply(containing(WELCOME))
    for answer, question in (("1", LANGUAGE), ("Nederlands", HOOD), ("IJmuiden", DONE)):
        await person.send(answer)
        await person.wait_for_reply(containing(question))


def _restore(copy: Path, bot: MatrixBot) -> None:
    """The README's restore, with the bot stopped."""
    shutil.copyfile(copy, bot.settings.db)
    for end in ("-wal", "-shm"):
        Path(f"{bot.settings.db}{end}").unlink(missing_ok=True)


async def test_what_an_erased_resident_sent_before_her_erasure_is_not_answered_after_a_restore(
    matrix_bot: MatrixBot, residents: Residents, tmp_path: Path
) -> None:
    anna, bob = await residents("anna"), await residents("bob")
    await _onboard(anna, matrix_bot)
    await _onboard(bob, matrix_bot)
    await matrix_bot.running.db.settled()
    backup(matrix_bot.settings.db, tmp_path / "backup.db")
    # After the backup: she writes, then asks to be forgotten.
    await anna.send("Xjqw ik ben Annabel van de Zeeweg 12")
    await anna.wait_for_reply()
    await anna.send("/vergeetmij")
    await anna.wait_for_reply(containing("Weet je het zeker"))
    await anna.send("1")
    await anna.wait_for_reply(containing("gewist"))
    erased = anna.replies()[-1].event_id
    await matrix_bot.stop()

    _restore(tmp_path / "backup.db", matrix_bot)
    await matrix_bot.start()  # its first sync is handled before this returns
    app = matrix_bot.running
    assert await app.repos.users.find("matrix", anna.user_id) is None
    assert await traces(app.db, [anna.user_id, "Xjqw"]) == []

    # She comes back later: a newcomer, answered as one, and nothing came before that.
    await anna.send("hallo")
    welcome = await anna.wait_for_reply(containing(WELCOME))
    assert [m.event_id for m in anna.replies(erased)] == [welcome.event_id]
    # Bob is served as ever.
    await bob.send("/menu")
    await bob.wait_for_reply(containing("Wat wil je doen"))
