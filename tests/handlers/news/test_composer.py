"""The composer: audiences with exact counts, sending now, scheduling, and what is scheduled."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.admin.cli import main, revoke
from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.settings import Settings
from handlers import when
from handlers.contract import Reply, Role, Timer
from handlers.news.wist_je_dat import Signer
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from storage.news.broadcasts import Audience, AudienceKind, BroadcastStatus
from tests.bot.delivery_support import FakeAdapter
from tests.handlers.experiments.test_long_lists import end_every_experiment
from tests.handlers.ideas.helpers import seed_idea
from tests.people import (
    TimerLog,
    civil_servant,
    for_user,
    person,
    row,
    run_job,
    subscribe,
    with_role,
)
from tests.support import Chat
from tests.waiting import until


async def _town(app: App) -> dict[str, int]:
    """Residents with different choices; returns their user ids by name.

    anna: subscribed, IJmuiden, all themes, takes part in the playground.
    bob: subscribed, Driehuis, climate switched off.
    carl: subscribed, IJmuiden, news from his neighbourhood only.
    dina: not subscribed, IJmuiden, takes part in the playground.
    eve: subscribed, IJmuiden, but blocked the bot.
    fay: subscribed, IJmuiden, takes part in the playground, but banned by the connector.
    """
    [playground, *_] = await app.repos.experiments.running()
    anna = await person(app, "anna")
    await subscribe(anna)
    await anna.press_payload(f"exp.join:{playground.id}")
    bob = await person(app, "bob", hood="Driehuis")
    await subscribe(bob)
    await bob.press("Thema's kiezen")
    await bob.press("Velsen benut kansen")
    carl = await person(app, "carl")
    await subscribe(carl)
    await carl.press("Alleen nieuws uit mijn wijk")
    dina = await person(app, "dina")
    await dina.press_payload(f"exp.join:{playground.id}")
    eve = await person(app, "eve")
    await subscribe(eve)
    await app.chat_unreachable("test", "eve")
    fay = await person(app, "fay")
    await subscribe(fay)
    await fay.press_payload(f"exp.join:{playground.id}")
    await _ban(app, fay)
    names = ("anna", "bob", "carl", "dina", "eve", "fay")
    return {name: (await row(app, name)).id for name in names}


async def _ban(app: App, chat: Chat) -> None:
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, chat)).id,
            SanctionKind.BAN,
            reason="Schelden.",
            by_user_id=None,
            now=app.router.clock(),
        )


async def _write(ria: Chat, text: str = "Wist je dat we 12 nieuwe bankjes plaatsen?") -> None:
    await ria.send("/nieuwbericht")
    assert ria.keys == ["composer.intro"]
    await ria.send(text)
    assert ria.keys == ["composer.ask_photo"]
    await ria.press("Zonder foto")
    assert ria.keys == ["composer.ask_audience"]


async def _queued(app: App, broadcast_id: int) -> int:
    """How many outbox rows a broadcast made (a second release would add more)."""
    return int(
        await app.db.fetchval(
            "SELECT COUNT(*) FROM outbox WHERE batch = ?", (f"broadcast:{broadcast_id}",)
        )
    )


async def _recipients(app: App, broadcast_id: int) -> set[int]:
    rows = await app.db.fetchall(
        "SELECT user_id FROM outbox WHERE batch = ?", (f"broadcast:{broadcast_id}",)
    )
    return {int(row[0]) for row in rows}


async def _last_broadcast(app: App) -> int:
    return int(await app.db.fetchval("SELECT MAX(id) FROM broadcasts"))


@pytest.mark.parametrize(
    ("buttons", "count", "who"),
    [
        (["Alle abonnees"], 2, {"anna", "bob"}),
        (["Eén thema", "Velsen benut kansen"], 1, {"anna"}),
        (["Eén thema", "Velsen is samenspel"], 2, {"anna", "bob"}),
        (["Eén wijk", "IJmuiden"], 2, {"anna", "carl"}),
        (["Eén wijk", "Driehuis"], 1, {"bob"}),
        (["Deelnemers experiment", "Speeltuin"], 2, {"anna", "dina"}),
    ],
)
async def test_each_audience_reaches_exactly_the_right_people(
    app: App, buttons: list[str], count: int, who: set[str]
) -> None:
    people = await _town(app)
    ria = await civil_servant(app)
    await _write(ria)
    for label in buttons:
        await ria.press(label)
    assert ria.keys[0] == "composer.preview_intro"
    assert f"Aantal ontvangers: {count}" in ria.text
    await ria.press("Nu versturen")
    assert ria.keys == ["composer.sent"]
    assert f"Aantal ontvangers: {count}" in ria.text
    broadcast_id = await _last_broadcast(app)
    assert await _recipients(app, broadcast_id) == {people[name] for name in who}
    broadcast = await app.repos.broadcasts.get(broadcast_id)
    assert broadcast is not None and broadcast.status is BroadcastStatus.RELEASED
    assert broadcast.recipients == count


async def test_the_audience_buttons_show_how_many_each_reaches(app: App) -> None:
    await _town(app)
    ria = await civil_servant(app)
    await _write(ria)
    assert "👥 Alle abonnees (2)" in ria.last[0].labels()
    await ria.press("Eén wijk")
    labels = ria.last[0].labels()
    assert "IJmuiden (2)" in labels and "Driehuis (1)" in labels and "Velserbroek (0)" in labels
    await ria.press("Terug")
    await ria.press("Deelnemers experiment")
    assert "Speeltuin Zeewijk Natuurlijk! (2)" in ria.last[0].labels()
    assert "Geveltuintjes (0)" in ria.last[0].labels()


async def test_the_preview_is_exactly_what_residents_receive(app: App) -> None:
    people = await _town(app)
    ria = await civil_servant(app)
    await ria.send("/voorstellen")
    await ria.send("Ria de Vries")
    await ria.press("Openbare ruimte")
    await ria.send("Bankjes en speelplekken")
    await ria.press("Zonder foto")
    await ria.press("Opslaan")
    await _write(ria)
    await ria.press("Deelnemers experiment")
    await ria.press("Speeltuin")
    assert ria.keys == [
        "composer.preview_intro",
        "news.experiment_item",
        "composer.preview_question",
    ]
    preview = ria.last[1]
    assert "Nieuws over Speeltuin Zeewijk Natuurlijk!" in preview.text
    assert "Ria de Vries, Openbare ruimte" in preview.text
    # The message's own button is named under it, not one of the composer's choices.
    assert preview.buttons == []
    assert "[🧪 Bekijk het experiment]" in preview.text
    await ria.press("Nu versturen")
    [row] = await app.repos.outbox.for_user(people["dina"])
    assert row.kind == "broadcast"
    # Stored without the name, signed as delivery sends it.
    assert "Ria de Vries" not in json.dumps(row.payload)
    stored = [Reply.model_validate(item) for item in row.payload]
    [sent] = await Signer(app.repos, app.profile)(row.batch, "nl", stored)
    without_names = preview.reply.model_copy(update={"parts": preview.reply.parts[:-1]})
    assert sent.model_copy(update={"buttons": []}) == without_names
    # And it is in the news for the participants.
    dina = Chat(app, "dina")
    await dina.press_payload("news.page:0")
    assert dina.last[0].text == preview.text.rsplit("\n", 1)[0]
    assert dina.last[0].labels() == ["🧪 Bekijk het experiment"]


async def test_a_photo_goes_with_the_message(app: App) -> None:
    people = await _town(app)
    ria = await civil_servant(app)
    await ria.send("/nieuwbericht")
    await ria.send("Kijk, de nieuwe bankjes!")
    await ria.photo(b"\xff\xd8\xff bankjes")
    assert ria.keys == ["composer.ask_audience"]
    await ria.press("Alle abonnees")
    assert ria.last[1].reply.photo_id is not None
    await ria.press("Nu versturen")
    [row] = await app.repos.outbox.for_user(people["anna"])
    media = await app.repos.media.get(row.payload[0]["photo_id"])
    assert media is not None and media.data == b"\xff\xd8\xff bankjes"


async def test_an_empty_audience_is_refused_and_nothing_is_sent(app: App) -> None:
    await _town(app)
    ria = await civil_servant(app)
    await _write(ria)
    await ria.press("Eén wijk")
    await ria.press("Velserbroek")
    assert ria.keys == ["composer.audience_empty", "composer.ask_audience"]
    await ria.press("Deelnemers experiment")
    await ria.press("Geveltuintjes")
    assert ria.keys == ["composer.audience_empty", "composer.ask_audience"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM broadcasts") == 0
    assert await app.db.fetchval("SELECT COUNT(*) FROM outbox") == 0


async def test_nobody_subscribed_means_everyone_is_refused_too(app: App) -> None:
    ria = await civil_servant(app)
    await _write(ria)
    assert "(0)" in ria.last[0].labels()[0]
    await ria.press("Alle abonnees")
    assert ria.keys == ["composer.audience_empty", "composer.ask_audience"]


async def test_empty_long_and_non_text_messages_are_refused(app: App) -> None:
    ria = await civil_servant(app)
    await ria.send("/nieuwbericht")
    await ria.send("   ")
    assert ria.keys == ["answers.empty", "composer.ask_text"]
    await ria.send("x" * 5000)
    assert ria.keys == ["answers.too_long", "composer.ask_text"]
    assert "5.000 tekens" in ria.text and "1.000" in ria.text
    await ria.handle(ria.event(unsupported="sticker"))
    assert ria.keys == ["answers.text_please", "composer.ask_text"]
    await ria.send("y" * 1000)
    assert ria.keys == ["composer.ask_photo"]
    await ria.send("geen foto")
    assert ria.keys == ["composer.photo_please", "composer.ask_photo"]


async def test_the_text_typed_after_the_command_is_the_message(app: App) -> None:
    """A message typed after /nieuwbericht is not asked for again: what was typed is kept."""
    await _town(app)
    ria = await civil_servant(app)
    await ria.send("/nieuwbericht Wist je dat we <b>12</b> bankjes & 🎉 plaatsen?")
    assert ria.keys == ["composer.ask_photo"]
    await ria.press("Zonder foto")
    await ria.press("Alle abonnees")
    assert "Wist je dat we <b>12</b> bankjes & 🎉 plaatsen?" in ria.text
    # In English too; one too long is refused as when typed, and the text is asked for.
    await ria.send("/annuleer")
    await ria.send("/newpost " + "x" * 1500)
    assert ria.keys == ["answers.too_long", "composer.ask_text"]
    await ria.send("Korter.")
    assert ria.keys == ["composer.ask_photo"]


async def test_a_long_message_typed_after_the_command_beside_an_open_one_is_given_back(
    app: App,
) -> None:
    """Too long to ride on the "throw away" button: the question about the open message
    shows what was typed, so throwing that one away loses nothing written."""
    await _town(app)
    ria = await civil_servant(app)
    await ria.send("/nieuwbericht Eerste bericht")
    typed = "Wist je dat we deze zomer in heel IJmuiden 12 nieuwe bankjes plaatsen? 🎉"
    await ria.send(f"/nieuwbericht {typed}")
    assert ria.keys == ["general.typed_not_kept", "drafts.open"]
    assert typed in ria.text
    # Short enough to ride on the button, it is done when the open one is thrown away.
    await ria.press("Verder")
    await ria.send("/nieuwbericht Kort")
    assert ria.keys == ["drafts.open"]
    await ria.press("Weggooien")
    assert ria.keys == ["drafts.discarded", "composer.ask_photo"]


async def test_text_can_be_changed_after_the_preview(app: App) -> None:
    people = await _town(app)
    ria = await civil_servant(app)
    await _write(ria, "Eerste versie")
    await ria.press("Alle abonnees")
    await ria.press("Tekst aanpassen")
    assert ria.keys == ["composer.ask_text"]
    await ria.send("Tweede versie")
    assert ria.keys[:2] == ["composer.preview_intro", "news.item"]
    assert "Tweede versie" in ria.last[1].text
    await ria.press("Andere groep")
    await ria.press("Eén wijk")
    await ria.press("Driehuis")
    await ria.press("Nu versturen")
    assert await _recipients(app, await _last_broadcast(app)) == {people["bob"]}
    [row] = await app.repos.outbox.for_user(people["bob"])
    assert row.payload[0]["params"]["text"] == "Tweede versie"
    # Earlier drafts are not left behind.
    assert await app.db.fetchval("SELECT COUNT(*) FROM broadcasts") == 1


async def test_scheduling_returns_a_timer_and_lists_it_as_pending(app: App) -> None:
    await _town(app)
    timers = TimerLog(app)
    ria = await civil_servant(app)
    await _write(ria)
    await ria.press("Alle abonnees")
    await ria.press("Inplannen")
    assert ria.keys == ["composer.ask_when"]
    assert any(label.startswith("Morgen 09:00") for label in ria.last[0].labels())
    local = (
        (utcnow() + timedelta(days=3))
        .astimezone(app.settings.zone)
        .replace(second=0, microsecond=0)
    )
    await ria.send(local.strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["composer.scheduled"]
    assert when.moment(local, "nl") in ria.text
    broadcast_id = await _last_broadcast(app)
    assert timers.armed == [Timer(job=f"broadcast:{broadcast_id}", at=local)]
    assert await app.repos.broadcasts.pending() == [(broadcast_id, local)]
    assert await _recipients(app, broadcast_id) == set()
    # Not yet due: the job does nothing; when due it releases the broadcast once.
    [timer] = timers.armed
    await run_job(app, timer.job, utcnow())
    assert await _recipients(app, broadcast_id) == set()
    later = utcnow() + timedelta(days=4)
    await run_job(app, timer.job, later)
    await run_job(app, timer.job, later)
    assert len(await _recipients(app, broadcast_id)) == 2
    assert await _queued(app, broadcast_id) == 2
    assert await app.repos.broadcasts.pending() == []


async def test_on_a_sunday_tomorrow_and_monday_are_one_button(app: App) -> None:
    await _town(app)
    ria = await civil_servant(app)
    for day, quick in ((6, ["Morgen 09:00"]), (4, ["Morgen 09:00", "Maandag"])):
        # Sunday 6 and Friday 4 December 2026, 10:00 in Velsen.
        app.router.clock = lambda day=day: datetime(2026, 12, day, 9, 0, tzinfo=UTC)
        await _write(ria)
        await ria.press("Alle abonnees")
        await ria.press("Inplannen")
        labels = ria.last[0].labels()
        assert [label for label in labels if label.startswith(("Morgen", "Maandag"))] == [
            next(label for label in labels if label.startswith(start)) for start in quick
        ], labels
        await ria.send("/annuleer")


async def test_a_quick_button_schedules_tomorrow_morning(app: App) -> None:
    await _town(app)
    timers = TimerLog(app)
    ria = await civil_servant(app)
    await _write(ria)
    await ria.press("Alle abonnees")
    await ria.press("Inplannen")
    await ria.press("Morgen 09:00")
    assert ria.keys == ["composer.scheduled"]
    [timer] = timers.armed
    assert timer.at is not None
    local = timer.at.astimezone(app.settings.zone)
    assert (local.hour, local.minute) == (9, 0)
    assert local.date() == (utcnow().astimezone(app.settings.zone) + timedelta(days=1)).date()


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("01-01-2020 9:00", "composer.when_past"),
        ("volgende week ergens", "composer.when_invalid"),
        ("31-02-2027 9:00", "composer.when_invalid"),
        ("", "answers.empty"),
    ],
)
async def test_bad_moments_get_a_clear_answer_and_nothing_is_scheduled(
    app: App, typed: str, key: str
) -> None:
    await _town(app)
    timers = TimerLog(app)
    ria = await civil_servant(app)
    await _write(ria)
    await ria.press("Alle abonnees")
    await ria.press("Inplannen")
    await ria.send(typed)
    assert ria.keys == [key, "composer.ask_when"]
    assert timers.armed == []
    assert await app.repos.broadcasts.pending() == []


async def test_more_than_a_year_ahead_is_refused(app: App) -> None:
    await _town(app)
    ria = await civil_servant(app)
    await _write(ria)
    await ria.press("Alle abonnees")
    await ria.press("Inplannen")
    far = (utcnow() + timedelta(days=400)).astimezone(app.settings.zone)
    await ria.send(far.strftime("%d-%m-%Y 10:00"))
    assert ria.keys == ["composer.when_too_far", "composer.ask_when"]
    await ria.handle(ria.event(unsupported="sticker"))
    assert ria.keys == ["answers.text_please", "composer.ask_when"]
    assert await app.repos.broadcasts.pending() == []


async def _schedule(app: App, ria: Chat, days: int = 2) -> int:
    await _write(ria)
    await ria.press("Alle abonnees")
    await ria.press("Inplannen")
    moment = (utcnow() + timedelta(days=days)).astimezone(app.settings.zone)
    await ria.send(moment.strftime("%d-%m-%Y 10:00"))
    assert ria.keys == ["composer.scheduled"]
    return await _last_broadcast(app)


async def test_a_cancelled_broadcast_is_never_released(app: App) -> None:
    await _town(app)
    timers = TimerLog(app)
    ria = await civil_servant(app)
    broadcast_id = await _schedule(app, ria)
    await ria.send("/gepland")
    assert ria.keys == ["composer.scheduled_item", "composer.scheduled_footer"]
    assert f"#{broadcast_id}" in ria.text and "iedereen met Wist je dat" in ria.text
    await ria.press("Annuleren")
    assert ria.keys == ["composer.cancel_confirm"]
    await ria.press("Ja, annuleren")
    assert ria.keys == ["composer.cancelled"]
    assert timers.armed[-1] == Timer(job=f"broadcast:{broadcast_id}", at=None)
    assert await app.repos.broadcasts.pending() == []
    await run_job(app, f"broadcast:{broadcast_id}", utcnow() + timedelta(days=30))
    assert await app.repos.broadcasts.release(broadcast_id, utcnow() + timedelta(days=30)) is None
    assert await _recipients(app, broadcast_id) == set()
    # The old confirm button, pressed again, says it is no longer scheduled.
    await ria.press_payload(f"sched.drop:{broadcast_id}")
    assert ria.keys == ["composer.not_scheduled"]
    await ria.send("/gepland")
    assert ria.keys == ["composer.nothing_scheduled"]


async def test_a_scheduled_broadcast_can_be_moved(app: App) -> None:
    await _town(app)
    timers = TimerLog(app)
    ria = await civil_servant(app)
    broadcast_id = await _schedule(app, ria, days=2)
    await ria.send("/gepland")
    await ria.press("Ander moment")
    assert ria.keys == ["composer.ask_when"]
    await ria.send("01-01-2020 10:00")
    assert ria.keys == ["composer.when_past", "composer.ask_when"]
    moved = (utcnow() + timedelta(days=5)).astimezone(app.settings.zone)
    moved = moved.replace(hour=14, minute=30, second=0, microsecond=0)
    await ria.send(moved.strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["composer.moved"]
    assert timers.armed[-1] == Timer(job=f"broadcast:{broadcast_id}", at=moved)
    assert await app.repos.broadcasts.pending() == [(broadcast_id, moved)]
    # The old moment has no effect any more.
    job = timers.armed[-1].job
    await run_job(app, job, utcnow() + timedelta(days=3))
    assert await _recipients(app, broadcast_id) == set()
    assert await app.repos.broadcasts.release(broadcast_id, utcnow() + timedelta(days=3)) is None
    await run_job(app, job, moved + timedelta(minutes=1))
    assert await _queued(app, broadcast_id) == 2


async def test_a_released_broadcast_is_never_released_again(app: App) -> None:
    await _town(app)
    ria = await civil_servant(app)
    broadcast_id = await _schedule(app, ria)
    due = utcnow() + timedelta(days=3)
    assert await app.repos.broadcasts.release(broadcast_id, due) == 2
    assert await app.repos.broadcasts.release(broadcast_id, due) is None
    assert await app.repos.broadcasts.cancel(broadcast_id) is False
    assert len(await _recipients(app, broadcast_id)) == 2
    assert await app.db.fetchval("SELECT COUNT(*) FROM news") == 1
    await ria.press_payload(f"sched.move:{broadcast_id}")
    assert ria.keys == ["composer.not_scheduled"]


async def test_the_audience_is_resolved_when_released_not_when_scheduled(app: App) -> None:
    people = await _town(app)
    ria = await civil_servant(app)
    broadcast_id = await _schedule(app, ria)
    late = await person(app, "late")
    await subscribe(late)
    carl = Chat(app, "carl")
    await carl.send("/wistjedat")
    await carl.press("Nieuws uit de hele gemeente")
    await run_job(app, f"broadcast:{broadcast_id}", utcnow() + timedelta(days=3))
    expected = {people["anna"], people["bob"], people["carl"], (await row(app, "late")).id}
    assert await _recipients(app, broadcast_id) == expected


async def test_a_composer_dialog_survives_a_restart(app: App, settings: Settings) -> None:
    people = await _town(app)
    ria = await civil_servant(app)
    await ria.send("/nieuwbericht")
    await ria.send("Over de restart heen")
    # A new process on the same database: nothing of the old one's memory is used.
    restarted = await App.open(settings)
    try:
        again = Chat(restarted, "ria")
        again.history = ria.history
        await again.press("Zonder foto")
        assert again.keys == ["composer.ask_audience"]
        await again.press("Alle abonnees")
        await again.press("Nu versturen")
        [row] = await restarted.repos.outbox.for_user(people["anna"])
        assert row.payload[0]["params"]["text"] == "Over de restart heen"
    finally:
        await restarted.close()


async def test_old_buttons_from_the_composer_are_stale(app: App) -> None:
    await _town(app)
    ria = await civil_servant(app)
    await _write(ria)
    audience_buttons = ria.history[-1]
    await ria.press("Alle abonnees")
    ria.history.append(audience_buttons)
    await ria.press("Eén wijk")
    assert ria.keys == ["general.stale_button"]
    await ria.send("/annuleer")
    await ria.press_payload("sched.move:abc")
    assert ria.keys == ["composer.not_scheduled"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM outbox") == 0


async def test_sending_now_shows_the_author_its_progress_and_then_a_report(app: App) -> None:
    people = await _town(app)
    ria = await civil_servant(app)
    await _write(ria)
    await ria.press("Alle abonnees")
    await ria.press("Nu versturen")
    assert ria.keys == ["composer.sent"]
    # The residents' copies wait until the author saw the first count: otherwise the
    # broadcast may be done, and its report sent, before the progress loop's first turn.
    shown = asyncio.Event()
    adapter = FakeAdapter(gates=dict.fromkeys(people, shown))
    policy = DeliveryPolicy(poll=0.05, progress=0.05)
    worker = DeliveryWorker(app.repos, app.catalog, adapter, policy)
    await worker.start()
    try:
        await until(lambda: adapter.to("ria"), what="the author's first count")
        shown.set()
        await until(lambda: any("delivery.report" in sent.keys for sent in adapter.to("ria")))
    finally:
        shown.set()
        await worker.stop()
    to_ria = adapter.to("ria")
    assert to_ria[0].keys == ["delivery.progress"]
    assert [sent.keys for sent in to_ria].count(["delivery.report"]) == 1
    batch = await app.repos.outbox.batch("broadcast:1")
    assert batch is not None and batch.author_user_id == (await row(app, "ria")).id
    sent_to = await _recipients(app, 1)
    assert (batch.total, batch.delivered) == (len(sent_to), len(sent_to)) == (2, 2)


async def _status(app: App, broadcast_id: int) -> BroadcastStatus | None:
    broadcast = await app.repos.broadcasts.get(broadcast_id)
    return broadcast.status if broadcast else None


async def test_a_revoked_civil_servants_scheduled_broadcasts_are_cancelled_with_the_role(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await _town(app)
    ria = await with_role(app, await person(app, "4242", platform="telegram"), Role.CIVIL_SERVANT)
    first = await _schedule(app, ria, days=2)
    second = await _schedule(app, ria, days=4)
    await _write(ria, "Nog niet af")
    await ria.press("Alle abonnees")
    assert ria.keys[-1] == "composer.preview_question"
    draft = await _last_broadcast(app)
    sam = await civil_servant(app, "sam")
    await sam.send("/gepland")
    assert sam.keys.count("composer.scheduled_item") == 2

    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))

    def samenspel(*args: str) -> str:
        assert main(list(args)) == 0
        return capsys.readouterr().out.strip()

    # Another staff role that may still write broadcasts takes nothing away.
    user = ["--platform", "telegram", "--user", "4242"]
    await asyncio.to_thread(samenspel, "grant", *user, "--role", "admin")
    changed = await asyncio.to_thread(samenspel, "grant", *user, "--role", "ambtenaar")
    assert changed == "telegram 4242 is now ambtenaar (was admin)"
    assert [await _status(app, b) for b in (first, second)] == [BroadcastStatus.SCHEDULED] * 2

    revoked = await asyncio.to_thread(samenspel, "revoke", *user, "--reason", "vertrokken")
    assert revoked == (
        f"telegram 4242 is now inwoner (was ambtenaar); 2 scheduled broadcasts cancelled"
        f" (#{first}, #{second})"
    )
    statuses = [await _status(app, b) for b in (first, second, draft)]
    assert statuses == [BroadcastStatus.CANCELLED] * 3
    entry = (await app.repos.audit.about_user((await row(app, ria)).id))[-1]
    assert (entry.action, entry.reason) == ("role.revoke", "vertrokken")
    assert entry.detail["broadcasts_cancelled"] == [first, second]
    # Colleagues no longer see them coming; residents never get them.
    await sam.send("/gepland")
    assert sam.keys == ["composer.nothing_scheduled"]
    for broadcast_id in (first, second):
        await run_job(app, f"broadcast:{broadcast_id}", utcnow() + timedelta(days=5))
        assert await _queued(app, broadcast_id) == 0
    assert await app.db.fetchval("SELECT COUNT(*) FROM news") == 0
    assert await app.repos.broadcasts.pending() == []


async def test_a_civil_servant_revoked_while_her_broadcast_goes_out_follows_it_no_more(
    app: App,
) -> None:
    """The broadcast goes on to its readers; its progress and report are for someone who
    writes broadcasts, which Ria no longer does from the moment she is revoked."""
    # On Telegram, as the operator's command names people there.
    for resident in ("1001", "1002"):
        await subscribe(await person(app, resident, platform="telegram"))
    ria = await with_role(app, await person(app, "4242", platform="telegram"), Role.CIVIL_SERVANT)
    await _write(ria)
    await ria.press("Alle abonnees")
    await ria.press("Nu versturen")
    assert ria.keys == ["composer.sent"]
    batch = f"broadcast:{await _last_broadcast(app)}"
    # The copy for 1002 is held until Ria has seen "1 of 2".
    held = asyncio.Event()
    adapter = FakeAdapter(name="telegram", gates={"1002": held})
    policy = DeliveryPolicy(concurrency=2, poll=0.05, progress=0.05)
    worker = DeliveryWorker(app.repos, app.catalog, adapter, policy)
    await worker.start()
    try:

        async def one_shown() -> bool:
            shown = await app.repos.outbox.batch(batch)
            return shown is not None and shown.progress_shown == 1

        await until(one_shown)
        seen = adapter.to("4242")
        assert {key for s in seen for key in s.keys} == {"delivery.progress"}
        assert seen[-1].replies[0].params == {"done": 1, "total": 2}
        said = await revoke(app.settings, "telegram", "4242", "vertrokken")
        assert said == "telegram 4242 is now inwoner (was ambtenaar)"
        held.set()

        async def done() -> bool:
            # Every copy out, the batch closed, and nothing left to send (a report).
            sent = [s.chat_id for s in adapter.sent if s.keys == ["news.item_headed"]]
            closed = await app.repos.outbox.batch(batch)
            pending = (await app.repos.outbox.status_counts()).get("pending", 0)
            finished = closed is not None and closed.finished_at is not None
            return sorted(sent) == ["1001", "1002"] and finished and pending == 0

        await until(done)
    finally:
        held.set()
        await worker.stop()
    # What she saw before the revoke stays as it was: no "2 of 2", no report.
    assert adapter.to("4242") == seen
    assert await app.db.fetchval("SELECT COUNT(*) FROM outbox WHERE kind = 'report'") == 0


async def test_a_broadcast_is_not_released_once_its_author_may_no_longer_write_one(
    app: App,
) -> None:
    await _town(app)
    ria = await civil_servant(app)
    sam = await civil_servant(app, "sam")
    kept = await _schedule(app, sam, days=3)
    broadcast_id = await _schedule(app, ria)
    # Her role changes by another way than the operator's revoke (here: straight in storage).
    await with_role(app, ria, Role.RESIDENT)
    # Colleagues see only what will still go out, signed as residents would see it.
    await sam.send("/gepland")
    assert sam.keys == ["composer.scheduled_item", "composer.scheduled_footer"]
    assert f"#{kept}" in sam.text and f"#{broadcast_id}" not in sam.text
    await run_job(app, f"broadcast:{broadcast_id}", utcnow() + timedelta(days=3))
    assert await _queued(app, broadcast_id) == 0
    assert await _status(app, broadcast_id) is BroadcastStatus.CANCELLED
    assert await app.db.fetchval("SELECT COUNT(*) FROM news") == 0
    [scheduled, entry] = await app.repos.audit.about(f"broadcast:{broadcast_id}")
    assert scheduled.action == "broadcast.schedule"
    assert (entry.action, entry.actor) == ("broadcast.cancel", "system")
    assert entry.subject_user_id == (await row(app, ria)).id
    assert entry.detail == {"why": "author_role", "role": "inwoner"}
    # Given her role back, nothing brings the cancelled one back to life.
    await with_role(app, ria, Role.CIVIL_SERVANT)
    await run_job(app, f"broadcast:{broadcast_id}", utcnow() + timedelta(days=3))
    assert await _queued(app, broadcast_id) == 0
    # A colleague's broadcast still goes out.
    await run_job(app, f"broadcast:{kept}", utcnow() + timedelta(days=4))
    assert await _queued(app, kept) == 2


async def test_a_broadcast_whose_author_lost_the_role_and_was_then_erased_never_goes_out(
    app: App,
) -> None:
    await _town(app)
    ria = await civil_servant(app)
    broadcast_id = await _schedule(app, ria)
    # Her role goes some other way than the operator's revoke; then she has herself erased.
    await with_role(app, ria, Role.RESIDENT)
    await ria.send("/vergeetmij")
    await ria.press("Ja, wis mijn gegevens")
    assert ria.keys == ["privacy.forget.done"]
    # Kept without her name, and cancelled: nobody left may send it.
    assert await _status(app, broadcast_id) is BroadcastStatus.CANCELLED
    await run_job(app, f"broadcast:{broadcast_id}", utcnow() + timedelta(days=3))
    assert await _queued(app, broadcast_id) == 0
    assert await app.db.fetchval("SELECT COUNT(*) FROM news") == 0


async def test_a_civil_servant_erased_while_she_holds_the_role_leaves_her_broadcast_to_go_out(
    app: App,
) -> None:
    await _town(app)
    ria = await civil_servant(app)
    broadcast_id = await _schedule(app, ria)
    await ria.send("/vergeetmij")
    await ria.press("Ja, wis mijn gegevens")
    assert ria.keys == ["privacy.forget.done"]
    # Written for the municipality while she could: it goes out, unsigned.
    await run_job(app, f"broadcast:{broadcast_id}", utcnow() + timedelta(days=3))
    assert await _queued(app, broadcast_id) == 2


async def test_a_banned_subscriber_gets_no_news_until_the_ban_is_lifted(app: App) -> None:
    people = await _town(app)
    ria = await civil_servant(app)
    broadcast_id = await _schedule(app, ria)
    # Banned after it was scheduled: the audience is who may get it when it goes out.
    await _ban(app, Chat(app, "anna"))
    await run_job(app, f"broadcast:{broadcast_id}", utcnow() + timedelta(days=3))
    assert await _recipients(app, broadcast_id) == {people["bob"]}
    # The news it would bring (a button to read more) is closed to her while banned.
    anna = Chat(app, "anna")
    await anna.press_payload("news.page:0")
    assert anna.keys == ["moderation.banned"]
    async with app.db.transaction():
        await app.repos.sanctions.lift_all(people["anna"], by_user_id=None, now=utcnow())
    await _write(ria, "Wist je dat de bankjes er staan?")
    assert "👥 Alle abonnees (2)" in ria.last[0].labels()
    await ria.press("Alle abonnees")
    await ria.press("Nu versturen")
    assert await _recipients(app, await _last_broadcast(app)) == {people["anna"], people["bob"]}


async def _delivered_until_reported(app: App, *, reports: int) -> FakeAdapter:
    """Run the delivery worker until ria has this many authors' reports; what it sent."""
    adapter = FakeAdapter()
    worker = DeliveryWorker(app.repos, app.catalog, adapter, DeliveryPolicy(poll=0.05))
    await worker.start()
    try:
        await until(
            lambda: len([s for s in adapter.to("ria") if "delivery.report" in s.keys]) == reports
        )
    finally:
        await worker.stop()
    return adapter


