"""Answering: one response per person however often they press, answers changed in place,
and bad input (closed polls, stale or forged buttons, values out of range, huge texts,
people outside the audience) changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.app import App
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from tests.consultations import (
    FOLLOW_UP,
    Clock,
    Jobs,
    button,
    compose_poll,
    last_consultation,
    outbox_of,
    seen,
)
from tests.markup import assert_user_text_literal
from tests.people import civil_servant
from tests.people import person as resident
from tests.people import row as stored
from tests.support import Chat


async def _answers(app: App) -> list[tuple[Any, ...]]:
    rows = await app.db.fetchall(
        "SELECT r.user_id, r.started_at, r.finished_at, a.question, a.choices, a.text,"
        " a.skipped, a.answered_at FROM consultation_responses r"
        " LEFT JOIN consultation_answers a ON a.response_id = r.id ORDER BY 1, 4"
    )
    return [tuple(row) for row in rows]


async def _published(app: App, **options: Any) -> int:
    ria = await civil_servant(app)
    await compose_poll(ria, **options)
    await ria.press("Publiceren")
    assert ria.keys == ["consultations.published"], ria.keys
    return await last_consultation(app)


async def _close_now(app: App, poll: int) -> None:
    """The civil servant closes the poll early, with the buttons."""
    ria = Chat(app, "ria")
    await ria.press_payload(f"cs.end:{poll}")
    await ria.press("Ja, nu sluiten")
    assert ria.keys == ["consultations.closing"]


async def test_pressing_again_and_changing_answers_keeps_one_response_per_person(
    app: App,
) -> None:
    anna = await resident(app, "anna")
    poll = await _published(app)
    [row] = await outbox_of(app, anna)
    invitation = seen(app, row)
    for _ in range(3):
        await anna.press_payload(button(invitation, "Klimrek"))
    await anna.press_payload(button(invitation, "Zandbak"))  # changed her mind
    assert anna.keys == ["consultations.change_confirm"]
    await anna.press("Ja, veranderen")
    assert anna.keys == ["consultations.changed", "consultations.question_scale"]
    await anna.press("5")
    await anna.press_payload(f"cs.a:{poll}:0:2:5")
    user = await stored(app, "anna")
    responses = await app.db.fetchall(
        "SELECT id FROM consultation_responses WHERE consultation_id = ? AND user_id = ?",
        (poll, user.id),
    )
    assert len(responses) == 1
    answers = await app.repos.responses.answers(int(responses[0][0]))
    assert {n: a.choices for n, a in answers.items()} == {1: [3], 2: [5]}
    counted = await app.repos.tallies.count(poll, 0, "nl")
    assert counted.respondents == 1 and counted.answered(1) == 1
    assert counted.get(1, "3") == 1 and counted.get(1, "2") == 0

    # Her answers as she gave them, each with a button to change it.
    await anna.press_payload(f"cs.r:{poll}:0")
    assert anna.keys == ["consultations.review"]
    assert "→ Zandbak" in anna.text and "→ 5/5" in anna.text
    assert "→ nog niet beantwoord" in anna.text
    await anna.press("✏️ 1")
    assert "✅ Zandbak" in anna.last[0].labels()


async def _given(app: App, poll: int, who: str) -> dict[int, object]:
    """A person's answers: the choices, or "x" for "zeg ik liever niet"."""
    user = await stored(app, who)
    taking = await app.repos.responses.find(poll, 0, user.id)
    assert taking is not None
    answers = await app.repos.responses.answers(taking.id)
    return {n: "x" if a.skipped else (a.text or a.choices) for n, a in answers.items()}


