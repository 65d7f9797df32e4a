"""Everything stored about one person, table by table: what they can export and what erasing
them does.

:data:`TABLES` classifies every table in the database (a test fails when one is missing):

- **personal**: rows about one person (their profile, supports, subscriptions, dialog state).
  They are exported and deleted with the person.
- **public content**: what people wrote for others (ideas, comments, proposals, news). It
  points at its author; on erasure the author chooses: it stays anonymously (the link is
  nulled, cards show "een inwoner") or it is deleted.
- **operational**: holds no personal data (experiments, migrations, search index).

Adding a table is one entry here: its kind, what it holds, the SELECT of what it holds about
a person (``export``) and the statements that erase them (``erase``, plus ``delete_content``
or ``keep_content`` for public content; for text others typed about people, ``reasons``
and which rows are about a person, ``about``). Statements take named parameters: ``:user_id``,
``:platform``, ``:platform_user_id``, ``:chat_id``, ``:pseudonym`` and ``:now``.

Records kept for accountability name an erased person only by a pseudonym: a random tag made
at erasure, stored in ``erasures``, linked to nothing that identifies them (see
:data:`AUDIT_LOG`).

An erasure is one short transaction over indexed rows (everyone else waits for it), and then
its last steps in the background, in units of work of a few milliseconds each:

    erase ──(commit)──► a line in the erasure ledger beside the database (see ledger.py)
      │                 ──► find rows of others that quote the person's deleted texts
      │                 (one pass per column, on a connection of its own, holding no one up)
      │                 ──► remove them a few at a time ──► empty the write-ahead log
      └─ notes the rows about the person (a ban on them, a decision on what they wrote):
         where those name them, their reasons are emptied, a few rows at a time

A name is looked for only in the rows about its owner: a person chooses their name, and it
can be any word or phrase ("Fiets", "Jan", "het budget"); looking for it in everyone's rows
would let anyone empty others' records by erasing themselves. Their account ids on a chat
platform say who is meant wherever they are written: those are looked for in every row.

What is left to do is stored (``erasure_scrubs``) until it is done, so a restart finishes it
(:meth:`PersonalStore.resume`).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import re
import secrets
import sqlite3
import unicodedata
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from storage.budgets.rounds import RUNNER_ROLES, SHOWN_TITLE, shown_title
from storage.clock import iso
from storage.community.moderation import Sanctions
from storage.consultations.consultations import ASKER_ROLES
from storage.db import Database
from storage.media import DIALOG_PHOTO_KEYS, MediaStore
from storage.news.broadcasts import WRITER_ROLES
from storage.privacy.ledger import ErasureLedger, LedgerEntry


class Kind(StrEnum):
    """How a table relates to people."""

    PERSONAL = "personal"
    CONTENT = "public content"
    OPERATIONAL = "operational"


class ContentChoice(StrEnum):
    """What happens to a person's public content when they are erased."""

    #: It stays, without any link to them ("een inwoner").
    KEEP = "kept"
    #: It is deleted with them.
    DELETE = "deleted"


class Cause(StrEnum):
    """Why a person was erased."""

    REQUEST = "request"
    RETENTION = "retention"
    ADMIN = "admin"


@dataclass(frozen=True)
class Table:
    """One table: its kind, what it holds, and how it is exported and erased for a person."""

    name: str
    kind: Kind
    #: What the table holds, in one line (also the description of its export section).
    holds: str
    #: SELECT of what this table holds about ``:user_id`` (None: nothing to export).
    export: str | None = None
    #: Columns of the export holding JSON text, shown as JSON in the export.
    json_columns: tuple[str, ...] = ()
    #: Columns of the export holding a budget project's title as everyone reads it (a
    #: description standing in for it comes whole and is cut here, between whole characters).
    titles: tuple[str, ...] = ()
    #: Statements run on every erasure, in registry order.
    erase: tuple[str, ...] = ()
    #: Statements run when the person chose to delete their public content.
    delete_content: tuple[str, ...] = ()
    #: Statements run when the person's public content stays anonymously.
    keep_content: tuple[str, ...] = ()
    #: SELECT of media ids this table's rows about ``:user_id`` show (their pictures).
    media: str | None = None
    #: SELECT of the texts of the person's public content that others' rows may quote (an
    #: idea's title on a button, a comment in a notice): scrubbed when that content is
    #: deleted (kept content stays, and so may its quotes).
    quoted: str | None = None
    #: SELECT of personal texts others' rows may quote (a typed answer shown without a name
    #: in everyone's results, a question shown to the connector): scrubbed on every erasure.
    quoted_personal: str | None = None
    #: Columns that may quote other people's texts; rows quoting deleted texts are removed.
    quotes: tuple[str, ...] = ()
    #: Columns people typed about others (a staff reason, a reporter's note) that may name a
    #: person or quote their words: emptied where they quote an erased person's deleted texts
    #: (in any row), and where a row about them (``about``) names them.
    reasons: tuple[str, ...] = ()
    #: SELECT of the keys (``key``) of the rows about ``:user_id`` (a sanction on them, a
    #: decision on what they wrote), whose ``reasons`` are emptied where they name them: their
    #: display name or platform ids, as a whole word in any case. Required with ``reasons``
    #: (a test fails without it). A name is a word too ("Fiets", "Jan"): in a row about its
    #: owner it is them; in the rows of others only their account ids are looked for (see
    #: :func:`_account_ids`).
    about: str | None = None
    #: A column stamped with the erasure's moment where one of ``reasons`` is emptied: the
    #: published feed tells readers from then on that the row it shows changed.
    changed_at: str | None = None
    #: The columns that find one row (for tables without a rowid).
    key: tuple[str, ...] = ("rowid",)
    #: Run after content was deleted, in the background, again and again until it changes
    #: nothing: cleans up what deleting left behind, a little at a time.
    purge: str | None = None
    #: SELECT of the ids of rows that ``delete_content`` only took out of view: they are
    #: deleted in the background, a few at a time (deleting one takes much with it).
    delete_later: str | None = None


def _retitle_projects(source: str, table: str) -> str:
    """A budget project took its title from an idea or proposal (its author's words): when
    that content is deleted, the project keeps staff's description as its title instead
    (whole: it is cut for reading, between whole characters, where it is read)."""
    return (
        "UPDATE budget_projects SET title = description"
        f" WHERE {source} IN (SELECT id FROM {table} WHERE author_user_id = :user_id)"
    )


#: Room tasks aimed at the person's account on the platform (they hold no user id).
_TARGETS = (
    "(op IN ('invite', 'mute', 'unmute', 'ban', 'unban', 'remove') AND target = :platform_user_id"
    " AND room_id IN (SELECT id FROM experiment_rooms WHERE platform = :platform))"
)

#: A room mute or ban on the person's account that holds now.
_ROOM_HOLDS = (
    "kind IN ('mute', 'ban') AND lifted_at IS NULL AND (ends_at IS NULL OR ends_at > :now)"
    " AND target = :platform_user_id"
    " AND room_id IN (SELECT id FROM experiment_rooms WHERE platform = :platform)"
)


#: Reports of the person's messages in experiments' rooms, by them as a person here or by
#: their account on the platform (also from before they used the bot).
_ROOM_MESSAGES = (
    "SELECT id FROM room_reports WHERE author_user_id = :user_id"
    " OR (author_platform_id = :platform_user_id"
    " AND room_id IN (SELECT id FROM experiment_rooms WHERE platform = :platform))"
)


#: The audit log: what was done stays on record; an erased person is then named only by
#: their erasure pseudonym (``actor_pseudonym`` / ``subject_pseudonym``).
AUDIT_LOG = Table(
    "audit_log",
    Kind.PERSONAL,
    "what staff and the bot did, and to whom, kept for accountability",
    export="SELECT at, actor, action, subject, detail, reason,"
    " actor_user_id IS :user_id AS by_you FROM audit_log"
    " WHERE actor_user_id = :user_id OR subject_user_id = :user_id ORDER BY id",
    erase=(
        "UPDATE audit_log SET actor_user_id = NULL, actor_pseudonym = :pseudonym"
        " WHERE actor_user_id = :user_id",
        "UPDATE audit_log SET subject_user_id = NULL, subject_pseudonym = :pseudonym"
        " WHERE subject_user_id = :user_id",
    ),
    reasons=("reason",),
    # What was done to them or to what they wrote (staff record its author as the subject);
    # a decision about their room message also when they were no person here then.
    about="SELECT id FROM audit_log WHERE subject_user_id = :user_id"
    f" OR subject IN (SELECT 'room_report:' || id FROM ({_ROOM_MESSAGES}))",
)