async def test_unsubscribing_while_a_broadcast_goes_out_stops_the_copy_not_yet_sent(
    app: App,
) -> None:
    people = await _town(app)
    ria = await civil_servant(app)
    await _write(ria, "Wist je dat de speeltuin een glijbaan krijgt?")
    await ria.press("Deelnemers experiment")
    await ria.press("Speeltuin")
    await ria.press("Nu versturen")
    await _write(ria)
    await ria.press("Alle abonnees")
    await ria.press("Nu versturen")
    assert ria.keys == ["composer.sent"]
    # Before delivery reaches her, anna stops "Wist je dat".
    anna = Chat(app, "anna")
    await anna.send("/wistjedat")
    await anna.press("Afmelden")
    assert anna.keys == ["news.unsubscribed"]
    adapter = await _delivered_until_reported(app, reports=2)
    # She still gets the update of the experiment she takes part in (not a subscription),
    # but not the news for subscribers; bob gets both he is meant to.
    assert [s.keys[0] for s in adapter.to("anna")] == ["news.experiment_item"]
    assert [s.keys[0] for s in adapter.to("bob")] == ["news.item_headed"]
    # Her author's report counts it as not sent.
    everyone = await app.repos.outbox.batch(f"broadcast:{await _last_broadcast(app)}")
    assert everyone is not None and (everyone.total, everyone.delivered) == (2, 1)
    assert people["anna"] in await _recipients(app, await _last_broadcast(app))


