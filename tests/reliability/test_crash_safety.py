"""The bot killed at random moments loses nothing it confirmed, and its file stays sound.

``samenspel run`` runs as a separate process against the loopback Bot API server in this
process. A few fake Telegram residents go through onboarding, submit ideas (every question
of the dialog) and comment on them, each acting on the last message the bot sent them, as a
person does. At a random moment (right after a random number of the bot's answers) the bot
gets SIGKILL: no chance to finish or clean up.

A kill between saving a step and sending its answer loses that answer (Telegram's updates
are confirmed when fetched, so the step is not delivered again). The resident then does
what a person does: acts on the question still on screen again; hearing that the button is
old, or that the idea is still open, takes the way back the bot offers ("Verder met je
idee") instead of starting over. (Residents that threw the open idea away there got
almost nowhere in 20 kills, and the test failed at its last check about half the time.)

After every kill, before the bot starts again, the database file is checked: it passes
``integrity_check``, and every text the bot accepted with its reply (a title answered with
the next question, a comment answered with "Je reactie staat") is stored: in an idea, a
comment or the resident's dialog. Then the bot starts again and the residents go on.

Another kind of participant is one more :class:`Participant` in ``cast`` (a civil servant
sending a broadcast, with the check that every recipient's outbox row is kept, once the
delivery workers are part of ``samenspel run``).
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import random
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.botapi import BotApiServer, FakeUser, JSONDict
from tests.reliability.bot_process import BotProcess

pytestmark = pytest.mark.e2e

KILLS = 20
RESIDENTS = 4
#: How many steps the bot answers before the kill (drawn per cycle): the moment is set by
#: what the bot did, not by the clock, so a slow machine kills it as often in the middle of
#: its work as a fast one, and every cycle gets somewhere.
ANSWERS_BETWEEN = (1, 15)
#: How long a resident waits for an answer. The bot is not "gone" when it is slow (a busy
#: machine): a resident waits until the answer comes or the kill ends its turn; this only
#: keeps a test whose bot stopped answering from hanging forever.
ANSWER_WAIT = 600.0
#: How long the test waits for the bot's start and its answers (generous: a busy machine).
BOT_WAIT = 180.0


def _shown(message: JSONDict) -> str:
    """A message as the resident reads it: its text without markup, and its buttons."""
    markup = message.get("reply_markup") or {}
    labels = [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
    text = html.unescape(re.sub(r"<[^>]+>", "", message.get("text") or ""))
    return "\n".join([text, *labels])


@dataclass
class Participant:
    """Someone who acts on the bot's last message, and knows what the bot accepted."""

    server: BotApiServer
    user: FakeUser
    #: What happened, for the failure message: (what was done, what came back).
    story: list[str] = field(default_factory=list)

    async def turn(self) -> bool:
        """Do the next thing; False when no answer came (the bot is gone)."""
        raise NotImplementedError

    def check(self, db: sqlite3.Connection) -> None:
        """Everything the bot accepted from this participant is in the database."""
        raise NotImplementedError

    def last_shown(self) -> str:
        messages = self.server.messages(self.user.chat_id)
        return _shown(messages[-1]) if messages else ""

    async def answer(self, act: Callable[[], Any]) -> list[str] | None:
        """Do ``act``; the bot's answer as shown (message by message), or None if none came."""
        before = len(self.server.messages(self.user.chat_id))
        update = act()
        self.story.append(f"-> {update.message or update.callback_query}"[:160])

        def complete() -> bool:
            new = self.server.messages(self.user.chat_id)[before:]
            # Every answer ends with a message that has buttons (a question or the menu).
            return bool(new) and bool(new[-1].get("reply_markup"))

        try:
            await self.server.wait_for(complete, ANSWER_WAIT, description="an answer")
        except TimeoutError:
            self.story.append("<- nothing")
            return None
        reply = [_shown(m) for m in self.server.messages(self.user.chat_id)[before:]]
        self.story.append(f"<- {reply!r}"[:160])
        return reply


