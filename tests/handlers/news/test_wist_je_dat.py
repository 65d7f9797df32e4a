"""'Wist je dat' for residents: subscribing, themes, neighbourhood only, browsing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.app import App
from bot.settings import Settings
from handlers.contract import Reply, Role
from handlers.profile import DEFAULT_PROFILE
from storage.clock import utcnow
from storage.news.broadcasts import Audience, AudienceKind
from tests.people import civil_servant, for_user, person, row, subscribe
from tests.support import Chat


async def test_subscribing_turns_on_every_theme_for_the_whole_municipality(app: App) -> None:
    anna = await person(app, "anna")
    await anna.press("Wist je dat")
    assert anna.keys == ["news.intro"]
    assert "Je krijgt deze berichten nu niet" in anna.text
    await anna.press("Aanmelden")
    assert anna.keys == ["news.subscribed"]
    assert "Velsen is samenspel" in anna.text and "de hele gemeente" in anna.text
    subscription = await app.repos.subscriptions.get((await row(app, "anna")).id)
    assert subscription is not None and subscription.muted_themes == frozenset()
    assert not subscription.neighbourhood_only
    await anna.press_payload("news.sub")
    assert anna.keys == ["news.already_subscribed"]


async def test_themes_switch_on_and_off_but_one_stays_on(app: App) -> None:
    anna = await person(app, "anna")
    await subscribe(anna)
    await anna.press("Thema's kiezen")
    assert anna.keys == ["news.themes_title"]
    assert "✅ Velsen is in trek!" in anna.last[0].labels()
    await anna.press("Velsen is in trek!")
    assert "⬜ Velsen is in trek!" in anna.last[0].labels()
    user = await row(app, "anna")
    subscription = await app.repos.subscriptions.get(user.id)
    assert subscription is not None and subscription.muted_themes == {"in-trek"}
    await anna.press("Velsen benut kansen")
    await anna.press("In Velsen doet iedereen mee")
    await anna.press("Velsen is samenspel")
    assert anna.keys == ["news.keep_one_theme"]
    assert "✅ Velsen is samenspel" in anna.last[0].labels()
    subscription = await app.repos.subscriptions.get(user.id)
    assert subscription is not None and "samenspel" not in subscription.muted_themes
    await anna.press("Velsen is in trek!")
    await anna.press("Klaar")
    assert anna.keys == ["news.intro"]
    assert "Thema's: Velsen is in trek!, Velsen is samenspel" in anna.text


async def test_a_theme_tapped_twice_before_the_message_changed_stays_as_first_tapped(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await subscribe(anna)
    await anna.press("Thema's kiezen")
    climate = next(p for label, p in anna.buttons() if "Velsen is in trek!" in label)
    # Both taps come from the same keyboard: the second before the first had changed it.
    await anna.press_payload(climate)
    await anna.press_payload(climate)
    assert "⬜ Velsen is in trek!" in anna.last[0].labels()
    subscription = await app.repos.subscriptions.get((await row(app, "anna")).id)
    assert subscription is not None and subscription.muted_themes == {"in-trek"}
    switch_on = next(p for label, p in anna.buttons() if "Velsen is in trek!" in label)
    await anna.press_payload(switch_on)
    await anna.press_payload(switch_on)
    assert "✅ Velsen is in trek!" in anna.last[0].labels()


async def test_only_my_neighbourhood_can_be_switched_on_and_off(app: App) -> None:
    anna = await person(app, "anna", hood="Driehuis")
    await subscribe(anna)
    await anna.press("Alleen nieuws uit mijn wijk")
    assert anna.keys == ["news.hood_set"]
    assert "Alleen nieuws uit: Driehuis" in anna.text
    user = await row(app, "anna")
    subscription = await app.repos.subscriptions.get(user.id)
    assert subscription is not None and subscription.neighbourhood_only
    await anna.press("Nieuws uit de hele gemeente")
    assert anna.keys == ["news.hood_unset"]
    subscription = await app.repos.subscriptions.get(user.id)
    assert subscription is not None and not subscription.neighbourhood_only


async def test_an_old_neighbourhood_button_does_what_its_label_says(app: App) -> None:
    anna = await person(app, "anna", hood="Driehuis")
    await subscribe(anna)
    await anna.send("/wistjedat")
    old_overview = anna.buttons()
    only_mine = next(p for label, p in old_overview if "Alleen nieuws uit mijn wijk" in label)
    await anna.press("Alleen nieuws uit mijn wijk")
    assert anna.keys == ["news.hood_set"]
    # A double tap, or the same button on the older overview: still "only my neighbourhood".
    await anna.press_payload(only_mine)
    assert anna.keys == ["news.hood_set"]
    user = await row(app, "anna")
    subscription = await app.repos.subscriptions.get(user.id)
    assert subscription is not None and subscription.neighbourhood_only
    await anna.press("Nieuws uit de hele gemeente")
    everywhere = anna.buttons()
    await anna.press_payload(next(p for label, p in everywhere if "Alleen" in label))
    await anna.press_payload(only_mine)
    assert anna.keys == ["news.hood_set"]
    subscription = await app.repos.subscriptions.get(user.id)
    assert subscription is not None and subscription.neighbourhood_only


async def test_someone_without_a_neighbourhood_is_asked_for_one_first(app: App) -> None:
    bob = Chat(app, "bob")
    await bob.send("/start")
    await bob.press("Ja")
    await bob.press("Nederlands")
    await bob.press("Zeg ik liever niet")
    await subscribe(bob)
    await bob.press("Alleen nieuws uit mijn wijk")
    assert bob.keys == ["news.which_hood"]
    await bob.press("Spaarndam-West")
    assert bob.keys == ["news.hood_set"]
    user = await row(app, "bob")
    assert user.neighbourhood == "spaarndam-west"
    await bob.press_payload("news.hood:atlantis")
    assert bob.keys == ["news.hood_unknown"]


async def test_unsubscribing_forgets_the_choices_and_reading_still_works(app: App) -> None:
    anna = await person(app, "anna")
    await subscribe(anna)
    await anna.press("Afmelden")
    assert anna.keys == ["news.unsubscribed"]
    assert await app.repos.subscriptions.get((await row(app, "anna")).id) is None
    await anna.press_payload("news.unsub")
    assert anna.keys == ["news.not_subscribed"]
    await anna.press_payload("news.themes:klimaat")
    assert anna.keys == ["news.not_subscribed"]
    await anna.press("Lees het nieuws")
    assert anna.keys == ["news.empty"]


async def _publish(app: App, texts: list[str], audience: Audience | None = None) -> None:
    now = utcnow() - timedelta(days=1)
    async with app.db.transaction():
        author = await app.repos.users.seen("test", "writer", now)
        await app.repos.users.set_role(author.id, Role.CIVIL_SERVANT)
        for index, text in enumerate(texts):
            payload = [Reply(key="news.item", params={"text": text}).model_dump(mode="json")]
            draft = await app.repos.broadcasts.save_draft(
                author.id,
                text=text,
                photo_id=None,
                audience=audience or Audience(kind=AudienceKind.ALL),
                payload=payload,
                now=now,
            )
            await app.repos.broadcasts.release(draft, now + timedelta(minutes=index))


async def test_the_news_is_browsed_newest_first_three_to_a_page(app: App) -> None:
    await _publish(app, [f"Bericht {n}" for n in range(1, 8)])
    anna = await person(app, "anna")
    await anna.send("/wistjedat")
    await anna.press("Lees het nieuws")
    assert anna.keys == ["news.item", "news.item", "news.item", "news.page_info"]
    assert [seen.reply.params["text"] for seen in anna.last[:3]] == [
        "Bericht 7",
        "Bericht 6",
        "Bericht 5",
    ]
    assert "Pagina 1 van 3" in anna.text
    assert anna.last[-1].labels() == ["Ouder ▶️", "📰 Wist je dat", "⬅️ Menu"]
    await anna.press("Ouder")
    await anna.press("Ouder")
    assert [seen.reply.params.get("text") for seen in anna.last] == ["Bericht 1", None]
    assert "Pagina 3 van 3" in anna.text
    assert anna.last[-1].labels() == ["◀️ Nieuwer", "📰 Wist je dat", "⬅️ Menu"]
    # A page past the end (an old button, the news since gone) shows the last page.
    await anna.press_payload("news.page:99")
    assert "Pagina 3 van 3" in anna.text
    # A page number we could not have sent is no page.
    for forged in ("news.page:x", "news.page:-1", "news.page:²", "news.page:" + "9" * 40):
        await anna.press_payload(forged)
        assert anna.keys == ["general.stale_button"], forged


async def test_an_experiments_updates_are_shown_only_to_its_participants(app: App) -> None:
    [first, *_] = await app.repos.experiments.running()
    await _publish(app, ["Voor iedereen"])
    await _publish(
        app,
        ["Alleen voor de speeltuin"],
        Audience(kind=AudienceKind.EXPERIMENT, value=str(first.id)),
    )
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    await bob.press_payload(f"exp.join:{first.id}")
    await anna.press_payload("news.page:0")
    assert [seen.reply.params.get("text") for seen in anna.last] == ["Voor iedereen", None]
    await bob.press_payload("news.page:0")
    assert [seen.reply.params.get("text") for seen in bob.last] == [
        "Alleen voor de speeltuin",
        "Voor iedereen",
        None,
    ]


async def test_a_message_that_begins_the_usual_way_gets_no_second_header(app: App) -> None:
    await subscribe(await person(app, "anna"))
    ria = await civil_servant(app)
    await ria.send("/nieuwbericht")
    await ria.send("Wist je dat we in mei een nieuwe speeltuin openen?")
    await ria.press("Zonder foto")
    await ria.press("Alle abonnees")
    shown = ria.last[1].text
    assert shown.startswith("💡 Wist je dat we in mei")
    assert shown.splitlines()[0].count("Wist je dat") == 1
    await ria.press("Tekst aanpassen")
    await ria.send("De speeltuin gaat in mei open.")
    assert ria.last[1].text.startswith("💡 Wist je dat…\nDe speeltuin")


async def test_news_for_a_neighbourhood_the_profile_no_longer_has_comes_from_everywhere(
    settings: Settings, tmp_path: Path
) -> None:
    app = await App.open(settings)
    try:
        anna = await person(app, "anna", hood="Spaarndam-West")
        await subscribe(anna)
        await anna.press("Alleen nieuws uit mijn wijk")
        assert anna.keys == ["news.hood_set"]
    finally:
        await app.close()
    # The municipality drops the neighbourhood from its profile.
    profile = tmp_path / "profile.toml"
    velsen = DEFAULT_PROFILE.read_text(encoding="utf-8")
    dropped = '[[neighbourhoods]]\nid = "spaarndam-west"\n'
    assert dropped in velsen
    start = velsen.index(dropped)
    profile.write_text(velsen[:start] + velsen[velsen.index("\n\n", start) + 2 :], "utf-8")
    app = await App.open(settings.model_copy(update={"profile": profile}))
    try:
        assert app.profile.neighbourhood("spaarndam-west") is None
        anna = Chat(app, "anna")
        # She is told she gets the news of the whole municipality ...
        await anna.send("/wistjedat")
        assert "Gebied: de hele gemeente" in anna.text
        # ... and she does: news for all subscribers reaches her.
        ria = await civil_servant(app)
        await ria.send("/nieuwbericht")
        await ria.send("Wist je dat de bibliotheek langer open is?")
        await ria.press("Zonder foto")
        assert "👥 Alle abonnees (1)" in ria.last[0].labels()
        await ria.press("Alle abonnees")
        await ria.press("Nu versturen")
        assert ria.keys == ["composer.sent"]
        assert [q.kind for q in await for_user(app, anna)] == ["broadcast"]
        # Asking for her own neighbourhood's news again first asks which one it is.
        await anna.send("/wistjedat")
        await anna.press("Alleen nieuws uit mijn wijk")
        assert anna.keys == ["news.which_hood"]
    finally:
        await app.close()