TABLES: tuple[Table, ...] = (
    Table("schema_version", Kind.OPERATIONAL, "which migrations were applied"),
    Table("sqlite_sequence", Kind.OPERATIONAL, "SQLite's counters for idea and status numbers"),
    Table(
        "dialogs",
        Kind.PERSONAL,
        "where you are in a conversation with the bot, with what you typed so far",
        export="SELECT name, step, data, updated_at FROM dialogs WHERE user_id = :user_id",
        json_columns=("data",),
        erase=("DELETE FROM dialogs WHERE user_id = :user_id",),
        # At any depth: a budget round's projects are a list of their own.
        media="SELECT t.value FROM dialogs d, json_tree(d.data) AS t WHERE d.user_id = :user_id"
        f" AND t.key IN ({', '.join(repr(key) for key in DIALOG_PHOTO_KEYS)})"
        " AND t.type = 'integer'",
    ),
    Table(
        "chat_options",
        Kind.PERSONAL,
        "the buttons last offered in your chat, so a typed number still works",
        export="SELECT options, updated_at FROM chat_options WHERE platform = :platform"
        " AND (chat_id IN (:chat_id, :platform_user_id) OR chat_id IN (SELECT chat_id"
        " FROM outbox WHERE user_id = :user_id AND platform = :platform))",
        json_columns=("options",),
        # Also a chat they left for a new one, should a message sent there since have
        # offered options (before the outbox below goes: it knows those chats).
        erase=(
            "DELETE FROM chat_options WHERE platform = :platform AND (chat_id IN"
            " (:chat_id, :platform_user_id) OR chat_id IN (SELECT chat_id FROM outbox"
            " WHERE user_id = :user_id AND platform = :platform))",
        ),
        quotes=("options",),
    ),
    Table(
        "media",
        Kind.CONTENT,
        "pictures: with your ideas, on your staff card, in what you were composing",
    ),
    Table("media_refs", Kind.OPERATIONAL, "each platform's file id for an uploaded picture"),
    Table(
        "media_uploads",
        Kind.PERSONAL,
        "who sent each picture in, and when: every picture you sent is in your data",
        # The pictures themselves are the export's media section, with when they were sent.
        erase=("DELETE FROM media_uploads WHERE user_id = :user_id",),
        media="SELECT media_id FROM media_uploads WHERE user_id = :user_id",
    ),
    Table(
        "outbox",
        Kind.PERSONAL,
        "messages for you that went through the queue (news, notices, replies that had to"
        " wait): waiting, sent or failed",
        export="SELECT kind, status, payload, language, attempts, not_before, last_error,"
        " created_at, sent_at FROM outbox WHERE user_id = :user_id ORDER BY id",
        json_columns=("payload",),
        erase=(
            # A copy of a batch still going out is no longer one of its messages: its
            # author's progress and report count the others, not one short forever.
            "UPDATE outbox_batches SET total = total - (SELECT COUNT(*) FROM outbox o"
            " WHERE o.batch = outbox_batches.batch AND o.user_id = :user_id)"
            " WHERE finished_at IS NULL AND batch IN (SELECT batch FROM outbox"
            " WHERE user_id = :user_id AND batch IS NOT NULL)",
            "DELETE FROM outbox WHERE user_id = :user_id",
        ),
        quotes=("payload",),
    ),
    Table(
        "ideas",
        Kind.CONTENT,
        "the ideas you sent in",
        export="SELECT id AS number, category, title, description, neighbourhood, photo_id,"
        " status, supporters, created_at, updated_at, title_changed_at, withdrawn_at,"
        " removed_at, removal, removal_reason, restored_at FROM ideas"
        " WHERE author_user_id = :user_id ORDER BY id",
        # Deleting an idea takes its comments, supports, history and index entries with it:
        # a few milliseconds each. So the erasure only takes them out of view, unlinked, and
        # deletes them afterwards, a few at a time (delete_later).
        delete_content=(
            _retitle_projects("idea_id", "ideas"),
            "UPDATE ideas SET author_user_id = NULL, removed_at = COALESCE(removed_at, :now),"
            " removal = NULL, updated_at = :now WHERE author_user_id = :user_id",
        ),
        delete_later="SELECT id FROM ideas WHERE author_user_id = :user_id",
        keep_content=("UPDATE ideas SET author_user_id = NULL WHERE author_user_id = :user_id",),
        media="SELECT photo_id FROM ideas WHERE author_user_id = :user_id",
        quoted="SELECT title FROM ideas WHERE author_user_id = :user_id"
        " UNION ALL SELECT description FROM ideas WHERE author_user_id = :user_id",
        reasons=("removal_reason",),
        about="SELECT id FROM ideas WHERE author_user_id = :user_id",
    ),
    Table(
        "idea_status_history",
        Kind.CONTENT,
        "the statuses of your ideas, and the statuses you gave ideas as staff",
        export="SELECT h.idea_id AS idea, h.status, h.reason, h.theme, h.department,"
        " h.merged_into, h.at, h.reason_changed_at, h.by_user_id IS :user_id AS by_you"
        " FROM idea_status_history h"
        " WHERE h.idea_id IN (SELECT id FROM ideas WHERE author_user_id = :user_id)"
        " OR h.by_user_id = :user_id ORDER BY h.id",
        erase=("UPDATE idea_status_history SET by_user_id = NULL WHERE by_user_id = :user_id",),
        reasons=("reason",),
        changed_at="reason_changed_at",
        about="SELECT id FROM idea_status_history"
        " WHERE idea_id IN (SELECT id FROM ideas WHERE author_user_id = :user_id)",
    ),
    Table(
        "idea_supports",
        Kind.PERSONAL,
        "the ideas you support",
        export="SELECT idea_id AS idea, created_at FROM idea_supports WHERE user_id = :user_id"
        " ORDER BY created_at",
        erase=("DELETE FROM idea_supports WHERE user_id = :user_id",),
    ),
    Table(
        "idea_follows",
        Kind.PERSONAL,
        "the ideas you follow",
        export="SELECT idea_id AS idea, created_at FROM idea_follows WHERE user_id = :user_id"
        " ORDER BY created_at",
        erase=("DELETE FROM idea_follows WHERE user_id = :user_id",),
    ),
    Table(
        "idea_comments",
        Kind.CONTENT,
        "your comments under ideas",
        export="SELECT id, idea_id AS idea, body, author_role AS role, created_at, edited_at,"
        " hidden_at, hidden_reason FROM idea_comments WHERE author_user_id = :user_id"
        " ORDER BY id",
        delete_content=("DELETE FROM idea_comments WHERE author_user_id = :user_id",),
        keep_content=(
            "UPDATE idea_comments SET author_user_id = NULL WHERE author_user_id = :user_id",
        ),
        # Quoted to whoever reported it, and to its author in a notice about it.
        quoted="SELECT body FROM idea_comments WHERE author_user_id = :user_id",
        reasons=("hidden_reason",),
        about="SELECT id FROM idea_comments WHERE author_user_id = :user_id",
    ),
    # The search index over ideas' titles and texts (FTS5 and its shadow tables). A deleted
    # idea's words would linger in old index segments until merged: after the erasure they
    # are merged into one, a few pages at a time (merging all at once took 150 ms at 5,000
    # ideas, while everyone waited).
    Table(
        "ideas_fts",
        Kind.OPERATIONAL,
        "search index over public ideas",
        purge="INSERT INTO ideas_fts (ideas_fts, rank) VALUES ('merge', -64)",
    ),
    Table("ideas_fts_data", Kind.OPERATIONAL, "search index over public ideas"),
    Table("ideas_fts_idx", Kind.OPERATIONAL, "search index over public ideas"),
    Table("ideas_fts_docsize", Kind.OPERATIONAL, "search index over public ideas"),
    Table("ideas_fts_config", Kind.OPERATIONAL, "search index over public ideas"),
    Table("ideas_fts_terms", Kind.OPERATIONAL, "how often each word occurs in public ideas"),
    Table("ideas_listed_counts", Kind.OPERATIONAL, "how many public ideas each category has"),
    Table("experiments", Kind.OPERATIONAL, "the experiments residents can join"),
    Table(
        "experiment_participants",
        Kind.PERSONAL,
        "the experiments you take part in",
        export="SELECT p.experiment_id AS experiment, json_extract(e.title, '$.nl') AS title,"
        " p.joined_at"
        " FROM experiment_participants p JOIN experiments e ON e.id = p.experiment_id"
        " WHERE p.user_id = :user_id ORDER BY p.joined_at",
        erase=("DELETE FROM experiment_participants WHERE user_id = :user_id",),
    ),
    Table(
        "experiment_proposals",
        Kind.CONTENT,
        "your proposals for new experiments",
        export="SELECT id, what, place, partners, budget_cents, full_financing, status,"
        " reason, amount_decided_cents, experiment_id, created_at, updated_at"
        " FROM experiment_proposals WHERE author_user_id = :user_id ORDER BY id",
        delete_content=(
            _retitle_projects("proposal_id", "experiment_proposals"),
            "DELETE FROM experiment_proposals WHERE author_user_id = :user_id",
        ),
        keep_content=(
            "UPDATE experiment_proposals SET author_user_id = NULL"
            " WHERE author_user_id = :user_id",
        ),
        quoted="SELECT what FROM experiment_proposals WHERE author_user_id = :user_id",
        reasons=("reason",),
        about="SELECT id FROM experiment_proposals WHERE author_user_id = :user_id",
    ),
    Table(
        "experiment_proposal_history",
        Kind.CONTENT,
        "the steps your proposals went through, and the steps you decided as staff",
        export="SELECT h.proposal_id AS proposal, h.status, h.reason, h.amount_cents, h.at,"
        " h.by_user_id IS :user_id AS by_you FROM experiment_proposal_history h"
        " WHERE h.proposal_id IN"
        " (SELECT id FROM experiment_proposals WHERE author_user_id = :user_id)"
        " OR h.by_user_id = :user_id ORDER BY h.id",
        erase=(
            "UPDATE experiment_proposal_history SET by_user_id = NULL WHERE by_user_id = :user_id",
        ),
        reasons=("reason",),
        about="SELECT id FROM experiment_proposal_history WHERE proposal_id IN"
        " (SELECT id FROM experiment_proposals WHERE author_user_id = :user_id)",
    ),
    Table(
        "experiment_proposal_followers",
        Kind.PERSONAL,
        "the proposals you follow",
        export="SELECT proposal_id AS proposal, since FROM experiment_proposal_followers"
        " WHERE user_id = :user_id ORDER BY since",
        erase=("DELETE FROM experiment_proposal_followers WHERE user_id = :user_id",),
    ),
    Table(
        "news_subscriptions",
        Kind.PERSONAL,
        'your subscription to "Wist je dat"',
        export="SELECT neighbourhood_only, subscribed_at FROM news_subscriptions"
        " WHERE user_id = :user_id",
        erase=("DELETE FROM news_subscriptions WHERE user_id = :user_id",),
    ),
    Table(
        "news_muted_themes",
        Kind.PERSONAL,
        '"Wist je dat" themes you switched off',
        export="SELECT theme FROM news_muted_themes WHERE user_id = :user_id ORDER BY theme",
        erase=("DELETE FROM news_muted_themes WHERE user_id = :user_id",),
    ),
    Table(
        "news_lapsed",
        Kind.PERSONAL,
        '"Wist je dat" as you had it when it stopped because we could not reach you',
        export="SELECT neighbourhood_only, muted_themes, lapsed_at FROM news_lapsed"
        " WHERE user_id = :user_id",
        json_columns=("muted_themes",),
        erase=("DELETE FROM news_lapsed WHERE user_id = :user_id",),
    ),
    Table(
        "staff_cards",
        Kind.PERSONAL,
        "your introduction card as a civil servant",
        export="SELECT name, department_id, department_text, work, photo_id, updated_at"
        " FROM staff_cards WHERE user_id = :user_id",
        erase=("DELETE FROM staff_cards WHERE user_id = :user_id",),
        media="SELECT photo_id FROM staff_cards WHERE user_id = :user_id",
    ),
    # A civil servant's "Wist je dat" messages are the municipality's publications: they stay
    # (unsigned by a person) when their author is erased; unsent drafts go.
    Table(
        "broadcasts",
        Kind.CONTENT,
        '"Wist je dat" messages you wrote as a civil servant',
        export="SELECT id, text, photo_id, audience_kind, audience_value, scheduled_at,"
        " status, released_at, recipients, created_at FROM broadcasts"
        " WHERE author_user_id = :user_id ORDER BY id",
        erase=(
            "DELETE FROM broadcasts WHERE author_user_id = :user_id AND status = 'draft'",
            # One that lost the role before being erased: their scheduled message would go
            # out once its author is no longer known (as one whose author was erased).
            "UPDATE broadcasts SET status = 'cancelled'"
            " WHERE author_user_id = :user_id AND status = 'scheduled'"
            f" AND (SELECT role FROM users WHERE id = :user_id) NOT IN {WRITER_ROLES}",
            "UPDATE broadcasts SET author_user_id = NULL WHERE author_user_id = :user_id",
        ),
        media="SELECT photo_id FROM broadcasts WHERE author_user_id = :user_id",
    ),
    Table("news", Kind.OPERATIONAL, 'published "Wist je dat" news, with no link to people'),
    Table(
        "questions",
        Kind.PERSONAL,
        "your questions to the connector",
        export="SELECT q.id, q.status, q.created_at, q.updated_at,"
        " (SELECT name FROM staff_cards WHERE user_id = q.staff_user_id) AS meant_for"
        " FROM questions q WHERE q.user_id = :user_id ORDER BY q.id",
        erase=("DELETE FROM questions WHERE user_id = :user_id",),
    ),
    # Messages in your own threads go with the thread; what you wrote as the connector in
    # someone else's thread is their answer and stays there, without your name.
    Table(
        "question_messages",
        Kind.PERSONAL,
        "the messages in your question threads, and answers you wrote as staff",
        export="SELECT m.question_id AS question, m.side, m.text, m.at,"
        " m.author_user_id IS :user_id AS by_you FROM question_messages m"
        " JOIN questions q ON q.id = m.question_id"
        " WHERE q.user_id = :user_id OR m.author_user_id = :user_id ORDER BY m.id",
        erase=(
            "DELETE FROM question_messages WHERE question_id IN"
            " (SELECT id FROM questions WHERE user_id = :user_id)",
            "UPDATE question_messages SET author_user_id = NULL WHERE author_user_id = :user_id",
        ),
        # What they asked was shown to staff (the inbox, a thread): a reply to staff that
        # waits to be sent again may still quote it.
        quoted_personal="SELECT m.text FROM question_messages m"
        " JOIN questions q ON q.id = m.question_id"
        " WHERE q.user_id = :user_id AND m.side = 'resident'",
    ),
    Table(
        "retention_notices",
        Kind.PERSONAL,
        "when we warned you that your data would be erased after a long silence",
        export="SELECT warned_at, erase_after FROM retention_notices WHERE user_id = :user_id",
        erase=("DELETE FROM retention_notices WHERE user_id = :user_id",),
    ),
    Table("erasures", Kind.OPERATIONAL, "when people were erased, by pseudonym only"),
    Table(
        "comment_reports",
        Kind.PERSONAL,
        "comments you reported to the connector, and why",
        export="SELECT comment_id AS comment, reason, note, created_at, resolved_at"
        " FROM comment_reports WHERE reporter_user_id = :user_id ORDER BY id",
        # The report still counts for the comment; who made it and their words go.
        erase=(
            "UPDATE comment_reports SET reporter_user_id = NULL, note = NULL"
            " WHERE reporter_user_id = :user_id",
        ),
        reasons=("note",),
        # Others' reports of their comments (the notes they made themselves go above).
        about="SELECT id FROM comment_reports WHERE comment_id IN"
        " (SELECT id FROM idea_comments WHERE author_user_id = :user_id)",
    ),
    Table(
        "idea_reports",
        Kind.PERSONAL,
        "ideas you reported to the connector, and why",
        export="SELECT idea_id AS idea, reason, note, created_at, resolved_at"
        " FROM idea_reports WHERE reporter_user_id = :user_id ORDER BY id",
        # The report still counts for the idea; who made it and their words go.
        erase=(
            "UPDATE idea_reports SET reporter_user_id = NULL, note = NULL"
            " WHERE reporter_user_id = :user_id",
        ),
        reasons=("note",),
        # Others' reports of their ideas (the notes they made themselves go above).
        about="SELECT id FROM idea_reports WHERE idea_id IN"
        " (SELECT id FROM ideas WHERE author_user_id = :user_id)",
    ),
    Table(
        "sanctions",
        Kind.PERSONAL,
        "warnings, mutes and bans the connector gave you, with the reason",
        export="SELECT kind, comment_id AS comment, reason, created_at, ends_at, lifted_at,"
        " expired_at FROM sanctions WHERE user_id = :user_id ORDER BY id",
        erase=(
            "DELETE FROM sanctions WHERE user_id = :user_id",
            "UPDATE sanctions SET by_user_id = NULL WHERE by_user_id = :user_id",
            "UPDATE sanctions SET lifted_by_user_id = NULL WHERE lifted_by_user_id = :user_id",
        ),
        reasons=("reason",),
        # Their own are deleted above; in others' reasons their account ids are looked for.
        about="SELECT id FROM sanctions WHERE user_id = :user_id",
    ),
    # A mute or ban outlives an erasure (or /vergeetmij would lift it), as nothing but a keyed
    # hash of the account: see Sanctions.keep.
    Table(
        "kept_sanctions",
        Kind.OPERATIONAL,
        "mutes and bans of erased accounts, by a keyed hash of the account only",
    ),
    Table("sanction_key", Kind.OPERATIONAL, "the random key of those hashes"),
    # An experiment's room (storage/experiments/rooms.py).
    Table(
        "experiment_rooms",
        Kind.PERSONAL,
        "the experiments' groups and rooms you linked as staff",
        export="SELECT experiment_id AS experiment, platform, linked_at FROM experiment_rooms"
        " WHERE linked_by = :user_id ORDER BY id",
        erase=("UPDATE experiment_rooms SET linked_by = NULL WHERE linked_by = :user_id",),
    ),
    Table(
        "room_welcomes",
        Kind.PERSONAL,
        "the experiments' rooms where the bot welcomed you",
        export="SELECT room_id AS room, welcomed_at FROM room_welcomes"
        " WHERE user_id = :user_id ORDER BY welcomed_at",
        erase=("DELETE FROM room_welcomes WHERE user_id = :user_id",),
    ),
    Table(
        "room_reports",
        Kind.PERSONAL,
        "your messages in experiments' rooms that others reported, and the decision",
        export="SELECT id AS report, room_id AS room, chat_id AS chat, message_id AS message,"
        " body,"
        " original_body, link, created_at, decision, decided_at FROM room_reports"
        " WHERE author_user_id = :user_id"
        " OR (author_platform_id = :platform_user_id"
        " AND room_id IN (SELECT id FROM experiment_rooms WHERE platform = :platform))"
        " ORDER BY id",
        erase=(
            # A mute or ban in force in a room holds on the platform: it stays, listable and
            # liftable, as the account id alone with the erasure's pseudonym (no person, no
            # message, no reason) until it is lifted or ends (Rooms.forget_accounts).
            "UPDATE room_sanctions SET user_id = NULL, report_id = NULL, reason = NULL,"
            f" pseudonym = :pseudonym WHERE {_ROOM_HOLDS}",
            # Decisions about their messages from before they used the bot (no user_id):
            # found by the report, before it goes (the sanction's link to it goes with it).
            "DELETE FROM room_sanctions WHERE report_id IN (SELECT id FROM room_reports"
            " WHERE author_platform_id = :platform_user_id"
            " AND room_id IN (SELECT id FROM experiment_rooms WHERE platform = :platform))",
            "DELETE FROM room_reports WHERE author_user_id = :user_id"
            " OR (author_platform_id = :platform_user_id"
            " AND room_id IN (SELECT id FROM experiment_rooms WHERE platform = :platform))",
        ),
        reasons=("body", "original_body"),
        # Reports of their messages (deleted above, unless that changes).
        about=_ROOM_MESSAGES,
    ),
    Table(
        "room_reporters",
        Kind.PERSONAL,
        "the messages in experiments' rooms you reported",
        export="SELECT report_id AS report, reported_at, told_left_at FROM room_reporters"
        " WHERE reporter_user_id = :user_id ORDER BY reported_at",
        erase=("DELETE FROM room_reporters WHERE reporter_user_id = :user_id",),
    ),
    Table(
        "room_sanctions",
        Kind.PERSONAL,
        "messages of yours the connector removed in experiments' rooms, and warnings, mutes"
        " and bans there, with the reason",
        export="SELECT room_id AS room, report_id AS report, kind, reason, created_at, ends_at,"
        " lifted_at FROM room_sanctions"
        " WHERE user_id = :user_id OR report_id IN (SELECT id FROM room_reports"
        " WHERE author_platform_id = :platform_user_id"
        " AND room_id IN (SELECT id FROM experiment_rooms WHERE platform = :platform))"
        " OR (target = :platform_user_id"
        " AND room_id IN (SELECT id FROM experiment_rooms WHERE platform = :platform))"
        " ORDER BY id",
        erase=(
            "DELETE FROM room_sanctions WHERE user_id = :user_id",
            "UPDATE room_sanctions SET by_user_id = NULL WHERE by_user_id = :user_id",
            "UPDATE room_sanctions SET lifted_by_user_id = NULL"
            " WHERE lifted_by_user_id = :user_id",
        ),
        reasons=("reason",),
        # Decisions about them there (deleted above; a mute or ban in force is kept by its
        # account alone, without its reason).
        about="SELECT id FROM room_sanctions WHERE user_id = :user_id"
        f" OR report_id IN ({_ROOM_MESSAGES})",
    ),
    # A mute or ban in a room lives on the platform and outlives an erasure; so do the tasks
    # still to carry one out or to end a mute, and to take the person out of a room (the
    # erasure queued those: handlers.experiments.rooms.take_out). They hold the account's
    # platform id until then, and no link to the person; done tasks are deleted. The
    # platform's last refusal goes. So does taking their own /melden (or reaction) out of a
    # room: it still goes, with no link to them.
    Table(
        "room_tasks",
        Kind.PERSONAL,
        "what the bot still has to do in an experiment's room: your invite, a mute, a ban,"
        " a mute's end, taking you out of the group, taking your /melden out of it",
        export="SELECT room_id AS room, op, until, due_at, attempts, tried_at, created_at,"
        " report_id, by_user_id IS :user_id AS by_you"
        f" FROM room_tasks WHERE user_id = :user_id OR by_user_id = :user_id OR {_TARGETS}"
        " ORDER BY id",
        erase=(
            "DELETE FROM room_tasks WHERE user_id = :user_id AND op = 'invite'",
            # Not with them (the person's row goes): out of the room all the same.
            "UPDATE room_tasks SET user_id = NULL WHERE user_id = :user_id AND op = 'remove'",
            # Their own /melden still to be taken out of the room: it protects them from
            # the one they reported, so it still goes, pointing at nobody (the message's
            # number alone, in the group: nothing of them, nor which report they made).
            "UPDATE room_tasks SET user_id = NULL, report_id = NULL"
            " WHERE user_id = :user_id AND op = 'hide'",
            f"UPDATE room_tasks SET last_error = NULL WHERE {_TARGETS}",
            "UPDATE room_tasks SET by_user_id = NULL WHERE by_user_id = :user_id",
        ),
    ),
    Table(
        "connections",
        Kind.PERSONAL,
        "requests to put you in touch with another resident, and your answers",
        export="SELECT id, CASE WHEN user_a = :user_id THEN answer_a ELSE answer_b END"
        " AS your_answer, CASE WHEN user_a = :user_id THEN contact_a ELSE contact_b END"
        " AS your_contact_line, CASE WHEN user_a = :user_id THEN idea_a ELSE idea_b END"
        " AS your_idea, CASE WHEN user_a = :user_id THEN idea_b ELSE idea_a END AS other_idea,"
        " status, created_at, closed_at, line_kept_for IS :user_id AS line_kept_for_your_return"
        " FROM connections WHERE user_a = :user_id OR user_b = :user_id ORDER BY id",
        erase=(
            # Their contact line on its way to the other (queued, or kept until the other
            # is back) goes no further: the message was queued as the request connected.
            "DELETE FROM outbox WHERE kind = 'connect' AND status IN ('pending', 'unreachable')"
            " AND json_extract(payload, '$[0].key') = 'connect.made' AND EXISTS (SELECT 1"
            " FROM connections c WHERE c.status IN ('connected', 'ended')"
            " AND c.closed_at = outbox.created_at"
            " AND ((c.user_a = :user_id AND c.user_b = outbox.user_id)"
            " OR (c.user_b = :user_id AND c.user_a = outbox.user_id)))",
            # A request that ended with this erasure stays for the other, without this
            # person's side (handlers/community/called_off.py); every other goes.
            "UPDATE connections SET user_a = NULL, idea_a = NULL, answer_a = NULL,"
            " contact_a = NULL WHERE user_a = :user_id AND status = 'ended'"
            " AND user_b IS NOT NULL",
            "UPDATE connections SET user_b = NULL, idea_b = NULL, answer_b = NULL,"
            " contact_b = NULL WHERE user_b = :user_id AND status = 'ended'"
            " AND user_a IS NOT NULL",
            "DELETE FROM connections WHERE user_a = :user_id OR user_b = :user_id",
            "UPDATE connections SET by_user_id = NULL WHERE by_user_id = :user_id",
            "UPDATE connections SET line_kept_for = NULL WHERE line_kept_for = :user_id",
        ),
    ),
    Table(
        "outbox_batches",
        Kind.PERSONAL,
        "broadcasts you sent as a civil servant: how many were delivered",
        export="SELECT batch, total, created_at, finished_at, delivered, unreachable, failed,"
        " cancelled FROM outbox_batches WHERE author_user_id = :user_id ORDER BY created_at",
        erase=(
            "UPDATE outbox_batches SET author_user_id = NULL, progress_ref = NULL"
            " WHERE author_user_id = :user_id",
        ),
    ),
    Table(
        "invites",
        Kind.PERSONAL,
        "staff invitations you made or used",
        export="SELECT role, created_at, expires_at, redeemed_at,"
        " created_by IS :user_id AS made_by_you FROM invites"
        " WHERE created_by = :user_id OR redeemed_by = :user_id ORDER BY id",
        erase=(
            "UPDATE invites SET created_by = NULL WHERE created_by = :user_id",
            "UPDATE invites SET redeemed_by = NULL WHERE redeemed_by = :user_id",
        ),
    ),
    # Budget rounds ("Velsen kiest"): rounds and projects are public; a ballot is personal
    # and goes with the person (a closed round keeps its totals in budget_projects.votes).
    # A round is the municipality's: it stays when the connector who set it up is erased,
    # without their name.
    Table(
        "budget_rounds",
        Kind.CONTENT,
        "budget rounds you set up as a community connector: name, budget, dates and status",
        export="SELECT id, name, total_cents, hood_budgets, opens_at, closes_at, hood_only,"
        " postcodes, tie_rule, tie_seed, status, created_at, reminded_at, cancelled_at,"
        " closed_at, voters, spent_cents FROM budget_rounds WHERE author_user_id = :user_id"
        " ORDER BY id",
        json_columns=("hood_budgets", "postcodes"),
        erase=(
            # One that lost the role before being erased: their scheduled round would open
            # once its author is no longer known (as one from before authors were kept).
            "UPDATE budget_rounds SET status = 'cancelled', cancelled_at = :now"
            " WHERE author_user_id = :user_id AND status = 'scheduled'"
            f" AND (SELECT role FROM users WHERE id = :user_id) NOT IN {RUNNER_ROLES}",
            "UPDATE budget_rounds SET author_user_id = NULL WHERE author_user_id = :user_id",
        ),
    ),
    Table("budget_projects", Kind.OPERATIONAL, "the projects on budget rounds' ballots"),
    Table(
        "budget_ballots",
        Kind.PERSONAL,
        "your ballots in budget rounds: when you started, changed and confirmed them, and"
        " the four digits of the postcode you gave where a round asked for it (until it closes)",
        export="SELECT r.name AS round, b.started_at, b.updated_at, b.confirmed_at,"
        " b.reminded_at, b.postcode FROM budget_ballots b"
        " JOIN budget_rounds r ON r.id = b.round_id"
        " WHERE b.user_id = :user_id ORDER BY b.round_id",
        erase=("DELETE FROM budget_ballots WHERE user_id = :user_id",),
    ),
    Table(
        "budget_choices",
        Kind.PERSONAL,
        "the projects you chose on a budget ballot",
        export=f"SELECT c.round_id AS round, {SHOWN_TITLE} AS project, p.cost_cents"
        " FROM budget_choices c JOIN budget_projects p ON p.id = c.project_id"
        " WHERE c.user_id = :user_id ORDER BY c.round_id, p.id",
        # By the key's first columns (a plain user_id would read every row).
        titles=("project",),
        erase=(
            "DELETE FROM budget_choices WHERE (round_id, user_id) IN"
            " (SELECT round_id, user_id FROM budget_ballots WHERE user_id = :user_id)",
        ),
    ),
    Table(
        "budget_votes",
        Kind.PERSONAL,
        "the projects you voted for (your confirmed ballot)",
        export=f"SELECT v.round_id AS round, {SHOWN_TITLE} AS project, p.cost_cents"
        " FROM budget_votes v JOIN budget_projects p ON p.id = v.project_id"
        " WHERE v.user_id = :user_id ORDER BY v.round_id, p.id",
        # By the key's first columns (a plain user_id would read every row).
        titles=("project",),
        erase=(
            "DELETE FROM budget_votes WHERE (round_id, user_id) IN"
            " (SELECT round_id, user_id FROM budget_ballots WHERE user_id = :user_id)",
        ),
    ),
    Table(
        "budget_preferences",
        Kind.PERSONAL,
        "whether you want an invitation when a budget round opens",
        export="SELECT invitations, updated_at FROM budget_preferences WHERE user_id = :user_id",
        erase=("DELETE FROM budget_preferences WHERE user_id = :user_id",),
    ),
    # "Velsen vraagt": answers are personal and go with the person; the counts published at
    # closing stay (they name nobody). A civil servant's published consultation is the
    # municipality's and stays unsigned; unpublished drafts go.
    Table(
        "consultations",
        Kind.CONTENT,
        "consultations you composed as a civil servant",
        export="SELECT id, kind, title, intro, follow_up, questions, moments, answer_days,"
        " status, audience_kind, audience_value, experiment_id, opens_at, closes_at,"
        " reminded_at, closed_at, invited, created_at, updated_at FROM consultations"
        " WHERE author_user_id = :user_id ORDER BY id",
        json_columns=("title", "intro", "follow_up", "questions", "moments"),
        erase=(
            "DELETE FROM consultations WHERE author_user_id = :user_id AND status = 'draft'",
            # One that lost the role before being erased: their scheduled poll would be
            # asked once its author is no longer known (as one whose author was erased).
            "UPDATE consultations SET status = 'cancelled', updated_at = :now"
            " WHERE author_user_id = :user_id AND kind = 'poll' AND status = 'scheduled'"
            f" AND (SELECT role FROM users WHERE id = :user_id) NOT IN {ASKER_ROLES}",
            "UPDATE consultations SET author_user_id = NULL WHERE author_user_id = :user_id",
        ),
    ),
    Table(
        "consultation_answers",
        Kind.PERSONAL,
        "your answers to consultations, question by question",
        export="SELECT r.consultation_id AS consultation, r.moment, a.question, a.choices,"
        " a.text, a.skipped, a.review, a.answered_at FROM consultation_answers a"
        " JOIN consultation_responses r ON r.id = a.response_id WHERE r.user_id = :user_id"
        " ORDER BY r.consultation_id, r.moment, a.question",
        json_columns=("choices",),
        erase=(
            "DELETE FROM consultation_answers WHERE response_id IN"
            " (SELECT id FROM consultation_responses WHERE user_id = :user_id)",
        ),
        # Approved typed answers were quoted, without a name, in others' results: personal
        # data, which goes whatever happens to the person's public content.
        quoted_personal="SELECT a.text FROM consultation_answers a JOIN consultation_responses r"
        " ON r.id = a.response_id WHERE r.user_id = :user_id AND a.review = 'approved'",
    ),
    Table(
        "consultation_responses",
        Kind.PERSONAL,
        "the consultations you were asked to answer, and how far you got",
        export="SELECT r.consultation_id AS consultation,"
        " coalesce(json_extract(c.title, '$.nl'),"
        " (SELECT value FROM json_each(c.title) LIMIT 1)) AS title, r.moment, r.invited_at,"
        " r.deadline, r.started_at, r.finished_at, r.reminded_at, r.withdrawn_at"
        " FROM consultation_responses r"
        " JOIN consultations c ON c.id = r.consultation_id WHERE r.user_id = :user_id"
        " ORDER BY r.consultation_id, r.moment",
        erase=("DELETE FROM consultation_responses WHERE user_id = :user_id",),
    ),
    Table(
        "consultation_preferences",
        Kind.PERSONAL,
        "whether you want a reminder before a consultation closes",
        export="SELECT reminders, updated_at FROM consultation_preferences"
        " WHERE user_id = :user_id",
        erase=("DELETE FROM consultation_preferences WHERE user_id = :user_id",),
    ),
    Table(
        "consultation_results",
        Kind.OPERATIONAL,
        "the counted answers of closed consultations, as published, with no link to people",
    ),
    # Meetings: a civil servant's published meeting is the municipality's and stays unsigned;
    # who registered (and how often they gave up a place) is personal, goes with the person,
    # and is removed after the meeting.
    Table(
        "meetings",
        Kind.CONTENT,
        "meetings you organised as a civil servant",
        export="SELECT id, title, description, address, map_link, online_link, neighbourhood,"
        " theme, experiment_id, lang, starts_at, ends_at, capacity, status, created_at,"
        " updated_at FROM meetings WHERE author_user_id = :user_id ORDER BY id",
        erase=("UPDATE meetings SET author_user_id = NULL WHERE author_user_id = :user_id",),
    ),
    Table(
        "meeting_registrations",
        Kind.PERSONAL,
        "the meetings you registered for, or wait for a place at",
        export="SELECT r.meeting_id AS meeting, m.title, m.starts_at, r.status,"
        " r.registered_at, r.placed_at, r.reminded_day_at, r.reminded_hour_at"
        " FROM meeting_registrations r JOIN meetings m ON m.id = r.meeting_id"
        " WHERE r.user_id = :user_id ORDER BY m.starts_at",
        erase=("DELETE FROM meeting_registrations WHERE user_id = :user_id",),
    ),
    Table(
        "meeting_places_given_up",
        Kind.PERSONAL,
        "how often you gave up your place at a meeting (so a calendar file sent to you later"
        " still counts)",
        export="SELECT g.meeting_id AS meeting, m.title, m.starts_at, g.times, g.last_at"
        " FROM meeting_places_given_up g JOIN meetings m ON m.id = g.meeting_id"
        " WHERE g.user_id = :user_id ORDER BY m.starts_at",
        erase=("DELETE FROM meeting_places_given_up WHERE user_id = :user_id",),
    ),
    AUDIT_LOG,
    Table(
        "platform_state",
        Kind.OPERATIONAL,
        "the bot's own session per platform: device, sync position, its secrets (log"
        " pseudonym key, encryption store passphrase)",
    ),
    Table(
        "undecrypted_messages",
        Kind.PERSONAL,
        "encrypted messages you sent on Matrix that the bot could not read yet (minutes)",
        export="SELECT room_id AS chat, since FROM undecrypted_messages"
        " WHERE :platform = 'matrix' AND sender = :platform_user_id ORDER BY since",
        erase=(
            "DELETE FROM undecrypted_messages"
            " WHERE :platform = 'matrix' AND sender = :platform_user_id",
        ),
    ),
    # A reply that could not be delivered waits here (a whole export, perhaps) until the
    # same update comes again: it goes with its person.
    Table(
        "handled_events",
        Kind.PERSONAL,
        "which of your messages were answered, and answers not yet confirmed (a week)",
        # A reply waiting is shown by its text's key and values; a file in it (an earlier
        # export, perhaps) by its name, not its bytes.
        export="SELECT event_id AS message, handled_at, lang AS language,"
        " (SELECT json_group_array(json_object('key', json_extract(value, '$.key'),"
        " 'params', json_extract(value, '$.params'), 'parts', json_extract(value, '$.parts'),"
        " 'file', json_extract(value, '$.document.filename')))"
        " FROM json_each(pending)) AS replies_waiting"
        " FROM handled_events WHERE user_id = :user_id ORDER BY handled_at",
        json_columns=("replies_waiting",),
        erase=("DELETE FROM handled_events WHERE user_id = :user_id",),
        quotes=("pending",),
        key=("platform", "event_id"),
    ),
    # Telegram updates between their arrival and their answer (moments; until the restart
    # after a crash): what the person sent, so it goes with them.
    Table(
        "telegram_inbox",
        Kind.PERSONAL,
        "your messages on Telegram that arrived and were not yet answered (moments)",
        export="SELECT update_id, received_at,"
        " coalesce(json_extract(body, '$.message.text'), json_extract(body, '$.message.caption'),"
        " json_extract(body, '$.callback_query.data')) AS sent"
        " FROM telegram_inbox WHERE :platform = 'telegram' AND sender = :platform_user_id"
        " ORDER BY update_id",
        erase=(
            "DELETE FROM telegram_inbox"
            " WHERE :platform = 'telegram' AND sender = :platform_user_id",
        ),
    ),
    Table(
        "erasure_scrubs",
        Kind.OPERATIONAL,
        "an erasure's last steps, for the moment they take: what to remove from others' rows",
    ),
    Table(
        "feed_removals",
        Kind.OPERATIONAL,
        "the public feed's entries of ideas taken out of view: their numbers and when, for"
        " the feed's blanked versions of them",
    ),
    Table(
        "open_data_state",
        Kind.OPERATIONAL,
        "how many times public content left view, and up to which the published folder shows",
    ),
    # Last: everything above may still look the person up.
    Table(
        "users",
        Kind.PERSONAL,
        "your profile: chat, name, language, neighbourhood, role, consent, when last seen",
        export="SELECT platform, platform_user_id, chat_id, display_name, language,"
        " neighbourhood, role, consent_at, onboarded_at, unreachable_at, away_since,"
        " created_at, last_seen_at FROM users WHERE id = :user_id",
        erase=("DELETE FROM users WHERE id = :user_id",),
    ),
)

