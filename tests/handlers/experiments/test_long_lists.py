"""A municipality with many running experiments: every list and picker of them shows a page
at a time (8, with Vorige / Volgende), each button's title cut short, so no message becomes a
wall of text or has more buttons than Telegram takes (100)."""

from __future__ import annotations

from bot.app import App
from storage.clock import utcnow
from storage.experiments.experiments import NewExperiment
from storage.localized import Localized
from tests.handlers.experiments.test_rooms import group_command
from tests.meetings import evening
from tests.people import civil_servant, person
from tests.support import Chat

#: Running experiments in the profile (seeded at start-up), before the test adds its own.
SEEDED = 3
ADDED = 40
LONG = "🌊 langs de Noordzeekust en de pier, met bankjes en bomen voor iedereen in de buurt"


async def many_experiments(app: App, count: int = ADDED) -> list[int]:
    """``count`` more running experiments with titles far too long for a button."""
    ids = []
    async with app.db.transaction():
        for n in range(count):
            ids.append(
                await app.repos.experiments.create(
                    NewExperiment(
                        title=Localized.same(f"Experiment {n}: {LONG}"),
                        summary=Localized.same("Samen proberen 🌱"),
                        place=Localized.same("Buurthuis De Dwarsligger, Zeewijk"),
                        organiser=Localized.same("Stichting Buurtkracht"),
                    ),
                    utcnow(),
                )
            )
    return ids


def experiment_buttons(chat: Chat, prefix: str) -> list[tuple[str, str]]:
    return [(label, payload) for label, payload in chat.buttons() if payload.startswith(prefix)]


def check_page(chat: Chat, prefix: str, size: int = 8) -> list[str]:
    """The page's experiment buttons: at most ``size``, short, every payload within 64 bytes."""
    shown = experiment_buttons(chat, prefix)
    assert 0 < len(shown) <= size
    assert all(len(label) <= 40 for label, _ in shown), shown
    assert all(len(payload.encode()) <= 64 for _, payload in chat.buttons())
    assert len(chat.buttons()) <= 14
    return [payload for _, payload in shown]


async def page_through(chat: Chat, prefix: str) -> list[str]:
    """Every experiment payload on every page, pressing Volgende until there is none."""
    seen = check_page(chat, prefix)
    while any("Volgende" in label for label, _ in chat.buttons()):
        await chat.press("Volgende")
        seen += check_page(chat, prefix)
    return seen


async def test_the_experiments_list_shows_eight_a_page_and_pages_through_all_of_them(
    app: App,
) -> None:
    await many_experiments(app)
    anna = await person(app, "anna")
    await anna.send("/experimenten")
    assert anna.keys == ["experiments.list_title"]
    assert anna.text.count("deelnemers:") == 8
    assert "Pagina 1 van 6" in anna.text
    assert not any("Vorige" in label for label in anna.last[0].labels())
    payloads = await page_through(anna, "exp:")
    assert len(payloads) == SEEDED + ADDED == len(set(payloads))
    assert "Pagina 6 van 6" in anna.text
    await anna.press("Vorige")
    assert "Pagina 5 van 6" in anna.text
    # A card opens from any page, and a title too long for a button is cut short.
    label, payload = experiment_buttons(anna, "exp:")[0]
    assert label.endswith("…") and label.startswith("Experiment ")
    await anna.press_payload(payload)
    assert anna.keys == ["experiments.card"]


async def test_an_old_page_button_past_the_end_shows_the_last_page_and_a_forged_one_is_stale(
    app: App,
) -> None:
    await many_experiments(app)
    anna = await person(app, "anna")
    await anna.press_payload("exp.list:40")
    assert "Pagina 6 van 6" in anna.text
    for forged in ("exp.list:0", "exp.list:x", "exp.list:" + "9" * 30):
        await anna.press_payload(forged)
        assert anna.keys == ["general.stale_button"], forged


