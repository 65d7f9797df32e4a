"""A "Wist je dat" is signed when it is sent or shown, so a civil servant's name is kept in one
place (their card) and leaves every broadcast with them when they are erased."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.admin.cli import revoke
from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.runtime import Runtime
from handlers.contract import Role
from handlers.news.wist_je_dat import Signer
from storage.clock import utcnow
from tests.bot.delivery_support import FakeAdapter, payload
from tests.people import civil_servant, person, row, subscribe, with_role
from tests.privacy import traces
from tests.support import Chat
from tests.waiting import until

NAME = "Cas Zonnebloem"


async def _send_news(cas: Chat, text: str) -> None:
    await cas.send("/nieuwbericht")
    await cas.send(text)
    await cas.press("Zonder foto")
    await cas.press("Alle abonnees")
    await cas.press("Nu versturen")
    assert cas.keys == ["composer.sent"]


async def _delivered(app: App, adapter: FakeAdapter, count: int) -> None:
    """Run delivery as the bot does until Anna got ``count`` messages (the author gets
    progress and a report besides)."""
    [worker] = Runtime(app, adapters=[adapter]).workers
    await worker.start()
    try:
        await until(lambda: len(adapter.to("anna")) >= count)
    finally:
        await worker.stop()


async def test_an_erased_civil_servant_leaves_no_name_in_the_broadcasts_they_signed(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await subscribe(anna)
    cas = await civil_servant(app, "7003334445")
    await cas.send("/voorstellen")
    await cas.send(NAME)
    await cas.press("Openbare ruimte")
    await cas.send("Bankjes en speelplekken")
    await cas.press("Zonder foto")
    await cas.press("Opslaan")
    await _send_news(cas, "Wist je dat we 12 nieuwe bankjes plaatsen?")
    # The name is on the card only: not in the broadcast, its outbox rows or the news.
    assert await traces(app.db, [NAME]) == ["staff_cards.name: Cas Zonnebloem"]

    def render(reply: object, lang: str) -> str:
        return app.catalog.render(lang, reply, markup=False)  # type: ignore[arg-type]

    adapter = FakeAdapter(render=render)
    await _delivered(app, adapter, 1)
    assert f"{NAME}, Openbare ruimte" in adapter.to("anna")[0].texts[0]
    await anna.press_payload("news.page:0")
    assert f"{NAME}, Openbare ruimte" in anna.last[0].text

    # A second message waits in the outbox while Cas asks to be forgotten.
    await _send_news(cas, "Wist je dat de markt op zaterdag is?")
    await cas.send("/vergeetmij")
    await cas.press("Ja, wis mijn gegevens")
    assert cas.keys == ["privacy.forget.done"]

    assert await traces(app.db, [NAME, cas.user_id]) == []
    await _delivered(app, adapter, 2)
    assert "Gemeente Velsen" in adapter.to("anna")[1].texts[0]
    assert NAME not in adapter.to("anna")[1].texts[0]
    await anna.press_payload("news.page:0")
    assert [seen.text.count("Gemeente Velsen") for seen in anna.last[:2]] == [1, 1]
    assert NAME not in anna.text


async def test_a_card_whose_department_left_the_profile_shows_the_municipality(
    app: App,
) -> None:
    """The operator took a department out of the profile: the card, the list of civil
    servants and the signature under the news name the municipality, not an empty place."""
    anna = await person(app, "anna")
    await subscribe(anna)
    cas = await civil_servant(app, "7003334445")
    await cas.send("/voorstellen")
    await cas.send(NAME)
    await cas.press("Openbare ruimte")
    await cas.send("Bankjes en speelplekken")
    await cas.press("Zonder foto")
    await cas.press("Opslaan")
    await _send_news(cas, "Wist je dat we 12 nieuwe bankjes plaatsen?")
    profile = app.router.profile
    kept = [d for d in profile.departments if d.name("nl") != "Openbare ruimte"]
    app.router.profile = profile.model_copy(update={"departments": kept})
    await anna.send("/ambtenaren")
    assert f"{NAME}, Gemeente Velsen" in anna.text
    await anna.press(NAME)
    assert "Afdeling: Gemeente Velsen" in anna.text
    await anna.press_payload("news.page:0")
    assert f"{NAME}, Gemeente Velsen" in anna.last[0].text


async def test_a_broadcast_going_out_when_its_author_is_erased_is_signed_by_the_municipality_from_then_on(  # noqa: E501
    app: App,
) -> None:
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    for resident in (anna, bob):
        await subscribe(resident)
    cas = await civil_servant(app, "7003334445")
    await cas.send("/voorstellen")
    await cas.send(NAME)
    await cas.press("Openbare ruimte")
    await cas.send("Bankjes en speelplekken")
    await cas.press("Zonder foto")
    await cas.press("Opslaan")
    await _send_news(cas, "Wist je dat we 12 nieuwe bankjes plaatsen?")
    # Bob's copy waits (his chat asked for a pause) while Anna's goes out, signed by Cas.
    async with app.db.transaction():
        await app.repos.outbox.hold_chat("test", "bob", utcnow() + timedelta(hours=1))

    def render(reply: object, lang: str) -> str:
        return app.catalog.render(lang, reply, markup=False)  # type: ignore[arg-type]

    adapter = FakeAdapter(render=render)
    [worker] = Runtime(app, adapters=[adapter]).workers
    await worker.start()
    try:
        await until(lambda: len(adapter.to("anna")) == 1)
        assert f"{NAME}, Openbare ruimte" in adapter.to("anna")[0].texts[0]

        await cas.send("/vergeetmij")
        await cas.press("Ja, wis mijn gegevens")
        assert cas.keys == ["privacy.forget.done"]
        # Bob's chat opens again moments later: his copy goes out now.
        async with app.db.transaction():
            await app.repos.outbox.release_chat("test", "bob", utcnow())
        await until(lambda: len(adapter.to("bob")) == 1)
    finally:
        await worker.stop()
    assert NAME not in adapter.to("bob")[0].texts[0]
    assert "Gemeente Velsen" in adapter.to("bob")[0].texts[0]


async def test_a_copy_signed_and_waiting_to_go_when_its_author_is_erased_goes_without_her_name(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await subscribe(anna)
    bea = await person(app, "bea")
    cas = await civil_servant(app, "7003334445")
    await cas.send("/voorstellen")
    await cas.send(NAME)
    await cas.press("Openbare ruimte")
    await cas.send("Bankjes en speelplekken")
    await cas.press("Zonder foto")
    await cas.press("Opslaan")
    async with app.db.transaction():
        await app.repos.outbox.enqueue(
            (await row(app, bea)).id, payload(), kind="status", now=utcnow()
        )
    await _send_news(cas, "Wist je dat we 12 nieuwe bankjes plaatsen?")

    def render(reply: object, lang: str) -> str:
        return app.catalog.render(lang, reply, markup=False)  # type: ignore[arg-type]

    # Bea's message is on the wire; Anna's copy was signed and waits behind it.
    wire = asyncio.Event()
    adapter = FakeAdapter(render=render, gates={"bea": wire})
    worker = DeliveryWorker(
        app.repos,
        app.catalog,
        adapter,
        DeliveryPolicy(concurrency=1, poll=0.05),
        sign=Signer(app.repos, app.profile),
    )
    await worker.start()
    try:
        await until(lambda: adapter.active == 1 and worker.in_flight >= 2)
        await cas.send("/vergeetmij")
        await cas.press("Ja, wis mijn gegevens")
        assert cas.keys == ["privacy.forget.done"]
        wire.set()
        await until(lambda: bool(adapter.to("anna")))
    finally:
        await worker.stop()
    assert NAME not in adapter.to("anna")[0].texts[0]
    assert "Gemeente Velsen" in adapter.to("anna")[0].texts[0]


async def test_a_broadcast_going_out_when_its_author_is_revoked_is_signed_by_the_municipality_from_then_on(  # noqa: E501
    app: App,
) -> None:
    # On Telegram, as the operator's command names people there.
    anna = await person(app, "1001", platform="telegram")
    bob = await person(app, "1002", platform="telegram")
    for resident in (anna, bob):
        await subscribe(resident)
    cas = await with_role(app, await person(app, "4242", platform="telegram"), Role.CIVIL_SERVANT)
    await cas.send("/voorstellen")
    await cas.send(NAME)
    await cas.press("Openbare ruimte")
    await cas.send("Bankjes en speelplekken")
    await cas.press("Zonder foto")
    await cas.press("Opslaan")
    await _send_news(cas, "Wist je dat we 12 nieuwe bankjes plaatsen?")
    # Bob's copy waits (his chat asked for a pause) while Anna's goes out, signed by Cas.
    async with app.db.transaction():
        await app.repos.outbox.hold_chat("telegram", "1002", utcnow() + timedelta(hours=1))

    def render(reply: object, lang: str) -> str:
        return app.catalog.render(lang, reply, markup=False)  # type: ignore[arg-type]

    adapter = FakeAdapter(name="telegram", render=render)
    worker = DeliveryWorker(
        app.repos,
        app.catalog,
        adapter,
        DeliveryPolicy(concurrency=2, poll=0.05, progress=0.05),
        sign=Signer(app.repos, app.profile),
    )
    await worker.start()
    try:
        await until(lambda: len(adapter.to("1001")) == 1)
        assert f"{NAME}, Openbare ruimte" in adapter.to("1001")[0].texts[0]
        before = app.repos.outbox.generation
        # The operator revokes her, from another process: the bot learns it from storage.
        said = await revoke(app.settings, "telegram", "4242", "vertrokken")
        assert said == "telegram 4242 is now inwoner (was ambtenaar)"
        await until(lambda: app.repos.outbox.generation > before)
        # Bob's chat opens again moments later (well within the card's memory).
        async with app.db.transaction():
            await app.repos.outbox.release_chat("telegram", "1002", utcnow())
        await until(lambda: len(adapter.to("1002")) == 1)
    finally:
        await worker.stop()
    assert NAME not in adapter.to("1002")[0].texts[0]
    assert "Gemeente Velsen" in adapter.to("1002")[0].texts[0]
