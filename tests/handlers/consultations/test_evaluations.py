"""Evaluations of experiments: seeded from the profile, asked at their moments (weeks after
joining; when the experiment ends), reminded before each person's deadline, followed by
staff per moment, and closed with results for the participants who answered."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from bot.settings import Settings
from handlers import when
from handlers.consultations.jobs import Surroundings, run_evaluations
from handlers.contract import Timer
from storage.clock import days_later, iso
from storage.consultations.model import ConsultationKind, Moment
from storage.experiments.experiments import NewExperiment
from storage.localized import Localized
from tests.consultations import Clock, Jobs, button, outbox_of, seen
from tests.handlers.experiments.helpers import name_experiment, send_proposal
from tests.people import TimerLog, civil_servant, connector
from tests.people import person as resident
from tests.people import row as stored


async def _playground(app: App) -> tuple[int, int]:
    """The playground experiment and its evaluation."""
    [playground, *_] = await app.repos.experiments.running()
    [evaluation] = [
        c
        for c in await app.repos.consultations.open_evaluations()
        if c.experiment_id == playground.id
    ]
    return playground.id, evaluation.id


async def test_the_profile_seeds_one_evaluation_per_velsen_experiment_once(
    app: App, settings: Settings, clock: Clock
) -> None:
    evaluations = await app.repos.consultations.open_evaluations()
    assert [e.title["nl"] for e in evaluations] == [
        "Hoe gaat het met Speeltuin Zeewijk Natuurlijk!?",
        "Hoe gaat het met Geveltuintjes?",
        "Hoe gaat het met BBQ-plek in de openbare ruimte?",
    ]
    first = evaluations[0]
    assert first.kind is ConsultationKind.EVALUATION and first.title["en"].startswith("How is")
    assert first.moments == [Moment(after_join_days=28), Moment(at_end=True)]
    assert [q.kind.value for q in first.questions] == ["scale", "one", "several", "text"]
    again = await App.open(settings, clock=clock)
    try:
        assert len(await again.repos.consultations.open_evaluations()) == 3
    finally:
        await again.close()


async def test_participants_are_asked_weeks_after_joining_and_when_the_experiment_ends(
    app: App, clock: Clock
) -> None:
    experiment, evaluation = await _playground(app)
    jobs = Jobs.of(app)
    anna = await resident(app, "anna")
    await anna.press_payload(f"exp.join:{experiment}")
    joined = clock.now
    clock.advance(days=10)
    bob = await resident(app, "bob")
    await bob.press_payload(f"exp.join:{experiment}")
    carl = await resident(app, "carl")  # does not take part

    await jobs.evaluations()
    assert await outbox_of(app, anna) == []
    env = Surroundings(app.repos, app.catalog, app.profile, app.router.timezone)
    [timer] = await run_evaluations(env, clock.now)
    assert timer.at is not None and clock.now < timer.at <= clock.now + timedelta(hours=1)

    # Four weeks after Anna joined, she (and only she) is asked; asking again adds nothing.
    clock.now = joined + timedelta(days=28, minutes=1)
    await jobs.evaluations()
    await jobs.evaluations()
    [invitation] = await outbox_of(app, anna)
    shown = seen(app, invitation)
    assert shown[0].key == "consultations.invitation_evaluation"
    assert "Hoe gaat het met Speeltuin Zeewijk Natuurlijk!?" in shown[0].text
    assert (
        "Vraag 1 van 4" in shown[1].text
        and "1 = helemaal niet, 5 = heel tevreden" in shown[1].text
    )
    assert await outbox_of(app, bob) == [] and await outbox_of(app, carl) == []
    await anna.press_payload(button(shown, "4"))
    assert "Vraag 2 van 4" in anna.text
    await anna.send("/peilingen")
    assert "1 van 4 beantwoord" in anna.text

    # A day before her two weeks are over she is reminded once.
    clock.now = joined + timedelta(days=28 + 13, minutes=2)
    await jobs.evaluations()
    await jobs.evaluations()
    [_, reminder] = await outbox_of(app, anna)
    assert seen(app, reminder)[0].key == "consultations.reminder"
    # After her deadline her answers are closed; Bob's four weeks have come meanwhile.
    clock.now = joined + timedelta(days=28 + 14, minutes=2)
    await anna.press_payload(f"cs.a:{evaluation}:1:2:1")
    assert anna.keys == ["consultations.closed"]
    await jobs.evaluations()
    assert len(await outbox_of(app, bob)) == 1

    # Staff say the experiment has ended: everyone taking part is asked the second time.
    timers = TimerLog(app)
    ria = await civil_servant(app)
    await ria.send("/peilingen")
    await ria.press("Evaluaties")
    await ria.press(f"#{evaluation} ")
    await ria.press("Experiment afgelopen")
    assert "Speeltuin Zeewijk Natuurlijk!" in ria.text
    await ria.press("Ja, het is afgelopen")
    assert ria.keys == ["consultations.experiment_ended"]
    assert timers.armed == [Timer(job="evaluations:every", at=clock.now)]
    assert experiment not in {e.id for e in await app.repos.experiments.running()}
    await ria.press_payload(f"cs.exendok:{evaluation}")  # again, from the old message
    assert ria.keys == ["consultations.staff_gone"]
    await jobs.evaluations()
    [*_, at_end] = await outbox_of(app, anna)
    [bob_first, bob_end] = await outbox_of(app, bob)
    assert button(seen(app, at_end), "Zeg ik liever niet") == f"cs.a:{evaluation}:2:1:x"
    for question, value in ((1, "5"), (2, "1"), (3, None), (4, None)):
        if value is None:
            await bob.press_payload(f"cs.a:{evaluation}:2:{question}:x")
        else:
            await bob.press_payload(f"cs.a:{evaluation}:2:{question}:{value}")
    assert bob.keys == ["consultations.done"]

    # Staff follow the evaluation per moment.
    await ria.press_payload("cs.evals")
    await ria.press(f"#{evaluation} ")
    card = next(m for m in ria.last if m.key == "consultations.card_evaluation")
    # Bob's "how is it going?" still waited in the outbox when it ended: not asked.
    assert "Moment 1 (28 dagen na meedoen): gevraagd 1 · begonnen 1 · klaar 0" in card.text
    assert "Niet meer gevraagd (experiment afgelopen): 1" in card.text
    assert "Moment 2 (einde van het experiment): gevraagd 2 · begonnen 1 · klaar 1" in card.text
    await ria.press_payload(f"cs.res:{evaluation}:2")
    assert "(moment 2)" in ria.last[0].text and "• 5 (heel tevreden): 1 (100%)" in ria.last[0].text

    # Closed by staff: each moment's respondents get that moment's results.
    await ria.press_payload(f"cs.end:{evaluation}")
    await ria.press("Ja, nu sluiten")
    await jobs.consultation(evaluation)
    assert seen(app, (await outbox_of(app, anna))[-1])[0].key == "consultations.results"
    assert seen(app, (await outbox_of(app, bob))[-1])[0].key == "consultations.results"
    assert await app.repos.tallies.kept(evaluation, 1) is not None
    assert await app.repos.tallies.kept(evaluation, 2) is not None
    assert bob_first.id < bob_end.id


async def test_nobody_is_asked_how_it_is_going_after_the_experiment_ended(
    app: App, clock: Clock
) -> None:
    experiment, evaluation = await _playground(app)
    jobs = Jobs.of(app)
    anna = await resident(app, "anna")
    await anna.press_payload(f"exp.join:{experiment}")
    joined = clock.now
    clock.advance(days=10)
    ria = await civil_servant(app)
    await ria.press_payload(f"cs.exendok:{evaluation}")
    assert ria.keys == ["consultations.experiment_ended"]
    await jobs.evaluations()
    [at_end] = await outbox_of(app, anna)  # asked once, at the end
    invitation, first_question = seen(app, at_end)
    assert f"cs.a:{evaluation}:2:" in str(first_question.buttons)
    # The title ends a sentence itself: no full stop after its "!".
    assert "Je doet mee met Speeltuin Zeewijk Natuurlijk! Wij willen" in invitation.text
    # Four weeks after she joined, 18 days after the end: no "how is it going?".
    clock.now = joined + timedelta(days=28, minutes=1)
    await jobs.evaluations()
    assert await outbox_of(app, anna) == [at_end]
    taken = await app.repos.responses.of_user((await stored(app, "anna")).id)
    assert [(t.consultation_id, t.moment) for t in taken] == [(evaluation, 2)]


async def test_ending_the_experiment_withdraws_how_is_it_going_not_sent_yet_and_keeps_answers(
    app: App, clock: Clock
) -> None:
    """Four weeks in, the "how is it going?" invitations wait in the outbox when a
    connector ends the experiment: they never go out (the evaluation of the end asks
    instead), and a check-in nobody began leaves their list; what was answered stays."""
    experiment, evaluation = await _playground(app)
    jobs = Jobs.of(app)
    anna, bob, carl, dina = [await resident(app, name) for name in ("anna", "bob", "carl", "dina")]
    for person in (anna, bob, carl, dina):
        await person.press_payload(f"exp.join:{experiment}")
    clock.advance(days=28, minutes=1)
    await jobs.evaluations()
    [waiting] = await outbox_of(app, anna)
    assert waiting.status == "pending"
    old_invitation = seen(app, waiting)
    # Dina's reached her; Bob began from his list, Carl answered everything.
    [dina_row] = await outbox_of(app, dina)
    await app.repos.outbox.record_sent([dina_row.id], clock.now)
    await bob.press_payload(f"cs.a:{evaluation}:1:1:4")
    assert "Vraag 2 van 4" in bob.text
    for question, value in ((1, "5"), (2, "1"), (3, "x"), (4, "x")):
        await carl.press_payload(f"cs.a:{evaluation}:1:{question}:{value}")
    assert carl.keys == ["consultations.done"]
    # Carl answered before his invitation went out: it no longer asks him to.
    [carls] = await outbox_of(app, carl)
    assert (carls.status, carls.last_error) == ("cancelled", "done first")

    clock.advance(hours=2)
    ria = await connector(app)
    await ria.send("/peilingen")
    await ria.press("Evaluaties")
    await ria.press(f"#{evaluation} ")
    await ria.press("Experiment afgelopen")
    assert "niet meer invullen. Gegeven antwoorden blijven." in ria.text
    await ria.press("Ja, het is afgelopen")
    assert ria.keys == ["consultations.experiment_ended"]
    for person in (anna, bob):
        [withdrawn] = await outbox_of(app, person)
        assert (withdrawn.status, withdrawn.last_error) == ("cancelled", "experiment ended")
    assert (await outbox_of(app, carl))[0].last_error == "done first"
    assert [r.status for r in await outbox_of(app, dina)] == ["sent"]

    # Everyone taking part gets the evaluation of the end, and only that.
    await jobs.evaluations()
    for person in (anna, bob, carl, dina):
        [*_, at_end] = await outbox_of(app, person)
        assert at_end.status == "pending"
        assert f"cs.a:{evaluation}:2:" in str(seen(app, at_end)[1].buttons)
    assert [r.status for r in await outbox_of(app, anna)] == ["cancelled", "pending"]
    # Anna's list offers the end, not the "how is it going?" she never began; Dina's too.
    for person in (anna, dina):
        await person.send("/peilingen")
        offered = [p for _, p in person.buttons()]
        assert f"cs.o:{evaluation}:2" in offered and f"cs.o:{evaluation}:1" not in offered
    # The old invitation opens nothing, changes nothing, and says why.
    for pressed in (button(old_invitation, "4"), f"cs.o:{evaluation}:1"):
        await dina.press_payload(pressed)
        assert dina.keys == ["consultations.check_in_over"], pressed
        assert "Speeltuin Zeewijk Natuurlijk!" in dina.text and "einde" in dina.text
    taken = await app.repos.responses.find(evaluation, 1, (await stored(app, "dina")).id)
    assert taken is not None and taken.started_at is None
    assert await app.repos.responses.answers(taken.id) == {}

    # Bob may finish what he began; Carl's answers stay his, to look at and change.
    await bob.send("/peilingen")
    assert f"cs.o:{evaluation}:1" in [p for _, p in bob.buttons()]
    for question, value in ((2, "1"), (3, "x"), (4, "x")):
        await bob.press_payload(f"cs.a:{evaluation}:1:{question}:{value}")
    assert bob.keys == ["consultations.done"]
    await carl.send("/peilingen")
    assert f"cs.r:{evaluation}:1" in [p for _, p in carl.buttons()]
    await carl.press_payload(f"cs.r:{evaluation}:1")
    assert carl.keys == ["consultations.review"] and "→ 5/5" in carl.text

    # Closed: the moment's results count both.
    await ria.press_payload(f"cs.end:{evaluation}")
    await ria.press("Ja, nu sluiten")
    await jobs.consultation(evaluation)
    kept = await app.repos.tallies.kept(evaluation, 1)
    assert kept is not None and kept.respondents == 2


async def test_the_staff_card_counts_how_is_it_going_withdrawn_at_the_end_as_no_longer_asked(
    app: App, clock: Clock
) -> None:
    """Anna's and Bob's "how is it going?" wait in the outbox when the experiment ends; Bob
    began it from his list, Dina's reached her. The card counted all three as asked; after
    the end, Anna was not asked: she is on a line of her own."""
    experiment, evaluation = await _playground(app)
    jobs = Jobs.of(app)
    anna, bob, dina = [await resident(app, name) for name in ("anna", "bob", "dina")]
    for person in (anna, bob, dina):
        await person.press_payload(f"exp.join:{experiment}")
    clock.advance(days=28, minutes=1)
    await jobs.evaluations()
    [dina_row] = await outbox_of(app, dina)
    await app.repos.outbox.record_sent([dina_row.id], clock.now)
    await bob.press_payload(f"cs.a:{evaluation}:1:1:4")
    ria = await connector(app)
    await ria.send("/peilingen")
    await ria.press("Evaluaties")
    await ria.press(f"#{evaluation} ")
    assert "Moment 1 (28 dagen na meedoen): gevraagd 3 · begonnen 1 · klaar 0" in ria.text
    assert "Niet meer gevraagd" not in ria.text

    await ria.press("Experiment afgelopen")
    await ria.press("Ja, het is afgelopen")
    assert ria.keys == ["consultations.experiment_ended"]
    await ria.press_payload(f"cs.card:{evaluation}")
    assert "Moment 1 (28 dagen na meedoen): gevraagd 2 · begonnen 1 · klaar 0" in ria.text
    assert "Niet meer gevraagd (experiment afgelopen): 1" in ria.text
    # The moment of the end has its own count, and nobody withdrawn.
    assert ria.text.count("Niet meer gevraagd") == 1
    # The results of the moment count the same people as asked.
    await ria.press_payload(f"cs.res:{evaluation}:1")
    assert "Gevraagd: 2" in ria.text
    # In English, too; a resident pressing the card's button sees none of it.
    await ria.send("/taal")
    await ria.press("English")
    await ria.press_payload(f"cs.card:{evaluation}")
    assert "No longer asked (experiment ended): 1" in ria.text
    await anna.press_payload(f"cs.card:{evaluation}")
    assert "No longer asked" not in anna.text and "Niet meer gevraagd" not in anna.text
    # Anna's own data says she was not asked at that moment.
    taken = await app.repos.responses.find(evaluation, 1, (await stored(app, "anna")).id)
    assert taken is not None and taken.withdrawn_at is not None
    kept = await app.repos.responses.find(evaluation, 1, (await stored(app, "bob")).id)
    assert kept is not None and kept.withdrawn_at is None


async def test_how_is_it_going_withdrawn_when_someone_left_counts_as_no_longer_asked_at_the_end(
    app: App, clock: Clock
) -> None:
    """Anna left before her "how is it going?" went out (it was withdrawn then), Bob's still
    waited when the experiment ended, Dina's reached her. Nobody joins an ended experiment
    again: neither Anna nor Bob was asked, and the card says so."""
    experiment, evaluation = await _playground(app)
    anna, bob, dina = [await resident(app, name) for name in ("anna", "bob", "dina")]
    for person in (anna, bob, dina):
        await person.press_payload(f"exp.join:{experiment}")
    clock.advance(days=28, minutes=1)
    await Jobs.of(app).evaluations()
    [dina_row] = await outbox_of(app, dina)
    await app.repos.outbox.record_sent([dina_row.id], clock.now)
    await anna.press_payload(f"exp.leave:{experiment}")
    assert anna.keys == ["experiments.left"]
    ria = await connector(app)
    await ria.send("/peilingen")
    await ria.press("Evaluaties")
    await ria.press(f"#{evaluation} ")
    # While it runs, Anna may join again and get it: she counts as asked.
    assert "Moment 1 (28 dagen na meedoen): gevraagd 3 · begonnen 0 · klaar 0" in ria.text

    await ria.press("Experiment afgelopen")
    await ria.press("Ja, het is afgelopen")
    assert ria.keys == ["consultations.experiment_ended"]
    await ria.press_payload(f"cs.card:{evaluation}")
    assert "Moment 1 (28 dagen na meedoen): gevraagd 1 · begonnen 0 · klaar 0" in ria.text
    assert "Niet meer gevraagd (experiment afgelopen): 2" in ria.text
    await ria.press_payload(f"cs.res:{evaluation}:1")
    assert "Gevraagd: 1" in ria.text
    taken = await app.repos.responses.find(evaluation, 1, (await stored(app, "anna")).id)
    assert taken is not None and taken.withdrawn_at is not None


async def test_an_answer_typed_to_how_is_it_going_as_the_experiment_ends_comes_back(
    app: App, clock: Clock
) -> None:
    experiment, evaluation = await _playground(app)
    anna = await resident(app, "anna")
    await anna.press_payload(f"exp.join:{experiment}")
    clock.advance(days=28, minutes=1)
    await Jobs.of(app).evaluations()
    await anna.press_payload(f"cs.w:{evaluation}:1:4")
    assert "Vraag 4 van 4" in anna.text
    ria = await civil_servant(app)
    await ria.press_payload(f"cs.exendok:{evaluation}")
    assert ria.keys == ["consultations.experiment_ended"]
    await anna.send("De kinderen spelen er elke dag 🙂")
    assert anna.keys == ["consultations.check_in_over", "general.typed_not_kept"]
    assert "De kinderen spelen er elke dag 🙂" in anna.text
    taken = await app.repos.responses.find(evaluation, 1, (await stored(app, "anna")).id)
    assert taken is not None and await app.repos.responses.answers(taken.id) == {}
    # The dialog ended: what she types next is not taken as that answer.
    await anna.send("nog iets")
    assert "consultations.check_in_over" not in anna.keys


async def test_an_old_invitation_pressed_while_typing_another_answer_leaves_that_question_open(
    app: App, clock: Clock
) -> None:
    """Anna is typing her answer for another experiment when she taps the "how is it
    going?" of the one that ended: she reads why that one is over, and what she types next
    is still her answer to the question she was at."""
    [playground, gardens, *_] = await app.repos.experiments.running()
    evaluations = {c.experiment_id: c.id for c in await app.repos.consultations.open_evaluations()}
    anna = await resident(app, "anna")
    for experiment in (playground, gardens):
        await anna.press_payload(f"exp.join:{experiment.id}")
    clock.advance(days=28, minutes=1)
    await Jobs.of(app).evaluations()
    ria = await civil_servant(app)
    await ria.press_payload(f"cs.exendok:{evaluations[playground.id]}")
    assert ria.keys == ["consultations.experiment_ended"]
    await anna.press_payload(f"cs.w:{evaluations[gardens.id]}:1:4")
    assert "Vraag 4 van 4" in anna.text
    await anna.press_payload(f"cs.a:{evaluations[playground.id]}:1:1:4")
    assert anna.keys[0] == "consultations.check_in_over"
    await anna.send("De geveltuintjes staan er prachtig bij.")
    assert "consultations.text_saved" in anna.keys
    taken = await app.repos.responses.find(
        evaluations[gardens.id], 1, (await stored(app, "anna")).id
    )
    assert taken is not None
    assert await app.repos.responses.answers(taken.id) != {}

    # The same with the questions about the end of the one that ended.
    ended = evaluations[playground.id]
    await Jobs.of(app).evaluations()
    await anna.press_payload(f"cs.w:{ended}:2:4")
    assert "Vraag 4 van 4" in anna.text
    await anna.press_payload(f"cs.a:{ended}:1:1:4")
    assert anna.keys[0] == "consultations.check_in_over"
    await anna.send("Mijn kinderen spelen er graag.")
    assert "consultations.text_saved" in anna.keys
    at_end = await app.repos.responses.find(ended, 2, (await stored(app, "anna")).id)
    assert at_end is not None
    assert await app.repos.responses.answers(at_end.id) != {}


async def test_an_experiment_started_from_a_proposal_is_evaluated_like_the_burgertop_ones(
    app: App, clock: Clock
) -> None:
    await send_proposal(app)
    ria = await connector(app)
    await ria.send("/wachtrij v1")
    await ria.press("Gefinancierd")
    await ria.press("Het gevraagde bedrag")
    await name_experiment(ria, "Moestuin bij de school", "Kinderen en ouders maken een moestuin.")
    await ria.press("Geen toelichting")
    proposal = await app.repos.proposals.get(1)
    assert proposal is not None and proposal.experiment_id is not None
    experiment = proposal.experiment_id
    [evaluation] = [
        c
        for c in await app.repos.consultations.open_evaluations()
        if c.experiment_id == experiment
    ]
    assert evaluation.title == {
        "nl": "Hoe gaat het met Moestuin bij de school?",
        "en": "How is Moestuin bij de school going?",
    }

    # A participant is asked four weeks after joining, as in the profile's experiments.
    anna = await resident(app, "anna")
    await anna.press_payload(f"exp.join:{experiment}")
    joined = clock.now
    jobs = Jobs.of(app)
    clock.now = joined + timedelta(days=27)
    await jobs.evaluations()
    assert await outbox_of(app, anna) == []
    clock.now = joined + timedelta(days=28, minutes=1)
    await jobs.evaluations()
    [invitation] = await outbox_of(app, anna)
    assert "Je doet mee met Moestuin bij de school. Wij willen" in seen(app, invitation)[0].text

    # Staff can say it has ended (before, such an experiment could not be ended at all).
    ambtenaar = await civil_servant(app, "sanne")
    await ambtenaar.press_payload(f"cs.exend:{evaluation.id}")
    assert "Moestuin bij de school" in ambtenaar.text
    await ambtenaar.press("Ja, het is afgelopen")
    assert ambtenaar.keys == ["consultations.experiment_ended"]
    assert experiment not in {e.id for e in await app.repos.experiments.running()}


async def test_running_experiments_started_in_the_chat_get_the_evaluation_at_start_up(
    app: App, settings: Settings, clock: Clock
) -> None:
    # Started in the chat by a version that gave them no evaluation: one still runs, one ended.
    def planned(title: str) -> NewExperiment:
        return NewExperiment(
            title=Localized.same(title),
            summary=Localized.same("Samen iets moois maken."),
            place=Localized.same("Velsen"),
            organiser=Localized.same("Burgerbeest"),
        )

    running = await app.repos.experiments.create(planned("Bankjes in het park"), clock.now)
    ended = await app.repos.experiments.create(planned("Zwerfvuil prikken"), clock.now)
    await app.repos.experiments.end(ended)
    again = await App.open(settings, clock=clock)
    try:
        evaluated = {
            c.experiment_id: c.title["nl"]
            for c in await again.repos.consultations.open_evaluations()
        }
        assert evaluated[running] == "Hoe gaat het met Bankjes in het park?"
        assert ended not in evaluated and len(evaluated) == 4
        # Opening again adds nothing.
        await again.close()
        again = await App.open(settings, clock=clock)
        assert len(await again.repos.consultations.open_evaluations()) == 4
    finally:
        await again.close()


async def test_what_staff_write_will_be_done_reaches_the_participants_in_every_language(
    app: App, clock: Clock
) -> None:
    experiment, evaluation = await _playground(app)
    tom = await resident(app, "tom", language="English")
    await tom.press_payload(f"exp.join:{experiment}")
    clock.advance(days=28, minutes=1)
    await Jobs.of(app).evaluations()
    await tom.press_payload(f"cs.a:{evaluation}:1:1:4")
    ria = await civil_servant(app)
    await ria.press_payload(f"cs.fu:{evaluation}")
    assert "De gemeente en de bewoners bespreken de antwoorden samen." in ria.text
    await ria.send("In mei komt er een tweede schommel.")
    assert ria.keys == ["consultations.follow_up_saved"]
    await ria.press_payload(f"cs.end:{evaluation}")
    await ria.press("Ja, nu sluiten")
    await Jobs.of(app).consultation(evaluation)
    [*_, results] = await outbox_of(app, tom)
    shown = seen(app, results, "en")[0]
    assert shown.key == "consultations.results"
    # Not the profile's English words staff replaced: theirs, as written, with the note.
    assert "In mei komt er een tweede schommel." in shown.text
    assert "discuss the answers together" not in shown.text
    assert "This text is shown as it was written" in shown.text


async def test_an_evaluation_invitation_not_sent_yet_is_withdrawn_when_its_person_leaves(
    app: App, clock: Clock
) -> None:
    experiment, _ = await _playground(app)
    anna = await resident(app, "anna")
    bob = await resident(app, "bob")
    await anna.press_payload(f"exp.join:{experiment}")
    await bob.press_payload(f"exp.join:{experiment}")
    clock.advance(days=28, minutes=1)
    await Jobs.of(app).evaluations()
    [waiting] = await outbox_of(app, anna)
    assert waiting.status == "pending"

    await anna.press_payload(f"exp.leave:{experiment}")
    assert anna.keys == ["experiments.left"]
    [withdrawn] = await outbox_of(app, anna)
    assert withdrawn.status == "cancelled"
    # Bob still takes part: his invitation goes out.
    [his] = await outbox_of(app, bob)
    assert his.status == "pending"
    assert await outbox_of(app, anna) == [withdrawn]


async def test_someone_who_began_an_evaluation_and_left_the_experiment_gets_no_reminder(
    app: App, clock: Clock
) -> None:
    experiment, evaluation = await _playground(app)
    anna = await resident(app, "anna")
    bob = await resident(app, "bob")
    await anna.press_payload(f"exp.join:{experiment}")
    await bob.press_payload(f"exp.join:{experiment}")
    joined = clock.now
    clock.advance(days=28, minutes=1)
    await Jobs.of(app).evaluations()
    for person in (anna, bob):
        await person.press_payload(f"cs.a:{evaluation}:1:1:4")
        assert "Vraag 2 van 4" in person.text
    await anna.press_payload(f"exp.leave:{experiment}")
    assert anna.keys == ["experiments.left"]

    clock.now = joined + timedelta(days=28 + 13, minutes=2)
    await Jobs.of(app).evaluations()
    assert [seen(app, row)[0].key for row in await outbox_of(app, bob)][-1] == (
        "consultations.reminder"
    )
    assert all(
        seen(app, row)[0].key != "consultations.reminder" for row in await outbox_of(app, anna)
    )


async def test_someone_who_left_is_not_asked_in_their_list_but_finishes_what_they_began(
    app: App, clock: Clock
) -> None:
    """Leaving withdraws the invitation, and the list of polls no longer asks them either;
    an evaluation they had begun stays there to finish."""
    experiment, evaluation = await _playground(app)
    anna = await resident(app, "anna")
    bob = await resident(app, "bob")
    await anna.press_payload(f"exp.join:{experiment}")
    await bob.press_payload(f"exp.join:{experiment}")
    clock.advance(days=28, minutes=1)
    await Jobs.of(app).evaluations()
    await bob.press_payload(f"cs.o:{evaluation}:1")
    await bob.press("3")
    assert "Vraag 2 van 4" in bob.text

    await anna.press_payload(f"exp.leave:{experiment}")
    await bob.press_payload(f"exp.leave:{experiment}")
    await anna.send("/peilingen")
    assert "Hoe gaat het met Speeltuin" not in anna.text
    assert not any(p.startswith("cs.o:") for _, p in anna.buttons())
    await bob.send("/peilingen")
    assert "Hoe gaat het met Speeltuin" in bob.text
    assert f"cs.o:{evaluation}:1" in [p for _, p in bob.buttons()]


async def test_an_old_evaluation_invitation_pressed_after_leaving_says_it_is_for_participants(
    app: App, clock: Clock
) -> None:
    """Leaving withdraws what was still to come; an invitation that reached them before
    opens nothing either, and changes nothing. One they had begun they may still finish."""
    experiment, evaluation = await _playground(app)
    anna = await resident(app, "anna")
    bob = await resident(app, "bob")
    await anna.press_payload(f"exp.join:{experiment}")
    await bob.press_payload(f"exp.join:{experiment}")
    clock.advance(days=28, minutes=1)
    await Jobs.of(app).evaluations()
    [invitation] = await outbox_of(app, anna)
    shown = seen(app, invitation)
    await bob.press_payload(f"cs.a:{evaluation}:1:1:4")
    assert "Vraag 2 van 4" in bob.text
    await anna.press_payload(f"exp.leave:{experiment}")
    await bob.press_payload(f"exp.leave:{experiment}")

    for pressed in (
        button(shown, "4"),
        button(shown, "Zeg ik liever niet"),
        f"cs.o:{evaluation}:1",
        f"cs.r:{evaluation}:1",
        f"cs.t:{evaluation}:1:3:1",
        f"cs.w:{evaluation}:1:4",
    ):
        await anna.press_payload(pressed)
        assert anna.keys == ["consultations.evaluation_not_taking_part"], pressed
        assert "Speeltuin Zeewijk Natuurlijk!" in anna.text
        assert "cs.list" in [p for _, p in anna.buttons()]
    taken = await app.repos.responses.find(evaluation, 1, (await stored(app, "anna")).id)
    assert taken is not None and await app.repos.responses.answers(taken.id) == {}
    assert taken.started_at is None
    # Bob had begun before he left: he may finish.
    await bob.press_payload(f"cs.a:{evaluation}:1:2:1")
    assert "Vraag 3 van 4" in bob.text
    # Back in the experiment, Anna's invitation works again.
    await anna.press_payload(f"exp.join:{experiment}")
    await anna.press_payload(button(shown, "4"))
    assert "Vraag 2 van 4" in anna.text


async def test_someone_who_joins_again_gets_the_evaluation_invitation_withdrawn_when_they_left(
    app: App, clock: Clock
) -> None:
    experiment, evaluation = await _playground(app)
    anna = await resident(app, "anna")
    bob = await resident(app, "bob")
    carl = await resident(app, "carl")
    for person in (anna, bob, carl):
        await person.press_payload(f"exp.join:{experiment}")
    joined = clock.now
    clock.advance(days=28, minutes=1)
    await Jobs.of(app).evaluations()
    [bob_row] = await outbox_of(app, bob)
    # Bob's reached him before he left: he has it, and gets no second one.
    await app.db.execute("UPDATE outbox SET status = 'sent' WHERE id = ?", (bob_row.id,))
    for person in (anna, bob, carl):
        await person.press_payload(f"exp.leave:{experiment}")

    clock.advance(days=3)
    await anna.press_payload(f"exp.join:{experiment}")
    await bob.press_payload(f"exp.join:{experiment}")
    [withdrawn, again] = await outbox_of(app, anna)
    assert withdrawn.status == "cancelled" and again.status == "pending"
    first, question = seen(app, again)
    assert first.key == "consultations.invitation_evaluation"
    # She never saw the first: two weeks to answer from now, as a first invitation gives,
    # not the eleven days left of the one withdrawn.
    fresh = days_later(clock.now, 14, app.router.timezone)
    taken = await app.repos.responses.find(evaluation, 1, (await stored(app, "anna")).id)
    assert taken is not None and taken.deadline == fresh
    assert when.moment(fresh.astimezone(app.router.timezone), "nl") in first.text
    assert "Vraag 1 van 4" in question.text
    assert [(r.id, r.status) for r in await outbox_of(app, bob)] == [(bob_row.id, "sent")]
    # Asking again adds nothing; her answer counts.
    await Jobs.of(app).evaluations()
    assert len(await outbox_of(app, anna)) == 2
    await anna.press_payload(button([question], "4"))
    assert "Vraag 2 van 4" in anna.text

    # Carl comes back after the two weeks of the invitation he never saw: it comes back
    # with two weeks of its own, and his answer counts.
    clock.now = joined + timedelta(days=28 + 14, minutes=2)
    await carl.press_payload(f"exp.join:{experiment}")
    [_, his] = await outbox_of(app, carl)
    assert his.status == "pending"
    his_time = days_later(clock.now, 14, app.router.timezone)
    assert when.moment(his_time.astimezone(app.router.timezone), "nl") in seen(app, his)[0].text
    await carl.press_payload(f"cs.a:{evaluation}:1:1:4")
    assert "Vraag 2 van 4" in carl.text
    # Bob's reached him: his own time stays as it was, and is over.
    await bob.press_payload(f"cs.a:{evaluation}:1:1:4")
    assert bob.keys == ["consultations.closed"]


async def test_an_invitation_given_back_on_rejoining_ends_at_the_evaluations_own_close(
    app: App, clock: Clock
) -> None:
    """Staff close the evaluation a day after the eleven days left of Anna's first
    invitation, sooner than a new two weeks would end: the invitation given back to her
    says it closes then, and her answers close with it."""
    experiment, evaluation = await _playground(app)
    anna = await resident(app, "anna")
    await anna.press_payload(f"exp.join:{experiment}")
    clock.advance(days=28, minutes=1)
    await Jobs.of(app).evaluations()
    await anna.press_payload(f"exp.leave:{experiment}")
    clock.advance(days=3)
    closes = clock.now + timedelta(days=12)
    await app.db.execute(
        "UPDATE consultations SET closes_at = ? WHERE id = ?", (iso(closes), evaluation)
    )

    await anna.press_payload(f"exp.join:{experiment}")
    [_, again] = await outbox_of(app, anna)
    assert again.status == "pending"
    first, _ = seen(app, again)
    assert when.moment(closes.astimezone(app.router.timezone), "nl") in first.text
    clock.now = closes + timedelta(minutes=1)
    await anna.press_payload(f"cs.a:{evaluation}:1:1:4")
    assert anna.keys == ["consultations.closed"]


async def test_someone_who_began_left_and_joins_again_gets_the_withdrawn_reminder_back(
    app: App, clock: Clock
) -> None:
    experiment, evaluation = await _playground(app)
    anna = await resident(app, "anna")
    await anna.press_payload(f"exp.join:{experiment}")
    joined = clock.now
    clock.advance(days=28, minutes=1)
    await Jobs.of(app).evaluations()
    await anna.press_payload(f"cs.a:{evaluation}:1:1:4")
    clock.now = joined + timedelta(days=28 + 13, minutes=2)
    await Jobs.of(app).evaluations()
    await anna.press_payload(f"exp.leave:{experiment}")
    assert [row.status for row in await outbox_of(app, anna)] == ["cancelled", "cancelled"]

    await anna.press_payload(f"exp.join:{experiment}")
    *_, again = await outbox_of(app, anna)
    assert again.status == "pending" and seen(app, again)[0].key == "consultations.reminder"
    # She had begun: the invitation is not asked of her again.
    assert len(await outbox_of(app, anna)) == 3


async def test_someone_who_turned_reminders_off_gets_no_withdrawn_reminder_back_on_rejoining(
    app: App, clock: Clock
) -> None:
    """Anna began, got a reminder still on its way when she left, then turned reminders
    off: joining again brings no reminder back."""
    experiment, evaluation = await _playground(app)
    anna = await resident(app, "anna")
    await anna.press_payload(f"exp.join:{experiment}")
    joined = clock.now
    clock.advance(days=28, minutes=1)
    await Jobs.of(app).evaluations()
    await anna.press_payload(f"cs.a:{evaluation}:1:1:4")
    clock.now = joined + timedelta(days=28 + 13, minutes=2)
    await Jobs.of(app).evaluations()
    await anna.press_payload(f"exp.leave:{experiment}")
    await anna.press_payload("cs.rem:off")
    assert anna.keys == ["consultations.reminders_off"]

    await anna.press_payload(f"exp.join:{experiment}")
    assert [row.status for row in await outbox_of(app, anna)] == ["cancelled", "cancelled"]
