"""Sending into Matrix rooms: how homeserver refusals become delivery outcomes."""

from __future__ import annotations

from typing import Any

import pytest
from nio import MatrixRoom, RoomSendError, RoomSendResponse

from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.platforms._matrix_render import transaction_id
from bot.platforms._matrix_send import RoomSender
from bot.platforms.base import Blocked, DeliveryError, RetryLater
from bot.platforms.matrix import Matrix
from handlers.contract import Reply
from tests.support import Chat
from tests.waiting import until

BOT = "@samenspel:example.org"
ROOM = "!room:example.org"


class _Homeserver:
    """Stands in for the nio client: records sends and answers with what it is told."""

    def __init__(self, *answers: Any, members: tuple[str, ...] = ("@anna:example.org",)):
        self.user_id = BOT
        room = MatrixRoom(ROOM, BOT)
        for member in (BOT, *members):
            room.add_member(member, None, None)
        self.rooms = {ROOM: room}
        self.answers = list(answers)
        self.sent: list[tuple[str, dict[str, Any], str]] = []

    async def room_send(
        self, room_id: str, kind: str, content: dict[str, Any], tx_id: str, **_: Any
    ) -> Any:
        self.sent.append((room_id, content, tx_id))
        return self.answers.pop(0) if self.answers else RoomSendResponse("$ok", room_id)


def _sender(app: App, homeserver: _Homeserver) -> RoomSender:
    return RoomSender(homeserver, app.catalog, app.repos)  # type: ignore[arg-type]


REPLIES = [Reply(key="raw", params={"text": "een"}), Reply(key="raw", params={"text": "twee"})]


async def test_messages_go_out_under_transaction_ids_made_from_the_key(app: App) -> None:
    homeserver = _Homeserver()
    await _sender(app, homeserver).send(ROOM, "nl", REPLIES, key="$event")
    assert [(c["body"], t) for _, c, t in homeserver.sent] == [
        ("een", transaction_id("$event", 0)),
        ("twee", transaction_id("$event", 1)),
    ]


async def test_a_rate_limit_asks_the_outbox_to_come_back_later(app: App) -> None:
    homeserver = _Homeserver(RoomSendError("slow down", "M_LIMIT_EXCEEDED", 1500))
    with pytest.raises(RetryLater) as raised:
        await _sender(app, homeserver).send(ROOM, "nl", REPLIES, key="k")
    assert raised.value.seconds == 1.5


async def test_a_direct_reply_waits_out_a_rate_limit(app: App) -> None:
    homeserver = _Homeserver(RoomSendError("slow down", "M_LIMIT_EXCEEDED", 10))
    await _sender(app, homeserver).send(ROOM, "nl", REPLIES, key="k", patient=True)
    assert [t for _, _, t in homeserver.sent] == [
        transaction_id("k", 0),
        transaction_id("k", 0),  # the same message again, under the same id
        transaction_id("k", 1),
    ]


@pytest.mark.parametrize("code", ["M_FORBIDDEN", "M_NOT_FOUND"])
async def test_a_room_the_bot_may_not_post_in_means_blocked(app: App, code: str) -> None:
    homeserver = _Homeserver(RoomSendError("not in room", code))
    with pytest.raises(Blocked):
        await _sender(app, homeserver).send(ROOM, "nl", REPLIES, key="k")


async def test_a_room_left_by_everyone_else_or_unknown_means_blocked(app: App) -> None:
    with pytest.raises(Blocked):
        await _sender(app, _Homeserver(members=())).send(ROOM, "nl", REPLIES, key="k")
    with pytest.raises(Blocked):
        await _sender(app, _Homeserver()).send("!other:x", "nl", REPLIES, key="k")


async def test_other_refusals_are_delivery_errors(app: App) -> None:
    homeserver = _Homeserver(RoomSendError("too big", "M_TOO_LARGE"))
    with pytest.raises(DeliveryError) as raised:
        await _sender(app, homeserver).send(ROOM, "nl", REPLIES, key="k")
    assert not isinstance(raised.value, (Blocked, RetryLater))


async def test_a_photo_that_is_gone_is_a_delivery_error(app: App) -> None:
    with pytest.raises(DeliveryError, match="gone"):
        await _sender(app, _Homeserver()).send(
            ROOM, "nl", [Reply(key="raw", params={"text": "x"}, photo_id=404)], key="k"
        )


async def test_a_reply_the_homeserver_failed_is_sent_from_the_outbox_under_its_ids(
    app: App,
) -> None:
    # The first message arrives, the homeserver fails the next one (a 502 on its side).
    homeserver = _Homeserver(
        RoomSendResponse("$welcome", ROOM), RoomSendError("Bad Gateway", "M_UNKNOWN")
    )
    matrix = Matrix(app)
    matrix.client = homeserver  # type: ignore[assignment]
    matrix._sender = _sender(app, homeserver)
    anna = Chat(app, "@anna:example.org", platform="matrix", chat_id=ROOM)
    await app.router.handle(anna.event(command="start", event_id="$start"), matrix._deliver)
    first_try = [txn for _, _, txn in homeserver.sent]
    assert len(first_try) == 2

    worker = DeliveryWorker(app.repos, app.catalog, matrix, DeliveryPolicy(poll=0.05))
    await worker.start()
    try:

        async def settled() -> bool:
            return (await app.repos.outbox.status_counts()) == {"sent": 1}

        await until(settled)
    finally:
        await worker.stop()
    again = [txn for _, _, txn in homeserver.sent[2:]]
    # The same transaction ids: the homeserver keeps the first message it already has.
    assert again[:2] == first_try
    bodies = [content["body"] for _, content, _ in homeserver.sent]
    assert bodies[2:4] == bodies[:2]


async def test_an_edit_replaces_the_whole_text_or_nothing(app: App) -> None:
    """An edit replaces one message: a text that needs several is not cut down to its last
    part (nor its first) but refused, as on Telegram, so delivery sends it anew whole."""
    homeserver = _Homeserver()
    sender = _sender(app, homeserver)
    await sender.edit(ROOM, "$old", "nl", Reply(key="raw", params={"text": "nieuw"}), key="k")
    [(_, content, _)] = homeserver.sent
    assert content["m.new_content"]["body"] == "nieuw"
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$old"}
    long = "\n".join(f"Regel {n}: " + "woord " * 200 for n in range(40))
    with pytest.raises(DeliveryError):
        await sender.edit(ROOM, "$old", "nl", Reply(key="raw", params={"text": long}), key="l")
    assert len(homeserver.sent) == 1
    # Sent anew it goes whole, in parts.
    await sender.send(ROOM, "nl", [Reply(key="raw", params={"text": long})], key="m")
    assert "\n".join(c["body"] for _, c, _ in homeserver.sent[1:]) == long


async def test_an_over_long_line_goes_out_whole_cut_between_words(app: App) -> None:
    """One line with no line break, longer than a Matrix message holds: its messages joined
    are the line, every cut after a space, never inside an emoji sequence."""
    family = "👩\u200d👩\u200d👧"
    line = " ".join(f"{family} woord{n}" for n in range(8_000))
    homeserver = _Homeserver()
    await _sender(app, homeserver).send(
        ROOM, "nl", [Reply(key="raw", params={"text": line})], key="k"
    )
    bodies = [content["body"] for _, content, _ in homeserver.sent]
    assert len(bodies) > 1
    assert "".join(bodies) == line
    assert all(body.endswith(" ") and not body.startswith("\u200d") for body in bodies[:-1])
