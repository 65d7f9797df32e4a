"""Helpers for the consultation journeys: a clock to move, a poll composed with the buttons,
what the outbox holds for someone, and the scheduler's jobs run as the runtime runs them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.app import App
from bot.runtime import Runtime
from handlers.contract import Reply
from storage.clock import utcnow
from storage.outbox import OutboxRow
from tests.people import row as stored
from tests.support import Chat, Seen

TITLE = "Nieuwe speelplek Zeewijk"
INTRO = "We maken een nieuwe speelplek. Wat vind jij belangrijk?"
FOLLOW_UP = "De gemeenteraad besluit in juni. We laten je weten wat er gekozen is."


class Clock:
    """A clock the test moves by hand (the app and its jobs read it)."""

    def __init__(self, start: datetime | None = None):
        self.now = (start or utcnow()).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def compose_poll(
    ria: Chat,
    *,
    title: str = TITLE,
    audience: tuple[str, ...] = ("👥 Iedereen",),
    closes: str = "Na 7 dagen",
) -> list[Seen]:
    """Compose the four-question poll of these tests with the buttons, up to the preview."""
    await ria.send("/nieuwepeiling")
    assert ria.keys == ["consultations.compose_intro"]
    await ria.send(title)
    await ria.send(INTRO)
    assert ria.keys == ["consultations.ask_kind"]
    await ria.press("Eén keuze")
    await ria.send("Wat moet er zeker komen?")
    await ria.send("Schommel\nKlimrek\nZandbak")
    assert ria.keys == ["consultations.ask_more"]
    assert "Je hebt 1 vraag (hoogstens" in ria.text
    await ria.press("Nog een vraag")
    await ria.press("Schaal van 1 tot 5")
    await ria.send("Hoe vaak ga je naar de speelplek?")
    await ria.send("nooit\nelke dag")
    await ria.press("Nog een vraag")
    await ria.press("Meer keuzes")
    await ria.send("Wie neem je mee?")
    await ria.send("Kinderen\nKleinkinderen\nDe hond")
    await ria.press("Nog een vraag")
    await ria.press("Kort eigen antwoord")
    await ria.send("Wat wil je ons nog zeggen?")
    assert "Je hebt 4 vragen" in ria.text
    await ria.press("Klaar met de vragen")
    assert ria.keys == ["consultations.ask_follow_up"]
    await ria.send(FOLLOW_UP)
    for label in audience:
        await ria.press(label)
    assert ria.keys == ["consultations.ask_opening"]
    await ria.press("Meteen")
    await ria.press(closes)
    assert ria.keys[0] == "consultations.preview_intro", ria.keys
    return ria.last


async def last_consultation(app: App) -> int:
    return int(await app.db.fetchval("SELECT MAX(id) FROM consultations WHERE kind = 'poll'"))


async def outbox_of(app: App, person: Chat, kind: str = "consultation") -> list[OutboxRow]:
    user = await stored(app, person.user_id)
    return [row for row in await app.repos.outbox.for_user(user.id) if row.kind == kind]


def seen(app: App, row: OutboxRow, lang: str = "nl") -> list[Seen]:
    """An outbox row's messages as the person would see them."""
    shown = []
    for raw in row.payload:
        reply = Reply.model_validate(raw)
        shown.append(
            Seen(
                key=reply.key,
                text=app.catalog.render(lang, reply, markup=False),
                buttons=[
                    (app.catalog.label(lang, b), b.payload) for line in reply.buttons for b in line
                ],
                reply=reply,
            )
        )
    return shown


def button(messages: list[Seen], label: str) -> str:
    """The payload of the button whose label contains ``label``."""
    for message in messages:
        for shown, payload in message.buttons:
            if label.casefold() in shown.casefold():
                return payload
    raise AssertionError(f"no button {label!r} in {[m.buttons for m in messages]}")


@dataclass
class Jobs:
    """The scheduler's consultation jobs, run the way the runtime runs them (its own runners,
    its clock), without waiting for their moment to come in real time."""

    runtime: Runtime

    @classmethod
    def of(cls, app: App) -> Jobs:
        return cls(Runtime(app, adapters=[]))

    async def consultation(self, consultation_id: int) -> None:
        await self.runtime.scheduler.kinds["consultation"].runner(str(consultation_id))

    async def evaluations(self) -> None:
        await self.runtime.scheduler.kinds["evaluations"].runner("every")

    async def pending(self, kind: str) -> list[tuple[object, datetime]]:
        return list(await self.runtime.scheduler.kinds[kind].pending())