@dataclass
class Resident(Participant):
    """Onboards, then submits ideas and comments on each, over and over."""

    number: int = 0
    #: Texts of the ideas being written that the bot accepted (in its dialog, or the idea:
    #: one whose "ingestuurd" answer a kill took away is stored all the same).
    draft: list[str] = field(default_factory=list)
    #: Texts the bot accepted that must stay: submitted ideas, placed comments.
    kept: list[str] = field(default_factory=list)
    commented: set[str] = field(default_factory=set)
    counter: int = 0
    #: The draft as it was when it was last looked up in "Mijn ideeën".
    looked_up: list[str] = field(default_factory=list)

    @property
    def onboarded(self) -> bool:
        """Whether the bot told this resident they are all set ("Klaar, welkom") or greeted
        them as someone it knows ("Fijn dat je er weer bent").

        Read from what the bot sent, not noted by the resident's own turn: the bot may be
        killed right after that answer, before the turn that asked saw it, or right after it
        saved the last step and before it answered (then a /start is greeted back)."""
        return any(
            "Klaar, welkom" in shown or "Fijn dat je er weer bent" in shown
            for shown in map(_shown, self.server.messages(self.user.chat_id))
        )

    def _text(self, kind: str) -> str:
        self.counter += 1
        tail = {
            "title": "een bankje bij de haven",
            "description": "zodat ouderen onderweg even kunnen uitrusten bij het water.",
            "comment": "goed plan, ik help mee",
        }[kind]
        return f"{kind.capitalize()} {self.counter} van inwoner {self.number}: {tail}"

    async def turn(self) -> bool:
        last = self.last_shown()
        user = self.user
        if "Ga je akkoord?" in last:
            return await self.answer(lambda: user.press("Ja, ik doe mee")) is not None
        if "In welke taal" in last:
            return await self.answer(lambda: user.press("Nederlands")) is not None
        if "In welke wijk" in last:
            return await self.answer(lambda: user.press("IJmuiden")) is not None
        if "Waar gaat je idee over" in last:
            return await self.answer(lambda: user.press("Verkeer")) is not None
        if "korte titel" in last:
            return await self._typed(self._text("title"), "20 tot 2.000 tekens", self.draft)
        if "20 tot 2.000 tekens" in last:
            return await self._typed(self._text("description"), "Over welke wijk", self.draft)
        if "Over welke wijk" in last:
            return await self.answer(lambda: user.press("Sla over")) is not None
        if "Toch versturen" in last:
            return await self._send_idea("Toch versturen")
        if "Zo ziet je idee eruit" in last:
            return await self._send_idea("Versturen")
        if "Heb je een foto" in last:
            return await self.answer(lambda: user.press("Geen foto")) is not None
        if "Verder met je" in last:
            # The way back to what is open (an idea, a comment), offered when a new idea
            # was asked for or an old button pressed (its answer lost to a kill): go on
            # with it, as a person does, instead of throwing it away and starting over.
            return await self.answer(lambda: user.press("Verder met je")) is not None
        if "Typ je reactie" in last:
            return await self._typed(self._text("comment"), "Je reactie staat", self.kept)
        submitted = re.search(r"ingestuurd als #(\d+)", last)
        if submitted and submitted.group(1) not in self.commented:
            self.commented.add(submitted.group(1))
            return await self.answer(lambda: user.press_data(f"idea.comment:{submitted[1]}"))
        if self.draft and self.draft != self.looked_up:
            # An idea was written, and no way back to it is offered: it was probably sent
            # and a kill took the answer that said so. A person looks in "Mijn ideeën"
            # before writing it again; what is listed there the bot keeps.
            self.looked_up = list(self.draft)
            reply = await self.answer(lambda: user.send_text("/mijnideeen"))
            if reply is not None:
                self._listed(reply[-1])
            return reply is not None
        # The menu, a welcome back, an old button: begin a (new) idea.
        first = "/start" if not self.onboarded and "Klaar" not in last else "/idee"
        return await self.answer(lambda: user.send_text(first)) is not None

    def _listed(self, shown: str) -> None:
        """The draft's ideas whose title ``shown`` lists are kept (title and description)."""
        ideas: list[list[str]] = []
        for text in self.draft:
            if text.startswith("Title") or not ideas:
                ideas.append([])
            ideas[-1].append(text)
        for idea in ideas:
            if idea[0] in shown:
                self.kept.extend(idea)
        self.draft = [text for idea in ideas if idea[0] not in shown for text in idea]

    async def _typed(self, text: str, accepted_when: str, keep: list[str]) -> bool:
        reply = await self.answer(lambda: self.user.send_text(text))
        # Accepted: the answer starts with the next question (not a hint and the same one).
        if reply is not None and accepted_when in reply[0]:
            keep.append(text)
        return reply is not None

    async def _send_idea(self, label: str) -> bool:
        reply = await self.answer(lambda: self.user.press(label))
        if reply is not None and "ingestuurd als #" in reply[0]:
            self.kept.extend(self.draft)
            self.draft = []
        return reply is not None

    def check(self, db: sqlite3.Connection) -> None:
        stored: set[str] = set()
        for title, description in db.execute("SELECT title, description FROM ideas"):
            stored.update((title, description))
        stored.update(body for (body,) in db.execute("SELECT body FROM idea_comments"))
        in_dialog = set(stored)
        row = db.execute(
            "SELECT d.data FROM dialogs d JOIN users u ON u.id = d.user_id"
            " WHERE u.platform = 'telegram' AND u.platform_user_id = ?",
            (str(self.user.id),),
        ).fetchone()
        if row is not None:
            in_dialog.update(v for v in json.loads(row[0]).values() if isinstance(v, str))
        lost = [text for text in self.kept if text not in stored]
        lost += [text for text in self.draft if text not in in_dialog]
        story = "\n".join(self.story[-30:])
        assert not lost, f"resident {self.number}: accepted, not stored: {lost}\n{story}"
        if self.onboarded:
            consent = db.execute(
                "SELECT consent_at, onboarded_at FROM users"
                " WHERE platform = 'telegram' AND platform_user_id = ?",
                (str(self.user.id),),
            ).fetchone()
            assert consent is not None and None not in consent, "onboarding lost"