async def test_an_old_button_asks_before_it_replaces_an_answer_already_given(app: App) -> None:
    bob = await resident(app, "bob")
    poll = await _published(app)
    [row] = await outbox_of(app, bob)
    invitation = seen(app, row)
    await bob.press_payload(button(invitation, "Klimrek"))
    await bob.press("3")
    several = bob.last
    await bob.press("Kinderen")
    await bob.press("Volgende")
    await bob.press("Zeg ik liever niet")
    assert bob.keys == ["consultations.done"]
    finished = {1: [2], 2: [3], 3: [1], 4: "x"}
    assert await _given(app, poll, "bob") == finished

    # Schommel on the invitation he answered long ago: asked first, nothing changed yet.
    await bob.press_payload(button(invitation, "Schommel"))
    assert bob.keys == ["consultations.change_confirm"]
    assert "Op vraag 1 gaf je al antwoord: Klimrek." in bob.text
    assert "veranderen in: Schommel?" in bob.text
    assert await _given(app, poll, "bob") == finished
    await bob.press("Nee, zo laten")
    assert bob.keys == ["consultations.change_kept", "consultations.done"]
    assert "je antwoord op vraag 1 blijft: Klimrek." in bob.text
    assert await _given(app, poll, "bob") == finished

    # Asked again, he does change it: the answer says what it replaced.
    await bob.press_payload(button(invitation, "Schommel"))
    await bob.press("Ja, veranderen")
    assert bob.keys == ["consultations.changed", "consultations.done"]
    assert "Je antwoord op vraag 1 is nu: Schommel (was: Klimrek)." in bob.text
    assert await _given(app, poll, "bob") == {**finished, 1: [1]}
    # The answer he already has, pressed again: nothing to ask, nothing changes.
    await bob.press_payload(button(invitation, "Schommel"))
    assert bob.keys == ["consultations.done"]

    # "Zeg ik liever niet" from the old message of a several-choice question asks too.
    await bob.press_payload(button(several, "Zeg ik liever niet"))
    assert bob.keys == ["consultations.change_confirm"]
    assert "gaf je al antwoord: Kinderen." in bob.text
    await bob.press("Ja, veranderen")
    assert "is nu: Zeg ik liever niet (was: Kinderen)." in bob.text
    assert await _given(app, poll, "bob") == {**finished, 1: [1], 3: "x"}
    counted = await app.repos.tallies.count(poll, 0, "nl")
    assert counted.respondents == 1 and counted.get(1, "1") == 1 and counted.get(1, "2") == 0


async def test_changing_an_answer_where_it_is_shown_says_what_it_replaced(app: App) -> None:
    anna = await resident(app, "anna")
    poll = await _published(app)
    [row] = await outbox_of(app, anna)
    await anna.press_payload(button(seen(app, row), "Klimrek"))
    await anna.press("4")
    await anna.press_payload(f"cs.r:{poll}:0")
    await anna.press("✏️ 1")
    assert "✅ Klimrek" in anna.last[0].labels()
    await anna.press("Zandbak")  # she sees the answer she replaces: no question first
    assert anna.keys == ["consultations.changed", "consultations.question"]
    assert "Je antwoord op vraag 1 is nu: Zandbak (was: Klimrek)." in anna.text
    await anna.press_payload(f"cs.q:{poll}:0:2")
    await anna.press("Zeg ik liever niet")
    assert "Je antwoord op vraag 2 is nu: Zeg ik liever niet (was: 4/5)." in anna.text
    await anna.press_payload(f"cs.q:{poll}:0:2")
    await anna.press("✅ Zeg ik liever niet")  # the same again: nothing said, nothing changed
    assert anna.keys == ["consultations.question"] and "Vraag 3 van 4" in anna.text
    assert await _given(app, poll, "anna") == {1: [3], 2: "x"}
    # Ticking the several-choice question is shown in place, as before.
    await anna.press("Kinderen")
    assert anna.last[0].reply.edit and "✅ Kinderen" in anna.last[0].labels()


async def test_a_change_asked_for_before_closing_is_not_made_after_it(app: App) -> None:
    anna = await resident(app, "anna")
    poll = await _published(app)
    [row] = await outbox_of(app, anna)
    invitation = seen(app, row)
    await anna.press_payload(button(invitation, "Klimrek"))
    await anna.press_payload(button(invitation, "Schommel"))
    asked = anna.last
    await _close_now(app, poll)
    before = await _answers(app)
    await anna.press_payload(button(asked, "Ja, veranderen"))
    assert anna.keys == ["consultations.closed"]
    await anna.press_payload(button(asked, "Nee, zo laten"))
    assert anna.keys == ["consultations.closed"]
    await anna.press_payload(f"cs.a:{poll}:0:1:1!")
    assert anna.keys == ["consultations.closed"]
    assert await _answers(app) == before
    assert await _given(app, poll, "anna") == {1: [2]}


