"""Submitting an idea: the dialog, the preview, similar ideas, restarts and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.settings import Settings
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from storage.ideas.ideas import IdeaStatus
from tests.handlers.ideas.helpers import DESCRIPTION, TITLE, seed_idea, submit_idea
from tests.people import connector, person, row
from tests.support import Chat

MakeChat = Callable[..., Chat]
JPEG = b"\xff\xd8\xff\xe0 a small test picture"


async def _ideas(app: App) -> list[dict[str, object]]:
    rows = await app.db.fetchall("SELECT * FROM ideas ORDER BY id")
    return [dict(row) for row in rows]


async def test_a_resident_submits_an_idea_and_hears_its_number_and_what_happens_next(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await anna.press("Idee insturen")
    assert anna.keys == ["ideas.ask_category"]
    assert len(anna.buttons()) == 7 + 1  # the seven Burgertop categories and "stoppen"
    await anna.press("Duurzaamheid")
    assert anna.keys == ["ideas.ask_title"]
    await anna.send(TITLE)
    assert anna.keys == ["ideas.ask_description"]
    await anna.send(DESCRIPTION)
    assert anna.keys == ["ideas.ask_neighbourhood"]
    await anna.press("Velserbroek")
    assert anna.keys == ["ideas.ask_photo"]
    await anna.press("Geen foto")
    assert anna.keys == ["ideas.preview"]
    assert TITLE in anna.text and "Velserbroek" in anna.text and "Duurzaamheid" in anna.text
    assert await _ideas(app) == []  # nothing is saved before "versturen"

    await anna.press("Versturen")
    assert anna.keys == ["ideas.submitted"]
    assert "#1" in anna.text and "Burgerbeest" in anna.text and "14 dagen" in anna.text
    idea = await app.repos.ideas.get(1)
    assert idea is not None
    assert (idea.title, idea.description, idea.category, idea.neighbourhood, idea.photo_id) == (
        TITLE,
        DESCRIPTION,
        "duurzaamheid",
        "velserbroek",
        None,
    )
    assert idea.author_user_id == (await row(app, "anna")).id
    assert idea.status == IdeaStatus.SUBMITTED
    assert await app.repos.ideas.followers(1) == [idea.author_user_id]

    await anna.press("Bekijk #1")
    assert anna.keys == ["ideas.card"]
    assert "Dit is jouw idee" in anna.text


async def test_an_idea_with_a_photo_keeps_the_photo(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await anna.onboard()
    await submit_idea(anna, photo=JPEG)
    assert anna.keys == ["ideas.submitted"]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.photo_id is not None
    media = await app.repos.media.get(idea.photo_id)
    assert media is not None and media.data == JPEG
    bob = chat("bob")
    await bob.press_payload("idea.open:1")
    assert bob.keys == ["ideas.photo_caption", "ideas.card"]
    assert bob.last[0].reply.photo_id == idea.photo_id


async def test_the_preview_shows_the_photo_and_lets_each_field_be_changed(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await anna.send("/idee")
    await anna.press("Woningbeleid")
    await anna.send("Tiny houses voor starters")
    await anna.send("Kleine huizen voor jonge mensen die in Velsen willen blijven wonen.")
    await anna.press("Driehuis")
    await anna.photo(JPEG)
    assert anna.keys == ["ideas.preview_photo", "ideas.preview"]
    assert anna.last[0].reply.photo_id is not None

    await anna.press("Titel aanpassen")
    assert anna.keys == ["ideas.ask_title"]
    assert "Tiny houses voor starters" in anna.text  # the current title is shown
    await anna.send("Tiny houses voor starters in Driehuis")
    assert anna.keys == ["ideas.preview_photo", "ideas.preview"]
    assert "Tiny houses voor starters in Driehuis" in anna.text

    await anna.press("Onderwerp aanpassen")
    await anna.press("Duurzaamheid")
    await anna.press("Wijk aanpassen")
    await anna.press("Sla over")
    await anna.press("Foto aanpassen")
    await anna.press("Geen foto")
    assert anna.keys == ["ideas.preview"]
    await anna.press("Uitleg aanpassen")
    await anna.press("Laat zo")
    assert anna.keys == ["ideas.preview"]
    assert "Kleine huizen" in anna.text and "Geen wijk" in anna.text

    await anna.press("Versturen")
    idea = await app.repos.ideas.get(1)
    assert idea is not None
    assert (idea.title, idea.category, idea.neighbourhood, idea.photo_id) == (
        "Tiny houses voor starters in Driehuis",
        "duurzaamheid",
        None,
        None,
    )


async def test_a_similar_idea_can_be_supported_instead(app: App, chat: MakeChat) -> None:
    bob = chat("bob")
    await bob.onboard()
    await submit_idea(
        bob, "Bankjes bij de vijver", "Rond de vijver in het park staan te weinig bankjes."
    )
    await seed_idea(app, "Fietspad naar het strand", description="Veilig fietsen door de duinen.")

    anna = chat("anna")
    await anna.onboard()
    await anna.send("/idee")
    await anna.press("Ruimtelijke inrichting")
    await anna.send("Meer bankjes in het park")
    await anna.send("Bij de vijver kun je nergens zitten, er moeten bankjes komen.")
    await anna.press("Sla over")
    await anna.press("Geen foto")
    await anna.press("Versturen")
    assert anna.keys == ["ideas.similar_intro"]
    assert "#1 Bankjes bij de vijver" in anna.text
    assert "Fietspad" not in anna.text

    await anna.press("Steun #1")
    assert anna.keys == ["ideas.supported_instead"]
    assert "niet ingestuurd" in anna.text
    assert len(await _ideas(app)) == 2  # anna's own idea was not saved
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.supporters == 1
    anna_id = (await row(app, "anna")).id
    assert anna_id in await app.repos.ideas.followers(1)
    await anna.send("ik typ nog wat")
    assert anna.keys == ["general.typed_what_now"]  # the dialog is over


async def test_a_resident_may_send_anyway_or_go_back_to_the_preview(
    app: App, chat: MakeChat
) -> None:
    await seed_idea(app, "Meer bankjes in het Velserbeekpark")
    anna = chat("anna")
    await anna.onboard()
    await submit_idea(anna)
    assert anna.keys == ["ideas.similar_intro"]
    await anna.press("Terug naar mijn idee")
    assert anna.keys == ["ideas.preview"]
    await anna.press("Versturen")
    await anna.press("Toch versturen")
    assert anna.keys == ["ideas.submitted"] and "#2" in anna.text


async def test_ones_own_similar_idea_is_shown_but_not_offered_to_support(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await submit_idea(anna)
    await submit_idea(anna)
    assert anna.keys == ["ideas.similar_intro"]
    assert "je eigen idee" in anna.text
    assert not [label for label, _ in anna.buttons() if "Steun" in label]
    send_anyway = next(p for label, p in anna.buttons() if "Toch versturen" in label)
    await anna.press_payload(send_anyway.replace(":send", ":support:1"))
    assert anna.keys == ["ideas.similar_gone", "ideas.preview"]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.supporters == 0


async def test_an_idea_merged_while_the_similar_list_was_shown_is_not_supported(
    app: App, chat: MakeChat
) -> None:
    await seed_idea(app, TITLE, description=DESCRIPTION)
    await seed_idea(app, "Bankjes in het park", description="Meer bankjes bij de vijver.")
    anna = chat("anna")
    await anna.onboard()
    await submit_idea(anna)
    assert anna.keys == ["ideas.similar_intro"]
    async with app.db.transaction():
        await app.repos.ideas.set_status(1, IdeaStatus.MERGED, now=utcnow(), merged_into=2)
    await anna.press("Steun #1")
    assert anna.keys == ["ideas.merged_no_support", "ideas.similar_intro"]
    assert await app.repos.ideas.supporter_count(1) == 0
    assert [label for label, _ in anna.buttons() if "#1" in label] == ["👀 Bekijk #1"]
    await anna.press("Naar idee #2")
    assert "ideas.card" in anna.keys and "#2" in anna.text


async def test_a_dialog_survives_a_restart_in_the_middle(settings: Settings) -> None:
    app = await App.open(settings)
    anna = Chat(app, "anna")
    await anna.onboard()
    await anna.send("/idee")
    await anna.press("Cultuur en natuur")
    await anna.send("Kunst op de dijk")
    await app.close()

    reopened = await App.open(settings)
    try:
        again = Chat(reopened, "anna", history=anna.history)
        await again.send("Beelden van kunstenaars uit Velsen langs de dijk bij IJmuiden.")
        assert again.keys == ["ideas.ask_neighbourhood"]
        await again.press("IJmuiden")
        await again.press("Geen foto")
        assert "Kunst op de dijk" in again.text
        await again.press("Versturen")
        assert again.keys == ["ideas.submitted"]
        idea = await reopened.repos.ideas.get(1)
        assert idea is not None and idea.category == "cultuur-natuur"
    finally:
        await reopened.close()


async def test_too_short_too_long_and_not_text_are_explained_and_change_nothing(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await anna.send("/idee")
    # A photo or typed nonsense where a button is expected.
    await anna.photo(JPEG)
    assert anna.keys == ["ideas.use_buttons", "ideas.ask_category"]
    await anna.send("iets anders")
    assert anna.keys == ["ideas.use_buttons", "ideas.ask_category"]
    await anna.send("woningbeleid")  # typing a category's name works too
    assert anna.keys == ["ideas.ask_title"]

    for bad, key in [
        ("kort", "ideas.title_too_short"),
        ("   \n  ", "ideas.title_too_short"),
        ("x" * 121, "ideas.title_too_long"),
    ]:
        await anna.send(bad)
        assert anna.keys == [key, "ideas.ask_title"], bad
    assert "121" in anna.text and "120" in anna.text
    await anna.handle(anna.event(unsupported="sticker"))
    assert anna.keys == ["ideas.need_text", "ideas.ask_title"]
    await anna.photo(JPEG)
    assert anna.keys == ["ideas.need_text", "ideas.ask_title"]
    await anna.send("  Een   titel\tmet \x00 rommel  ")
    assert anna.keys == ["ideas.ask_description"]

    await anna.send("Te kort.")
    assert anna.keys == ["ideas.description_too_short", "ideas.ask_description"]
    await anna.send("y" * 2001)
    assert anna.keys == ["ideas.description_too_long", "ideas.ask_description"]
    await anna.handle(anna.event(unsupported="voice"))
    assert anna.keys == ["ideas.need_text", "ideas.ask_description"]
    await anna.send("Regel een\n\n\n\nRegel twee, en dat is lang genoeg.")
    assert anna.keys == ["ideas.ask_neighbourhood"]

    await anna.photo(JPEG)
    assert anna.keys == ["ideas.use_buttons", "ideas.ask_neighbourhood"]
    await anna.send("Noord")
    assert anna.keys == ["ideas.use_buttons", "ideas.ask_neighbourhood"]
    await anna.send("Velsen-Noord")
    assert anna.keys == ["ideas.ask_photo"]

    await anna.send("hier is geen foto")
    assert anna.keys == ["ideas.photo_expected", "ideas.ask_photo"]
    await anna.handle(anna.event(unsupported="sticker"))
    assert anna.keys == ["ideas.photo_expected", "ideas.ask_photo"]
    await anna.press("Geen foto")
    await anna.photo(JPEG)
    assert anna.keys == ["ideas.use_buttons", "ideas.preview"]
    await anna.send("versturen graag")
    assert anna.keys == ["ideas.use_buttons", "ideas.preview"]
    assert await _ideas(app) == []

    await anna.press("Versturen")
    idea = await app.repos.ideas.get(1)
    assert idea is not None
    assert idea.title == "Een titel met rommel"
    assert idea.description == "Regel een\n\nRegel twee, en dat is lang genoeg."
    assert idea.neighbourhood == "velsen-noord" and idea.category == "wonen"


async def test_buttons_from_an_older_step_are_recognised_and_change_nothing(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await anna.send("/idee")
    category_question = anna.history[-1]
    await anna.press("Woningbeleid")
    anna.history.append(category_question)
    await anna.press("Duurzaamheid")
    assert anna.keys == ["general.stale_button"]
    await anna.send(TITLE)
    await anna.send(DESCRIPTION)
    await anna.press("Sla over")
    await anna.press("Geen foto")
    preview = anna.history[-1]
    await anna.press("Versturen")
    assert anna.keys == ["ideas.submitted"]
    anna.history.append(preview)
    await anna.press("Versturen")  # pressed twice: still one idea
    assert anna.keys == ["general.stale_button"]
    ideas = await _ideas(app)
    assert len(ideas) == 1 and ideas[0]["category"] == "wonen"


async def test_stopping_saves_nothing(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await anna.onboard()
    await anna.send("/idee")
    await anna.press("Woningbeleid")
    await anna.press("Stoppen")
    assert anna.keys == ["ideas.submit_cancelled"]
    await anna.send("/idee")
    await anna.press("Woningbeleid")
    await anna.send(TITLE)
    await anna.send("/annuleer")
    assert anna.keys == ["general.cancelled"]
    assert await _ideas(app) == []


@pytest.mark.parametrize("hostile", ['"AND OR NEAR(', "*", "-", 'NEAR("a" "b", 2) OR x*'])
async def test_text_that_looks_like_search_syntax_is_kept_literally(
    app: App, chat: MakeChat, hostile: str
) -> None:
    await seed_idea(app, "Een idee over NEAR en OR", description="Tekst met AND, OR en NEAR erin.")
    anna = chat("anna")
    await anna.onboard()
    title = f"Titel {hostile}"
    description = f"Uitleg die {hostile} bevat en lang genoeg is."
    await submit_idea(anna, title, description)
    if anna.keys == ["ideas.similar_intro"]:
        await anna.press("Toch versturen")
    assert anna.keys == ["ideas.submitted"]
    idea = await app.repos.ideas.get(2)
    assert idea is not None and (idea.title, idea.description) == (title, description)


async def test_submitting_needs_consent(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await anna.send("/idee")
    assert anna.keys == ["general.consent_needed"]
    await anna.press_payload("ideas.submit")
    assert anna.keys == ["general.consent_needed"]
    assert await _ideas(app) == []


def test_an_idea_submitted_through_the_console_gets_its_number(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENSPEL_")}
    env["SAMENSPEL_DB"] = str(tmp_path / "chat.db")
    script = "\n".join(
        [
            "/start",
            "1",  # ja, ik doe mee
            "1",  # Nederlands
            "IJmuiden",
            "/idee",
            "Duurzaamheid",
            "Zonnepanelen op het gemeentehuis",
            "Het dak van het gemeentehuis is groot en ligt in de zon.",
            "Sla over",
            "Geen foto",
            "1",  # versturen
            "/mijnideeen",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot.admin.cli", "chat", "--as", "anna"],
        input=script + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Zo ziet je idee eruit" in done.stdout
    assert "Je idee is ingestuurd als #1" in done.stdout
    assert "#1 Zonnepanelen op het gemeentehuis" in done.stdout
    assert "Traceback" not in done.stderr


async def test_a_title_or_description_that_shows_nothing_is_too_short(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await anna.send("/idee")
    await anna.press("Ruimtelijke inrichting")
    await anna.send("\u200b\u2060\u202e\u200d" * 10)
    assert anna.keys == ["ideas.title_too_short", "ideas.ask_title"]
    await anna.send("Klim\u200brek 🧗\u200d♀️")
    assert anna.keys == ["ideas.ask_description"]
    await anna.send("\u200b" * 40 + "Kort.")
    assert anna.keys == ["ideas.description_too_short", "ideas.ask_description"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM ideas") == 0


async def test_the_author_changes_a_new_idea_from_its_card(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await anna.onboard()
    await submit_idea(anna)
    await anna.press("Bekijk #1")
    await anna.press("Aanpassen")
    assert anna.keys == ["ideas.preview_saved"]
    await anna.press("Titel aanpassen")
    assert "Nu staat er: Meer bankjes in het Velserbeekpark" in anna.text
    await anna.send("Meer bankjes en prullenbakken in het park")
    assert anna.keys == ["ideas.preview_saved"]
    await anna.press("Opslaan")
    assert anna.keys == ["ideas.edit_saved"]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.title == "Meer bankjes en prullenbakken in het park"
    assert len(await _ideas(app)) == 1  # changed in place, not sent in twice


async def test_changes_to_an_idea_decided_on_meanwhile_are_given_back(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    await anna.press_payload("idea.edit:1")
    await anna.press("Titel aanpassen")
    await anna.send("Meer bankjes en prullenbakken in het park")
    await anna.press("Uitleg aanpassen")
    typed = "Bij de vijver en langs het pad naar de speeltuin is geen enkele plek om te zitten."
    await anna.send(typed)
    async with app.db.transaction():  # the connector decided meanwhile
        await app.repos.ideas.set_status(1, IdeaStatus.IN_REVIEW, now=utcnow())
    await anna.press("Opslaan")
    assert anna.keys == ["ideas.edit_too_late"]
    assert "Meer bankjes en prullenbakken in het park" in anna.text and typed in anna.text
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.title == TITLE


async def test_an_idea_someone_decided_on_can_no_longer_be_changed(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await submit_idea(anna)
    await anna.press("Bekijk #1")
    edit = next(payload for label, payload in anna.buttons() if "Aanpassen" in label)
    async with app.db.transaction():
        await app.repos.ideas.set_status(1, IdeaStatus.IN_REVIEW, now=utcnow())
    await anna.press_payload(edit)
    assert anna.keys == ["ideas.no_longer_editable"]
    await anna.press("Bekijk #1")
    assert "Aanpassen" not in " ".join(anna.last[-1].labels())
    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.withdraw:1!")  # a forged confirmation, someone else's idea
    assert bob.keys == ["ideas.not_yours"]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and not idea.removed


async def test_the_author_withdraws_a_new_idea_after_a_question_that_says_so(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await submit_idea(anna)
    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.open:1")
    await bob.press("Steunen")
    await anna.press("Bekijk #1")
    await anna.press("Intrekken")
    assert anna.keys == ["ideas.withdraw_confirm"]
    assert "#1" in anna.text and "1 steun" in anna.text and "niet terugdraaien" in anna.text
    await anna.press("Nee, laat staan")
    assert anna.keys == ["ideas.card"]
    await anna.press("Intrekken")
    await anna.press("Ja, trek idee in")
    assert anna.keys == ["ideas.withdrawn"]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.withdrawn and idea.removed
    [told] = await app.repos.outbox.for_user((await row(app, "bob")).id)
    assert told.payload[0]["key"] == "ideas.withdrawn_notice"
    await bob.press_payload("idea.open:1")
    assert bob.keys == ["ideas.withdrawn_card"]
    await anna.send("/mijnideeen")
    assert "Ingetrokken door jou" in anna.text


async def test_a_bidi_override_in_a_title_does_not_turn_the_bots_words_around(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, title=f"{TITLE} \u202e", description=DESCRIPTION)
    bob = await person(app, "bob")
    await submit_idea(bob)
    assert bob.keys == ["ideas.similar_intro"]
    # The override is left out of the title: status and supporters follow it as they are.
    assert "\u202e" not in bob.text
    line = next(line for line in bob.text.splitlines() if TITLE in line)
    assert f"{TITLE} (" in line, repr(line)
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.title == TITLE


async def test_help_at_a_step_of_the_idea_says_how_it_works_and_asks_again(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/idee")
    await anna.send("help")
    assert anna.keys == ["drafts.help", "ideas.ask_category"]
    await anna.send("Bankjes in het park")
    # Typed text at a choice still gets its own answer: choose an option.
    assert anna.keys[0] == "ideas.use_buttons"


async def test_the_words_typed_after_the_command_are_kept(app: App, chat: MakeChat) -> None:
    """/idee with a title behind it: the category is asked first, then the title is not
    asked again; a longer text is the description; words that fit neither are shown back
    with the reason, never dropped."""
    anna = chat("anna")
    await anna.onboard()
    await anna.send(f"/idee {TITLE}")
    assert anna.keys == ["ideas.from_command_title", "ideas.ask_category"]
    await anna.press("Duurzaamheid")
    assert anna.keys == ["ideas.ask_description"]
    await anna.send(DESCRIPTION)
    await anna.press("Sla over")
    await anna.press("Geen foto")
    assert anna.keys == ["ideas.preview"] and TITLE in anna.text
    await anna.press("Versturen")
    idea = await app.repos.ideas.get(1)
    assert idea is not None and (idea.title, idea.description) == (TITLE, DESCRIPTION)

    # In English, a text too long for a title (or of more lines) is the description.
    await anna.send(f"/idea {DESCRIPTION} {DESCRIPTION}")
    assert anna.keys == ["ideas.from_message", "ideas.ask_category"]
    await anna.press("Duurzaamheid")
    assert anna.keys == ["ideas.ask_title"]
    await anna.send("/annuleer")
    await anna.send("/idee Bankjes\nOuderen willen uitrusten bij de vijver.")
    assert anna.keys == ["ideas.from_message", "ideas.ask_category"]
    await anna.send("/annuleer")

    # Too short for either: the title's own answer, and the words shown back.
    await anna.send("/idee 🌳 a")
    assert anna.keys == ["general.typed_not_kept", "ideas.title_too_short", "ideas.ask_category"]
    assert "🌳 a" in anna.text
    await anna.press("Duurzaamheid")
    assert anna.keys == ["ideas.ask_title"]
    await anna.send("/annuleer")
    typed = "Lang verhaal. " * 200
    await anna.send(f"/idee {typed}")
    assert anna.keys == [
        "general.typed_not_kept",
        "ideas.description_too_long",
        "ideas.ask_category",
    ]


async def test_words_typed_after_the_command_by_someone_muted_or_banned_come_back(
    app: App,
) -> None:
    """A mute refuses /idee: the words typed after it are given back with the reason,
    as in a dialog; a ban too, but a link's code (one word) is nothing anyone wrote."""
    anna = await person(app, "anna")
    ria = await connector(app)
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, anna)).id,
            SanctionKind.MUTE,
            reason="Even rustig aan.",
            by_user_id=(await row(app, ria)).id,
            now=utcnow(),
            ends_at=utcnow() + timedelta(days=1),
        )
    await anna.send(f"/idee {TITLE}")
    assert anna.keys == ["moderation.muted"]
    assert f"Dit had je geschreven:\n{TITLE}" in anna.text
    await anna.send("/nieuwexperiment Een moestuin in de straat")
    assert anna.keys == ["moderation.muted"] and "Een moestuin in de straat" in anna.text
    bob = await person(app, "bob")
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, bob)).id,
            SanctionKind.BAN,
            reason="Herhaald schelden.",
            by_user_id=(await row(app, ria)).id,
            now=utcnow(),
        )
    await bob.send(f"/idea {TITLE}")
    assert bob.keys == ["moderation.banned"] and TITLE in bob.text
    await bob.send("/idee Bankjes")
    assert "geschreven" not in bob.text
    # A command that does not exist, or one the ban closes that does not read words: the
    # words come back with the ban's reason too.
    await bob.send("/klacht de bankjes in het park zijn kapot")
    assert bob.keys == ["moderation.banned"]
    assert "de bankjes in het park zijn kapot" in bob.text
    await bob.send("/peilingen ik wil meedoen over het park")
    assert bob.keys == ["moderation.banned"] and "ik wil meedoen over het park" in bob.text