def _with_buttons(server: BotApiServer, chat_id: int) -> int:
    """How many messages with buttons the bot sent to a chat (one ends every answer)."""
    return sum(1 for message in server.messages(chat_id) if message.get("reply_markup"))


async def _keep_going(participant: Participant) -> None:
    while await participant.turn():
        pass


async def _answers(
    server: BotApiServer, cast: list[Participant], count: int, acting: list[asyncio.Task[None]]
) -> None:
    """Return once the bot answered ``count`` more steps of the cast (or none of them acts
    any more: one tripped, or waited in vain)."""

    def answered() -> int:
        return sum(_with_buttons(server, p.user.chat_id) for p in cast)

    target = answered() + count
    await server.wait_for(
        lambda: answered() >= target or all(task.done() for task in acting),
        BOT_WAIT,
        description=f"{count} answers of the bot",
    )


def _check_file(db_path: Path, cast: list[Participant]) -> None:
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        for participant in cast:
            participant.check(db)


async def test_killing_the_bot_at_random_moments_loses_nothing_it_accepted(
    server: BotApiServer, tmp_path: Path
) -> None:
    rng = random.Random(os.environ.get("CRASH_SEED", "samenspel"))
    db_path = tmp_path / "bot.db"
    cast: list[Participant] = [
        Resident(server, server.user(7000 + n, first_name=f"Inwoner{n}"), number=n)
        for n in range(RESIDENTS)
    ]
    bot = BotProcess(server, db_path)
    for _ in range(KILLS):
        await bot.start()
        tasks = [asyncio.create_task(_keep_going(p)) for p in cast]
        await _answers(server, cast, rng.randint(*ANSWERS_BETWEEN), tasks)
        await bot.kill()
        for task in tasks:
            task.cancel()
        for ended in await asyncio.gather(*tasks, return_exceptions=True):
            # A resident that tripped (a button it looked for was not there) says so.
            if isinstance(ended, Exception):
                raise ended
        _check_file(db_path, cast)

    residents = [p for p in cast if isinstance(p, Resident)]
    # The residents got somewhere despite all the kills: the test tested something.
    assert all(r.onboarded for r in residents)
    assert sum(len(r.kept) for r in residents) >= RESIDENTS
