"""Arbitrary sequences of events through the router on a real database file.

Hypothesis plays several people at once: residents, staff, someone the bot has never seen,
someone on the console answering with numbers. They send any text (empty, control
characters, markup, 100,000 characters), commands real and made up, the buttons they were
offered, buttons from long ago, real button names with nonsense after them, photos where
words are expected, stickers and locations.

After every event: it was answered; the answer is not the apology for a handler bug
(``errors.sorry``) nor the storage apology (the disk is fine); every reply renders in the
catalog's markup and fits Telegram's button rules. After every sequence: the file passes
``integrity_check`` and ``foreign_key_check``, supporter counts equal the support rows, no
person supports or follows an idea twice, the full-text index agrees with the ideas, and every
outbox row and dialog is valid.

The same sequences run once more with the database file opened read-only: every event is
still answered (``errors.storage`` where something would have to be saved), and the file
is exactly as it was.

``HYPOTHESIS_PROFILE=thorough`` runs many more examples than the default for CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import handlers
from bot.app import App
from bot.flood import FloodGate
from bot.settings import Settings
from handlers.contract import Event, Location, Photo, Reply, Role, Sender
from storage.clock import utcnow
from storage.ideas.ideas import IdeaStatus
from tests.markup import assert_catalog_markup
from tests.reliability.faults import read_only_file

settings.register_profile(
    "samenspel-ci",
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile(
    "thorough" if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else "samenspel-ci"
)

#: Replies no event may get while the database is healthy.
FORBIDDEN = frozenset({"errors.sorry", "errors.storage"})
CALLBACK_DATA_LIMIT = 64
REGISTRY = handlers.registry()


# The people -------------------------------------------------------------------------------


@dataclass
class Persona:
    """Someone who sends events: where they chat and how they got there."""

    platform: str
    #: Run once on the template database: onboarding, a role, ...
    setup: Callable[[App, Persona, str], Awaitable[None]] | None = None


async def _onboard(app: App, persona: Persona, user_id: str, language: str = "nl") -> None:
    replies = await _send(app, persona, user_id, command="start")
    for answer in ("yes", language, "ijmuiden"):
        user = await app.repos.users.find(persona.platform, user_id)
        stored = await app.repos.dialogs.load(user.id) if user else None
        assert stored is not None, f"onboarding {user_id} stopped at {replies}"
        replies = await _send(app, persona, user_id, button=f"~{stored.token}:{answer}")
    assert [reply.key for reply in replies] == ["onboarding.done"]


async def _onboard_english(app: App, persona: Persona, user_id: str) -> None:
    await _onboard(app, persona, user_id, "en")


def _with_role(role: Role) -> Callable[[App, Persona, str], Awaitable[None]]:
    async def setup(app: App, persona: Persona, user_id: str) -> None:
        await _onboard(app, persona, user_id)
        user = await app.repos.users.find(persona.platform, user_id)
        assert user is not None
        async with app.db.transaction():
            await app.repos.users.set_role(user.id, role)

    return setup


#: Who takes part. Another kind of person (banned, erased) is one more line here.
PERSONAS: dict[str, Persona] = {
    "stranger": Persona("test"),
    "resident": Persona("test", _onboard),
    "english": Persona("test", _onboard_english),
    "civil_servant": Persona("test", _with_role(Role.CIVIL_SERVANT)),
    "connector": Persona("test", _with_role(Role.CONNECTOR)),
    "console": Persona("console", _onboard),
}
NAMES = sorted(PERSONAS)


# The events -------------------------------------------------------------------------------

MARKUP = [
    '<b>x</b> & <a href="y">',
    "*bold* _it_ [l](u) `code`",
    "</i><pre>",
    "{title} {0} %s %(name)s",
    "&amp; &lt; &#0; &#x110000;",
]
NASTY = [
    "",
    " ",
    "\n\n\t",
    "\x00",
    "\u202e\u200b\ufeff",
    "1",
    "2",
    "99",
    "0",
    "-1",
    "²",
    "٣",
    "Ja",
    "versturen",
    "a" * 100_000,
    "🙂" * 5_000,
    *MARKUP,
]
ARGS = [
    "",
    "-1",
    "0",
    "1",
    "2",
    "999999999999999999999",
    "abc",
    "1:2:3",
    "::",
    ":",
    "1:zz",
    "1:n1a",
    "1:t9999999h:ijmuiden",
    "c:new",
    "h:top",
    "x" * 80,
    "é",
    "²",
    "١٢",
    "%00",
    "1 OR 1=1",
]

texts = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=300),
    st.text(st.characters(codec="utf-8"), max_size=50),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x20), max_size=20),
)
command_names = st.one_of(
    st.sampled_from(sorted(REGISTRY.commands)),
    st.sampled_from(sorted(REGISTRY.commands)).map(str.upper),
    st.text(max_size=40),
)
payloads = st.one_of(
    st.builds(
        lambda name, args: f"{name}:{args}" if args else name,
        st.sampled_from(sorted(REGISTRY.actions)),
        st.one_of(st.sampled_from(ARGS), st.text(max_size=30)),
    ),
    st.builds(lambda token, value: f"~{token}:{value}", st.text(max_size=8), st.text(max_size=20)),
    st.text(max_size=80),
)


@dataclass(frozen=True)
class Step:
    """One thing one person does."""

    who: str
    kind: str
    value: str = ""
    args: str = ""
    index: int = 0


#: What a person does next, weighted: mostly pressing what they were offered (that is how
#: dialogs are walked through), often typing something that fits, or nonsense.
KINDS = [
    *["press"] * 8,
    *["plausible"] * 3,
    "text",
    "text",
    "command",
    "command",
    "button",
    "button",
    "stale",
    "photo",
    "sticker",
    "voice",
    "location",
]
#: Texts that answer a question well (a title, a description, a name, a date, an amount).
PLAUSIBLE = [
    "Een zebrapad bij de school aan de Lange Nieuwstraat",
    "Kinderen steken daar elke ochtend over, tussen de auto's door, het is echt gevaarlijk.",
    "Meer bankjes langs de boulevard voor ouderen die even willen uitrusten.",
    "Wanneer wordt het gras in het park weer gemaaid? Het staat heel hoog nu.",
    "Jan de Vries, beleidsmedewerker groen",
    "morgen 10:00",
    "25-12-2030 09:30",
    "IJmuiden",
    "Verkeer",
    "150",
]


@st.composite
def _step(draw: st.DrawFn, who: str) -> Step:
    kind = draw(st.sampled_from(KINDS))
    if kind == "press":
        return Step(who, kind, index=draw(st.integers(0, 40)))
    if kind == "stale":
        return Step(who, kind, index=draw(st.integers(0, 400)))
    if kind == "plausible":
        return Step(who, "text", draw(st.sampled_from(PLAUSIBLE)))
    if kind == "text":
        return Step(who, kind, draw(texts))
    if kind == "command":
        return Step(who, kind, draw(command_names), draw(texts))
    if kind == "button":
        return Step(who, kind, draw(payloads))
    if kind == "photo":
        return Step(who, kind, draw(st.binary(max_size=64)).hex())
    return Step(who, kind)


@st.composite
def _burst(draw: st.DrawFn) -> list[Step]:
    """A few things in a row by one person, as people do."""
    who = draw(st.sampled_from(NAMES))
    return draw(st.lists(_step(who), min_size=1, max_size=12))


sequences = st.lists(_burst(), min_size=1, max_size=8).map(
    lambda bursts: [step for burst in bursts for step in burst]
)


# Running a sequence -----------------------------------------------------------------------


@dataclass
class Play:
    """What the people have seen so far: the buttons offered to each, all payloads seen."""

    offered: dict[str, list[str]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)


async def _send(
    app: App,
    persona: Persona,
    user_id: str,
    forbidden: frozenset[str] = FORBIDDEN,
    **content: object,
) -> list[Reply]:
    """Hand one event to the router; check every reply as an adapter would render it."""
    event = Event(
        platform=persona.platform,
        chat_id=user_id,
        sender=Sender(platform_user_id=user_id, display_name=user_id, language_hint="nl"),
        received_at=datetime.now(UTC),
        **content,  # type: ignore[arg-type]
    )
    answered: list[tuple[str, list[Reply]]] = []

    async def deliver(_: Event, lang: str, replies: list[Reply]) -> None:
        answered.append((lang, replies))

    await app.router.handle(event, deliver)
    assert len(answered) == 1, f"{content} was answered {len(answered)} times"
    lang, replies = answered[0]
    keys = [reply.key for reply in replies]
    assert replies, f"{content} got no answer"
    assert not forbidden & set(keys), f"{content!r:.300} was answered {keys}"
    for reply in replies:
        _check_rendering(app, lang, reply)
    return replies


def _check_rendering(app: App, lang: str, reply: Reply) -> None:
    catalog = app.catalog
    assert_catalog_markup(catalog.render(lang, reply, markup=True))
    catalog.render(lang, reply, markup=False)
    for row in reply.buttons:
        for button in row:
            assert catalog.label(lang, button).strip(), f"an empty label in {reply.key}"
            size = len(button.payload.encode())
            assert 0 < size <= CALLBACK_DATA_LIMIT, f"payload {button.payload!r} is {size} bytes"


def _event_for(step: Step, play: Play) -> dict[str, object] | None:
    if step.kind == "text":
        return {"text": step.value}
    if step.kind == "command":
        return {"command": step.value, "args": step.args}
    if step.kind == "button":
        return {"button": step.value}
    if step.kind == "press":
        offered = play.offered.get(step.who, [])
        return {"button": offered[step.index % len(offered)]} if offered else None
    if step.kind == "stale":
        return {"button": play.seen[step.index % len(play.seen)]} if play.seen else None
    if step.kind == "photo":
        return {"photo": Photo(data=bytes.fromhex(step.value))}
    if step.kind == "location":
        return {"location": Location(latitude=52.46, longitude=4.6)}
    return {"unsupported": step.kind}


async def _play(app: App, sequence: list[Step], forbidden: frozenset[str] = FORBIDDEN) -> None:
    play = Play()
    for step in sequence:
        content = _event_for(step, play)
        if content is None:
            continue
        replies = await _send(app, PERSONAS[step.who], step.who, forbidden, **content)
        payloads = [b.payload for reply in replies for row in reply.buttons for b in row]
        play.offered[step.who] = payloads
        play.seen.extend(payloads)


# The database before and after ------------------------------------------------------------


async def _build_template(path: Path) -> None:
    app = await _open(path)
    try:
        for name, persona in PERSONAS.items():
            if persona.setup is not None:
                await persona.setup(app, persona, name)
        resident = await app.repos.users.find("test", "resident")
        assert resident is not None
        now = utcnow()
        async with app.db.transaction():
            ideas = app.repos.ideas
            first = await ideas.create(
                category="verkeer",
                title="Een zebrapad bij de school",
                description="Kinderen steken daar elke ochtend over.",
                neighbourhood="ijmuiden",
                photo_id=None,
                author_user_id=resident.id,
                now=now,
            )
            second = await ideas.create(
                category="wonen",
                title="Tiny houses voor starters",
                description="Kleine woningen op de lege kavel bij het station.",
                neighbourhood=None,
                photo_id=None,
                author_user_id=None,
                now=now,
            )
            gone = await ideas.create(
                category="wonen",
                title="Weggehaald idee",
                description="Dit idee is van de lijst gehaald.",
                neighbourhood=None,
                photo_id=None,
                author_user_id=None,
                now=now,
            )
            await ideas.support(second.id, resident.id, now)
            await ideas.set_status(second.id, IdeaStatus.MERGED, now=now, merged_into=first.id)
            await ideas.remove(gone.id, now)
            await app.repos.comments.add(first.id, resident.id, "Goed plan! <b>echt</b>", now)
    finally:
        await app.close()


async def _open(path: Path) -> App:
    """The bot on ``path``, with flood protection out of the way: it refuses bursts on
    purpose (and has tests of its own); here every event must reach the features."""
    app = await App.open(_settings(path))
    app.router.flood = FloodGate(1_000_000)
    return app


def _settings(path: Path) -> Settings:
    return Settings(_env_file=None, db=path)  # type: ignore[call-arg]


def _check_invariants(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        conn.execute("INSERT INTO ideas_fts (ideas_fts) VALUES ('integrity-check')")
        drift = conn.execute(
            "SELECT i.id, i.supporters, COUNT(s.user_id) FROM ideas i"
            " LEFT JOIN idea_supports s ON s.idea_id = i.id"
            " GROUP BY i.id HAVING i.supporters != COUNT(s.user_id)"
        ).fetchall()
        assert drift == [], f"supporter counts drifted: {drift}"
        for table in ("idea_supports", "idea_follows"):
            twice = conn.execute(
                f"SELECT idea_id, user_id FROM {table}"
                " GROUP BY idea_id, user_id HAVING COUNT(*) > 1"
            ).fetchall()
            assert twice == [], f"people in {table} twice: {twice}"
        statuses = {row[0] for row in conn.execute("SELECT DISTINCT status FROM outbox")}
        assert statuses <= {"pending", "sent", "failed", "unreachable", "cancelled"}
        for name, data in conn.execute("SELECT name, data FROM dialogs"):
            assert name in REGISTRY.dialogs, f"a dialog nobody answers: {name}"
            assert isinstance(json.loads(data), dict)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the people set up and a few ideas, copied for every example."""
    path = tmp_path_factory.mktemp("fuzz") / "template.db"
    asyncio.run(_build_template(path))
    return path