#: Quoted texts shorter than this are not searched for: they would match unrelated rows.
#: (The person's names are looked for whatever their length in rows about them; in others'
#: rows, only their account ids of at least this length.)
MIN_QUOTED_LENGTH = 5


class Person(BaseModel):
    """Who is being exported or erased, as the statements' parameters need them."""

    user_id: int
    platform: str
    platform_user_id: str
    chat_id: str | None
    display_name: str | None

    def params(self, **extra: Any) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "platform": self.platform,
            "platform_user_id": self.platform_user_id,
            "chat_id": self.chat_id,
            **extra,
        }


class Section(BaseModel):
    """One table's rows about the person in an export."""

    holds: str
    rows: list[dict[str, Any]]


class PersonalData(BaseModel):
    """Everything stored about one person, section by section (one per table)."""

    generated_at: datetime
    sections: dict[str, Section]

    def counts(self) -> dict[str, int]:
        """How many rows each section has."""
        return {name: len(section.rows) for name, section in self.sections.items()}

    def to_json(self, about: dict[str, Any] | None = None) -> bytes:
        """The export as a readable JSON document (UTF-8)."""
        document = {
            "about": about or {},
            "generated_at": iso(self.generated_at),
            "sections": {name: s.model_dump() for name, s in self.sections.items()},
        }
        return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


