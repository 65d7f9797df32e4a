"""Experiments: the list, a card, joining and leaving, deep links, seeding from the profile."""

from __future__ import annotations

from bot.app import App
from bot.settings import Settings
from tests.people import person, row
from tests.support import Chat


async def _ids(app: App) -> dict[str, int]:
    return {e.slug or "": e.id for e in await app.repos.experiments.running()}


async def test_the_profile_experiments_are_listed_with_place_and_participants(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await anna.press("Experimenten")
    assert anna.keys == ["experiments.list_title"]
    for title in ("Speeltuin Zeewijk Natuurlijk!", "Geveltuintjes", "BBQ-plek in de openbare"):
        assert title in anna.text
    assert "Zeewijk, IJmuiden (deelnemers: 0)" in anna.text
    labels = [label for label, _ in anna.buttons()]
    assert labels[:3] == [
        "Speeltuin Zeewijk Natuurlijk!",
        "Geveltuintjes",
        "BBQ-plek in de openbare ruimte",
    ]
    assert "💡 Experiment voorstellen" in labels


async def test_a_card_says_what_where_who_and_how_many_take_part(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/experimenten")
    await anna.press("Geveltuintjes")
    assert anna.keys == ["experiments.card"]
    assert "Een klein tuintje langs je gevel" in anna.text
    assert "Waar: Heel Velsen" in anna.text
    assert "Wie: Gemeente Velsen met bewoners" in anna.text
    assert "Deelnemers: 0" in anna.text
    assert "Thema: Velsen benut kansen voor en met klimaat" in anna.text


async def test_joining_counts_you_in_and_leaving_counts_you_out(app: App) -> None:
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    ids = await _ids(app)
    await anna.send("/experimenten")
    await anna.press("Speeltuin")
    await anna.press("Doe mee")
    assert anna.keys == ["experiments.joined", "experiments.card"]
    assert "Deelnemers: 1" in anna.text and "Jij doet mee" in anna.text
    assert "Stop met meedoen" in anna.last[1].labels()
    await bob.press_payload(f"exp:{ids['speeltuin-zeewijk']}")
    await bob.press("Doe mee")
    assert "Deelnemers: 2" in bob.text
    user = await row(app, "anna")
    assert await app.repos.experiments.participants(ids["speeltuin-zeewijk"]) == [
        user.id,
        (await row(app, "bob")).id,
    ]

    await anna.send("/experimenten")
    await anna.press("Speeltuin")
    await anna.press("Stop met meedoen")
    assert anna.keys == ["experiments.left"]
    assert not await app.repos.experiments.takes_part(ids["speeltuin-zeewijk"], user.id)
    left = await app.repos.experiments.get(ids["speeltuin-zeewijk"])
    assert left is not None and left.participants == 1


async def test_joining_twice_or_leaving_twice_says_so_and_changes_nothing(app: App) -> None:
    anna = await person(app, "anna")
    ids = await _ids(app)
    join = f"exp.join:{ids['bbq-plek']}"
    await anna.press_payload(join)
    await anna.press_payload(join)
    assert anna.keys == ["experiments.already_joined"]
    assert len(await app.repos.experiments.participants(ids["bbq-plek"])) == 1
    leave = f"exp.leave:{ids['bbq-plek']}"
    await anna.press_payload(leave)
    await anna.press_payload(leave)
    assert anna.keys == ["experiments.not_joined"]
    assert await app.repos.experiments.participants(ids["bbq-plek"]) == []


async def test_unknown_or_ended_experiments_are_not_found(app: App) -> None:
    anna = await person(app, "anna")
    ids = await _ids(app)
    for payload in ("exp:999", "exp:abc", "exp.join:999", "exp.join:", "exp.leave:-1"):
        await anna.press_payload(payload)
        assert anna.keys == ["experiments.not_found"], payload
    async with app.db.transaction():
        await app.repos.experiments.end(ids["bbq-plek"])
    await anna.press_payload(f"exp.join:{ids['bbq-plek']}")
    assert anna.keys == ["experiments.not_found"]
    await anna.send("/experimenten")
    assert "BBQ" not in anna.text


async def test_a_deep_link_opens_the_card_after_onboarding(app: App) -> None:
    ids = await _ids(app)
    new = Chat(app, "nina")
    await new.send(f"/start exp_{ids['geveltuintjes']}")
    await new.press("Ja")
    await new.press("Nederlands")
    await new.press("Driehuis")
    assert new.keys == ["onboarding.done", "experiments.card"]
    assert "Geveltuintjes" in new.last[1].text
    # Someone already in goes straight to the card; a broken link just greets.
    await new.send(f"/start exp_{ids['bbq-plek']}")
    assert new.keys == ["onboarding.welcome_back", "experiments.card"]
    await new.send("/start exp_nope")
    assert new.keys == ["onboarding.welcome_back", "experiments.not_found"]


async def test_cards_are_in_the_residents_language(app: App) -> None:
    john = await person(app, "john", language="English")
    await john.send("/experiments")
    await john.press("Façade gardens")
    assert "A small garden along your house front" in john.text
    assert "Where: All of Velsen" in john.text
    await john.press("Join in")
    assert john.keys == ["experiments.joined", "experiments.card"]


async def test_browsing_needs_no_consent_but_joining_does(app: App) -> None:
    ids = await _ids(app)
    guest = Chat(app, "guest")
    await guest.send("/start")
    await guest.press("Nee")
    await guest.send("/experimenten")
    assert guest.keys == ["experiments.list_title"]
    await guest.press_payload(f"exp.join:{ids['bbq-plek']}")
    assert guest.keys == ["general.consent_needed"]
    assert await app.repos.experiments.participants(ids["bbq-plek"]) == []


async def test_seeding_is_idempotent_and_follows_the_profile_texts(
    app: App, settings: Settings
) -> None:
    before = await app.repos.experiments.running()
    # A second start-up on the same database (a restart) seeds again.
    again = await App.open(settings)
    try:
        after = await again.repos.experiments.running()
    finally:
        await again.close()
    assert [(e.id, e.slug) for e in after] == [(e.id, e.slug) for e in before]
    assert len(after) == 3
    assert after[0].title("en") == "Zeewijk Natural Playground"
    assert after[0].title("nl") == "Speeltuin Zeewijk Natuurlijk!"


async def test_a_name_that_ends_a_sentence_itself_gets_no_second_full_stop(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/experimenten")
    await anna.press("Speeltuin Zeewijk Natuurlijk!")
    await anna.press("Doe mee")
    assert "Je doet nu mee met Speeltuin Zeewijk Natuurlijk! Je krijgt" in anna.text
    assert "Natuurlijk!." not in anna.text


async def test_words_typed_after_the_command_find_the_experiment_instead_of_calling_it_ended(
    app: App,
) -> None:
    """/experimenten bbq lists the running experiments with "bbq" in their name; it is not
    "an experiment I cannot find, perhaps it has ended" while BBQ-plek runs."""
    anna = await person(app, "anna")
    ids = await _ids(app)
    await anna.send("/experimenten bbq")
    assert anna.keys == ["experiments.list_title"]
    assert "BBQ-plek" in anna.text and "Geveltuintjes" not in anna.text
    assert [p for _, p in anna.buttons() if p.startswith("exp:")] == [f"exp:{ids['bbq-plek']}:1"]
    # Words found in no name: said so, with every running experiment to choose from.
    await anna.send("/experimenten zwembad")
    assert anna.keys == ["experiments.list_title"]
    assert "Ik vind geen experiment met „zwembad” in de naam." in anna.text
    assert "BBQ-plek" in anna.text and "Geveltuintjes" in anna.text
    # Its number still opens its card, also written "#2" or in Arabic digits.
    for typed in (str(ids["geveltuintjes"]), f"#{ids['geveltuintjes']}", "٢"):
        await anna.send(f"/experimenten {typed}")
        assert anna.keys == ["experiments.card"] and "Geveltuintjes" in anna.text, typed
    await anna.send("/experimenten 999")
    assert anna.keys == ["experiments.not_found"]