async def test_the_audience_picker_pages_and_counts_each_page_in_one_query(app: App) -> None:
    ids = await many_experiments(app)
    anna = await person(app, "anna")
    await anna.press_payload(f"exp.join:{ids[5]}")
    ria = await civil_servant(app)
    await ria.send("/nieuwbericht")
    await ria.send("Wist je dat we 12 nieuwe bankjes plaatsen?")
    await ria.press("Zonder foto")
    statements: list[str] = []
    app.db.conn.set_trace_callback(statements.append)
    try:
        await ria.press("Deelnemers experiment")
    finally:
        app.db.conn.set_trace_callback(None)
    counted = [sql for sql in statements if "JOIN users u ON u.id = p.user_id" in sql]
    assert len(counted) == 1, counted
    assert ria.keys == ["composer.ask_experiment"]
    await ria.press("Volgende")
    # ids[5] is the ninth running experiment: the first on page 2, with Anna in it.
    first_label, _ = ria.buttons()[0]
    assert first_label.startswith("Experiment 5:") and first_label.endswith("… (1)")
    assert all(len(p.encode()) <= 64 for _, p in ria.buttons())
    seen = 8 + len([label for label, _ in ria.buttons() if label.startswith("Experiment ")])
    while any("Volgende" in label for label, _ in ria.buttons()):
        await ria.press("Volgende")
        seen += len([label for label, _ in ria.buttons() if label.startswith("Experiment ")])
    assert seen == SEEDED + ADDED
    # The last experiment, on the last page, can be chosen.
    await ria.press(f"Experiment {ADDED - 1}:")
    assert ria.keys[0] == "composer.audience_empty"


async def test_the_meeting_about_picker_pages_through_the_experiments(app: App) -> None:
    ids = await many_experiments(app)
    ria = await civil_servant(app)
    await ria.send("/nieuwebijeenkomst")
    await ria.send("Buurtavond over de pier")
    await ria.send("We praten over bankjes en bomen langs de pier.")
    await ria.press("Op een adres")
    await ria.send("Plein 1945 nr. 1, IJmuiden")
    await ria.press("IJmuiden")
    await ria.press("Geen kaart")
    await ria.send(evening(utcnow()).strftime("%d-%m-%Y %H:%M"))
    await ria.press("2 uur")
    await ria.send("40")
    await ria.press("Bij een experiment")
    assert ria.keys == ["meetings.ask_pick"]
    assert len(page_buttons := ria.buttons()) <= 11, page_buttons
    assert all(len(label) <= 40 for label, _ in page_buttons)
    while any("Volgende" in label for label, _ in ria.buttons()):
        await ria.press("Volgende")
    await ria.press(f"Experiment {ADDED - 1}:")
    assert ria.keys == ["meetings.ask_invite"]
    await ria.press("Geen uitnodiging")
    await ria.press("Publiceren")
    meeting = await app.db.fetchval("SELECT experiment_id FROM meetings")
    assert meeting == ids[-1]


async def test_the_poster_picker_pages_through_the_experiments(app: App) -> None:
    ids = await many_experiments(app)
    ria = await civil_servant(app)
    await ria.send("/poster")
    assert ria.keys == ["posters.choose"]
    payloads = await page_through(ria, "poster:exp_")
    assert len(payloads) == SEEDED + ADDED
    await ria.press(f"Experiment {ADDED - 1}:")
    assert ria.keys == ["posters.ready"]
    assert f"exp_{ids[-1]}" in ria.text


async def test_koppel_lists_a_page_and_finds_an_experiment_by_a_word_from_its_name(
    app: App,
) -> None:
    await many_experiments(app)
    wim = await civil_servant(app, "wim")
    await group_command(wim, "koppel")
    assert wim.keys == ["rooms.link_which"]
    assert wim.text.count("\n• ") == 8
    assert "Typ /koppel met een woord uit de naam" in wim.text
    await group_command(wim, "koppel", "Experiment 37")
    assert wim.text.count("\n• ") == 1 and "Experiment 37:" in wim.text
    assert "Typ /koppel met een woord" not in wim.text
    await group_command(wim, "koppel", "100% zeker_niet")
    assert "Ik vind geen experiment met „100% zeker_niet” in de naam." in wim.text
    assert wim.text.count("\n• ") == 8


