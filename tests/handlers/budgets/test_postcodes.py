"""A round only for residents with a postcode in the profile's ranges: staff choose it, a
resident gives the four digits once, and nothing else about them is asked or kept."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.settings import Settings
from handlers.budgets.schedule import advance
from handlers.budgets.voting import read_postcode
from handlers.contract import Role
from handlers.profile import DEFAULT_PROFILE
from storage.budgets.rounds import NewProject, PostcodeRange
from tests.handlers.budgets.test_budget_round import exported
from tests.people import connector, person, row, with_role
from tests.support import Chat

VELSEN = "1951, 1970–1976, 1981, 1985, 1991, 2071, 2082"


async def postcode_round(app: App, lasts: timedelta = timedelta(days=7)) -> int:
    now = app.router.clock()
    return await app.repos.budgets.create(
        name="Velsen kiest",
        total_cents=1_000_000,
        hood_budgets={},
        opens_at=now,
        closes_at=now + lasts,
        hood_only=False,
        postcodes=list(app.profile.postcodes),
        projects=[
            NewProject(title="Speeltuin", description="Toestellen", cost_cents=600_000),
            NewProject(title="Bankjes", description="Aan het water", cost_cents=300_000),
        ],
        now=now,
    )


async def stored_postcodes(app: App) -> list[str | None]:
    rows = await app.db.fetchall("SELECT postcode FROM budget_ballots ORDER BY user_id")
    return [r[0] for r in rows]


async def test_staff_limit_a_round_to_the_profiles_postcodes_and_the_preview_says_so(
    app: App,
) -> None:
    ria = await connector(app)
    await ria.send("/nieuweronde")
    await ria.send("Velsen kiest")
    await ria.send("1000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("Speeltuin | 400 | Toestellen")
    await ria.press("Klaar met projecten")
    await ria.press("Nu")
    later = app.router.clock().astimezone(app.router.timezone) + timedelta(days=7)
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["budgets.ask_who"]
    labels = [label for label, _ in ria.buttons()]
    assert "📮 Postcode in de gemeente" in labels
    await ria.press("Postcode in")
    await ria.press("Goedkoopste project eerst")
    assert ria.keys == ["budgets.preview", "budgets.preview_ask"]
    assert f"Wie: alleen inwoners met een postcode in {VELSEN}" in ria.text
    await ria.press("Openen")
    assert ria.keys == ["budgets.opened"]
    [found] = await app.repos.budgets.all()
    assert found.postcodes == list(app.profile.postcodes) and not found.hood_only
    assert found.postcodes[1] == PostcodeRange(first=1970, last=1976, neighbourhood="ijmuiden")
    await ria.send("/rondes")
    await ria.press("Velsen kiest")
    assert f"Wie: alleen inwoners met een postcode in {VELSEN}" in ria.text


async def test_a_forged_who_button_is_asked_again_and_sets_nothing(app: App) -> None:
    ria = await connector(app)
    await ria.send("/nieuweronde")
    await ria.send("Velsen kiest")
    await ria.send("1000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("Speeltuin | 400 | Toestellen")
    await ria.press("Klaar met projecten")
    await ria.press("Nu")
    later = app.router.clock().astimezone(app.router.timezone) + timedelta(days=7)
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    token = ria.buttons()[0][1].split(":")[0]
    for forged in ("everyone", "postcode:1000-9999", "", "lot"):
        await ria.press_payload(f"{token}:{forged}")
        assert ria.keys == ["budgets.ask_who"], forged
    await ria.send("postcode")
    assert ria.keys == ["budgets.ask_who"]
    await ria.press("Postcode in")
    token = ria.buttons()[0][1].split(":")[0]
    for forged in ("cheapest", "all", "LOT", "lot "):
        await ria.press_payload(f"{token}:{forged}")
        assert ria.keys == ["budgets.ask_tie"], forged
    assert await app.repos.budgets.all() == []


async def test_a_connector_whose_role_is_revoked_mid_set_up_cannot_open_the_round(
    app: App,
) -> None:
    ria = await connector(app)
    await ria.send("/nieuweronde")
    await ria.send("Velsen kiest")
    await ria.send("1000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("Speeltuin | 400 | Toestellen")
    await ria.press("Klaar met projecten")
    await ria.press("Nu")
    later = app.router.clock().astimezone(app.router.timezone) + timedelta(days=7)
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    postcode_button = next(p for label, p in ria.buttons() if "Postcode" in label)
    await with_role(app, ria, Role.RESIDENT)
    await ria.press_payload(postcode_button)
    assert "budgets.ask_tie" not in ria.keys
    assert await app.repos.dialogs.load((await row(app, ria)).id) is None
    assert await app.repos.budgets.all() == []


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("   ", "budgets.postcode_empty"),
        ("\u200f\u200b", "budgets.postcode_empty"),
        ("1971 AB", "budgets.postcode_letters"),
        ("1971ab", "budgets.postcode_letters"),
        ("<b>1971</b>", "budgets.postcode_letters"),
        ("1971 🏠", "budgets.postcode_letters"),
        ("12345", "budgets.postcode_length"),
        ("197", "budgets.postcode_length"),
        ("0197", "budgets.postcode_invalid"),
        ("abcd", "budgets.postcode_invalid"),
        ("🏠🏠", "budgets.postcode_invalid"),
        ("١٩٧١١", "budgets.postcode_length"),
        ("9" * 4000, "budgets.postcode_length"),
    ],
)
async def test_a_postcode_that_is_not_four_digits_gets_a_friendly_answer_and_is_not_kept(
    app: App, typed: str, key: str
) -> None:
    await postcode_round(app)
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    assert anna.keys == ["budgets.ask_postcode"]
    assert VELSEN in anna.text and "/vergeetmij" in anna.text
    await anna.send(typed)
    assert anna.keys == [key, "budgets.ask_postcode"]
    assert await stored_postcodes(app) == []
    # Still asked: the answer after that is read as the postcode.
    await anna.send("1971")
    assert anna.keys[0] == "budgets.intro"
    assert await stored_postcodes(app) == ["1971"]


@pytest.mark.parametrize("typed", ["1971", " 1971 ", "\u200f1971", "١٩٧١", "１９７１"])
async def test_the_four_digits_in_any_script_count_as_the_ascii_postcode(
    app: App, typed: str
) -> None:
    await postcode_round(app)
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    await anna.send(typed)
    assert anna.keys == ["budgets.intro", "budgets.page_single"]
    assert await stored_postcodes(app) == ["1971"]


def test_only_four_decimal_digits_not_starting_with_zero_read_as_a_postcode() -> None:
    assert read_postcode("2082") == "2082"
    assert read_postcode("²⁰⁸²") is None  # superscripts are digits but not decimals
    assert read_postcode("0000") is None
    assert read_postcode("20 82") == "2082"
    assert read_postcode("") is None


async def test_a_postcode_outside_the_ranges_is_told_why_and_not_kept(app: App) -> None:
    round_id = await postcode_round(app)
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    await anna.send("2011")
    assert anna.keys == ["budgets.postcode_outside"]
    assert "Met postcode 2011 kun je helaas niet stemmen" in anna.text and VELSEN in anna.text
    assert await stored_postcodes(app) == []
    # The dialog ended: a later line is no postcode, and a tap asks again first.
    project = (await app.repos.budgets.projects(round_id))[1].id
    await anna.press_payload(f"bv.add:{round_id}:{project}")
    assert anna.keys == ["budgets.ask_postcode"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM budget_choices") == 0
    await anna.press("Stoppen")
    await anna.send("/stemmen")
    await anna.send("2011")
    await anna.press("Ik heb me vergist")
    assert anna.keys == ["budgets.ask_postcode"]
    await anna.send("1970")
    assert anna.keys[0] == "budgets.intro"


async def test_forged_buttons_in_a_postcode_round_ask_for_the_postcode_first(app: App) -> None:
    round_id = await postcode_round(app)
    project = (await app.repos.budgets.projects(round_id))[0].id
    anna = await person(app, "anna")
    for forged in (
        f"bv.add:{round_id}:{project}",
        f"bv.del:{round_id}:{project}",
        f"bv.vote:{round_id}",
        f"bv.ok:{round_id}:00000000",
        f"bv.mine:{round_id}",
        f"bv.round:{round_id}",
    ):
        await anna.press_payload(forged)
        assert anna.keys == ["budgets.ask_postcode"], forged
    assert await app.db.fetchval("SELECT COUNT(*) FROM budget_ballots") == 0


async def test_a_postcode_is_given_once_and_a_new_one_does_not_give_a_second_ballot(
    app: App,
) -> None:
    round_id = await postcode_round(app)
    bankjes = (await app.repos.budgets.projects(round_id))[1]
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    # A second question open at the same time (two taps on an old button).
    await anna.press_payload(f"bv.round:{round_id}")
    await anna.send("1971")
    await anna.press_payload(f"bv.add:{round_id}:{bankjes.id}")
    await anna.press("Stem uitbrengen")
    await anna.press("Ja, stem uitbrengen")
    assert anna.keys == ["budgets.voted"]
    # Back to the ballot: not asked again; typing another postcode changes nothing.
    await anna.send("/stemmen")
    assert anna.keys[0] == "budgets.intro"
    await anna.send("1951")
    assert "budgets.intro" not in anna.keys
    user = await row(app, anna)
    assert not await app.repos.budgets.give_postcode(round_id, user.id, "1951", app.router.clock())
    assert await stored_postcodes(app) == ["1971"]
    counts, voters, _ = await app.repos.budgets.live_counts(round_id)
    assert counts == {bankjes.id: 1} and voters == 1
    assert await app.db.fetchval("SELECT COUNT(*) FROM budget_ballots") == 1


async def test_the_postcode_is_in_mijngegevens_and_gone_after_vergeetmij(app: App) -> None:
    round_id = await postcode_round(app)
    bankjes = (await app.repos.budgets.projects(round_id))[1]
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    await anna.send("1976")
    await anna.press_payload(f"bv.add:{round_id}:{bankjes.id}")
    await anna.send("/mijngegevens")
    data = exported(anna)
    [ballot] = data["sections"]["budget_ballots"]["rows"]
    assert ballot["postcode"] == "1976" and ballot["confirmed_at"] is None
    # Erased mid-ballot: the postcode and the choice go; an old button then asks consent.
    await anna.send("/vergeetmij")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]
    assert await stored_postcodes(app) == []
    assert await app.db.fetchval("SELECT COUNT(*) FROM budget_choices") == 0
    await anna.press_payload(f"bv.add:{round_id}:{bankjes.id}")
    assert "budgets.added" not in anna.keys
    assert await app.db.fetchval("SELECT COUNT(*) FROM budget_ballots") == 0


async def test_a_round_closing_while_someone_types_their_postcode_keeps_nothing(
    app: App,
) -> None:
    round_id = await postcode_round(app, lasts=timedelta(minutes=30))
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    assert anna.keys == ["budgets.ask_postcode"]
    found = await app.repos.budgets.get(round_id)
    assert found is not None
    await advance(
        app.repos, app.catalog, app.profile, app.router.timezone, round_id, found.closes_at
    )
    app.router.clock = lambda: found.closes_at + timedelta(minutes=1)
    await anna.send("1971")
    assert anna.keys == ["budgets.closed"]
    assert await stored_postcodes(app) == []
    await anna.send("1971")
    assert "budgets.closed" not in anna.keys  # the question is over


async def test_a_neighbourhood_round_does_not_ask_for_a_postcode(app: App) -> None:
    now = app.router.clock()
    await app.repos.budgets.create(
        name="Wijkronde",
        total_cents=1000,
        hood_budgets={},
        opens_at=now,
        closes_at=now + timedelta(days=1),
        hood_only=True,
        projects=[NewProject(title="Bank", description="Een bank", cost_cents=500)],
        now=now,
    )
    bob = Chat(app, user_id="bob")
    await bob.onboard(hood="Driehuis")
    await bob.send("/stemmen")
    assert bob.keys[0] == "budgets.intro"
    assert await stored_postcodes(app) == []


async def test_a_municipality_without_postcodes_is_not_offered_the_choice(
    settings: Settings, tmp_path: Path
) -> None:
    text = DEFAULT_PROFILE.read_text()
    profile = tmp_path / "elders.toml"
    profile.write_text(
        text[: text.index("[[postcodes]]")] + text[text.index("# The four themes") :]
    )
    app = await App.open(settings.model_copy(update={"profile": profile}))
    try:
        assert app.profile.postcodes == []
        ria = await connector(app)
        await ria.send("/nieuweronde")
        await ria.send("Ronde")
        await ria.send("1000")
        await ria.press("Geen wijkbudgetten")
        await ria.send("Speeltuin | 400 | Toestellen")
        await ria.press("Klaar met projecten")
        await ria.press("Nu")
        later = app.router.clock().astimezone(app.router.timezone) + timedelta(days=7)
        await ria.send(later.strftime("%d-%m-%Y %H:%M"))
        assert ria.keys == ["budgets.ask_who"]
        assert not any("postcode" in label.casefold() for label, _ in ria.buttons())
        # A button kept from a set-up elsewhere is no way around it.
        token = ria.buttons()[0][1].split(":")[0]
        await ria.press_payload(f"{token}:postcode")
        assert ria.keys == ["budgets.ask_who"]
    finally:
        await app.close()


async def test_giving_a_postcode_alone_is_not_counted_as_a_ballot_begun(app: App) -> None:
    round_id = await postcode_round(app)
    bankjes = (await app.repos.budgets.projects(round_id))[1].id
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    await anna.send("1971")
    assert anna.keys[0] == "budgets.intro"
    ria = await connector(app)
    await ria.press_payload(f"bs.show:{round_id}")
    assert "Gestemd: 0. Begonnen maar nog niet gestemd: 0." in ria.text
    bob = await person(app, "bob")
    await bob.send("/stemmen")
    await bob.send("1970")
    await bob.press_payload(f"bv.add:{round_id}:{bankjes}")
    await ria.press_payload(f"bs.show:{round_id}")
    assert "Gestemd: 0. Begonnen maar nog niet gestemd: 1." in ria.text
    await bob.press("Stem uitbrengen")
    await bob.press("Ja, stem uitbrengen")
    await ria.press_payload(f"bs.show:{round_id}")
    assert "Gestemd: 1. Begonnen maar nog niet gestemd: 0." in ria.text


async def test_a_sentence_typed_at_the_postcode_question_comes_back_with_the_question(
    app: App,
) -> None:
    await postcode_round(app)
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    said = "Ik woon bij de haven, hoe zit dat? 🏠"
    await anna.send(said)
    assert anna.keys == [
        "budgets.postcode_invalid",
        "general.typed_not_kept",
        "budgets.ask_postcode",
    ], anna.keys
    assert said in anna.last[1].text
    assert await stored_postcodes(app) == []
    # Still asked: the postcode after it counts.
    await anna.send("1971")
    assert anna.keys[0] == "budgets.intro"
    assert await stored_postcodes(app) == ["1971"]


async def test_a_sentence_typed_as_the_postcode_round_closed_comes_back_with_why(
    app: App,
) -> None:
    round_id = await postcode_round(app)
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    await app.db.execute("UPDATE budget_rounds SET status = 'cancelled' WHERE id = ?", (round_id,))
    said = "Ik woon bij de haven, hoe zit dat?"
    await anna.send(said)
    assert anna.keys == ["general.typed_not_kept", "budgets.cancelled"], anna.keys
    assert said in anna.last[0].text
    assert await stored_postcodes(app) == []