async def test_a_change_shows_the_options_staff_wrote_as_text(app: App) -> None:
    anna = await resident(app, "anna")
    ria = await civil_servant(app)
    await ria.send("/nieuwepeiling")
    await ria.send("Speelplek")
    await ria.send("Uitleg")
    await ria.press("Eén keuze")
    await ria.send("Wat moet er komen?")
    first, second = "<b>Klim</b> & rek", "ملعب 🛝 <i>"
    await ria.send(f"{first}\n{second}")
    await ria.press("Klaar met de vragen")
    await ria.send("We gebruiken het.")
    await ria.press("Iedereen")
    await ria.press("Meteen")
    await ria.press("Na 7 dagen")
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    [row] = await outbox_of(app, anna)
    invitation = seen(app, row)
    await anna.press_payload(button(invitation, "Klim"))
    await anna.press_payload(button(invitation, "ملعب"))
    [asked] = anna.last
    await anna.press("Ja, veranderen")
    changed = anna.last[0]
    assert changed.key == "consultations.changed"
    for shown, reference in ((asked, "consultations.change_confirm"), (changed, None)):
        rendered = app.catalog.render("nl", shown.reply, markup=True)
        plain = shown.reply.model_copy(
            update={"params": {**shown.reply.params, "answer": "Ja", "was": "Nee"}}
        )
        assert_user_text_literal(
            rendered, [first, second], reference=app.catalog.render("nl", plain, markup=True)
        )
        assert reference is None or shown.key == reference
    assert await _given(app, poll, "anna") == {1: [2]}


async def test_unticking_the_last_option_takes_the_answer_back(app: App) -> None:
    anna = await resident(app, "anna")
    poll = await _published(app)
    await anna.press_payload(f"cs.q:{poll}:0:3")
    await anna.press("De hond")
    await anna.press("De hond")
    assert "✅ De hond" not in anna.last[0].labels()
    await anna.press("Volgende")
    assert anna.keys == ["consultations.choose_one", "consultations.question"]
    assert "Vraag 3 van 4" in anna.text
    assert (await app.repos.tallies.count(poll, 0, "nl")).answered(3) == 0


@pytest.mark.parametrize(
    "payload",
    [
        "cs.a:{poll}:0:2:9",  # a scale has 1 to 5
        "cs.a:{poll}:0:2:0",
        "cs.a:{poll}:0:2:-1",
        "cs.a:{poll}:0:1:4",  # question 1 has three options
        "cs.a:{poll}:0:1:²",
        "cs.a:{poll}:0:11:1",  # there is no question 11
        "cs.a:{poll}:0:0:1",
        "cs.a:{poll}:0:3:1",  # several choices are ticked, not chosen
        "cs.a:{poll}:0:4:1",  # the typed question has no options
        "cs.a:{poll}:1:1:1",  # a poll has no moment 1
        "cs.a:999:0:1:1",  # no such consultation
        "cs.a:{poll}:0:1",
        "cs.a:{poll}:0:1:1:1",
        "cs.a:{poll}:0:1:" + "9" * 40,
        "cs.t:{poll}:0:3:9",
        "cs.t:{poll}:0:1:1",
        "cs.n:{poll}:0:x",
        "cs.w:{poll}:0:1",
        "cs.o:{poll}",
        "cs.q:{poll}:0:99",
        "cs.u:{poll}:0",  # results of a poll still open
        "cs.rem:maybe",
        "cs.k:{poll}:0:9",  # keep the answer to a question there is not
        "cs.k:{poll}:0",
        "cs.a:{poll}:0:1:2!!",
        "cs.a",
    ],
)
async def test_a_forged_or_out_of_range_button_changes_nothing(app: App, payload: str) -> None:
    anna = await resident(app, "anna")
    poll = await _published(app)
    [row] = await outbox_of(app, anna)
    await anna.press_payload(button(seen(app, row), "Schommel"))
    before = await _answers(app)
    replies = await anna.press_payload(payload.format(poll=poll))
    assert replies, "a bad button still gets an answer"
    assert await _answers(app) == before
    assert anna.keys[0] in (
        "consultations.invalid",
        "consultations.not_found",
        "general.stale_button",
        "consultations.question",
        "consultations.question_scale",
    ), anna.keys


