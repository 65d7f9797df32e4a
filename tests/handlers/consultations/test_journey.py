"""A poll from start to end through the router, on a real database: composed, published,
answered in parts across a restart, a reminder to whoever did not finish, closed, and the
results back in every respondent's chat."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from bot.settings import Settings
from handlers.contract import Timer
from storage.consultations.model import ConsultationStatus
from tests.consultations import (
    FOLLOW_UP,
    INTRO,
    TITLE,
    Clock,
    Jobs,
    button,
    compose_poll,
    last_consultation,
    outbox_of,
    seen,
)
from tests.people import TimerLog, civil_servant
from tests.people import person as resident
from tests.support import Chat

PNG = b"\x89PNG\r\n\x1a\n"


async def _answer_all(person: Chat, invitation_buttons: list[tuple[str, str]]) -> None:
    """Answer the four questions: a choice from the invitation, a scale value, two ticks,
    and "zeg ik liever niet" for the typed question."""
    await person.press_payload(next(p for label, p in invitation_buttons if label == "Schommel"))
    await person.press("3")
    await person.press("Kinderen")
    await person.press("Kleinkinderen")
    await person.press("Volgende")
    await person.press("Zeg ik liever niet")
    assert person.keys == ["consultations.done"], person.keys


async def test_a_poll_goes_from_compose_to_results_in_every_respondents_chat(
    settings: Settings, clock: Clock
) -> None:
    app = await App.open(settings, clock=clock)
    timers = TimerLog(app)
    anna = await resident(app, "anna")
    others = [await resident(app, name, hood="Driehuis") for name in ("bob", "carl", "dina")]
    others += [await resident(app, name) for name in ("eve", "finn")]
    gus = await resident(app, "gus")
    hank = await resident(app, "hank")
    ria = await civil_servant(app)

    preview = await compose_poll(ria)
    assert "Aantal mensen: 9" in preview[0].text
    # The preview is the invitation and every question, exactly as residents see them.
    assert [m.key for m in preview] == [
        "consultations.preview_intro",
        "consultations.invitation",
        "consultations.question",
        "consultations.question_scale",
        "consultations.question",
        "consultations.question",
        "consultations.preview_question",
    ]
    assert INTRO in preview[1].text and "Aantal vragen: 4" in preview[1].text
    assert "1 = nooit, 5 = elke dag" in preview[3].text
    # A preview's buttons answer nothing; publishing still works afterwards.
    await ria.press_payload(button(preview, "Klimrek"))
    assert ria.keys == ["consultations.not_open"]
    await ria.press_payload(button(preview, "Publiceren"))
    assert ria.keys == ["consultations.published"]
    poll = await last_consultation(app)
    stored_poll = await app.repos.consultations.get(poll)
    assert stored_poll is not None and stored_poll.status is ConsultationStatus.OPEN
    assert stored_poll.closes_at is not None
    closes = stored_poll.closes_at
    assert timers.armed == [Timer(job=f"consultation:{poll}", at=closes - timedelta(days=1))]
    [entry] = await app.repos.audit.about(f"consultation:{poll}")
    assert (entry.action, entry.actor_user_id, entry.detail["invited"]) == (
        "consultation.publish",
        (await app.repos.users.find("test", "ria")).id,  # type: ignore[union-attr]
        9,
    )

    # Anna answers two questions from the invitation in her chat.
    [row] = await outbox_of(app, anna)
    invitation = seen(app, row)
    assert [m.text for m in invitation] == [m.text for m in preview[1:3]]
    await anna.press_payload(button(invitation, "Klimrek"))
    assert anna.keys == ["consultations.question_scale"] and "Vraag 2 van 4" in anna.text
    await anna.press("4")
    assert "Vraag 3 van 4" in anna.text

    # The bot restarts; Anna goes on where she was.
    await app.close()
    app = await App.open(settings, clock=clock)
    anna = Chat(app, "anna", name="Anna")
    await anna.send("/peilingen")
    assert f"{TITLE}: 2 van 4 beantwoord" in anna.text
    await anna.press(TITLE)
    assert "Vraag 3 van 4" in anna.text
    await anna.press("Kinderen")
    assert anna.last[0].reply.edit and "✅ Kinderen" in anna.last[0].labels()
    await anna.press("De hond")
    await anna.press("Volgende")
    assert "Vraag 4 van 4" in anna.text
    await anna.send("Meer bankjes voor de ouders, graag!")
    assert anna.keys == ["consultations.text_saved", "consultations.done"]
    assert ("⬅️ Menu", "menu") in anna.buttons(), "done: a way back to the menu"

    # Five more finish, Gus answers only the first question, Hank nothing.
    for person in others:
        person.app = app
        [row] = await outbox_of(app, person)
        await _answer_all(person, seen(app, row)[1].buttons)
    gus.app = hank.app = app
    [row] = await outbox_of(app, gus)
    await gus.press_payload(button(seen(app, row), "Zandbak"))

    # A day before closing, only Gus (started, not finished) is reminded.
    jobs = Jobs.of(app)
    clock.now = closes - timedelta(days=1)
    await jobs.consultation(poll)
    [_, reminder] = await outbox_of(app, gus)
    [reminding] = seen(app, reminder)
    assert reminding.key == "consultations.reminder" and TITLE in reminding.text
    for person in [anna, *others, hank]:
        assert len(await outbox_of(app, person)) == 1, person.user_id
    await jobs.consultation(poll)  # again: nothing more
    assert len(await outbox_of(app, gus)) == 2

    # Closing: everyone who answered gets the results, with a chart per counted question.
    clock.now = closes
    await jobs.consultation(poll)
    closed = await app.repos.consultations.get(poll)
    assert closed is not None and closed.status is ConsultationStatus.CLOSED
    assert await jobs.pending("consultation") == []
    rows = await outbox_of(app, anna)
    results = seen(app, rows[-1])
    assert [m.key for m in results] == [
        "consultations.results",
        *["consultations.chart_caption"] * 3,
    ]
    summary = results[0].text
    assert "Meegedaan: 7 mensen" in summary
    assert "1. Wat moet er zeker komen? (7 antwoorden)" in summary
    assert "• Schommel: 5 (71%)" in summary and "• Zandbak: 1 (14%)" in summary
    assert "• Eigen antwoorden: 1" in summary  # not shown: nobody approved it yet
    assert "Meer bankjes" not in summary
    assert FOLLOW_UP in summary
    for chart in results[1:]:
        assert chart.reply.photo_id is not None
        media = await app.repos.media.get(chart.reply.photo_id)
        assert media is not None and media.data.startswith(PNG)
    assert seen(app, (await outbox_of(app, gus))[-1])[0].key == "consultations.results"
    assert len(await outbox_of(app, hank)) == 1  # only the invitation

    # After closing, answers change nothing.
    before = await app.db.fetchall("SELECT * FROM consultation_answers ORDER BY 1, 2")
    await gus.press_payload(button(seen(app, reminder), "Verder"))
    assert gus.keys == ["consultations.closed"]
    await anna.press_payload(button(invitation, "Schommel"))
    assert anna.keys == ["consultations.closed"]
    after = await app.db.fetchall("SELECT * FROM consultation_answers ORDER BY 1, 2")
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
    await app.close()