async def _sent_to_everyone(app: App) -> tuple[dict[str, int], int]:
    """Ria sends a "Wist je dat" to every subscriber of the town now; the broadcast's id."""
    people = await _town(app)
    ria = await civil_servant(app)
    await _write(ria)
    await ria.press("Alle abonnees")
    await ria.press("Nu versturen")
    assert ria.keys == ["composer.sent"]
    return people, await _last_broadcast(app)


async def test_an_erasure_while_a_broadcast_goes_out_leaves_its_report_whole(app: App) -> None:
    people, broadcast = await _sent_to_everyone(app)
    batch = f"broadcast:{broadcast}"
    # Before delivery reaches her, anna has all her data wiped.
    anna = Chat(app, "anna")
    await anna.send("/vergeetmij")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]
    adapter = await _delivered_until_reported(app, reports=1)
    assert [s.keys[0] for s in adapter.to("bob")] == ["news.item_headed"]
    assert adapter.to("anna") == []
    # The broadcast went to the one subscriber left: its author reads "1 of 1", not
    # "1 of 2" with nobody to account for the other.
    everyone = await app.repos.outbox.batch(batch)
    assert everyone is not None
    assert (everyone.total, everyone.delivered, everyone.cancelled) == (1, 1, 0)
    [report] = [s for s in adapter.to("ria") if "delivery.report" in s.keys]
    assert report.replies[0].params["total"] == 1
    assert not await app.db.fetchval(
        "SELECT COUNT(*) FROM outbox WHERE user_id = ?", (people["anna"],)
    )