async def test_a_huge_or_empty_typed_answer_is_refused_and_the_question_asked_again(
    app: App,
) -> None:
    anna = await resident(app, "anna")
    poll = await _published(app)
    await anna.press_payload(f"cs.w:{poll}:0:4")
    assert "Typ je antwoord hieronder (hoogstens 500 tekens)" in anna.text
    before = await _answers(app)
    await anna.send("x" * 501)
    assert anna.keys == ["answers.too_long", "consultations.question"]
    await anna.send("<b>" * 5000)
    assert anna.keys[0] == "answers.too_long"
    await anna.send("   ")
    assert anna.keys[0] == "answers.empty"
    await anna.photo()
    assert anna.keys[0] == "answers.text_please"
    assert await _answers(app) == before
    # Markup, emoji and right-to-left text are kept as typed, as data.
    typed = "<i>speeltuin</i> 🛝 مرحبا"
    await anna.send(typed)
    assert anna.keys == ["consultations.text_saved", "consultations.question"]
    user = await stored(app, "anna")
    taking = await app.repos.responses.find(poll, 0, user.id)
    assert taking is not None
    answers = await app.repos.responses.answers(taking.id)
    assert answers[4].text == typed and answers[4].review == "pending"


async def test_answers_after_closing_change_nothing(app: App) -> None:
    anna = await resident(app, "anna")
    poll = await _published(app)
    [row] = await outbox_of(app, anna)
    invitation = seen(app, row)
    await anna.press_payload(f"cs.w:{poll}:0:4")  # her typing dialog is open at closing
    await _close_now(app, poll)
    before = await _answers(app)
    await anna.send("Toch nog iets")
    # Not saved, and not lost without a word: what she typed comes back.
    assert anna.keys == ["consultations.closed", "general.typed_not_kept"]
    assert "Toch nog iets" in anna.text
    await anna.press_payload(button(invitation, "Schommel"))
    assert anna.keys == ["consultations.closed"]
    await anna.send("En nog iets")
    assert anna.keys == ["general.not_understood"]  # the typing dialog was ended
    await Jobs.of(app).consultation(poll)
    await anna.press_payload(f"cs.q:{poll}:0:2")
    assert anna.keys == ["consultations.closed"]
    assert await _answers(app) == before


async def test_people_outside_the_audience_cannot_answer(app: App) -> None:
    anna = await resident(app, "anna")
    bob = await resident(app, "bob", hood="Driehuis")
    poll = await _published(app, audience=("Eén wijk", "IJmuiden"))
    assert len(await outbox_of(app, anna)) == 1 and await outbox_of(app, bob) == []
    before = await _answers(app)
    await bob.press_payload(f"cs.a:{poll}:0:1:1")
    assert bob.keys == ["consultations.not_found"]
    await bob.send("/peilingen")
    assert bob.keys == ["consultations.none"]
    assert await _answers(app) == before
    # A stranger who never agreed to take part is asked for consent first.
    stranger = Chat(app, "zed")
    await stranger.press_payload(f"cs.a:{poll}:0:1:1")
    assert stranger.keys == ["general.consent_needed"]
    assert await _answers(app) == before


async def test_someone_who_joins_the_audience_later_finds_the_poll_and_answers(
    app: App,
) -> None:
    poll = await _published(app)
    late = await resident(app, "late")
    await late.send("/peilingen")
    assert "🆕" in late.text
    await late.press("Nieuwe speelplek")
    assert "Vraag 1 van 4" in late.text
    await late.press("Schommel")
    user = await stored(app, "late")
    taking = await app.repos.responses.find(poll, 0, user.id)
    assert taking is not None and taking.invited_at is None and taking.started_at is not None


async def test_reminders_can_be_turned_off(app: App, clock: Clock) -> None:
    anna = await resident(app, "anna")
    poll = await _published(app)
    await anna.press_payload(f"cs.a:{poll}:0:1:1")
    await anna.send("/peilingen")
    await anna.press("Geen herinneringen")
    assert anna.keys == ["consultations.reminders_off"]
    consultation = await app.repos.consultations.get(poll)
    assert consultation is not None and consultation.closes_at is not None
    clock.now = consultation.closes_at - timedelta(hours=23)
    await Jobs.of(app).consultation(poll)
    assert len(await outbox_of(app, anna)) == 1  # the invitation, no reminder
    await anna.send("/peilingen")
    await anna.press("Wel herinneringen")
    assert anna.keys == ["consultations.reminders_on"]


