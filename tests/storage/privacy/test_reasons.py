"""What staff and residents typed about a person who is erased: emptied where it names them.

Every kind of row with a reason is made twice: about the person (their idea, comment and
proposal, reports of those, what the connector did to them) and about a neighbour; both
name the person. After the erasure the first are emptied, whatever the name is; the second
stay, as a name can be any word or phrase the person chose ("Fiets", "het budget"); only the
person's account id is looked for in them.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from bot.app import App
from storage.clock import iso, utcnow
from storage.community.moderation import ReportReason, SanctionKind
from storage.community.reports import Flag
from storage.experiments.proposals import ProposalStatus
from storage.ideas.ideas import IdeaStatus, Removal
from storage.privacy.personal import TABLES, Cause, ContentChoice
from tests.privacy import Resident, person

#: Each kind of reason about someone, and how many of it ``_decided`` makes (one).
KINDS = dict.fromkeys(
    (
        "ideas.removal_reason",
        "idea_status_history.reason",
        "idea_comments.hidden_reason",
        "comment_reports.note",
        "idea_reports.note",
        "experiment_proposals.reason",
        "experiment_proposal_history.reason",
        "audit_log.reason",
        "sanctions.reason",
    ),
    1,
)


async def _decided(app: App, about: Resident, by: Resident, reason: str, now: datetime) -> None:
    """Every kind of row about ``about`` that holds a reason, each holding ``reason``."""
    repos = app.repos
    async with app.db.transaction():
        idea = await repos.ideas.create(
            category="wonen",
            title=f"Een idee van nummer {about.user_id}",
            description="Een beschrijving die lang genoeg is voor een idee.",
            neighbourhood=None,
            photo_id=None,
            author_user_id=about.user_id,
            now=now,
        )
        await repos.ideas.set_status(
            idea.id, IdeaStatus.IN_REVIEW, now=now, reason=reason, by_user_id=by.user_id
        )
        await repos.ideas.remove(idea.id, now, how=Removal.HIDDEN, reason=reason)
        comment = await repos.comments.add(idea.id, about.user_id, "Een reactie.", now)
        await repos.comments.hide(comment.id, reason, now)
        for flag, item in ((Flag.COMMENT, comment.id), (Flag.IDEA, idea.id)):
            await repos.reports.add(flag, item, by.user_id, ReportReason.OTHER, now, note=reason)
        proposal = await repos.proposals.submit(
            about.user_id,
            what=f"Een voorstel van nummer {about.user_id}",
            place="Het plein",
            partners="De buren",
            budget_cents=10_000,
            full_financing=False,
            now=now,
        )
        await repos.proposals.set_status(
            proposal, ProposalStatus.IN_REVIEW, reason=reason, by_user_id=by.user_id, now=now
        )
        await repos.audit.record(
            "user.warn",
            now=now,
            actor_user_id=by.user_id,
            subject_user_id=about.user_id,
            reason=reason,
        )
        await repos.sanctions.add(
            about.user_id, SanctionKind.WARNING, reason=reason, by_user_id=by.user_id, now=now
        )


async def _holding(app: App, text: str) -> dict[str, int]:
    """How many rows hold ``text`` as their reason, by table and column."""
    found = {}
    for table in TABLES:
        for column in table.reasons:
            count = await app.db.fetchval(
                f"SELECT COUNT(*) FROM {table.name} WHERE {column} = ?", (text,)
            )
            if count:
                found[f"{table.name}.{column}"] = int(count)
    return found


async def _people(app: App, name: str | None) -> tuple[Resident, Resident, Resident]:
    """The person to erase (called ``name``), a neighbour and the connector."""
    now = utcnow()
    async with app.db.transaction():
        owner = await person(app, "7001112223", "placeholder", now)
        await app.repos.users.give_consent(owner.user_id, owner.chat_id, name, now)
        neighbour = await person(app, "7004445556", "Bobbie Wittenhorst", now)
        carla = await person(app, "7007778889", "Carla Verbindt", now)
    return owner, neighbour, carla


#: (display name, how staff typed it in a reason): the name of the person erased.
NAMES = [
    ("Fiets", "FIETS"),
    ("Jan", "jan"),
    ("Ｊａｎ", "Jan"),  # full-width letters, as some keyboards give them
    ("%", "%"),
    ("_", "_"),
    ("Fi%t_s", "fi%t_s"),
    ("(.*)", "(.*)"),
    ('O\'Brien "Bob"', 'O\'Brien "Bob"'),
    ("🚲", "🚲"),
    ("\u200fمحمد", "محمد"),  # with a right-to-left mark before it
    ("Jan  de Vries", "Jan de Vries"),
    ("Annabel Zwartkruis", "annabel ZWARTKRUIS"),
    # Names chosen to match what staff write about others: only ever found about their owner.
    ("het budget", "het budget"),
    ("In De", "in de"),
    ("spam.", "spam."),
    ("10000", "10000"),
    ("7004445556", "7004445556"),  # the neighbour's account id, as a display name
]


@pytest.mark.parametrize("content", list(ContentChoice))
@pytest.mark.parametrize(("name", "typed"), NAMES)
async def test_a_name_is_emptied_from_rows_about_its_owner_only(
    app: App, name: str, typed: str, content: ContentChoice
) -> None:
    owner, neighbour, carla = await _people(app, name)
    now = utcnow()
    about_them = f"{typed} scheldt steeds, zegt de buurt."
    about_neighbour = f"Bobbie en {typed} maken steeds ruzie."
    not_naming = "Sinds januari 100 keer gemeld; zie O'Brien_s en de fietsenstalling."
    await _decided(app, owner, carla, about_them, now)
    await _decided(app, neighbour, carla, about_neighbour, now)
    async with app.db.transaction():
        await app.repos.audit.record(
            "user.mute", now=now, subject_user_id=owner.user_id, reason=not_naming
        )
    assert await _holding(app, about_them) == KINDS

    erased = await app.repos.personal.erase(
        owner.user_id, content=content, cause=Cause.REQUEST, now=now
    )
    assert erased is not None
    await app.db.settled()

    assert await _holding(app, about_them) == {}
    assert await _holding(app, about_neighbour) == KINDS
    # A reason about them that does not name them stays (what a LIKE pattern of "%" or
    # "_" would have matched, or "Jan" in "januari").
    assert await _holding(app, not_naming) == {"audit_log.reason": 1}
    assert await app.db.fetchval("SELECT COUNT(*) FROM erasure_scrubs") == 0


@pytest.mark.parametrize("name", [None, "", "   ", "\u200f"])
async def test_someone_without_a_name_is_looked_for_by_their_ids(
    app: App, name: str | None
) -> None:
    owner, neighbour, carla = await _people(app, name)
    now = utcnow()
    by_id = f"Account {owner.platform_user_id} spamt."
    await _decided(app, owner, carla, by_id, now)
    await _decided(app, neighbour, carla, f"Meldde {owner.platform_user_id}.", now)
    async with app.db.transaction():
        for reason in (" ", "Scheldt, zonder naam erbij."):
            await app.repos.audit.record(
                "user.warn", now=now, subject_user_id=owner.user_id, reason=reason
            )

    await app.repos.personal.erase(
        owner.user_id, content=ContentChoice.KEEP, cause=Cause.REQUEST, now=now
    )
    await app.db.settled()

    assert await _holding(app, by_id) == {}
    # An account id says who is meant wherever it is written.
    assert await _holding(app, f"Meldde {owner.platform_user_id}.") == {}
    assert await _holding(app, " ") == {"audit_log.reason": 1}
    assert await _holding(app, "Scheldt, zonder naam erbij.") == {"audit_log.reason": 1}


async def test_someone_with_no_rows_about_them_leaves_the_reasons_of_others(app: App) -> None:
    owner, neighbour, carla = await _people(app, "Fiets")
    now = utcnow()
    await _decided(app, neighbour, carla, "Bobbie verkoopt een gestolen Fiets.", now)

    await app.repos.personal.erase(
        owner.user_id, content=ContentChoice.DELETE, cause=Cause.RETENTION, now=now
    )
    await app.db.settled()

    assert await _holding(app, "Bobbie verkoopt een gestolen Fiets.") == KINDS


async def test_two_erasures_in_a_row_each_empty_the_rows_about_their_own_person(
    app: App,
) -> None:
    fiets, jan, carla = await _people(app, "Fiets")
    async with app.db.transaction():
        await app.repos.users.give_consent(jan.user_id, jan.chat_id, "Jan", utcnow())
    now = utcnow()
    # Each is named in the rows about the other too.
    await _decided(app, fiets, carla, "Fiets en Jan ruzieden.", now)
    await _decided(app, jan, carla, "Jan en Fiets ruzieden.", now)
    await _decided(app, carla, carla, "Carla sprak Fiets en Jan aan.", now)

    store = app.repos.personal
    for who in (fiets, jan):
        erased = await store.erase(
            who.user_id, content=ContentChoice.KEEP, cause=Cause.REQUEST, now=now
        )
        assert erased is not None
    # The second time there is nobody left to erase.
    again = await store.erase(
        fiets.user_id, content=ContentChoice.KEEP, cause=Cause.REQUEST, now=now
    )
    assert again is None
    await app.db.settled()

    assert await _holding(app, "Fiets en Jan ruzieden.") == {}
    assert await _holding(app, "Jan en Fiets ruzieden.") == {}
    assert await _holding(app, "Carla sprak Fiets en Jan aan.") == KINDS
    assert await app.db.fetchval("SELECT COUNT(*) FROM erasures") == 2


async def test_a_room_decision_about_an_account_before_it_used_the_bot_is_about_it(
    app: App,
) -> None:
    """A message reported in an experiment's room by an account that was no person here yet:
    the log names the report, not them. Once they use the bot and are erased, it is theirs."""
    now = utcnow()
    [experiment, *_] = await app.repos.experiments.running()
    async with app.db.transaction():
        carla = await person(app, "7007778889", "Carla Verbindt", now)
        room = await app.repos.rooms.link(experiment.id, "telegram", "-100200", carla.user_id, now)
        assert room is not None
        # Jan's message, and someone else's (whom Jan reported).
        for message, account, reason in (
            ("55", "7001112223", "Jan scheldt."),
            ("56", "7009990001", "Jan meldde dit."),
        ):
            report_id, _ = await app.repos.rooms.report(
                room.id,
                message_id=message,
                author_platform_id=account,
                author_user_id=None,
                body="Jullie zijn gek.",
                link=None,
                reporter_user_id=carla.user_id,
                now=now,
            )
            await app.repos.audit.record(
                "room.hide",
                now=now,
                actor_user_id=carla.user_id,
                subject=f"room_report:{report_id}",
                reason=reason,
            )
        jan = await person(app, "7001112223", "Jan", now)

    await app.repos.personal.erase(
        jan.user_id, content=ContentChoice.KEEP, cause=Cause.REQUEST, now=now
    )
    await app.db.settled()

    assert [e.reason for e in await app.repos.audit.recent()] == ["Jan meldde dit.", None]


async def test_every_table_with_reasons_says_which_of_its_rows_are_about_a_person(
    app: App,
) -> None:
    params = {"user_id": 1, "platform": "telegram", "platform_user_id": "1", "chat_id": "1"}
    for table in TABLES:
        if not table.reasons:
            continue
        assert table.about is not None, f"{table.name} has reasons but no `about`"
        cursor = app.db.conn.execute(table.about, params)
        assert len(cursor.description) == len(table.key), f"{table.name}: select its key"


async def test_an_erasure_noted_before_rows_about_people_were_told_apart_is_finished_as_planned(
    app: App,
) -> None:
    """The last steps of an erasure by the previous version (its names a plain list, looked
    for in every row) are finished as they were planned, after an upgrade."""
    _, neighbour, carla = await _people(app, "Fiets")
    now = utcnow()
    await _decided(app, neighbour, carla, "Bobbie verkoopt een gestolen Fiets.", now)
    async with app.db.transaction():
        await app.db.execute(
            "INSERT INTO erasure_scrubs (quotes, names, content_deleted, delete_later, media,"
            " created_at) VALUES ('[]', ?, 0, '{}', '[]', ?)",
            (json.dumps(["Fiets"]), iso(now)),
        )
    assert await app.repos.personal.resume() == 1
    await app.db.settled()

    assert await _holding(app, "Bobbie verkoopt een gestolen Fiets.") == {}
    assert await app.db.fetchval("SELECT COUNT(*) FROM erasure_scrubs") == 0
