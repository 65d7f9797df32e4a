"""A sentence typed outside any dialog on Matrix, end to end against a real Synapse: the
bot shows it back (escaped in the HTML, as typed in the plain body) with numbered options,
and "1" chooses, also after a notice of the bot's own came in between."""

from __future__ import annotations

import pytest
from nio import RoomInviteError

from tests.e2e.matrix_support import WAIT_SECONDS, MatrixBot, Residents, containing
from tests.waiting import until

pytestmark = pytest.mark.e2e

EDIT_NOT_READ = "Aanpassingen lees ik niet"
SENTENCE = "De lantaarnpaal <b>bij</b> de school & het plein is al weken kapot"


async def test_a_typed_sentence_goes_to_the_connector_with_1_after_a_notice_in_between(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    await anna.open_chat(matrix_bot.user_id, encrypted=True)
    await anna.wait_for_reply(containing("Welkom"))
    for answer, question in (
        ("1", "In welke taal"),
        ("Nederlands", "In welke wijk"),
        ("IJmuiden", "Klaar, welkom!"),
    ):
        await anna.send(answer)
        await anna.wait_for_reply(containing(question))

    typed = await anna.send(SENTENCE)
    offer = await anna.wait_for_reply(containing("Je schreef"))
    assert SENTENCE in offer.body and "[1] ❓ Als vraag naar" in offer.body
    assert "&lt;b&gt;bij&lt;/b&gt; de school &amp; het plein" in offer.html
    assert "<b>bij" not in offer.html

    # She corrects a typo in Element: the bot says so, and offers nothing new.
    await anna.edit(typed, SENTENCE.replace("kapot", "stuk"))
    await anna.wait_for_reply(containing(EDIT_NOT_READ))
    await anna.send("1")
    sent = await anna.wait_for_reply(containing("Je vraag (#"))
    assert sent.msgtype == "m.notice"

    repos = matrix_bot.running.repos
    user = await repos.users.find("matrix", anna.user_id)
    assert user is not None
    [asked] = await repos.questions.of_user(user.id)
    assert asked.messages[0].text == SENTENCE


async def test_1_still_chooses_after_a_visitor_in_her_chat_asked_the_bot_something_and_left(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna, bob = await residents("anna"), await residents("bob")
    await anna.open_chat(matrix_bot.user_id, encrypted=False)
    await anna.wait_for_reply(containing("Welkom"))
    for answer, question in (
        ("1", "In welke taal"),
        ("Nederlands", "In welke wijk"),
        ("IJmuiden", "Klaar, welkom!"),
    ):
        await anna.send(answer)
        await anna.wait_for_reply(containing(question))
    await anna.send(SENTENCE)
    await anna.wait_for_reply(containing("Je schreef"))

    # Her husband looks along for a moment and asks the bot something there.
    invited = await anna.client.room_invite(anna.room_id, bob.user_id)
    assert not isinstance(invited, RoomInviteError), invited
    await bob.join(anna.room_id)
    bob.bot_id = matrix_bot.user_id
    asked = await bob.send("Samenspel: wat is dit?")
    answer = await bob.wait_for_reply(containing("privégesprek"), after=asked)
    assert SENTENCE not in answer.body
    await bob.client.room_leave(anna.room_id)
    adapter = matrix_bot.adapter
    assert adapter is not None and adapter.client is not None
    client = adapter.client

    def alone_again() -> bool:
        return bob.user_id not in client.rooms[anna.room_id].users

    await until(alone_again, WAIT_SECONDS, what="the bot sees Bob gone")

    await anna.send("1")
    sent = await anna.wait_for_reply(containing("Je vraag (#"))
    assert sent.msgtype == "m.notice"
    user = await matrix_bot.running.repos.users.find("matrix", anna.user_id)
    assert user is not None
    [question] = await matrix_bot.running.repos.questions.of_user(user.id)
    assert question.messages[0].text == SENTENCE