async def test_a_ban_while_a_broadcast_goes_out_stops_the_copy_not_yet_sent(app: App) -> None:
    people, broadcast = await _sent_to_everyone(app)
    # Before delivery reaches her, anna is banned for a comment (reported, then Blokkeren).
    await seed_idea(app, "Een speeltuin in Zeewijk")
    anna, bob = Chat(app, "anna"), Chat(app, "bob")
    await anna.press_payload("idea.comment:1")
    await anna.send("Wat een onzin, jullie zijn allemaal gek.")
    await bob.press_payload("idea.comments:1")
    await bob.press("Meld 1")
    await bob.press("Schelden of beledigend")
    sam = await with_role(app, await person(app, "sam"), Role.CONNECTOR)
    await sam.send("/meldingen")
    await sam.press("Blokkeren")
    await sam.send("Herhaaldelijk schelden.")
    await anna.send("/menu")
    assert anna.keys == ["moderation.banned"]
    # Her copy goes no more (its buttons would all answer that she is banned); bob's does.
    copies = await app.db.fetchall(
        "SELECT user_id, status FROM outbox WHERE batch = ? ORDER BY user_id",
        (f"broadcast:{broadcast}",),
    )
    status = {row["user_id"]: row["status"] for row in copies}
    assert status[people["anna"]] == "cancelled" and status[people["bob"]] == "pending"
    # Her own notice of the ban is not a broadcast: it still comes.
    told = await app.db.fetchall(
        "SELECT kind, status FROM outbox WHERE user_id = ? AND batch IS NOT ?",
        (people["anna"], f"broadcast:{broadcast}"),
    )
    assert ("moderation", "pending") in {(r["kind"], r["status"]) for r in told}