class Erasure(BaseModel):
    """What an erasure did."""

    pseudonym: str
    content: ContentChoice
    cause: Cause
    at: datetime


class PersonalStore:
    """Export and erase one person over every table in :data:`TABLES`."""

    def __init__(self, db: Database, tables: Sequence[Table] = TABLES):
        self.db = db
        self.tables = tuple(tables)
        #: Called with the user id inside an erasure's transaction, before it commits
        #: (delivery's outbox: rows already taken for this person are not sent).
        self.erasing: list[Callable[[int], None]] = []
        #: Called inside an erasure's transaction with its last steps (their id and
        #: created_at in ``erasure_scrubs``) and the person's texts that others' messages
        #: must no longer carry, as those messages hold them (delivery's outbox: such a
        #: message is not sent, however it was taken, until those steps removed it).
        self.quoting: list[Callable[[tuple[int, str], Sequence[str]], None]] = []

    async def person(self, user_id: int) -> Person | None:
        row = await self.db.fetchone(
            "SELECT id, platform, platform_user_id, chat_id, display_name FROM users WHERE id = ?",
            (user_id,),
        )
        if row is None:
            return None
        return Person(
            user_id=row["id"],
            platform=row["platform"],
            platform_user_id=row["platform_user_id"],
            chat_id=row["chat_id"],
            display_name=row["display_name"],
        )

    async def export(
        self, user_id: int, now: datetime, *, media_limit: int | None = None
    ) -> PersonalData | None:
        """Everything stored about this person; None if there is no such person.

        Pictures are included (base64) while their bytes stay under ``media_limit``; past
        it a picture is listed without its data.
        """
        person = await self.person(user_id)
        if person is None:
            return None
        params = person.params()
        sections: dict[str, Section] = {}
        exported = [table for table in self.tables if table.export is not None]
        found = await self.db.fetchall_each([(table.export or "", params) for table in exported])
        for table, rows in zip(exported, found, strict=True):
            sections[table.name] = Section(
                holds=table.holds,
                rows=[_plain(row, table.json_columns, table.titles) for row in rows],
            )
        sections["media"] = Section(
            holds=_holds(self.tables, "media"),
            rows=await self._media_rows(params, media_limit),
        )
        return PersonalData(generated_at=now, sections=sections)

    async def _media_rows(self, params: dict[str, Any], limit: int | None) -> list[dict[str, Any]]:
        ids = await self._media_ids(params)
        rows = []
        budget = limit
        for media_id in sorted(ids):
            row = await self.db.fetchone(
                "SELECT id, mime_type, sha256, length(data) AS bytes, created_at,"
                " (SELECT uploaded_at FROM media_uploads u WHERE u.media_id = media.id"
                " AND u.user_id = ?) AS sent_by_you_at FROM media WHERE id = ?",
                (params["user_id"], media_id),
            )
            if row is None:
                continue
            entry = dict(row)
            size = int(row["bytes"])
            if budget is None or size <= budget:
                data = await self.db.fetchval(
                    "SELECT data FROM media WHERE id = ?", (media_id,), long=True
                )
                entry["data_base64"] = base64.b64encode(bytes(data)).decode("ascii")
                budget = None if budget is None else budget - size
            else:
                entry["data_base64"] = None
            rows.append(entry)
        return rows

    async def _media_ids(self, params: dict[str, Any]) -> set[int]:
        ids: set[int] = set()
        for table in self.tables:
            if table.media is None:
                continue
            for row in await self.db.fetchall(table.media, params):
                value = row[0]
                if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                    ids.add(int(value))
        return ids

    async def authored(self, user_id: int, names: Sequence[str]) -> dict[str, int]:
        """How many rows these tables' exports hold for this person (what they sent in)."""
        person = await self.person(user_id)
        counts = dict.fromkeys(names, 0)
        if person is None:
            return counts
        for table in self.tables:
            if table.name in counts and table.export is not None:
                sql = f"SELECT COUNT(*) FROM ({table.export})"
                counts[table.name] = int(await self.db.fetchval(sql, person.params()))
        return counts

    async def erase(
        self, user_id: int, *, content: ContentChoice, cause: Cause, now: datetime
    ) -> Erasure | None:
        """Erase this person everywhere, in one transaction; None if there is no such person.

        Personal rows are deleted; public content stays anonymously or is deleted, as
        ``content`` says; pictures nobody uses any more are deleted; records kept for
        accountability keep only the pseudonym; a mute or ban in force is kept by a keyed
        hash of the account alone (in an experiment's room by the account id alone, so it
        can still be lifted there, until it is lifted or ends). Once committed, the rest
        runs in the background (:meth:`scrub`): rows of others that quote the texts of
        deleted content (a button label, a notification) are removed, reasons staff typed
        that quote those texts are emptied, and so are those in the rows about the person
        that name them (noted here, while those still point at the person), and the
        write-ahead log is emptied.
        """
        async with self.db.transaction():
            person = await self.person(user_id)
            if person is None:
                return None
            for hook in self.erasing:
                hook(user_id)
            pseudonym = "anon-" + secrets.token_hex(8)
            params = person.params(pseudonym=pseudonym, now=iso(now))
            media = await self._media_ids(params)
            await Sanctions(self.db).keep(
                person.user_id, person.platform, person.platform_user_id, now
            )
            # Their personal texts go from others' rows on every erasure; the texts of their
            # public content only when it goes too.
            quoted, later = await self._quoted(params, content_too=False), {}
            if content is ContentChoice.DELETE:
                quoted = await self._quoted(params, content_too=True)
                later = await self._later(params)
            # Before anything is erased: afterwards nothing links those rows to them.
            about = await self._about(params)
            names = sorted(
                {
                    value
                    for value in (person.display_name, person.platform_user_id, person.chat_id)
                    if value and value.strip()
                }
            )
            ids = _account_ids(person)
            # Written beside the database once this is committed (:meth:`scrub`), so that a
            # backup restored later cannot bring the person back (storage.privacy.ledger).
            ledger = await ErasureLedger(self.db).entry(
                person.platform, person.platform_user_id, content.value, now
            )
            for table in self.tables:
                steps = table.delete_content if content is ContentChoice.DELETE else ()
                steps += table.keep_content if content is ContentChoice.KEEP else ()
                for sql in steps:
                    # All someone ever sent in, with what hangs on it: off the loop's thread.
                    await self.db.execute(sql, params, long=True)
                for sql in table.erase:
                    # A few rows, found by an index (or in a small table).
                    await self.db.execute(sql, params)
            await self._drop_unused_media(media)
            # Rows the erasure deleted are left out: a new row could take a deleted one's id.
            about = await self._still_there(about)
            await self.db.execute(
                "INSERT INTO erasures (erased_at, cause, content, pseudonym) VALUES (?, ?, ?, ?)",
                (iso(now), cause.value, content.value, pseudonym),
            )
            needles = _needles(quoted)
            scrub_id = await self.db.execute(
                "INSERT INTO erasure_scrubs (quotes, names, content_deleted, delete_later,"
                " media, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    json.dumps(needles, ensure_ascii=False),
                    json.dumps(
                        {"names": names, "ids": ids, "about": about, "ledger": ledger.to_json()},
                        ensure_ascii=False,
                    ),
                    content is ContentChoice.DELETE,
                    json.dumps(later),
                    json.dumps(sorted(media)),
                    iso(now),
                ),
            )
            for withhold in self.quoting:
                withhold((scrub_id, iso(now)), needles)
            self.db.after_commit(functools.partial(self.scrub, scrub_id))
        return Erasure(pseudonym=pseudonym, content=content, cause=cause, at=now)

    async def _later(self, params: dict[str, Any]) -> dict[str, list[int]]:
        """The ids of rows to delete after the erasure, by table."""
        later = {}
        for table in self.tables:
            if table.delete_later is not None:
                rows = await self.db.fetchall(table.delete_later, params)
                later[table.name] = sorted(int(row[0]) for row in rows)
        return later

    async def _about(self, params: dict[str, Any]) -> dict[str, list[list[Any]]]:
        """The keys of the rows about the person whose reasons may name them, by table."""
        about = {}
        for table in self.tables:
            if table.reasons and table.about is not None:
                rows = await self.db.fetchall(table.about, params)
                if rows:
                    about[table.name] = [list(row) for row in rows]
        return about

    async def _still_there(self, about: dict[str, list[list[Any]]]) -> dict[str, list[list[Any]]]:
        """Of these rows by table, the ones that still exist."""
        there = {}
        for table in self.tables:
            keys = [tuple(key) for key in about.get(table.name, [])]
            found: list[list[Any]] = []
            for start in range(0, len(keys), KEYS_PER_STATEMENT):
                where, params = _keys_in(table.key, keys[start : start + KEYS_PER_STATEMENT])
                rows = await self.db.fetchall(
                    f"SELECT {', '.join(table.key)} FROM {table.name} WHERE {where}", params
                )
                found += [list(row) for row in rows]
            if found:
                there[table.name] = found
        return there

    async def _quoted(self, params: dict[str, Any], *, content_too: bool) -> list[str]:
        """The person's texts that others' rows may quote: the personal ones, and with
        ``content_too`` those of their public content as well."""
        texts: set[str] = set()
        for table in self.tables:
            selects = [table.quoted_personal] + ([table.quoted] if content_too else [])
            for sql in selects:
                if sql is None:
                    continue
                for row in await self.db.fetchall(sql, params):
                    if isinstance(row[0], str) and len(row[0]) >= MIN_QUOTED_LENGTH:
                        texts.add(row[0])
        return sorted(texts)

    # The last steps of an erasure, in the background ---------------------------------------

    async def resume(self) -> int:
        """Finish the last steps of erasures a restart interrupted; returns how many."""
        rows = await self.db.fetchall("SELECT id FROM erasure_scrubs ORDER BY id")
        for row in rows:
            self.db.after_commit(functools.partial(self.scrub, int(row[0])))
        return len(rows)

    async def scrub(self, scrub_id: int) -> None:
        """An erasure's last steps: write it in the erasure ledger beside the database
        (:mod:`storage.privacy.ledger`), empty the reasons in the rows about the person that
        name them, delete the content it took out of view and the pictures nobody uses any more,
        remove what quotes the person's deleted texts from others' rows, clean up after
        deleted content (the search index), then empty the write-ahead log.

        Finding those rows reads every row of a few tables once: that runs on a connection
        of its own on another thread, so nobody waits for it. Removing them takes a few
        rows at a time, each checked again, in transactions of a few milliseconds.
        """
        row = await self.db.fetchone(
            "SELECT quotes, names, content_deleted, delete_later, media, created_at"
            " FROM erasure_scrubs WHERE id = ?",
            (scrub_id,),
        )
        if row is None:
            return
        quotes = tuple(json.loads(row["quotes"]))
        named = json.loads(row["names"])
        if isinstance(named, dict) and "ledger" in named:
            # First, now that the erasure is committed: a restart before the end of these
            # steps writes it again (the same line twice changes nothing).
            entry = LedgerEntry.from_json(named["ledger"])
            if entry is not None:
                await ErasureLedger(self.db).write(entry)
        if isinstance(named, list):
            # Left by an erasure from before rows about the person were told apart: its
            # names (of five letters or more) are looked for in every row, as they were then.
            everywhere, named = tuple(named), {"names": [], "about": {}}
        else:
            # Quoted texts are long and specific: looked for in every row.
            everywhere = quotes
        # An account id is looked for in every row as well (as a whole word). A name only in
        # the rows about its owner: they chose it, and it can be any word or phrase ("Fiets",
        # "het budget"), which in the rows of others would empty their records.
        distinctive = tuple(named.get("ids", ()))
        # A row whose reason is emptied is stamped with the erasure's moment (changed_at).
        erased_at = str(row["created_at"])
        steps = 0
        # First the person's names, only in the rows about them that the erasure noted:
        # before deleting anything here (a new row could take a deleted one's id).
        names = tuple(named["names"])
        for table in self.tables:
            keys = [tuple(key) for key in named["about"].get(table.name, [])]
            for column in table.reasons if names else ():
                search = _Search(table, column, names, False, words=True)
                steps = await self._remove_in_chunks(search, keys, steps, erased_at)
        for name, ids in json.loads(row["delete_later"]).items():
            for start in range(0, len(ids), DELETE_CHUNK):
                chunk = ",".join(str(int(i)) for i in ids[start : start + DELETE_CHUNK])
                async with self.db.transaction():
                    # Unlinked, out of view: nobody else changes these rows meanwhile.
                    await self.db.execute(f"DELETE FROM {name} WHERE id IN ({chunk})", long=True)
                steps = await self._step(steps)
        media = {int(media_id) for media_id in json.loads(row["media"])}
        if media:
            async with self.db.transaction():
                await self._drop_unused_media(media)
        searches = []
        for table in self.tables:
            for column in table.quotes:
                searches.append(_Search(table, column, quotes, True))
            for column in table.reasons:
                searches.append(_Search(table, column, everywhere, False))
                searches.append(_Search(table, column, distinctive, False, words=True))
        searches = [search for search in searches if search.needles]
        found = await self._find(searches)
        for search, keys in zip(searches, found, strict=True):
            steps = await self._remove_in_chunks(search, keys, steps, erased_at)
        if row["content_deleted"]:
            for table in self.tables:
                if table.purge is not None:
                    while await self._purge(table.purge):
                        steps = await self._step(steps)
        async with self.db.transaction():
            await self.db.execute("DELETE FROM erasure_scrubs WHERE id = ?", (scrub_id,))
        await self.db.truncate_log()

    async def _find(self, searches: list[_Search]) -> list[list[tuple[Any, ...]]]:
        """The keys of the rows each search may concern (checked again before removal)."""
        if not searches:
            return []
        if self.db.path == ":memory:":
            # No second connection to an in-memory database: read on its own.
            return [
                [
                    tuple(found[:-1])
                    for found in await self.db.fetchall(
                        f"SELECT {', '.join(s.table.key)}, {s.column} FROM {s.table.name}",
                        long=True,
                    )
                    if s.quotes_in(found[-1])
                ]
                for s in searches
            ]
        return await asyncio.to_thread(_find_quoting, self.db.path, searches)

    async def _remove_in_chunks(
        self, search: _Search, keys: list[tuple[Any, ...]], steps: int, erased_at: str
    ) -> int:
        """Remove what ``search`` finds in these rows, a few rows per unit of work."""
        for start in range(0, len(keys), SCRUB_CHUNK):
            async with self.db.transaction():
                await self._remove(search, keys[start : start + SCRUB_CHUNK], erased_at)
            steps = await self._step(steps)
        return steps

    async def _step(self, steps: int) -> int:
        """Count a unit of the last steps; every few, copy the log into the file, so that
        it does not grow by all they write (emptying a large log takes long)."""
        steps += 1
        if steps % SCRUB_STEPS_PER_CHECKPOINT == 0:
            await self.db.checkpoint()
        return steps

    async def _purge(self, sql: str) -> bool:
        """Run ``sql`` once, in a transaction of its own; returns whether it did any work."""
        async with self.db.transaction():
            before = await self.db.fetchval("SELECT total_changes()")
            await self.db.execute(sql)
            changed = await self.db.fetchval("SELECT total_changes()") - before
        # The statement itself counts once: more means it did some work.
        return bool(changed >= 2)

    async def _remove(self, search: _Search, keys: list[tuple[Any, ...]], erased_at: str) -> None:
        table, column = search.table, search.column
        where, params = _keys_in(table.key, keys)
        rows = await self.db.fetchall(
            f"SELECT {', '.join(table.key)}, {column} FROM {table.name} WHERE {where}", params
        )
        hits = [tuple(row[:-1]) for row in rows if search.quotes_in(row[-1])]
        if not hits:
            return
        where, params = _keys_in(table.key, hits)
        if search.delete:
            await self.db.execute(f"DELETE FROM {table.name} WHERE {where}", params)
        else:
            # Emptied: NULL, or '' where a reason is required (a sanction's: "no longer known").
            columns = await self.db.fetchall(f"PRAGMA table_info({table.name})")
            required = any(c["name"] == column and c["notnull"] for c in columns)
            empty = "''" if required else "NULL"
            if table.changed_at is None:
                await self.db.execute(
                    f"UPDATE {table.name} SET {column} = {empty} WHERE {where}", params
                )
            else:
                await self.db.execute(
                    f"UPDATE {table.name} SET {column} = {empty}, {table.changed_at} = ?"
                    f" WHERE {where}",
                    [erased_at, *params],
                )

    async def _drop_unused_media(self, candidates: set[int]) -> None:
        """Delete the person's pictures that nothing refers to any more."""
        await MediaStore(self.db).drop_unused(candidates)


