"""Several photos sent as one (an album): the router reads only the first.

Through Telegram itself: ``tests/e2e/test_telegram_albums.py``.
"""

from __future__ import annotations

from bot.app import App
from handlers.contract import Photo, Role
from tests.people import civil_servant, person, subscribe, with_role
from tests.support import Chat, Seen, with_broken_step


async def _album(chat: Chat, album: str, *photos: bytes) -> list[list[Seen]]:
    """Send ``photos`` as one album, one event each; the answers to each."""
    return [await chat.handle(chat.event(photo=Photo(data=data), album=album)) for data in photos]


async def test_a_news_message_takes_the_first_photo_of_an_album(app: App) -> None:
    await _town(app)
    ria = await civil_servant(app)
    await ria.send("/nieuwbericht")
    await ria.send("Kijk, de nieuwe bankjes!")

    first, second, third = await _album(
        ria, "ria:1", b"\xff\xd8\xff een", b"\xff\xd8\xff twee", b"\xff\xd8\xff drie"
    )

    assert [seen.key for seen in first] == ["composer.ask_audience"]
    assert [seen.key for seen in second] == ["general.album_first_kept"]
    assert third == []
    everyone = next(payload for label, payload in first[0].buttons if "Alle abonnees" in label)
    await ria.press_payload(everyone)
    photo_id = ria.last[1].reply.photo_id
    assert photo_id is not None
    media = await app.repos.media.get(photo_id)
    assert media is not None and media.data == b"\xff\xd8\xff een"
    assert await app.db.fetchval("SELECT COUNT(*) FROM media") == 1


async def test_an_album_whose_first_photo_meets_a_dropped_dialog_is_not_said_to_be_kept(
    app: App,
) -> None:
    await _town(app)
    ria = await civil_servant(app)
    await ria.send("/nieuwbericht")
    await ria.send("Kijk, de nieuwe bankjes!")
    await with_role(app, ria, Role.RESIDENT)  # revoked while she chose the photos

    first, second = await _album(ria, "ria:2", b"\xff\xd8\xff een", b"\xff\xd8\xff twee")

    assert first, "she hears that the message stopped"
    assert "general.album_first_kept" not in [seen.key for seen in first + second]
    assert second == []
    assert await app.db.fetchval("SELECT COUNT(*) FROM media") == 0


async def test_two_albums_are_two_messages_and_other_people_have_their_own(app: App) -> None:
    anna = Chat(app, "anna")
    await anna.onboard()
    bert = Chat(app, "bert")
    await bert.onboard()

    [anna_first, anna_rest] = await _album(anna, "anna:1", b"a", b"b")
    [anna_again, _] = await _album(anna, "anna:2", b"c", b"d")
    # The same album id from someone else's chat is not theirs (ids are per chat).
    [bert_first, _] = await _album(bert, "bert:1", b"e", b"f")

    assert anna_first and anna_again and bert_first
    assert [seen.key for seen in anna_first] == [seen.key for seen in anna_again]
    assert anna_rest == []


async def _town(app: App) -> None:
    """Someone subscribed to the news, so a message has an audience."""
    await subscribe(await person(app, "anna"))


async def test_text_written_with_a_later_photo_of_an_album_comes_back(app: App) -> None:
    anna = Chat(app, "anna")
    await anna.onboard()
    await anna.handle(anna.event(photo=Photo(data=b"a"), album="anna:3"))

    later = await anna.handle(
        anna.event(photo=Photo(data=b"b"), album="anna:3", caption="De bank bij de vijver 🦆")
    )
    quiet = await anna.handle(anna.event(photo=Photo(data=b"c"), album="anna:3"))

    assert [seen.key for seen in later] == ["general.caption_given_back"]
    assert "De bank bij de vijver 🦆" in later[0].text
    assert quiet == []


