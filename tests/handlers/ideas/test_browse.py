"""Browsing ideas, an idea's card, supporting and following, and a resident's own ideas."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.app import App
from bot.settings import Settings
from handlers.ideas.browse import MAX_PAYLOAD, View, with_view
from handlers.profile import DEFAULT_PROFILE
from storage.clock import utcnow
from storage.ideas.ideas import IdeaSort, IdeaStatus
from tests.handlers.ideas.helpers import seed_idea, submit_idea
from tests.people import person, row
from tests.support import Chat

MakeChat = Callable[..., Chat]


def _listed(chat: Chat) -> list[str]:
    """The idea buttons of the last list, as '#n title'."""
    return [label for label, payload in chat.buttons() if payload.startswith("idea.open:")]


async def test_browsing_shows_the_newest_first_five_to_a_page(app: App, chat: MakeChat) -> None:
    for n in range(1, 13):
        await seed_idea(app, f"Idee nummer {n}", minutes=n)
    anna = chat("anna")
    await anna.onboard()
    await anna.press("Ideeën bekijken")
    assert anna.keys == ["ideas.list_title"]
    assert "Pagina 1 van 3" in anna.text and "12 in totaal" in anna.text
    assert _listed(anna) == [f"#{n} Idee nummer {n}" for n in (12, 11, 10, 9, 8)]
    assert "Vorige" not in " ".join(anna.last[0].labels())
    await anna.press("Volgende")
    assert _listed(anna) == [f"#{n} Idee nummer {n}" for n in (7, 6, 5, 4, 3)]
    await anna.press("Volgende")
    assert _listed(anna) == ["#2 Idee nummer 2", "#1 Idee nummer 1"]
    assert "Volgende" not in " ".join(anna.last[0].labels())
    await anna.press("Vorige")
    assert "Pagina 2 van 3" in anna.text


async def test_browsing_by_most_supported_and_by_category_or_neighbourhood(
    app: App, chat: MakeChat
) -> None:
    quiet = await seed_idea(app, "Stil idee", category="wonen", neighbourhood="driehuis")
    loved = await seed_idea(app, "Geliefd idee", category="duurzaamheid", neighbourhood="driehuis")
    liked = await seed_idea(app, "Gewaardeerd idee", category="wonen", neighbourhood="ijmuiden")
    fans = [chat(f"fan{n}") for n in range(3)]
    for fan in fans:
        await fan.onboard()
    async with app.db.transaction():
        for n, fan in enumerate(fans):
            await app.repos.ideas.support(loved.id, (await row(app, fan)).id, utcnow())
            if n == 0:
                await app.repos.ideas.support(liked.id, (await row(app, fan)).id, utcnow())

    anna = chat("anna")
    await anna.send("/ideeen")
    assert _listed(anna) == ["#3 Gewaardeerd idee", "#2 Geliefd idee", "#1 Stil idee"]
    await anna.press("Meest gesteund")
    assert _listed(anna) == ["#2 Geliefd idee", "#3 Gewaardeerd idee", "#1 Stil idee"]
    assert "meest gesteund eerst" in anna.text and "👍 3" in anna.text

    await anna.press("Per onderwerp")
    assert anna.keys == ["ideas.choose_category"]
    assert ("⬅️ Menu", "menu") in anna.buttons(), "a way out besides the categories"
    await anna.press("Woningbeleid")
    assert _listed(anna) == ["#3 Gewaardeerd idee", "#1 Stil idee"]
    assert "Woningbeleid" in anna.text
    await anna.press("Nieuwste eerst")  # the filter stays, the order changes
    assert _listed(anna) == ["#3 Gewaardeerd idee", "#1 Stil idee"]

    await anna.press("Per wijk")
    await anna.press("Driehuis")
    assert _listed(anna) == ["#2 Geliefd idee", "#1 Stil idee"]
    await anna.press("Alle ideeën")
    assert len(_listed(anna)) == 3
    await anna.press("Per wijk")
    await anna.press("Spaarndam-West")
    assert anna.keys == ["ideas.list_title"] and "nog geen ideeën" in anna.text
    assert quiet.id == 1


async def test_reading_needs_no_consent_but_acting_does(app: App, chat: MakeChat) -> None:
    await seed_idea(app, "Een openbaar idee")
    visitor = chat("visitor")
    await visitor.send("/start")
    await visitor.press("Nee")
    await visitor.press("Ideeën bekijken")
    assert _listed(visitor) == ["#1 Een openbaar idee"]
    await visitor.press("#1")
    assert visitor.keys == ["ideas.card"]
    await visitor.press("Reacties")
    assert visitor.keys == ["comments.title"]
    for payload in ("idea.support:1", "idea.follow:1", "idea.comment:1", "ideas.mine"):
        await visitor.press_payload(payload)
        assert visitor.keys == ["general.consent_needed"], payload
    assert await app.db.fetchval("SELECT COUNT(*) FROM idea_supports") == 0
    assert await app.db.fetchval("SELECT COUNT(*) FROM idea_follows") == 0


async def test_the_card_shows_everything_but_the_authors_name(app: App, chat: MakeChat) -> None:
    anna = chat("anna", name="Anna de Vries")
    await anna.onboard()
    await submit_idea(anna, neighbourhood="Driehuis")
    connector = chat("ria")
    await connector.onboard()
    async with app.db.transaction():
        await app.repos.ideas.set_status(
            1, IdeaStatus.IN_REVIEW, reason="Burgerbeest belt je deze week.", now=utcnow()
        )
        await app.repos.ideas.set_status(
            1,
            IdeaStatus.FORWARDED,
            department="openbare-ruimte",
            reason="Zij gaan over bankjes.",
            now=utcnow(),
        )
    bob = chat("bob")
    await bob.send("/start idee_1")
    assert bob.keys == ["onboarding.welcome", "onboarding.consent_question"]
    await bob.press("Ja")
    await bob.press("Nederlands")
    await bob.press("IJmuiden")
    assert bob.keys == ["onboarding.done", "ideas.card"]
    card = bob.last[1].text
    assert "#1 Meer bankjes in het Velserbeekpark" in card
    assert "Ruimtelijke inrichting gemeente" in card and "Driehuis" in card
    assert "Doorgestuurd naar een afdeling" in card
    assert "doorgestuurd naar de afdeling Openbare ruimte" in card
    assert "Zij gaan over bankjes." in card and "Burgerbeest belt je deze week." in card
    assert "Anna" not in card and "jouw idee" not in card
    assert bob.last[1].labels() == [
        "👍 Steunen",
        "🔔 Volgen",
        "💬 Reacties (0)",
        "🚩 Melden",
        "⬅️ Terug naar de lijst",
        "⬅️ Menu",
    ]


async def test_support_and_undo_update_the_card_and_the_count(app: App, chat: MakeChat) -> None:
    await seed_idea(app, "Een idee om te steunen")
    bob = chat("bob")
    await bob.onboard()
    await bob.send("/ideeen")
    await bob.press("#1")
    old_card = bob.history[-1]
    await bob.press("Steunen")
    assert bob.keys == ["ideas.supported", "ideas.card"]
    assert bob.last[1].reply.edit is True
    assert "Steun: 1" in bob.text and "↩️ Steun intrekken" in bob.last[1].labels()
    assert "🔕 Niet meer volgen" in bob.last[1].labels()  # supporting also follows

    bob.history.append(old_card)
    await bob.press("Steunen")  # the same button once more, from the old card
    assert bob.keys == ["ideas.already_supported", "ideas.card"]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.supporters == 1

    await bob.press("Steun intrekken")
    assert bob.keys == ["ideas.unsupported", "ideas.card"]
    assert "Steun: 0" in bob.text
    await bob.press_payload("idea.unsupport:1")
    assert bob.keys == ["ideas.not_supported", "ideas.card"]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.supporters == 0
    assert (await row(app, "bob")).id in await app.repos.ideas.followers(1)


async def test_follow_and_unfollow(app: App, chat: MakeChat) -> None:
    await seed_idea(app, "Een idee om te volgen")
    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.open:1")
    await bob.press("Volgen")
    assert bob.keys == ["ideas.followed", "ideas.card"]
    bob_id = (await row(app, "bob")).id
    assert await app.repos.ideas.followers(1) == [bob_id]
    await bob.press_payload("idea.follow:1")
    assert bob.keys == ["ideas.already_following", "ideas.card"]
    await bob.press("Niet meer volgen")
    assert bob.keys == ["ideas.unfollowed", "ideas.card"]
    assert await app.repos.ideas.followers(1) == []
    await bob.press_payload("idea.unfollow:1")
    assert bob.keys == ["ideas.not_following", "ideas.card"]


async def test_an_author_cannot_support_their_own_idea(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await anna.onboard()
    await submit_idea(anna)
    await anna.press("Bekijk #1")
    assert "👍 Steunen" not in anna.last[0].labels()
    assert "🔕 Niet meer volgen" in anna.last[0].labels()
    await anna.press_payload("idea.support:1")
    assert anna.keys == ["ideas.own_idea", "ideas.card"]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.supporters == 0


async def test_a_merged_idea_points_at_the_other_one(app: App, chat: MakeChat) -> None:
    await seed_idea(app, "Het eerste idee")
    await seed_idea(app, "Hetzelfde idee nog eens")
    async with app.db.transaction():
        await app.repos.ideas.set_status(2, IdeaStatus.MERGED, merged_into=1, now=utcnow())
    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.open:2")
    assert "samengevoegd met idee #1" in bob.text
    assert "👍 Steunen" not in bob.last[0].labels()
    await bob.press_payload("idea.support:2")
    assert bob.keys == ["ideas.merged_no_support", "ideas.card"]
    await bob.press("Naar idee #1")
    assert bob.keys == ["ideas.card"] and "#1 Het eerste idee" in bob.text


async def test_old_buttons_for_a_removed_or_unknown_idea_answer_kindly(
    app: App, chat: MakeChat
) -> None:
    await seed_idea(app, "Een idee dat verdwijnt")
    bob = chat("bob")
    await bob.onboard()
    await bob.send("/ideeen")
    old_list = bob.history[-1]
    await bob.press("#1")
    old_card = bob.history[-1]
    async with app.db.transaction():
        await app.repos.ideas.remove(1, utcnow())
    for history, label in ((old_card, "Steunen"), (old_card, "Volgen"), (old_list, "#1")):
        bob.history.append(history)
        await bob.press(label)
        assert bob.keys == ["ideas.removed"], label
    assert await app.db.fetchval("SELECT COUNT(*) FROM idea_supports") == 0
    await bob.send("/ideeen")
    assert _listed(bob) == []
    await bob.press_payload("idea.open:999")
    assert bob.keys == ["ideas.not_found"] and "999" in bob.text
    await bob.send("/ideeen verdwijnt")  # a search: out of view is never found
    assert bob.keys == ["ideas.search_none"]
    await bob.send("/mijnideeen 5")
    assert bob.keys == ["ideas.mine_empty"]
    await bob.send("/start idee_abc")
    assert bob.keys == ["onboarding.welcome_back", "ideas.not_found"]
    assert "idee abc" in bob.text.lower() or "#abc" in bob.text
    await bob.send("/start idee_")  # a link cut off before its number
    assert bob.keys == ["onboarding.welcome_back", "ideas.list_title"]
    for payload in (
        "idea.open:x",
        "idea.support:1:new:c:Nope!:1",
        "idea.support:1:new:x:nope:1",
        "ideas.list:new:a::0",
        "ideas.list:new:a:wonen:1",
        "ideas.list:top:h:" + "m" * 33 + ":1",
        "ideas.list:1:2",
        "ideas.filter:z:new",
        "ideas.mine:-1",
        "idea.open:" + "9" * 40,
    ):
        await bob.press_payload(payload)
        assert bob.keys == ["general.stale_button"], payload


async def test_a_page_past_the_end_shows_the_last_page(app: App, chat: MakeChat) -> None:
    for n in range(3):
        await seed_idea(app, f"Idee {n}")
    bob = chat("bob")
    await bob.press_payload("ideas.list:new:a::7")
    assert "Pagina 1 van 1" in bob.text and len(_listed(bob)) == 3


async def test_the_card_goes_back_to_the_list_it_came_from(app: App, chat: MakeChat) -> None:
    for n in range(7):
        await seed_idea(app, f"Idee {n}", category="duurzaamheid")
    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("ideas.list:top:c:duurzaamheid:2")
    await bob.press("#2")
    await bob.press("Steunen")
    await bob.press("Terug naar de lijst")
    assert "Pagina 2 van 2" in bob.text and "Duurzaamheid" in bob.text


def _without_neighbourhood(tmp_path: Path, hood: str) -> Path:
    """The Velsen profile as if the municipality had dropped one neighbourhood."""
    profile = tmp_path / "profile.toml"
    velsen = DEFAULT_PROFILE.read_text(encoding="utf-8")
    start = velsen.index(f'[[neighbourhoods]]\nid = "{hood}"\n')
    profile.write_text(velsen[:start] + velsen[velsen.index("\n\n", start) + 2 :], "utf-8")
    return profile


async def test_a_card_from_a_neighbourhood_the_profile_dropped_keeps_working(
    settings: Settings, tmp_path: Path
) -> None:
    app = await App.open(settings)
    try:
        await seed_idea(app, "Een steiger in Spaarndam", neighbourhood="spaarndam-west")
        bob = await person(app, "bob")
        await bob.press("Ideeën bekijken")
        await bob.press("Per wijk")
        await bob.press("Spaarndam-West")
        old_list = bob.history[-1]
        await bob.press("#1")
        old_card = bob.history[-1]
    finally:
        await app.close()
    app = await App.open(
        settings.model_copy(update={"profile": _without_neighbourhood(tmp_path, "spaarndam-west")})
    )
    try:
        bob = Chat(app, "bob", history=[old_card])
        await bob.press("Steunen")
        assert bob.keys == ["ideas.supported", "ideas.card"]
        idea = await app.repos.ideas.get(1)
        assert idea is not None and idea.supporters == 1
        # The idea is still about Spaarndam, not about "no neighbourhood".
        assert "spaarndam-west" in bob.text and "Geen wijk" not in bob.text
        await bob.press("Terug naar de lijst")
        assert bob.keys == ["ideas.list_title"] and "alle ideeën" in bob.text
        assert _listed(bob) == ["#1 Een steiger in Spaarndam"]
        bob.history.append(old_list)
        await bob.press("#1")
        assert bob.keys == ["ideas.card"]
    finally:
        await app.close()


def test_every_card_payload_fits_in_telegrams_64_bytes() -> None:
    longest = View(IdeaSort.MOST_SUPPORTED, "c", "x" * 32, 9999)
    for name in ("idea.unsupport", "idea.unfollow", "idea.open"):
        payload = with_view(name, 10**11, longest)
        assert len(payload.encode()) <= MAX_PAYLOAD
    assert with_view("idea.open", 42, View()) == "idea.open:42:new:a::1"


async def test_my_ideas_show_each_status_and_its_reason(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await anna.onboard()
    await anna.press("Mijn ideeën")
    assert anna.keys == ["ideas.mine_empty"]
    await submit_idea(
        anna, "Zonnepanelen op scholen", "Alle scholen in Velsen krijgen zonnepanelen."
    )
    await submit_idea(anna, "Een hondenspeeltuin", "Een omheind veld waar honden los mogen lopen.")
    await seed_idea(app, "Van iemand anders")
    async with app.db.transaction():
        await app.repos.ideas.set_status(
            1,
            IdeaStatus.ADOPTED,
            theme="klimaat",
            reason="Past bij de klimaatdoelen.",
            now=utcnow(),
        )
        await app.repos.ideas.set_status(
            2, IdeaStatus.NOT_FEASIBLE, reason="Er is geen plek voor.", now=utcnow()
        )
    await anna.send("/mijnideeen")
    assert anna.keys == ["ideas.mine_title"]
    text = anna.text
    assert "#1 Zonnepanelen op scholen" in text and "#2 Een hondenspeeltuin" in text
    assert "opgenomen in de agenda, bij het thema Velsen benut kansen" in text
    assert "Past bij de klimaatdoelen." in text
    assert "niet haalbaar" in text and "Er is geen plek voor." in text
    assert "iemand anders" not in text
    assert text.index("#2") < text.index("#1")  # newest first
    await anna.press("#1 Zonnepanelen")
    assert anna.keys == ["ideas.card"]


async def test_my_ideas_are_paged_and_show_removed_ones_as_removed(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    anna_id = (await row(app, "anna")).id
    for n in range(7):
        await seed_idea(app, f"Mijn idee {n}", author=anna_id)
    async with app.db.transaction():
        await app.repos.ideas.remove(1, utcnow())
    await anna.send("/mijnideeen")
    assert "Pagina 1 van 2" in anna.text and "(7)" in anna.text
    await anna.press("Volgende")
    assert "#1 Mijn idee 0" in anna.text and "Verwijderd" in anna.text


async def test_a_card_opened_from_my_ideas_goes_back_to_my_ideas(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await anna.onboard()
    anna_id = (await row(app, "anna")).id
    for n in range(7):
        await seed_idea(app, f"Mijn idee {n}", author=anna_id)
    await seed_idea(app, "Van iemand anders")
    await anna.press("Mijn ideeën")
    await anna.press("Volgende")
    await anna.press("#2 Mijn idee 1")
    assert anna.keys == ["ideas.card"]
    await anna.press("Niet meer volgen")
    await anna.press("Terug naar de lijst")
    assert anna.keys == ["ideas.mine_title"] and "Pagina 2 van 2" in anna.text
    assert "iemand anders" not in anna.text
    # Not a list anyone could be sent to from the public list.
    await anna.press_payload("ideas.list:new:m::1")
    assert anna.keys == ["general.stale_button"]


async def test_english_speakers_get_english_cards(app: App, chat: MakeChat) -> None:
    await seed_idea(app, "Een idee", category="verkeer", neighbourhood=None)
    john = chat("john")
    await john.onboard(language="English", hood="Driehuis")
    await john.press("Browse ideas")
    await john.press("#1")
    assert "Traffic, transport and access" in john.text
    assert "No neighbourhood" in john.text and "📥 Sent in" in john.text


def test_every_catalog_key_built_from_a_name_exists_in_every_language(app: App) -> None:
    from handlers.ideas.submit import QUESTIONS

    keys = [f"ideas.status.{s.value}" for s in IdeaStatus]
    keys += [f"ideas.history.{s.value}" for s in IdeaStatus]
    keys += [f"ideas.order_{s.value}" for s in IdeaSort]
    keys += [f"ideas.btn_order_{s.value}" for s in IdeaSort]
    keys += [f"ideas.ask_{q}" for q in QUESTIONS]
    keys += [f"ideas.btn_edit_{q}" for q in QUESTIONS]
    keys += [f"ideas.{f}_too_{e}" for f in ("title", "description") for e in ("short", "long")]
    for lang in app.catalog.languages:
        missing = [key for key in keys if key not in app.catalog.texts[lang]]
        assert missing == [], lang


async def test_dates_are_written_the_way_each_language_writes_them(
    app: App, chat: Callable[..., Chat]
) -> None:
    idea = await seed_idea(app, "Een bankje bij de haven")
    local = idea.created_at.astimezone(app.settings.zone)
    jan = chat("jan")
    await jan.onboard(language="English")
    await jan.press_payload("idea.open:1")
    english = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    assert f"{local.day} {english[local.month - 1]} {local.year}" in jan.text
    anna = chat("anna")
    await anna.onboard()
    await anna.press_payload("idea.open:1")
    dutch = ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]
    assert f"{local.day} {dutch[local.month - 1]} {local.year}" in anna.text


async def test_a_long_title_ending_in_emoji_is_cut_between_whole_characters(
    app: App, chat: MakeChat
) -> None:
    """A button's label cut at 40 characters never ends in half a family, flag, skin tone
    or keycap before the "…"."""
    base = "Speeltuin voor iedereen in de wijk o"  # 36 characters: 39 leave room for 2
    assert len(base) == 36
    family, flag, thumb, keycap = "👩\u200d👩\u200d👧", "x🇳🇱", "x👍🏽", "1\ufe0f\u20e3"
    for n, tail in enumerate((family, flag, thumb, keycap), start=1):
        await seed_idea(app, f"{base} {tail} en nog wat meer woorden", minutes=n)
    anna = chat("anna")
    await anna.onboard()
    await anna.press("Ideeën bekijken")
    labels = dict(label.split(" ", 1) for label in _listed(anna))
    assert labels["#1"] == f"{base}…"  # not "👩\u200d👩…"
    assert labels["#2"] == f"{base} x…"  # not "x🇳…"
    assert labels["#3"] == f"{base} x…"  # not "x👍…"
    assert labels["#4"] == f"{base}…"  # not "1\ufe0f…"