async def test_an_update_to_an_experiment_names_it_in_each_readers_language(app: App) -> None:
    [playground, *_] = await app.repos.experiments.running()
    anna = await person(app, "anna")
    await anna.press_payload(f"exp.join:{playground.id}")
    john = await person(app, "john", language="English")
    await john.press_payload(f"exp.join:{playground.id}")
    # The civil servant reads the bot in English.
    ria = await with_role(app, await person(app, "ria", language="English"), Role.CIVIL_SERVANT)
    await ria.send("/newpost")
    await ria.send("Wist je dat de glijbaan er staat?")
    await ria.press("Without photo")
    await ria.press("Experiment participants")
    await ria.press("Zeewijk Natural Playground")
    assert "News about Zeewijk Natural Playground" in ria.last[1].text
    await ria.press("Send now")
    assert ria.keys == ["composer.sent"]
    adapter = FakeAdapter()
    worker = DeliveryWorker(
        app.repos,
        app.catalog,
        adapter,
        DeliveryPolicy(poll=0.05),
        sign=Signer(app.repos, app.profile),
    )
    await worker.start()
    try:
        await until(lambda: bool(adapter.to("anna")) and bool(adapter.to("john")))
    finally:
        await worker.stop()
    [to_anna] = adapter.to("anna")
    [to_john] = adapter.to("john")
    read = {
        sent.chat_id: app.catalog.render(sent.lang, sent.replies[0], markup=False)
        for sent in (to_anna, to_john)
    }
    assert "Nieuws over Speeltuin Zeewijk Natuurlijk!" in read["anna"]
    assert "Natural Playground" not in read["anna"]
    assert "News about Zeewijk Natural Playground" in read["john"]
    # The same in the news each of them reads back.
    await anna.press_payload("news.page:0")
    assert "Nieuws over Speeltuin Zeewijk Natuurlijk!" in anna.last[0].text
    await john.press_payload("news.page:0")
    assert "News about Zeewijk Natural Playground" in john.last[0].text


