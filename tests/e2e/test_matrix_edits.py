"""Edited messages on Matrix: an edit is never read as a new answer. In a direct chat the
resident hears that edits are not read; in a group the bot says nothing about them."""

from __future__ import annotations

import pytest

from tests.e2e.matrix_support import MatrixBot, Residents, containing, make_staff

pytestmark = pytest.mark.e2e

EDIT_NOT_READ = "Je hebt een bericht aangepast. Aanpassingen lees ik niet."
TITLE = "Meer bankjes in het Velserbeekpark"


async def test_an_edit_in_a_dialog_changes_nothing_and_the_resident_hears_why(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    await anna.open_chat(matrix_bot.user_id, encrypted=True)
    await anna.wait_for_reply(containing("Welkom"))
    for answer, question in (
        ("1", "In welke taal"),
        ("Nederlands", "In welke wijk"),
        ("IJmuiden", "Klaar, welkom!"),
        ("/idee", "Waar gaat je idee over"),
        ("1", "korte titel"),
    ):
        await anna.send(answer)
        await anna.wait_for_reply(containing(question))
    title = await anna.send(TITLE)
    await anna.wait_for_reply(containing("Vertel wat je idee is"))

    # She changes her title in her app (Element's "Edit"), encrypted like all she sends.
    await anna.edit(title, "Meer bomen in het Velserbeekpark")
    notice = await anna.wait_for_reply(containing(EDIT_NOT_READ))
    assert notice.decrypted and notice.msgtype == "m.notice"

    user = await matrix_bot.running.repos.users.find("matrix", anna.user_id)
    assert user is not None
    dialog = await matrix_bot.running.repos.dialogs.load(user.id)
    assert dialog is not None
    assert (dialog.step, dialog.data["title"]) == ("description", TITLE), "nothing changed"

    # The dialog goes on where it was: the next message is the description.
    await anna.send("Ouderen willen onderweg even kunnen uitrusten, vooral bij de vijver.")
    await anna.wait_for_reply(containing("Over welke wijk"))
    assert sum(EDIT_NOT_READ in m.body for m in anna.replies()) == 1


async def test_in_a_group_an_edit_is_neither_answered_nor_read(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna, bob = await residents("anna"), await residents("bob")
    await make_staff(matrix_bot, anna)  # the bot joins only the groups of staff
    await anna.open_chat(matrix_bot.user_id, encrypted=False, others=[bob])
    asked = await anna.send("!help")
    answer = await anna.wait_for_reply(after=asked)  # a short word pointing to a direct chat
    assert answer.answers == asked

    # She edits her command into another one: the bot neither runs it nor talks about it.
    await anna.edit(asked, "!privacy")
    named = await bob.send("Samenspel: hoi")
    await bob.wait_for_reply(after=named)
    # What Bob saw of the bot since Anna's command, in order.
    seen = bob.replies(asked)
    assert [m.answers for m in seen if m.answers] == [asked, named], "no answer to the edit"
    assert not [m for m in seen if EDIT_NOT_READ in m.body]


async def test_a_bot_that_edits_its_own_notices_in_a_direct_chat_hears_nothing_about_it(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    # Another bot (a reminder bot, a bridge) in a direct chat with ours: its notices are
    # never read, so neither is a change to one, and nothing is said about that.
    other = await residents("herinnerbot")
    await other.open_chat(matrix_bot.user_id, encrypted=False)
    await other.wait_for_reply(containing("Welkom"))
    notice = {"msgtype": "m.notice", "body": "Herinnering: afval buiten zetten (1/3)"}
    first = await other.send_content(notice)
    for step in ("2/3", "3/3"):
        await other.send_content(
            {
                "msgtype": "m.notice",
                "body": f"* Herinnering: afval buiten zetten ({step})",
                "m.new_content": {**notice, "body": f"Herinnering ({step})"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": first},
            }
        )
    asked = await other.send("!help")
    await other.wait_for_reply(after=asked)
    assert [m for m in other.replies(first) if EDIT_NOT_READ in m.body] == []
