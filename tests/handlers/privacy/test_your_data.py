"""Privacy in the chat: the statement, /mijngegevens and /vergeetmij."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app import App
from bot.settings import Settings
from handlers.contract import Document, Event, Reply
from storage.clock import utcnow
from storage.ideas.ideas import IdeaStatus
from tests.handlers.ideas.helpers import submit_idea
from tests.people import connector, subscribe
from tests.privacy import comment_counts_match, file_traces, supporter_counts_match, traces
from tests.support import Chat

ANNA_IDEA = ("Xjqwspeeltuin bij de Zeeweg", "Een xjqwklimrek voor kinderen in de duinen, graag.")
BOB_IDEA = ("Ykmz zonnepanelen stadhuis", "Ykmzstroom van het dak voor de hele gemeente Velsen.")
ANNA_COMMENT = "Xjqwreactie: goed plan, Bob!"
BOB_COMMENT = "Ykmzreactie: leuk idee"


def annabel(app: App, **kwargs: Any) -> Chat:
    return Chat(app, "70011122233", name="Annabel Zwartkruis", chat_id="c-70011122233", **kwargs)


def bobbie(app: App) -> Chat:
    return Chat(app, "70044455566", name="Bobbie Wittenhorst", chat_id="c-70044455566")


async def comment(person: Chat, idea: int, text: str) -> None:
    await person.press_payload(f"idea.comments:{idea}")
    await person.press("Reageren")
    await person.send(text)
    assert person.keys[0] == "comments.added"


async def neighbours(app: App, **anna_kwargs: Any) -> tuple[Chat, Chat]:
    """Anna and Bob: each sent an idea, supports the other's and comments on it."""
    anna, bob = annabel(app, **anna_kwargs), bobbie(app)
    for person, idea in ((anna, ANNA_IDEA), (bob, BOB_IDEA)):
        await person.onboard()
        await submit_idea(person, *idea)
    await bob.press_payload("idea.open:1")
    await bob.press("Steunen")
    await anna.press_payload("idea.open:2")
    await anna.press("Steunen")
    await comment(bob, 1, BOB_COMMENT)
    await comment(anna, 2, ANNA_COMMENT)
    await subscribe(anna)
    return anna, bob


async def export_lost_on_the_way(app: App, person: Chat) -> None:
    """``/mijngegevens`` whose reply never arrived: it waits in handled_events for a replay."""

    async def lost(_: Event, __: str, ___: list[Reply]) -> None:
        raise ConnectionError("the network went down")

    await app.router.handle(person.event(command="mijngegevens", event_id="u-4711"), lost)
    pending = json.loads(await app.db.fetchval("SELECT pending FROM handled_events"))
    [document] = [reply["document"] for reply in pending if reply["document"]]
    # Read back as the router reads stored replies (pydantic's base64 is the URL-safe one).
    assert person.name in Document.model_validate(document).data.decode("utf-8")


def identity(person: Chat) -> list[str]:
    return [person.user_id, person.chat_id or person.user_id, person.name]


def exported(person: Chat) -> dict[str, Any]:
    [document] = [seen.reply.document for seen in person.last if seen.reply.document]
    assert document is not None and document.mime_type == "application/json"
    assert document.filename.startswith("samenspel-mijn-gegevens-")
    loaded: dict[str, Any] = json.loads(document.data)
    return loaded


async def test_the_privacy_statement_says_who_what_how_long_and_offers_the_rights(
    chat: Any,
) -> None:
    anna = chat("anna")
    await anna.send("/privacy")
    assert anna.keys == ["privacy.statement"]
    text = anna.text
    for words in ("gemeente Velsen", "privacy@velsen.nl", "Autoriteit Persoonsgegevens"):
        assert words in text
    assert "Na 24 maanden zonder contact" in text and "nooit met je naam" in text
    # Anna has not agreed yet: reading what is stored leads on to agreeing.
    assert anna.last[0].labels() == ["✅ Meedoen", "📦 Mijn gegevens", "🗑️ Vergeet mij", "⬅️ Menu"]


async def test_the_statement_names_the_configured_retention_period(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, db=tmp_path / "x.db", retention_months=12)  # type: ignore[call-arg]
    app = await App.open(settings)
    try:
        anna = Chat(app, "anna", language_hint="en")
        await anna.send("/privacy")
        assert "After 12 months without contact" in anna.text
    finally:
        await app.close()