async def test_a_reminder_not_sent_yet_stops_when_reminders_are_turned_off(
    app: App, clock: Clock
) -> None:
    """ "Geen herinneringen" says no more reminders come: one already waiting its turn in
    the outbox (a poll for thousands goes out over minutes) does not come either."""
    anna = await resident(app, "anna")
    poll = await _published(app)
    await anna.press_payload(f"cs.a:{poll}:0:1:1")
    consultation = await app.repos.consultations.get(poll)
    assert consultation is not None and consultation.closes_at is not None
    clock.now = consultation.closes_at - timedelta(hours=23)
    await Jobs.of(app).consultation(poll)
    [_, reminder] = await outbox_of(app, anna)
    assert (reminder.status, seen(app, reminder)[0].key) == ("pending", "consultations.reminder")
    await anna.send("/peilingen")
    await anna.press("Geen herinneringen")
    assert anna.keys == ["consultations.reminders_off"]
    [invitation, reminder] = await outbox_of(app, anna)
    assert (invitation.status, reminder.status) == ("pending", "cancelled")


async def test_a_reminder_not_sent_yet_stops_when_the_poll_is_finished(
    app: App, clock: Clock
) -> None:
    """ "Je bent begonnen, maar nog niet klaar" must not reach someone who finished
    meanwhile (the reminders for a poll for thousands take minutes to go out), nor an
    invitation to answer that was still waiting its turn."""
    anna = await resident(app, "anna")
    poll = await _published(app)
    await anna.press_payload(f"cs.a:{poll}:0:1:1")
    consultation = await app.repos.consultations.get(poll)
    assert consultation is not None and consultation.closes_at is not None
    clock.now = consultation.closes_at - timedelta(hours=23)
    await Jobs.of(app).consultation(poll)
    [_, reminder] = await outbox_of(app, anna)
    assert (reminder.status, seen(app, reminder)[0].key) == ("pending", "consultations.reminder")
    await anna.press_payload(f"cs.a:{poll}:0:2:3")
    await anna.press_payload(f"cs.a:{poll}:0:3:x")
    await anna.press_payload(f"cs.a:{poll}:0:4:x")
    assert anna.keys == ["consultations.done"]
    [invitation, reminder] = await outbox_of(app, anna)
    assert (invitation.status, reminder.status) == ("cancelled", "cancelled")
    # She finished: she counts as asked, not as someone whose invitation never went.
    assert await app.repos.outbox.people_withdrawn(f"consultation:{poll}") == []


async def test_a_muted_resident_hears_it_before_typing_an_answer(app: App) -> None:
    anna = await resident(app, "anna")
    poll = await _published(app)
    user = await stored(app, "anna")
    async with app.db.transaction():
        await app.repos.sanctions.add(
            user.id,
            SanctionKind.MUTE,
            reason="Even rust.",
            by_user_id=None,
            now=utcnow(),
            ends_at=utcnow() + timedelta(days=2),
        )
    # Choosing answers goes on; a typed answer, which staff would read, waits for the end.
    await anna.press_payload(f"cs.w:{poll}:0:4")
    assert anna.keys[0] == "moderation.muted"
    assert await app.repos.dialogs.load(user.id) is None, "nothing to type into"


async def test_a_muted_resident_reaching_a_typed_question_is_told_before_typing(
    app: App,
) -> None:
    anna = await resident(app, "anna")
    poll = await _published(app)
    user = await stored(app, "anna")
    async with app.db.transaction():
        await app.repos.sanctions.add(
            user.id,
            SanctionKind.MUTE,
            reason="Even rust.",
            by_user_id=None,
            now=utcnow(),
            ends_at=utcnow() + timedelta(days=2),
        )
    await anna.press_payload(f"cs.a:{poll}:0:1:1")
    await anna.press_payload(f"cs.a:{poll}:0:2:3")
    await anna.press_payload(f"cs.t:{poll}:0:3:1")
    # On to the typed question (after ticking, from her answers, from her list): each
    # time she hears she is muted, and is not asked to type what would be refused.
    for payload in (f"cs.n:{poll}:0:3", f"cs.q:{poll}:0:4", f"cs.o:{poll}:0"):
        await anna.press_payload(payload)
        assert anna.keys == ["moderation.muted", "consultations.question"], payload
        assert "Even rust." in anna.text
        assert "Typ je antwoord" not in anna.text
        assert [label for label, _ in anna.buttons()] == ["Zeg ik liever niet"]
        assert await app.repos.dialogs.load(user.id) is None, "nothing to type into"
    await anna.press("Zeg ik liever niet")
    assert anna.keys == ["consultations.done"]