@settings(PROFILE)
@given(sequence=sequences)
def test_any_sequence_of_events_is_answered_and_leaves_the_data_sound(
    template: Path, tmp_path_factory: pytest.TempPathFactory, sequence: list[Step]
) -> None:
    path = tmp_path_factory.mktemp("example") / "fuzz.db"
    shutil.copyfile(template, path)

    async def run() -> None:
        app = await _open(path)
        try:
            await _play(app, sequence)
        finally:
            await app.close()

    try:
        asyncio.run(run())
        _check_invariants(path)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def _contents(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


@settings(PROFILE)
@given(sequence=sequences)
def test_with_a_read_only_file_any_sequence_is_answered_and_changes_nothing(
    template: Path, tmp_path_factory: pytest.TempPathFactory, sequence: list[Step]
) -> None:
    path = tmp_path_factory.mktemp("example") / "fuzz.db"
    shutil.copyfile(template, path)

    async def run() -> None:
        app = await _open(path)
        try:
            before = _contents(path)
            async with read_only_file(app):
                # Reads are answered; what would need saving hears errors.storage.
                await _play(app, sequence, forbidden=frozenset({"errors.sorry"}))
            assert _contents(path) == before
        finally:
            await app.close()

    try:
        asyncio.run(run())
        _check_invariants(path)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