async def _copies(app: App, user_id: int) -> dict[str, str]:
    """The status of each broadcast's copy for one person, by the broadcast's text."""
    rows = await app.db.fetchall(
        "SELECT b.text, o.status FROM outbox o JOIN broadcasts b"
        " ON o.batch = 'broadcast:' || b.id WHERE o.user_id = ? ORDER BY o.id",
        (user_id,),
    )
    return {row["text"]: row["status"] for row in rows}


async def test_leaving_a_broadcasts_audience_while_it_goes_out_stops_the_copy_not_yet_sent(
    app: App,
) -> None:
    people = await _town(app)
    ria = await civil_servant(app)
    await _write(ria, "Wist je dat er zonnepanelen op het stadhuis komen?")
    await ria.press("Eén thema")
    await ria.press("klimaat")
    await ria.press("Nu versturen")
    await _write(ria, "Wist je dat de markt in IJmuiden verhuist?")
    await ria.press("Eén wijk")
    await ria.press("IJmuiden")
    await ria.press("Nu versturen")
    await _write(ria, "Wist je dat de bankjes er staan?")
    await ria.press("Alle abonnees")
    await ria.press("Nu versturen")
    await _write(ria, "Wist je dat de glijbaan er staat?")
    await ria.press("Deelnemers experiment")
    await ria.press("Speeltuin")
    await ria.press("Nu versturen")
    climate, market, benches, slide = (
        "Wist je dat er zonnepanelen op het stadhuis komen?",
        "Wist je dat de markt in IJmuiden verhuist?",
        "Wist je dat de bankjes er staan?",
        "Wist je dat de glijbaan er staat?",
    )

    async def anna_gets() -> list[str]:
        return [
            text
            for text, status in (await _copies(app, people["anna"])).items()
            if status == "pending"
        ]

    assert await anna_gets() == [climate, market, benches, slide]
    # Before delivery reaches her, anna switches the climate off...
    anna = Chat(app, "anna")
    await anna.send("/wistjedat")
    await anna.press("Thema's kiezen")
    await anna.press("Velsen benut kansen")
    assert anna.keys == ["news.themes_title"]
    assert await anna_gets() == [market, benches, slide]
    # ...asks for the news of her own neighbourhood only...
    await anna.press("Klaar")
    await anna.press("Alleen nieuws uit mijn wijk")
    assert anna.keys == ["news.hood_set"]
    assert await anna_gets() == [market, slide]
    # ...moves to Velsen-Noord...
    await anna.press_payload("news.hood:velsen-noord")
    assert anna.keys == ["news.hood_set"]
    assert await anna_gets() == [slide]
    # ...and stops taking part in the playground.
    [playground, *_] = await app.repos.experiments.running()
    await anna.press_payload(f"exp.leave:{playground.id}")
    assert not await app.repos.experiments.takes_part(playground.id, people["anna"])
    assert await anna_gets() == []
    assert set((await _copies(app, people["anna"])).values()) == {"cancelled"}
    # Bob, who changed nothing, still gets what was meant for him.
    assert await _copies(app, people["bob"]) == {benches: "pending"}