async def test_a_banned_resident_is_neither_asked_nor_counted(app: App, clock: Clock) -> None:
    anna = await resident(app, "anna")
    await resident(app, "bob")
    [playground, *_] = await app.repos.experiments.running()
    for person in (anna, Chat(app, "bob")):
        await person.press_payload(f"exp.join:{playground.id}")
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await stored(app, "anna")).id,
            SanctionKind.BAN,
            reason="Schelden.",
            by_user_id=None,
            now=utcnow(),
            ends_at=None,
        )
    ria = await civil_servant(app)
    [preview, *_] = await compose_poll(ria)
    assert preview.reply.params["count"] == 2  # bob and ria, not anna
    await ria.press("Publiceren")
    assert ria.keys == ["consultations.published"]
    assert "2 mensen krijgen de peiling" in ria.text
    poll = await last_consultation(app)
    assert await outbox_of(app, anna) == []
    consultation = await app.repos.consultations.get(poll)
    assert consultation is not None and consultation.invited == 2
    # Nor is she asked how the experiment she joined is going.
    clock.advance(days=29)
    await Jobs.of(app).evaluations()
    assert await outbox_of(app, anna) == []
    assert len(await outbox_of(app, Chat(app, "bob"))) == 2


async def test_on_matrix_a_number_typed_as_a_text_answer_is_that_answer_not_a_button(
    app: App,
) -> None:
    """The question shows numbered options (skip, back) on Matrix; "2" typed as the answer
    to a question that asks for words is the answer "2"."""
    anna = await resident(app, "anna", platform="matrix")
    poll = await _published(app)
    await anna.press_payload(f"cs.w:{poll}:0:4")
    assert "Typ je antwoord hieronder" in anna.text
    await anna.send("2")
    assert anna.keys == ["consultations.text_saved", "consultations.question"], anna.keys
    user = await stored(app, anna)
    taking = await app.repos.responses.find(poll, 0, user.id)
    assert taking is not None
    answers = await app.repos.responses.answers(taking.id)
    assert answers[4].text == "2" and not answers[4].skipped


async def test_a_message_waiting_for_a_choice_comes_back_when_a_typed_answer_begins(
    app: App,
) -> None:
    """Anna's message waits for her choice when the invitation comes; she answers the poll
    up to its last question, whose answer she types: her message is not sent, and comes
    back to her (before, it was gone without a word)."""
    anna = await resident(app, "anna")
    message = "De lantaarnpaal bij de school is al weken kapot"
    await anna.send(message)
    assert anna.keys == ["general.typed_what_now"]
    await _published(app)
    [row] = await outbox_of(app, anna)
    await anna.press_payload(button(seen(app, row), "Schommel"))
    await anna.press("3")
    await anna.press("Kinderen")
    assert message not in anna.text  # the message still waits meanwhile
    await anna.press("Volgende")
    assert anna.keys == ["general.typed_not_kept", "consultations.question"]
    assert message in anna.last[0].text
    await anna.send("Meer schaduw graag")
    assert anna.keys == ["consultations.text_saved", "consultations.done"]