async def test_koppel_finds_a_name_in_any_script_whatever_its_case(app: App) -> None:
    """SQLite's LIKE ignores case for ASCII letters only: "громадський" typed in a group
    finds "Громадський город", "İSKELE" finds "İskele bahçesi"."""
    await many_experiments(app, 3)
    async with app.db.transaction():
        for title in ("Громадський город", "İskele bahçesi"):
            await app.repos.experiments.create(
                NewExperiment(
                    title=Localized.same(title),
                    summary=Localized.same("Samen proberen"),
                    place=Localized.same("Zeewijk"),
                    organiser=Localized.same("Buurtkracht"),
                ),
                utcnow(),
            )
    wim = await civil_servant(app, "wim")
    for typed, found in (("громадський", "Громадський город"), ("İSKELE", "İskele bahçesi")):
        await group_command(wim, "koppel", typed)
        assert wim.text.count("\n• ") == 1 and found in wim.text, (typed, wim.text)


async def end_every_experiment(app: App) -> None:
    async with app.db.transaction():
        for experiment in await app.repos.experiments.running():
            await app.repos.experiments.end(experiment.id)


async def test_with_no_experiment_running_poster_says_so_and_how_to_make_one_for_an_idea(
    app: App,
) -> None:
    """Not "which experiment?" with nothing to choose: what there is to do instead."""
    await end_every_experiment(app)
    ria = await civil_servant(app)
    await ria.send("/poster")
    assert ria.keys == ["posters.none"]
    assert "/poster idee_3" in ria.text
    assert not any(payload.startswith("poster") for _, payload in ria.buttons())
    # An old page button of the picker says the same.
    await ria.press_payload("poster.list:2")
    assert ria.keys == ["posters.none"]


async def test_koppel_with_no_experiment_running_says_so_instead_of_asking_which(
    app: App,
) -> None:
    await end_every_experiment(app)
    wim = await civil_servant(app, "wim")
    await group_command(wim, "koppel")
    assert wim.keys == ["rooms.link_none"]
    assert "\n• " not in wim.text
    await group_command(wim, "koppel", "moestuin")
    assert wim.keys == ["rooms.link_none"]
    assert "Ik vind geen experiment met „moestuin” in de naam." in wim.text


async def test_a_card_opened_from_a_later_page_goes_back_to_that_page(app: App) -> None:
    await many_experiments(app)
    anna = await person(app, "anna")
    await anna.send("/experimenten")
    await anna.press("Volgende")
    await anna.press("Volgende")
    assert "Pagina 3 van 6" in anna.text
    _, payload = experiment_buttons(anna, "exp:")[0]
    await anna.press_payload(payload)
    assert anna.keys == ["experiments.card"]
    assert all(len(p.encode()) <= 64 for _, p in anna.buttons())
    await anna.press("Alle experimenten")
    assert anna.keys == ["experiments.list_title"] and "Pagina 3 van 6" in anna.text
    # Joining and leaving on the way keep the page too.
    await anna.press_payload(payload)
    await anna.press("Doe mee")
    assert anna.keys == ["experiments.joined", "experiments.card"]
    await anna.press("Stop met meedoen")
    assert anna.keys == ["experiments.left"]
    await anna.press("Alle experimenten")
    assert "Pagina 3 van 6" in anna.text
    # A card from elsewhere (a notice, a poster) goes back to the first page; a page we
    # could not have sent is a stale button.
    experiment_id = payload.split(":")[1]
    await anna.press_payload(f"exp:{experiment_id}")
    await anna.press("Alle experimenten")
    assert "Pagina 1 van 6" in anna.text
    await anna.press_payload(f"exp:{experiment_id}:0")
    assert anna.keys == ["general.stale_button"]