async def test_with_no_experiment_running_its_participants_are_not_offered_as_audience(
    app: App,
) -> None:
    """Not a picker with nothing in it but "back": the choice is left out, and an old
    button for it (from before the last experiment ended) says plainly there is none."""
    ria = await civil_servant(app)
    await _write(ria)
    [(_, experiment)] = [(lb, p) for lb, p in ria.buttons() if "Deelnemers experiment" in lb]
    await end_every_experiment(app)
    await ria.press_payload(experiment)
    assert ria.keys == ["composer.no_experiment", "composer.ask_audience"]
    assert "Er loopt nu geen experiment" in ria.text
    assert not any("Deelnemers experiment" in label for label, _ in ria.buttons())
    await ria.send("/annuleer")
    await _write(ria)
    assert not any("Deelnemers experiment" in label for label, _ in ria.buttons())
    await ria.press("Eén thema")
    assert ria.keys == ["composer.ask_theme"]


async def test_a_scheduled_update_names_its_experiment_after_the_experiment_ended(
    app: App,
) -> None:
    """The list of what is scheduled says whose update it is by the experiment's title,
    also once the experiment has ended (its participants still get it), not by its number."""
    await _town(app)
    ria = await civil_servant(app)
    await _write(ria)
    await ria.press("Deelnemers experiment")
    await ria.press("Speeltuin")
    assert ria.keys == [
        "composer.preview_intro",
        "news.experiment_item",
        "composer.preview_question",
    ]
    await ria.press("Inplannen")
    moment = (utcnow() + timedelta(days=2)).astimezone(app.settings.zone)
    await ria.send(moment.strftime("%d-%m-%Y 10:00"))
    assert ria.keys == ["composer.scheduled"]
    await end_every_experiment(app)
    await ria.send("/gepland")
    assert ria.keys == ["composer.scheduled_item", "composer.scheduled_footer"]
    assert "deelnemers van Speeltuin" in ria.text