async def test_ticking_under_the_invitation_rewrites_only_its_question_not_its_introduction(
    app: App,
) -> None:
    """The invitation is two messages: the introduction (title, what it is about, until
    when), without buttons, and the first question with its buttons. A tick rewrites the
    message it was pressed under, so only the question, shown again with the tick; the
    introduction stays as it arrived."""
    anna = await resident(app, "anna")
    ria = await civil_servant(app)
    await ria.send("/nieuwepeiling")
    await ria.send("Hondenuitlaatplek")
    await ria.send("Waar laat jij je hond uit?")
    await ria.press("Meer keuzes")
    await ria.send("Waar kom je?")
    await ria.send("Strand\nPark\nDuinen")
    await ria.press("Klaar met de vragen")
    await ria.send("We kiezen in mei.")
    await ria.press("👥 Iedereen")
    await ria.press("Meteen")
    await ria.press("Na 7 dagen")
    await ria.press("Publiceren")
    assert ria.keys == ["consultations.published"], ria.keys
    [row] = await outbox_of(app, anna)
    introduction, first = seen(app, row)
    assert introduction.buttons == [] and "Je kunt meedoen tot" in introduction.text
    assert first.key == "consultations.question"

    await anna.press_payload(button([first], "Park"))
    [shown] = anna.last
    assert shown.reply.edit and shown.key == first.key
    assert "Vraag 1 van 1" in shown.text and "Waar kom je?" in shown.text
    assert "✅ Park" in shown.labels() and "Volgende" in " ".join(shown.labels())
    await anna.press("Volgende")
    assert anna.keys == ["consultations.done"]


async def test_on_matrix_an_emoji_typed_chooses_the_option_of_that_emoji_not_the_first(
    app: App,
) -> None:
    """Options of emoji alone ("👍", "👎") have no words to compare: typing "👎" on Matrix,
    where options are numbered and may be typed, is the 👎, and a "?" chooses nothing (it
    was taken for the first option of the question, an answer she never gave)."""
    ria = await civil_servant(app)
    await ria.send("/nieuwepeiling")
    await ria.send("Bankjes in het park")
    await ria.send("Wil je meer bankjes in het park?")
    await ria.press("Eén keuze")
    await ria.send("Meer bankjes?")
    await ria.send("👍\n👎")
    await ria.press("Klaar met de vragen")
    await ria.send(FOLLOW_UP)
    await ria.press("Iedereen")
    await ria.press("Meteen")
    await ria.press("Na 7 dagen")
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    bob = await resident(app, "bob", platform="matrix")
    await bob.send("/peilingen")
    await bob.press("Bankjes")
    assert [label for label, _ in bob.buttons()][:2] == ["👍", "👎"]
    await bob.send("?")
    assert "consultations.done" not in bob.keys
    taking = await app.repos.responses.find(poll, 0, (await stored(app, bob)).id)
    assert taking is not None and await app.repos.responses.answers(taking.id) == {}
    anna = await resident(app, "anna", platform="matrix")
    await anna.send("/peilingen")
    await anna.press("Bankjes")
    await anna.send("👎\ufe0f")
    assert anna.keys == ["consultations.done"], anna.keys
    taking = await app.repos.responses.find(poll, 0, (await stored(app, anna)).id)
    assert taking is not None
    assert (await app.repos.responses.answers(taking.id))[1].choices == [2]


@pytest.mark.parametrize("platform", ["matrix", "console"])
async def test_on_numbered_platforms_text_no_option_matches_asks_the_question_again(
    app: App, platform: str
) -> None:
    """A "?", "weet ik niet" or a number no option has, typed at a poll's question where
    options are numbered: told it was not understood and shown the same numbered options
    again (they were replaced by the main menu's, so "2" then opened something else);
    nothing is answered, and the "2" typed next is the question's second option."""
    await _published(app)
    bob = await resident(app, "bob", platform=platform)
    await bob.send("/peilingen")
    await bob.press("Speelplek")
    question = bob.buttons()
    assert [label for label, _ in question][:3] == ["Schommel", "Klimrek", "Zandbak"]
    for typed in ("?", "weet ik niet", "9", "🤷"):
        await bob.send(typed)
        assert bob.keys == ["general.not_understood_options", "consultations.question"], (
            typed,
            bob.keys,
        )
        assert "Wat moet er zeker komen?" in bob.text
        assert bob.buttons() == question, typed
        user = await stored(app, bob)
        assert (
            await app.db.fetchval(
                "SELECT COUNT(*) FROM consultation_answers a JOIN consultation_responses r"
                " ON r.id = a.response_id WHERE r.user_id = ?",
                (user.id,),
            )
            == 0
        )
    # Something written there comes back, not lost without a word.
    await bob.send("Ik vind dat <b>eerst</b> de stoep gemaakt moet worden 🚧")
    assert bob.keys == [
        "general.not_understood_options",
        "general.typed_not_kept",
        "consultations.question",
    ], bob.keys
    assert "<b>eerst</b> de stoep" in bob.text
    assert bob.buttons() == question
    await bob.send("2")
    assert bob.keys == ["consultations.question_scale"], bob.keys