async def test_an_album_whose_first_photo_meets_a_failing_step_is_answered_once(
    app: App,
) -> None:
    """The step the first photo came to failed (a bug): the dialog stopped and she hears
    that once; the album's other photos change nothing and get no answer of their own
    (not "I cannot use a photo" for the second one)."""
    with_broken_step(app)
    anna = Chat(app, "anna")
    await anna.onboard()
    await anna.send("/breek")

    first, second, third = await _album(anna, "anna:9", b"\xff\xd8\xff een", b"twee", b"drie")

    assert [seen.key for seen in first] == ["general.dialog_dropped"], first
    assert second == [] and third == [], (second, third)


async def test_an_album_beginning_with_a_video_gives_a_news_message_its_first_photo(
    app: App,
) -> None:
    await _town(app)
    ria = await civil_servant(app)
    await ria.send("/nieuwbericht")
    await ria.send("Kijk, de nieuwe bankjes!")

    video = await ria.handle(ria.event(unsupported="video", album="ria:5"))
    first, second, third = await _album(
        ria, "ria:5", b"\xff\xd8\xff een", b"\xff\xd8\xff twee", b"\xff\xd8\xff drie"
    )

    assert [seen.key for seen in video] == ["composer.photo_please", "composer.ask_photo"]
    assert [seen.key for seen in first] == ["composer.ask_audience"]
    assert [seen.key for seen in second] == ["general.album_first_kept"]
    assert third == []
    everyone = next(payload for label, payload in first[0].buttons if "Alle abonnees" in label)
    await ria.press_payload(everyone)
    photo_id = ria.last[1].reply.photo_id
    assert photo_id is not None
    media = await app.repos.media.get(photo_id)
    assert media is not None and media.data == b"\xff\xd8\xff een"


async def test_an_album_beginning_with_a_video_whose_photo_comes_after_the_step_went_on_is_quiet(
    app: App,
) -> None:
    """Another album's photo (sent at the same time) was taken in between: the first photo
    of the album that began with a video is no answer to the next question, and gets none."""
    await _town(app)
    ria = await civil_servant(app)
    await ria.send("/nieuwbericht")
    await ria.send("Kijk, de nieuwe bankjes!")

    await ria.handle(ria.event(unsupported="video", album="ria:6"))
    [taken] = await _album(ria, "ria:7", b"\xff\xd8\xff een")
    [late] = await _album(ria, "ria:6", b"\xff\xd8\xff twee")

    assert [seen.key for seen in taken] == ["composer.ask_audience"]
    assert late == []
    assert await app.db.fetchval("SELECT COUNT(*) FROM media") == 1


async def test_what_an_adapter_need_not_download_of_an_album(app: App) -> None:
    """The later photos of an album are left whatever they hold: not fetched. Before the
    first, at the photo a video left a step waiting for, and after an erasure they are."""
    await _town(app)
    ria = await civil_servant(app)
    left = app.router.left_in_album
    assert not await left("test", "ria:20")
    await _album(ria, "ria:20", b"\xff\xd8\xff een")
    assert await left("test", "ria:20")
    # Someone else's album, or one on another platform, is not this one.
    assert not await left("test", "ria:21") and not await left("telegram", "ria:20")

    await ria.send("/nieuwbericht")
    await ria.send("Kijk, de nieuwe bankjes!")
    await ria.handle(ria.event(unsupported="video", album="ria:22"))
    assert not await left("test", "ria:22"), "its first photo is still wanted"
    # A photo not fetched is left, as the router was told it would be.
    [first] = await _album(ria, "ria:22", b"\xff\xd8\xff een")
    assert [seen.key for seen in first] == ["composer.ask_audience"]
    assert await left("test", "ria:22")
    rest = await ria.handle(ria.event(unsupported="photo", album="ria:22"))
    assert [seen.key for seen in rest] == ["general.album_first_kept"]

    bert = Chat(app, "bert")
    await bert.onboard()
    await _album(bert, "bert:20", b"\xff\xd8\xff een")
    assert await left("test", "bert:20")
    await bert.send("/vergeetmij")
    await bert.press("Ja, wis mijn gegevens")
    assert bert.keys == ["privacy.forget.done"]
    assert not await left("test", "bert:20"), "erased with him"