async def test_many_scheduled_broadcasts_are_listed_a_few_at_a_time(app: App) -> None:
    ria = await civil_servant(app)
    author = (await row(app, ria)).id
    now = utcnow()
    async with app.db.transaction():
        for n in range(12):
            draft = await app.repos.broadcasts.save_draft(
                author,
                text=f"Bericht nummer {n}",
                photo_id=None,
                audience=Audience(kind=AudienceKind.ALL),
                payload=[],
                now=now,
                replace_drafts=False,
            )
            await app.repos.broadcasts.schedule(draft, now + timedelta(days=1, hours=n))
    await ria.send("/gepland")
    # Each one is a message (on Telegram a second each): five, soonest first, and a way on.
    assert ria.keys == [*["composer.scheduled_item"] * 5, "composer.scheduled_paged"]
    assert "Bericht nummer 0" in ria.text and "Bericht nummer 5" not in ria.text
    assert "Pagina 1 van 3" in ria.text
    await ria.press("Volgende")
    assert "Bericht nummer 5" in ria.text and "Bericht nummer 4" not in ria.text
    await ria.press_payload("sched:99")  # an old button past the end: the last page
    assert ria.keys == [*["composer.scheduled_item"] * 2, "composer.scheduled_paged"]
    assert "Bericht nummer 11" in ria.text
    await ria.press_payload("sched:-1")
    assert ria.keys == ["general.stale_button"]
    # Cancelled from a page, and by others: the pages follow what is still scheduled.
    await ria.press_payload("sched:1")
    await ria.press("Annuleren")
    await ria.press("Ja, annuleren")
    assert ria.keys == ["composer.cancelled"]
    for _ in range(2):
        async with app.db.transaction():
            [first, *_] = await app.repos.broadcasts.scheduled(limit=1)
            await app.repos.broadcasts.cancel(first.id)
    await ria.send("/gepland")
    # Nine left: two pages.
    assert "Pagina 1 van 2" in ria.text
    for _ in range(4):
        async with app.db.transaction():
            [first, *_] = await app.repos.broadcasts.scheduled(limit=1)
            await app.repos.broadcasts.cancel(first.id)
    await ria.send("/gepland")
    assert ria.keys == [*["composer.scheduled_item"] * 5, "composer.scheduled_footer"]


@pytest.mark.parametrize(
    ("now", "typed", "at"),
    [
        # 25 October 2026, the clocks go back at 03:00 to 02:00: it is 02:40 for the second
        # time (01:40 UTC). 02:50 meant now is the one to come, ten minutes from now; the
        # first 02:50 passed an hour ago and would have gone out at once.
        (
            datetime(2026, 10, 25, 1, 40, tzinfo=UTC),
            "vandaag 2:50",
            datetime(2026, 10, 25, 1, 50, tzinfo=UTC),
        ),
        # The first time it is 02:40 (00:40 UTC): 02:50 is the first, in ten minutes.
        (
            datetime(2026, 10, 25, 0, 40, tzinfo=UTC),
            "vandaag 2:50",
            datetime(2026, 10, 25, 0, 50, tzinfo=UTC),
        ),
    ],
)
async def test_a_moment_typed_in_the_hour_the_clocks_go_back_is_the_one_still_to_come(
    app: App, now: datetime, typed: str, at: datetime
) -> None:
    await _town(app)
    timers = TimerLog(app)
    ria = await civil_servant(app)
    app.router.clock = lambda: now
    await _write(ria)
    await ria.press("Alle abonnees")
    await ria.press("Inplannen")
    await ria.send(typed)
    assert ria.keys == ["composer.scheduled"]
    [timer] = timers.armed
    assert timer.at == at


async def test_a_moment_typed_in_the_hour_the_clocks_go_back_that_passed_is_refused(
    app: App,
) -> None:
    # The second 02:40 (01:40 UTC): both 02:30s passed, and nothing is scheduled.
    await _town(app)
    timers = TimerLog(app)
    ria = await civil_servant(app)
    app.router.clock = lambda: datetime(2026, 10, 25, 1, 40, tzinfo=UTC)
    await _write(ria)
    await ria.press("Alle abonnees")
    await ria.press("Inplannen")
    await ria.send("vandaag 2:30")
    assert ria.keys == ["composer.when_past", "composer.ask_when"]
    assert timers.armed == []


async def test_the_message_of_a_civil_servant_revoked_while_writing_it_is_given_back(
    app: App,
) -> None:
    """Her role goes while her message waits for its photo: the word that it stopped comes
    with the message she wrote, never without it."""
    text = "Wist je dat we <b>12</b> nieuwe bankjes & een 🎉 plaatsen?"
    ria = await with_role(app, await person(app, "4242", platform="telegram"), Role.CIVIL_SERVANT)
    await ria.send(f"/nieuwbericht {text}")
    assert ria.keys == ["composer.ask_photo"]
    await revoke(app.settings, "telegram", "4242", "vertrokken")
    [word] = await for_user(app, ria, "dialog_dropped")
    assert text in word.text(app, "nl")
    # The role gone in the database alone (another way than the operator's command): her
    # next press is answered with the same word and the message.
    await with_role(app, ria, Role.CIVIL_SERVANT)
    await ria.send("/nieuwbericht Wist je dat het park groener wordt?")
    await ria.press("Zonder foto")
    await with_role(app, ria, Role.RESIDENT)
    await ria.press("Alle abonnees")
    assert ria.keys[0] == "roles.lost.ambtenaar"
    assert "Wist je dat het park groener wordt?" in ria.text


async def test_a_command_after_the_role_went_gives_the_message_back_too(app: App) -> None:
    """Her role gone in the database alone while her message waits for its photo: a
    command (not a press of the open dialog) is answered with the word that it stopped and
    the message she wrote, as a press is."""
    ria = await with_role(app, await person(app, "4243", platform="telegram"), Role.CIVIL_SERVANT)
    await ria.send("/nieuwbericht Wist je dat de haven een nieuw bankje krijgt?")
    assert ria.keys == ["composer.ask_photo"]
    await with_role(app, ria, Role.RESIDENT)
    await ria.send("/menu")
    assert ria.keys[:2] == ["roles.lost.ambtenaar", "general.typed_not_kept"]
    assert "Wist je dat de haven een nieuw bankje krijgt?" in ria.text