async def test_on_the_console_a_question_closed_meanwhile_is_not_asked_again(app: App) -> None:
    """The poll closed while its question was on screen: a "?" then hears that it is
    closed, and the question's old options are not offered again as if still open."""
    poll = await _published(app)
    bob = await resident(app, "bob", platform="console")
    await bob.send("/peilingen")
    await bob.press("Speelplek")
    await _close_now(app, poll)
    await bob.send("?")
    assert bob.keys == ["general.not_understood_options", "consultations.closed"], bob.keys
    assert not [p for _, p in bob.buttons() if p.startswith("cs.a:")], bob.buttons()
    await bob.send("1")
    taking = await app.repos.responses.find(poll, 0, (await stored(app, bob)).id)
    assert taking is None or await app.repos.responses.answers(taking.id) == {}


async def test_on_telegram_a_number_typed_at_a_question_is_asked_to_press_a_button(
    app: App,
) -> None:
    """Telegram's buttons have no numbers: a "2" typed at a poll's question hears that a
    number does not work there and to tap a button (as in the question what to do with a
    message), not that it was not understood; nothing is answered, and the question's
    buttons still work."""
    await _published(app)
    bob = await resident(app, "bob")
    await bob.send("/peilingen")
    await bob.press("Speelplek")
    question = bob.last
    await bob.send("2")
    assert bob.keys == ["general.press_a_button"], bob.keys
    taking = await app.repos.responses.find(
        await last_consultation(app), 0, (await stored(app, bob)).id
    )
    assert taking is None or await app.repos.responses.answers(taking.id) == {}
    await bob.press_payload(button(question, "Klimrek"))
    assert bob.keys == ["consultations.question_scale"], bob.keys


async def test_a_typed_answer_is_asked_again_when_the_chat_opens_anew(app: App) -> None:
    # The console, opened again, shows the question being typed for, not "answer the last
    # question"; once the poll closed meanwhile it says so, and the typing ends.
    anna = await resident(app, "anna", platform="console")
    poll = await _published(app)
    await anna.press_payload(f"cs.w:{poll}:0:4")
    await anna.press_payload("resume")
    assert anna.keys == ["drafts.welcome_back", "consultations.question"]
    assert "Typ je antwoord hieronder" in anna.text
    await anna.send("<i>speeltuin</i> 🛝 مرحبا")
    assert anna.keys[0] == "consultations.text_saved"
    await anna.press_payload(f"cs.w:{poll}:0:4")
    await _close_now(app, poll)
    await anna.press_payload("resume")
    assert anna.keys == ["drafts.welcome_back", "consultations.closed"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM dialogs") == 0


async def test_a_finished_poll_with_an_answer_taken_back_is_listed_as_begun_not_filled_in(
    app: App,
) -> None:
    anna = await resident(app, "anna")
    poll = await _published(app)
    await anna.press_payload(f"cs.a:{poll}:0:1:2")
    await anna.press_payload(f"cs.a:{poll}:0:2:3")
    await anna.press("De hond")
    await anna.press("Volgende")
    await anna.send("Meer bankjes graag")
    assert anna.keys == ["consultations.text_saved", "consultations.done"]
    await anna.send("/peilingen")
    assert "ingevuld" in anna.text
    # She changes her mind about question 3 and takes its only answer back.
    await anna.press_payload(f"cs.q:{poll}:0:3")
    await anna.press("De hond")
    assert "✅ De hond" not in anna.last[0].labels()
    await anna.send("/peilingen")
    assert "ingevuld" not in anna.text
    assert "3 van 4 beantwoord" in anna.text
    # The staff count her as begun, no longer as done, until she answers it again.
    counts = await app.repos.consultations.counts(poll)
    assert (counts.started, counts.finished) == (1, 0)
    # Its button goes on where she was: the question left open.
    await anna.press("⏳")
    assert "Vraag 3 van 4" in anna.text
    await anna.press("De hond")
    await anna.press("Volgende")
    assert (await app.repos.consultations.counts(poll)).finished == 1