async def test_my_data_sends_everything_about_me_and_nothing_about_my_neighbour(
    app: App,
) -> None:
    anna, bob = await neighbours(app)
    await anna.send("/mijngegevens")
    assert anna.keys == ["privacy.data.summary", "privacy.data.file"]
    summary = anna.last[0].text
    for line in ("Profiel: 1", "Ideeën: 1", "Ideeën die je steunt: 1", "Reacties: 1"):
        assert line in summary
    assert "Aanmelding voor Wist je dat: 1" in summary

    data = exported(anna)
    assert data["about"]["contact"] == "privacy@velsen.nl"
    sections = data["sections"]
    assert sections["users"]["rows"][0]["display_name"] == "Annabel Zwartkruis"
    assert [idea["title"] for idea in sections["ideas"]["rows"]] == [ANNA_IDEA[0]]
    assert [c["body"] for c in sections["idea_comments"]["rows"]] == [ANNA_COMMENT]
    assert [s["idea"] for s in sections["idea_supports"]["rows"]] == [2]
    text = json.dumps(data, ensure_ascii=False)
    for value in (*identity(bob), *BOB_IDEA, BOB_COMMENT):
        assert value not in text, value


async def test_someone_who_declined_can_still_get_their_data(chat: Any) -> None:
    eve = chat("eve")
    await eve.send("/start")
    await eve.press("Nee")
    await eve.send("/mijngegevens")
    assert eve.keys == ["privacy.data.summary", "privacy.data.file"]
    assert "Verder niets" in eve.last[0].text
    profile = exported(eve)["sections"]["users"]["rows"][0]
    assert profile["platform_user_id"] == "eve" and profile["display_name"] is None


async def test_forget_me_keeping_content_leaves_it_as_een_inwoner_and_no_trace_of_me(
    app: App,
) -> None:
    anna, bob = await neighbours(app)
    await export_lost_on_the_way(app, anna)
    await anna.send("/vergeetmij")
    assert anna.keys == ["privacy.forget.choose"]
    assert "Ideeën: 1. Reacties: 1. Voorstellen: 0." in anna.text
    await anna.press("Laten staan zonder naam")
    assert anna.keys == ["privacy.forget.confirm_keep"]
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]
    assert anna.buttons() == []

    assert await traces(app.db, identity(anna)) == []
    assert file_traces(app, identity(anna)) == []
    assert await app.db.fetchval("SELECT COUNT(*) FROM handled_events") == 0
    assert await supporter_counts_match(app.db)
    assert await comment_counts_match(app.db)
    await bob.press_payload("idea.comments:2")
    assert "Een inwoner" in bob.text and ANNA_COMMENT in bob.text
    await bob.press_payload("idea.open:1")
    assert ANNA_IDEA[0] in bob.text and "Annabel" not in bob.text
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.author_user_id is None and idea.supporters == 1
    bobs = await app.repos.ideas.get(2)
    assert bobs is not None and bobs.supporters == 0

    # Afterwards Anna is a stranger: a new message starts onboarding from scratch.
    await anna.send("hallo")
    assert anna.keys == ["onboarding.welcome", "onboarding.consent_question"]


async def test_forget_me_deleting_content_leaves_no_trace_of_me_or_my_words(app: App) -> None:
    anna, bob = await neighbours(app)
    await export_lost_on_the_way(app, anna)
    await anna.send("/vergeetmij")
    await anna.press("Ook wissen")
    assert anna.keys == ["privacy.forget.confirm_delete"]
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]

    everything = [*identity(anna), *ANNA_IDEA, ANNA_COMMENT]
    assert await traces(app.db, everything) == []
    assert file_traces(app, everything) == []
    assert await app.db.fetchval("SELECT COUNT(*) FROM handled_events") == 0
    assert await supporter_counts_match(app.db)
    assert await comment_counts_match(app.db)
    await bob.press_payload("idea.open:1")
    assert bob.keys == ["ideas.not_found"]
    await bob.press_payload("idea.comments:2")
    assert ANNA_COMMENT not in bob.text and BOB_COMMENT not in bob.text
    assert await traces(app.db, [*identity(bob), *BOB_IDEA])


async def test_forget_me_on_a_platform_without_buttons_leaves_no_options_behind(
    app: App,
) -> None:
    anna, _ = await neighbours(app, platform="console")
    await anna.send("/vergeetmij")
    await anna.send("1")  # keep anonymously
    await anna.send("1")  # yes
    assert anna.keys == ["privacy.forget.done"]
    assert await traces(app.db, identity(anna)) == []