#: Keys looked up in one statement (SQLite allows some thousands of parameters).
KEYS_PER_STATEMENT = 500
#: Rows removed per unit of work while scrubbing (each unit takes a few milliseconds).
SCRUB_CHUNK = 50
#: Units of work of an erasure's last steps between copies of the log into the file.
SCRUB_STEPS_PER_CHECKPOINT = 4
#: Rows of ``delete_later`` deleted per unit of work (an idea takes its comments with it).
DELETE_CHUNK = 2


@dataclass(frozen=True)
class _Search:
    """Rows of one column to find: those holding any of the needles."""

    table: Table
    column: str
    needles: tuple[str, ...]
    #: Remove such rows (a quote in someone's chat) or only empty the column (a reason).
    delete: bool
    #: The needles are names: found as whole words, in any case (see :func:`_naming`);
    #: else as they are, anywhere in the text.
    words: bool = False

    def quotes_in(self, value: Any) -> bool:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str):
            return False
        if self.words:
            pattern = _naming(self.needles)
            return pattern is not None and pattern.search(_folded(value)) is not None
        return any(needle in value for needle in self.needles)


def _folded(text: str) -> str:
    """A text as names are compared in it: in compatibility form (NFKC: "Ｊａｎ" is "Jan"),
    without invisible format characters (direction marks, joiners), with each run of white
    space as one space, and case folded."""
    normal = unicodedata.normalize("NFKC", text)
    visible = "".join(char for char in normal if unicodedata.category(char) != "Cf")
    return " ".join(visible.split()).casefold()


