"""Answers are personal data: in /mijngegevens, gone with /vergeetmij (with the typing in
progress); a civil servant's published consultation stays, unsigned."""

from __future__ import annotations

import json
from typing import Any

from bot.app import App
from storage.consultations.model import ConsultationStatus
from tests.consultations import Clock, Jobs, compose_poll, last_consultation, outbox_of, seen
from tests.people import civil_servant
from tests.people import person as resident
from tests.people import row as stored
from tests.privacy import traces

TYPED = "Qzxmijn eigen antwoord over de speelplek"


async def test_my_data_holds_my_answers_and_forget_me_removes_them(app: App) -> None:
    anna = await resident(app, "anna")
    bob = await resident(app, "bob")
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    await anna.press_payload(f"cs.a:{poll}:0:1:2")
    await anna.press_payload(f"cs.w:{poll}:0:4")
    await anna.send(TYPED)
    await anna.press_payload("cs.rem:off")
    await anna.press_payload(f"cs.w:{poll}:0:4")  # typing again when she asks
    await bob.press_payload(f"cs.a:{poll}:0:1:1")

    await anna.send("/mijngegevens")
    assert "Je antwoorden op peilingen: 2" in anna.text
    assert "Peilingen waarvoor je gevraagd bent: 1" in anna.text
    [document] = [m.reply.document for m in anna.last if m.reply.document]
    sections: dict[str, Any] = json.loads(document.data)["sections"]
    answers = sections["consultation_answers"]["rows"]
    assert [(a["question"], a["choices"], a["text"]) for a in answers] == [
        (1, [2], None),
        (4, None, TYPED),
    ]
    [response] = sections["consultation_responses"]["rows"]
    assert response["title"] == "Nieuwe speelplek Zeewijk" and response["invited_at"]
    assert sections["consultation_preferences"]["rows"][0]["reminders"] == "nee"
    assert sections["dialogs"]["rows"][0]["name"] == "consult_text"

    anna_id = (await stored(app, "anna")).id
    await anna.send("/vergeetmij")
    # She was typing an answer: asked first whether to go on with it or throw it away.
    await anna.press("Weggooien")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]
    assert await traces(app.db, [TYPED]) == []
    left = await app.db.fetchval(
        "SELECT COUNT(*) FROM consultation_responses WHERE user_id = ?", (anna_id,)
    )
    assert left == 0
    counted = await app.repos.tallies.count(poll, 0, "nl")
    assert counted.respondents == 1  # Bob's answer stays


async def test_a_civil_servants_published_poll_stays_unsigned_when_she_is_erased(
    app: App,
) -> None:
    await resident(app, "anna")
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    await compose_poll(ria, title="Alleen een concept")  # a draft, never published
    draft = await last_consultation(app)
    await ria.send("/annuleer")
    await ria.send("/vergeetmij")
    await ria.press("Ja, wis mijn gegevens")
    published = await app.repos.consultations.get(poll)
    assert published is not None and published.status is ConsultationStatus.OPEN
    assert published.author_user_id is None
    assert await app.repos.consultations.get(draft) is None


#: A typed answer longer than a quote in the results: they show its start, cut with "…".
LONG = (
    "Qzxbuurman Jan Pietersen op nummer 12 maakt altijd herrie,\nook 's nachts. "
    + "Graag een speelplek verder van zijn huis, met bomen en bankjes. " * 4
)


async def test_an_approved_answer_quoted_in_others_results_goes_with_its_writer(
    app: App, clock: Clock
) -> None:
    """Anna sent in no ideas, so /vergeetmij keeps (nothing of) her public content: her
    typed answer is personal data all the same, and goes from the results waiting for
    everyone else, whole or cut short."""
    anna = await resident(app, "anna")
    bob = await resident(app, "bob")
    others = [await resident(app, name) for name in ("carl", "dina", "eve")]
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    for chat, words in [(anna, LONG), (bob, "Meer bomen graag")] + [
        (other, "Schaduw op het plein") for other in others
    ]:
        await chat.press_payload(f"cs.w:{poll}:0:4")
        await chat.send(words)
    await ria.send("/peilingen")
    await ria.press(f"#{poll} ")
    await ria.press("Eigen antwoorden")
    for _ in range(5):
        await ria.press("Mag getoond")
    consultation = await app.repos.consultations.get(poll)
    assert consultation is not None and consultation.closes_at is not None
    clock.now = consultation.closes_at
    await Jobs.of(app).consultation(poll)
    start = "Qzxbuurman Jan Pietersen op nummer 12 maakt altijd herrie, ook 's nachts."
    before = await outbox_of(app, bob)
    assert start in seen(app, before[-1])[0].text

    await anna.send("/vergeetmij")
    assert anna.keys == ["privacy.forget.confirm"]
    await anna.press("Ja")
    assert anna.keys == ["privacy.forget.done"]
    assert await traces(app.db, ["Qzxbuurman", "Pietersen"]) == []
    # The results quoting her go (what else Bob was sent stays).
    assert await outbox_of(app, bob) == before[:-1]