async def test_forget_me_can_be_called_off_and_bad_input_changes_nothing(app: App) -> None:
    anna, _ = await neighbours(app)
    await anna.send("/vergeetmij")
    await anna.send("wis maar")
    assert anna.keys == ["privacy.forget.use_buttons", "privacy.forget.choose"]
    await anna.press("Ook wissen")
    await anna.photo()
    assert anna.keys == ["privacy.forget.use_buttons", "privacy.forget.confirm_delete"]
    await anna.press("Toch niet")
    assert anna.keys == ["general.cancelled"]
    assert await app.repos.users.find("test", anna.user_id) is not None
    assert await app.repos.ideas.get(1) is not None
    # A stale confirmation button does nothing either.
    await anna.press_payload(anna.history[-2][1].buttons[0][1])
    assert anna.keys == ["general.stale_button"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM erasures") == 0


async def test_someone_who_sent_nothing_in_is_asked_once_to_confirm(chat: Any, app: App) -> None:
    eve = chat("eve")
    await eve.onboard()
    await eve.send("/vergeetmij")
    assert eve.keys == ["privacy.forget.confirm"]
    await eve.press("Ja")
    assert eve.keys == ["privacy.forget.done"]
    assert await app.repos.users.find("test", "eve") is None


async def test_the_privacy_buttons_lead_to_the_data_and_to_forget_me(chat: Any) -> None:
    anna = chat("anna")
    await anna.onboard()
    await anna.press("Privacy")
    await anna.press("Mijn gegevens")
    assert anna.keys == ["privacy.data.summary", "privacy.data.file"]
    await anna.send("/privacy")
    await anna.press("Vergeet mij")
    assert anna.keys == ["privacy.forget.confirm"]
    await anna.press("📦 Mijn gegevens")
    assert anna.keys == ["privacy.data.summary", "privacy.data.file"]
    # The export is an any-time action: the question is still open.
    anna.history.append(anna.history[-2])
    await anna.press("Ja")
    assert anna.keys == ["privacy.forget.done"]


def test_every_exported_section_has_a_label_in_the_summary() -> None:
    from handlers.catalog import Catalog
    from storage.privacy.personal import TABLES

    catalog = Catalog.load()
    exported_tables = [t.name for t in TABLES if t.export is not None] + ["media"]
    missing = [
        name for name in exported_tables if f"privacy.sections.{name}" not in catalog.texts["nl"]
    ]
    assert missing == []


async def test_forget_me_deleting_content_removes_my_idea_title_from_a_budget_ballot(
    app: App,
) -> None:
    anna, bob = await neighbours(app)
    async with app.db.transaction():
        await app.repos.ideas.set_status(1, IdeaStatus.ADOPTED, theme="samenspel", now=utcnow())
    ria = await connector(app)
    await ria.send("/nieuweronde")
    await ria.send("Velsen kiest")
    await ria.send("1000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("#1 | 400 | Toestellen in de duinen")
    await ria.press("Klaar met projecten")
    await ria.press("Nu")
    later = app.router.clock().astimezone(app.router.timezone) + timedelta(days=7)
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    await ria.press("Alle inwoners")
    await ria.press("Goedkoopste project eerst")
    await ria.press("Openen")
    assert ria.keys == ["budgets.opened"]
    [project] = await app.repos.budgets.projects(1)
    assert project.title == ANNA_IDEA[0] and project.idea_id == 1
    await bob.send("/stemmen")
    await bob.press("➕ Toevoegen")
    await bob.press("Stem uitbrengen")
    await bob.press("Ja, stem uitbrengen")
    assert bob.keys == ["budgets.voted"]

    await anna.send("/vergeetmij")
    await anna.press("Ook wissen")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]

    # Her words are gone from the ballot and the open data; the project and Bob's vote stay.
    assert await traces(app.db, [*identity(anna), *ANNA_IDEA]) == []
    [project] = await app.repos.budgets.projects(1)
    assert project.description == "Toestellen in de duinen" and project.idea_id is None
    await bob.send("/stemmen")
    assert ANNA_IDEA[0] not in bob.text and "Toestellen in de duinen" in bob.text
    assert await app.db.fetchval("SELECT COUNT(*) FROM budget_votes") == 1


async def test_my_data_is_in_my_language_with_readable_values(app: App) -> None:
    anna, _ = await neighbours(app)
    await anna.send("/nieuwexperiment")
    await anna.send("Een moestuin in de straat, samen met de buren.")
    await anna.press("Velserbroek")
    await anna.send("De buren")
    await anna.send("ongeveer 800 euro")
    await anna.press("Insturen")
    await anna.send("/mijngegevens")
    assert "Knoppen" not in anna.last[0].text  # the bot's bookkeeping is not summed up
    data = exported(anna)
    text = json.dumps(data, ensure_ascii=False)
    assert "_cents" not in text
    sections = data["sections"]
    [proposal] = sections["experiment_proposals"]["rows"]
    assert proposal["budget"] == "€\u00a0800" and proposal["status"] == "📥 Ingestuurd"
    assert proposal["full_financing"] == "ja"
    [idea] = sections["ideas"]["rows"]
    assert idea["category"] in {c.name("nl") for c in app.profile.categories}
    # Times in the municipality's time zone, as people write them: no UTC "Z".
    assert re.fullmatch(r"\d{1,2} [a-z]{3} \d{4}, \d\d:\d\d", idea["created_at"])
    assert not re.search(r"\d{4}-\d\d-\d\dT", text)
    [profile] = sections["users"]["rows"]
    assert profile["language"] == "Nederlands" and profile["role"] == "inwoner"
    ideas = sections["ideas"]
    assert ideas["title"] == "Ideeën" and ideas["holds"] == "de ideeën die je instuurde"


async def test_a_reply_that_never_arrived_is_in_my_data_without_the_files_bytes(
    app: App,
) -> None:
    anna, _ = await neighbours(app)
    await export_lost_on_the_way(app, anna)
    await anna.send("/mijngegevens")
    assert "Je berichten van de afgelopen week die de bot beantwoordde: 1" in anna.last[0].text
    section = exported(anna)["sections"]["handled_events"]
    assert section["title"] == "Beantwoorde berichten"
    [handled] = section["rows"]
    assert handled["message"] == "u-4711" and handled["language"] == "Nederlands"
    waiting = handled["replies_waiting"]
    assert [reply["key"] for reply in waiting] == ["privacy.data.summary", "privacy.data.file"]
    assert waiting[1]["file"].startswith("samenspel-mijn-gegevens-")
    assert set(waiting[1]) == {"key", "params", "parts", "file"}  # not the file's bytes


async def test_a_matrix_resident_who_moved_to_a_new_direct_chat_leaves_nothing_in_the_old(
    app: App,
) -> None:
    """Element often opens a new direct chat: the numbered options of the old one (her own
    ideas) go with the move, so her erasure leaves nothing there either."""
    anna = Chat(
        app, "@annabel:hs.nl", name="Annabel Zwartkruis", platform="matrix", chat_id="!old:hs.nl"
    )
    await anna.onboard()
    await submit_idea(anna, *ANNA_IDEA)
    await anna.send("/mijnideeen")
    assert any(ANNA_IDEA[0] in label for label, _, _ in await options(app, "!old:hs.nl"))
    anna.chat_id = "!new:hs.nl"
    await anna.send("/menu")
    assert await options(app, "!old:hs.nl") == []
    await anna.send("/vergeetmij")
    await anna.send("1")  # Laten staan
    await anna.send("1")  # Ja
    assert anna.keys == ["privacy.forget.done"]
    assert await traces(app.db, ["!old:hs.nl", "@annabel:hs.nl", "Annabel"]) == []


async def options(app: App, chat_id: str) -> list[tuple[str, str, bool]]:
    return await app.repos.chat_options.load("matrix", chat_id)


async def test_my_data_says_when_i_edited_a_comment(app: App) -> None:
    anna, _ = await neighbours(app)
    await anna.press_payload("cm.edit:2")  # her comment under Bob's idea
    await anna.send("Xjqwreactie, beter verwoord")
    await anna.send("/mijngegevens")
    [mine] = exported(anna)["sections"]["idea_comments"]["rows"]
    assert mine["body"] == "Xjqwreactie, beter verwoord" and mine["edited_at"]


async def test_a_reply_to_staff_quoting_a_question_waits_no_longer_than_its_asker(
    app: App,
) -> None:
    """The connector opened Anna's question, but that reply never arrived: it waits to be
    sent again (up to a week) with her words in it, until she is erased."""
    anna = annabel(app)
    await anna.onboard()
    asked = "Xjqw mijn buurman op nummer 12 laat zijn hond altijd blaffen, wat nu?"
    await anna.send(f"/vraag {asked}")
    assert anna.keys[0] == "questions.sent"
    ria = await connector(app)

    async def lost(_: Event, __: str, ___: list[Reply]) -> None:
        raise ConnectionError("the network went down")

    await app.router.handle(ria.event(button="inbox.open:1", event_id="u-5"), lost)
    assert "nummer 12" in await app.db.fetchval("SELECT pending FROM handled_events")
    await anna.send("/vergeetmij")
    await anna.press("Ja")
    assert anna.keys == ["privacy.forget.done"]
    assert await traces(app.db, ["Xjqw", "nummer 12"]) == []


async def test_coming_back_to_forget_me_asks_its_question_again(app: App) -> None:
    # The console, opened again, says where this person was: the question itself, with
    # its buttons, not "answer the last question" above that can no longer be answered.
    anna, _ = await neighbours(app)
    await anna.send("/vergeetmij")
    await anna.press_payload("resume")
    assert anna.keys == ["drafts.welcome_back", "privacy.forget.choose"]
    await anna.press("Ook wissen")
    await anna.press_payload("resume")
    assert anna.keys == ["drafts.welcome_back", "privacy.forget.confirm_delete"]
    await anna.press("Toch niet")
    assert anna.keys == ["general.cancelled"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM erasures") == 0