def _account_ids(person: Person) -> list[str]:
    """The person's ids on a chat platform, which say who is meant wherever they are written,
    unlike a name they chose: a number of five digits or more (Telegram: "7001112223") or an
    id with a server in it (Matrix: "@anna:hs.nl"). The console's ids are the names typed at
    ``--as``: names, not ids."""
    values = {person.platform_user_id, person.chat_id}
    return sorted(v for v in values if v and _is_account_id(v))


def _is_account_id(value: str) -> bool:
    digits = value.removeprefix("-")
    if digits.isascii() and digits.isdigit():
        return len(digits) >= MIN_QUOTED_LENGTH
    return value[:1] in "@!#" and ":" in value and " " not in value


@functools.lru_cache(maxsize=16)
def _naming(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """A pattern finding any of these names in a :func:`_folded` text as a whole word (no
    letter, digit or underscore right before or after it: "Jan," yes, "januari" no); None
    if none is left once folded (an empty name)."""
    words = sorted({word for word in map(_folded, names) if word}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)")


def _find_quoting(path: str, searches: list[_Search]) -> list[list[tuple[Any, ...]]]:
    """On a read-only connection of its own: the keys of rows whose column holds a needle.

    One pass per column: each distinct value is searched once for all needles (a broadcast's
    many rows hold the same text), then the rows holding a value that was found are listed.
    """
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        conn.execute("CREATE TEMP TABLE needles (text TEXT NOT NULL)")
        found = []
        for search in searches:
            if search.words:
                found.append(_naming_rows(conn, search))
                continue
            conn.execute("DELETE FROM needles")
            conn.executemany("INSERT INTO needles VALUES (?)", ((n,) for n in search.needles))
            name, column = search.table.name, search.column
            rows = conn.execute(
                f"WITH seen AS MATERIALIZED (SELECT DISTINCT {column} AS value FROM {name}"
                f" WHERE {column} IS NOT NULL),"
                " hit AS MATERIALIZED (SELECT value FROM seen WHERE EXISTS"
                " (SELECT 1 FROM needles WHERE instr(value, needles.text) > 0))"
                f" SELECT {', '.join(search.table.key)} FROM {name}"
                f" WHERE {column} IN (SELECT value FROM hit)"
            ).fetchall()
            found.append([tuple(row) for row in rows])
        return found


def _naming_rows(conn: sqlite3.Connection, search: _Search) -> list[tuple[Any, ...]]:
    """The keys of rows whose column names one of the needles as a whole word (any case,
    any width: compared in Python, as SQLite's ``lower`` knows only ASCII)."""
    name, column = search.table.name, search.column
    values = conn.execute(
        f"SELECT DISTINCT {column} FROM {name} WHERE {column} IS NOT NULL"
    ).fetchall()
    hits = [value for (value,) in values if search.quotes_in(value)]
    if not hits:
        return []
    conn.execute("DELETE FROM needles")
    conn.executemany("INSERT INTO needles VALUES (?)", ((hit,) for hit in hits))
    rows = conn.execute(
        f"SELECT {', '.join(search.table.key)} FROM {name}"
        f" WHERE {column} IN (SELECT text FROM needles)"
    ).fetchall()
    return [tuple(row) for row in rows]


def _keys_in(key: tuple[str, ...], keys: list[tuple[Any, ...]]) -> tuple[str, list[Any]]:
    """A WHERE clause finding these rows by their key (one or two columns), and its
    parameters: ``a IN (...)``, or ``(a = ? AND b IN (...)) OR ...``, which SQLite looks
    up in the key's index (a row value ``IN (VALUES ...)`` would read the whole table)."""
    if len(key) == 1:
        return f"{key[0]} IN ({', '.join('?' * len(keys))})", [k[0] for k in keys]
    first, second = key
    grouped: dict[Any, list[Any]] = {}
    for a, b in keys:
        grouped.setdefault(a, []).append(b)
    terms, params = [], []
    for a, bs in grouped.items():
        terms.append(f"({first} = ? AND {second} IN ({', '.join('?' * len(bs))}))")
        params += [a, *bs]
    return " OR ".join(terms), params


def _needles(texts: Sequence[str]) -> list[str]:
    """Texts as typed and as quoted (see :func:`_quotations`), each also as stored inside
    JSON (quotes and control characters escaped)."""
    return sorted(
        {
            form
            for text in texts
            for quote in _quotations(text)
            for form in (quote, _json_inner(quote))
        }
    )


#: The longest start of a text that messages quote (``handlers.answers.excerpt``'s lengths
#: are all below it).
MAX_EXCERPT = 240


def _quotations(text: str) -> set[str]:
    """A text and the forms in which others' messages quote it: on one line (runs of white
    space as one space), and its start cut with an ellipsis. Such a start is no part of the
    whole text ("Een klimrek…" is not in "Een klimrek voor kinderen"), so every cut a
    message could make is a needle of its own: at each space, or within a first word too
    long to cut at one, up to :data:`MAX_EXCERPT` characters. The ellipsis keeps them as
    specific as the text: only a quote of this text ends there with one."""
    flat = " ".join(text.split())
    forms = {text, flat}
    head = flat[:MAX_EXCERPT]
    first_space = head.find(" ")
    ends = {i for i, char in enumerate(head) if char == " "}
    ends |= set(range(MIN_QUOTED_LENGTH, first_space if first_space >= 0 else len(head)))
    forms |= {
        flat[:end].rstrip() + "…"
        for end in ends
        if end < len(flat) and len(flat[:end].rstrip()) >= MIN_QUOTED_LENGTH
    }
    return {form for form in forms if len(form) >= MIN_QUOTED_LENGTH}


async def table_names(db: Database) -> list[str]:
    """Every table in the database file (virtual tables and their shadow tables too)."""
    rows = await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [str(row["name"]) for row in rows]


def _holds(tables: Sequence[Table], name: str) -> str:
    return next(table.holds for table in tables if table.name == name)


def _plain(
    row: Any, json_columns: tuple[str, ...], titles: tuple[str, ...] = ()
) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for key in row.keys():  # noqa: SIM118 (aiosqlite rows are not mappings)
        value = row[key]
        if key in json_columns and isinstance(value, str):
            value = json.loads(value)
        elif key in titles and isinstance(value, str):
            value = shown_title(value)
        elif isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        entry[key] = value
    return entry


def _json_inner(text: str) -> str:
    """A text as it appears inside a JSON string (quotes and control characters escaped)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


__all__ = [
    "AUDIT_LOG",
    "TABLES",
    "Cause",
    "ContentChoice",
    "Erasure",
    "Kind",
    "PersonalData",
    "PersonalStore",
    "Section",
    "Table",
    "table_names",
]
