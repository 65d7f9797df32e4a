"""The router and platform event ids: an event seen again is not handled twice."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from handlers import FEATURES
from handlers.contract import Document, Event, Reply, Response, Role, respond
from handlers.feature import Context, Feature, Registry
from tests.support import Chat


async def _collect(app: App, event: Event) -> list[Reply]:
    got: list[Reply] = []

    async def deliver(_: Event, lang: str, replies: list[Reply]) -> None:
        got.extend(replies)

    await app.router.handle(event, deliver)
    return got


async def test_an_event_seen_again_is_not_handled_again(app: App) -> None:
    anna = Chat(app, "anna")
    await anna.send("/start")
    yes = anna.event(text=None, button=anna.buttons()[0][1], event_id="$yes")
    first = await _collect(app, yes)
    assert [r.key for r in first] == ["onboarding.language_question"]

    again = await _collect(app, yes)

    assert again == []
    user = await app.repos.users.find("test", "anna")
    assert user is not None
    stored = await app.repos.dialogs.load(user.id)
    assert stored is not None and stored.step == "language"


async def test_replies_that_were_never_confirmed_are_sent_when_the_event_comes_again(
    app: App,
) -> None:
    anna = Chat(app, "anna")
    event = anna.event(command="start", event_id="$start")

    async def broken(_: Event, lang: str, replies: list[Reply]) -> None:
        raise ConnectionError("the network went away")

    await app.router.handle(event, broken)
    resent = await _collect(app, event)
    assert [r.key for r in resent] == ["onboarding.welcome", "onboarding.consent_question"]
    assert resent[1].buttons, "the buttons come back too"

    assert await _collect(app, event) == []
    handled = await app.repos.handled.find("test", "$start")
    assert handled is not None and handled.pending is None and handled.lang == "nl"


async def test_replies_sent_again_are_in_the_language_they_were_made_in(app: App) -> None:
    bob = Chat(app, "bob", language_hint="en")
    event = bob.event(command="start", event_id="$start-en")

    async def broken(_: Event, lang: str, replies: list[Reply]) -> None:
        raise ConnectionError("the network went away")

    await app.router.handle(event, broken)
    sent: list[tuple[str, list[str]]] = []

    async def deliver(_: Event, lang: str, replies: list[Reply]) -> None:
        sent.append((lang, [reply.key for reply in replies]))

    await app.router.handle(event, deliver)
    assert sent == [("en", ["onboarding.welcome", "onboarding.consent_question"])]


async def test_replies_with_a_file_survive_being_stored(app: App) -> None:
    feature = Feature("export")

    @feature.command("export", consent=False, role=Role.RESIDENT)
    async def export(ctx: Context) -> Response:
        data = bytes(range(256))
        return respond(
            Reply(
                key="raw",
                params={"text": "hier"},
                document=Document(filename="export.bin", data=data),
            )
        )

    app.router.registry = Registry([*FEATURES, feature])
    anna = Chat(app, "anna")
    event = anna.event(command="export", event_id="$export")

    async def broken(_: Event, lang: str, replies: list[Reply]) -> None:
        raise ConnectionError("down")

    await app.router.handle(event, broken)
    resent = await _collect(app, event)
    assert resent[0].document is not None and resent[0].document.data == bytes(range(256))


async def test_events_without_an_id_are_always_handled(app: App) -> None:
    anna = Chat(app, "anna")
    await anna.send("/help")
    await anna.send("/help")
    assert anna.keys == ["general.help_title"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM handled_events") == 0


async def test_a_failed_handler_is_not_recorded_so_a_replay_tries_again(app: App) -> None:
    feature = Feature("flaky")
    calls: list[int] = []

    @feature.command("flaky", consent=False, role=Role.RESIDENT)
    async def flaky(ctx: Context) -> Response:
        calls.append(1)
        await ctx.repos.users.set_role(ctx.user.id, Role.ADMIN)  # rolled back on failure
        if len(calls) == 1:
            raise RuntimeError("first time unlucky")
        return respond(Reply(key="raw", params={"text": "gelukt"}))

    app.router.registry = Registry([*FEATURES, feature])
    event = Chat(app, "anna").event(command="flaky", event_id="$flaky")

    assert [r.key for r in await _collect(app, event)] == ["errors.sorry"]
    assert await app.repos.handled.find("test", "$flaky") is None
    assert [r.params for r in await _collect(app, event)] == [{"text": "gelukt"}]
    assert len(calls) == 2


async def test_handled_event_ids_are_forgotten_after_a_week(app: App) -> None:
    now = [app.router.clock()]
    app.router.clock = lambda: now[0]
    anna = Chat(app, "anna")
    await _collect(app, anna.event(command="help", event_id="$old"))
    now[0] += timedelta(days=8)
    await _collect(app, anna.event(command="help", event_id="$new"))

    assert await app.repos.handled.find("test", "$old") is None
    assert await app.repos.handled.find("test", "$new") is not None


async def test_a_typed_label_chooses_without_its_emoji(app: App) -> None:
    anna = Chat(app, "anna", platform="console")
    await anna.send("/start")
    await anna.send("ja, ik doe mee")
    assert anna.keys == ["onboarding.language_question"]
