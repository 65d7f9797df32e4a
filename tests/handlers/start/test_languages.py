"""Every catalog language, walked through the router: onboarding, an idea, an answer to a
poll and /mijngegevens, with no missing text and no Dutch where a translation exists.

The walks press buttons by what they do (their payloads), not by their labels, so they run
in any language the catalogs have; a new ``messages/<lang>.toml`` is walked without a change
here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import handlers
from bot.app import App
from bot.settings import Settings
from handlers.catalog import Catalog, placeholders
from handlers.contract import Photo, Reply, Response, Role
from handlers.feature import Context, Feature, Registry
from handlers.locales import own_name
from handlers.profile import DEFAULT_PROFILE
from tests.consultations import Jobs, button, compose_poll, last_consultation, outbox_of, seen
from tests.meetings import DESCRIPTION, evening, organise
from tests.people import civil_servant, connector, for_user, row, subscribe
from tests.support import Chat, Seen

CATALOG = Catalog.load()
LANGUAGES = CATALOG.languages
_TAGS = re.compile(r"<[^>]+>")


def _dutch_only_sentences(lang: str) -> list[str]:
    """Whole Dutch catalog texts (no placeholders, long enough to be telling) that read
    differently in ``lang``: none of them may show up in a conversation in ``lang``."""
    if lang == CATALOG.default:
        return []
    found = []
    for key, dutch in CATALOG.texts[CATALOG.default].items():
        theirs = CATALOG.texts[lang].get(key)
        if not isinstance(dutch, str) or placeholders(dutch) or not isinstance(theirs, str):
            continue
        plain = _TAGS.sub("", dutch).strip()
        if len(plain) >= 16 and _TAGS.sub("", theirs).strip() != plain:
            found.append(plain)
    return found


def _keys(reply: Reply) -> list[str]:
    keys = [reply.key]
    keys += [b.label for line in reply.buttons for b in line if b.label != "raw"]
    for part in reply.parts:
        keys += _keys(part)
    return keys


def check(messages: list[Seen], lang: str) -> None:
    """No text is missing in ``lang`` and no Dutch sentence shows where ``lang`` has its own."""
    assert messages, "the bot answered nothing"
    texts = CATALOG.texts[lang]
    for message in messages:
        missing = [key for key in _keys(message.reply) if key not in texts and key != "raw"]
        assert missing == [], f"{lang} lacks {missing}"
        shown = message.text + "\n" + "\n".join(message.labels())
        leaked = [s for s in _dutch_only_sentences(lang) if s in shown]
        assert leaked == [], f"Dutch in a {lang} conversation ({message.key}): {leaked}"


async def choose(person: Chat, value: str) -> list[Seen]:
    """Press the button of the last answer that answers with ``value`` (any label)."""
    for _, payload in person.buttons():
        if payload == value or payload.endswith(f":{value}"):
            return await person.press_payload(payload)
    raise AssertionError(f"no button for {value!r} in {person.buttons()}")


async def onboard_in(app: App, user_id: str, lang: str) -> Chat:
    """Onboarding with a phone in no known language: the language is chosen by button."""
    person = Chat(app, user_id=user_id, name=user_id.title(), language_hint=None)
    check(await person.send("/start"), CATALOG.default)
    check(await choose(person, "yes"), CATALOG.default)
    assert person.keys == ["onboarding.language_question"]
    # Every language offered in its own name, the one chosen among them.
    assert [label for label, _ in person.buttons()] == [
        own_name(code) for code in sorted(LANGUAGES, key=lambda c: (c != "nl", c != "en", c))
    ]
    check(await choose(person, lang), lang)
    assert person.keys == ["onboarding.neighbourhood_question"]
    check(await choose(person, "ijmuiden"), lang)
    assert person.keys == ["onboarding.done"]
    assert (await row(app, person)).language == lang
    return person


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_resident_walks_onboarding_an_idea_a_poll_and_their_data_in(
    app: App, lang: str
) -> None:
    anna = await onboard_in(app, "anna", lang)

    check(await anna.send("/idee"), lang)
    assert anna.keys == ["ideas.ask_category"]
    category = app.profile.categories[0].id
    check(await choose(anna, category), lang)
    check(await anna.send("Een bankje bij de haven van IJmuiden"), lang)
    check(
        await anna.send("Er is nergens een plek om even te zitten en naar de boten te kijken."),
        lang,
    )
    check(await choose(anna, "ijmuiden"), lang)
    check(await choose(anna, "none"), lang)
    assert anna.keys == ["ideas.preview"]
    check(await choose(anna, "send"), lang)
    assert anna.keys == ["ideas.submitted"]
    check(await anna.press_payload("idea.open:1"), lang)
    assert anna.keys[-1] == "ideas.card"

    ria = await civil_servant(app)
    preview = await compose_poll(ria)
    await ria.press_payload(button(preview, "Publiceren"))
    assert ria.keys == ["consultations.published"]
    [invitation] = await outbox_of(app, anna)
    asked = seen(app, invitation, lang)
    check(asked, lang)
    check(await anna.press_payload(button(asked, "Klimrek")), lang)
    assert anna.keys == ["consultations.question_scale"]

    check(await anna.send("/mijngegevens"), lang)
    assert anna.keys == ["privacy.data.summary", "privacy.data.file"]


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != CATALOG.default])
async def test_words_of_staff_and_residents_come_with_a_note_that_they_are_shown_as_written(
    app: App, lang: str
) -> None:
    anna = await onboard_in(app, "anna", lang)
    await anna.send("/idee")
    await choose(anna, app.profile.categories[0].id)
    await anna.send("Een bankje bij de haven van IJmuiden")
    await anna.send("Er is nergens een plek om even te zitten en naar de boten te kijken.")
    await choose(anna, "ijmuiden")
    await choose(anna, "none")
    await choose(anna, "send")
    await anna.press_payload("idea.open:1")
    note = CATALOG.text(lang, "languages.as_written", {}, markup=False)
    assert anna.text.endswith(note)
    # A Dutch reader of the same idea gets no note.
    bob = Chat(app, user_id="bob", name="Bob")
    await bob.onboard()
    await bob.press_payload("idea.open:1")
    assert CATALOG.text("nl", "languages.as_written", {}, markup=False) not in bob.text


async def test_the_connectors_answer_a_meeting_and_poll_results_come_with_the_note_too(
    app: App,
) -> None:
    """Staff write in Dutch: every message that carries their words says so to a reader
    in another language, and nothing says so to a Dutch reader."""
    ed, bob = await onboard_in(app, "ed", "en"), Chat(app, user_id="bob", name="Bob")
    await bob.onboard()
    note = {
        lang: CATALOG.text(lang, "languages.as_written", {}, markup=False) for lang in LANGUAGES
    }

    # The connector's answer to a question.
    for asker in (ed, bob):
        await asker.send("/vraag Wanneer is de buurtavond?")
    ria = await connector(app)
    for number in (1, 2):
        await ria.press_payload(f"inbox.answer:{number}")
        await ria.send("Op 15 december in het buurthuis.")
    [for_ed] = await for_user(app, ed, "answer")
    [for_bob] = await for_user(app, bob, "answer")
    assert for_ed.text(app, "en").endswith(note["en"])
    assert note["nl"] not in for_bob.text(app, "nl")

    # A meeting's invitation, and its card on the list.
    await subscribe(bob)
    await ed.send("/wistjedat")
    await ed.press("Subscribe")
    cas = await civil_servant(app, "cas")
    await organise(cas, evening(app.router.clock()))
    await cas.press("Publiceren")
    [invited] = await for_user(app, ed, "broadcast")
    assert DESCRIPTION in invited.text(app, "en") and note["en"] in invited.text(app, "en")
    await ed.send("/bijeenkomsten")
    assert note["en"] in ed.text
    await bob.send("/bijeenkomsten")
    assert note["nl"] not in bob.text

    # A poll's results.
    await compose_poll(cas)
    await cas.press("Publiceren")
    poll = await last_consultation(app)
    await ed.press_payload(f"cs.a:{poll}:0:1:2")
    await cas.send("/peilingen")
    await cas.press(f"#{poll} ")
    await cas.press("Nu sluiten")
    await cas.press("Ja, nu sluiten")
    await Jobs.of(app).consultation(poll)
    [*_, results] = await outbox_of(app, ed)
    [shown, *_] = seen(app, results, "en")
    assert shown.key == "consultations.results" and shown.text.endswith(note["en"])


async def test_a_forged_language_button_changes_nothing(app: App) -> None:
    anna = Chat(app, user_id="anna", name="Anna")
    await anna.onboard()
    for forged in ("lang:xx", "lang:", "lang:nl-evil", "lang:../../etc", "lang:EN"):
        await anna.press_payload(forged)
        assert anna.keys == ["onboarding.language_question"], forged
        assert (await row(app, anna)).language == "nl"
    await anna.press_payload("lang:en")
    assert anna.keys[0] == "onboarding.language_set" and "English" in anna.text
    assert (await row(app, anna)).language == "en"


async def test_a_person_whose_language_was_removed_reads_their_apps_language_or_dutch(
    app: App,
) -> None:
    anna = await onboard_in(app, "anna", "en")
    user = await row(app, anna)
    async with app.db.transaction():
        await app.repos.users.set_language(user.id, "fy")  # a catalog that is gone
    anna.language_hint = "en-GB"
    await anna.send("/taal")
    assert anna.text == CATALOG.text("en", "onboarding.language_question", {}, markup=False)
    anna.language_hint = None
    await anna.send("/taal")
    assert anna.text == CATALOG.text("nl", "onboarding.language_question", {}, markup=False)
    await choose(anna, "en")
    assert (await row(app, anna)).language == "en"


async def test_a_profile_text_missing_the_readers_language_is_the_dutch_one_with_a_note(
    settings: Settings, tmp_path: Path
) -> None:
    raw = tomllib.loads(DEFAULT_PROFILE.read_text())
    seed = raw["experiments"][0]
    seed["title"] = {"nl": "Speeltuin Zeewijk", "tr": "Zeewijk oyun parkı"}
    seed["summary"] = {"nl": "Samen een speeltuin maken.", "tr": "Birlikte bir oyun parkı."}
    profile = tmp_path / "profile.toml"
    profile.write_text(_toml(raw))
    app = await App.open(settings.model_copy(update={"profile": profile}))
    try:
        [experiment] = [e for e in await app.repos.experiments.running() if e.slug == seed["slug"]]
        shown = {}
        for lang in ("nl", "en"):
            person = await onboard_in(app, f"p-{lang}", lang)
            await person.press_payload(f"exp:{experiment.id}")
            shown[lang] = person.text
        assert "Speeltuin Zeewijk" in shown["en"]
        assert shown["en"].endswith(CATALOG.text("en", "languages.as_written", {}, markup=False))
        assert CATALOG.text("nl", "languages.as_written", {}, markup=False) not in shown["nl"]
        # Written in the reader's language: no note.
        assert experiment.title("tr") == "Zeewijk oyun parkı" and experiment.title.has("tr")
    finally:
        await app.close()


def _toml(value: dict[str, object], prefix: str = "") -> str:
    """A profile written back as TOML (tables of tables, arrays of tables, inline values)."""
    import json

    def inline(v: object) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {inline(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(inline(x) for x in v) + "]"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        return json.dumps(v, ensure_ascii=False)

    return "\n".join(f"{k} = {inline(v)}" for k, v in value.items()) + "\n"


async def test_a_language_removed_while_the_bot_was_down_is_forgotten_at_start_up(
    settings: Settings,
) -> None:
    app = await App.open(settings)
    anna = await onboard_in(app, "anna", "en")
    user = await row(app, anna)
    async with app.db.transaction():
        await app.repos.users.set_language(user.id, "fy")
    await app.close()
    app = await App.open(settings)
    try:
        assert (await row(app, "anna")).language is None
        groups = await app.repos.recipients.by_language([user.id], app.catalog.default)
        assert groups == {"nl": [user.id]}
    finally:
        await app.close()


async def test_a_connectors_reason_for_a_decision_comes_with_the_note_too(app: App) -> None:
    """The reason for a status and for a moderation decision is the connector's Dutch: a
    reader in another language is told so, as for every other staff text."""
    ed = await onboard_in(app, "ed", "en")
    await ed.send("/idee")
    await choose(ed, app.profile.categories[0].id)
    await ed.send("Een bankje bij de haven van IJmuiden")
    await ed.send("Er is nergens een plek om even te zitten en naar de boten te kijken.")
    await choose(ed, "ijmuiden")
    await choose(ed, "none")
    await choose(ed, "send")
    await ed.press_payload("idea.comment:1")
    await ed.send("Wat een onzin, jullie zijn allemaal gek.")
    for name in ("r1", "r2", "r3"):
        reporter = Chat(app, user_id=name, name=name.title())
        await reporter.onboard()
        await reporter.press_payload("idea.comments:1")
        await reporter.press("Meld 1")
        await reporter.press("Schelden of beledigend")
    note = CATALOG.text("en", "languages.as_written", {}, markup=False)
    ria = await connector(app)

    await ria.send("/wachtrij")
    await ria.press("Niet haalbaar")
    await ria.send("Er is geen plek voor bankjes bij de haven.")
    [status] = await for_user(app, ed, "status")
    assert "Er is geen plek" in status.text(app, "en") and note in status.text(app, "en")

    await ria.send("/meldingen")
    await ria.press("Waarschuwen")
    await ria.send("Schelden hoort hier niet.")
    told = (await for_user(app, ed, "moderation"))[-1]
    assert "Schelden hoort" in told.text(app, "en") and note in told.text(app, "en")


async def test_a_caption_given_back_in_turkish_says_siz_like_every_other_text(app: App) -> None:
    """Turkish speaks to a resident formally ("siz") throughout; the text given back with a
    photo did not (it said "sen"), nor did it say "photo" as the Dutch does."""
    cem = await onboard_in(app, "cem", "tr")
    await cem.handle(cem.event(photo=Photo(data=b"\xff\xd8\xff a"), caption="Bank 🦆"))
    given = [seen for seen in cem.last if seen.key == "general.caption_given_back"]
    assert given, cem.keys
    assert "Bank 🦆" in given[0].text
    for informal in ("Dosyanla", "yazdığın ", "kopyalayabilmen "):
        assert informal not in given[0].text
    assert "fotoğraf" in given[0].text.casefold()


async def test_the_apology_for_a_failure_is_in_the_language_chosen(app: App) -> None:
    """A resident whose phone is in Dutch chose Arabic: when something fails on our side,
    the apology is in Arabic too, not in the phone's language."""
    feature = Feature("failing")

    @feature.command("faal", consent=False, role=Role.RESIDENT)
    async def fail(ctx: Context) -> Response:
        raise RuntimeError("a bug")

    app.router.registry = Registry([*handlers.FEATURES, feature])
    amal = await onboard_in(app, "amal", "ar")
    amal.language_hint = "nl"
    await amal.send("/faal")
    assert amal.keys == ["errors.sorry"]
    assert amal.text == CATALOG.texts["ar"]["errors.sorry"]
