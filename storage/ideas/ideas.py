"""Ideas residents submit, their status history, who supports and who follows them.

The public number of an idea (#42) is its id. Supporter and (visible) comment counts live on
the idea row, and how many ideas can be browsed per category and neighbourhood in
``ideas_listed_counts``; database triggers keep them equal to the rows they count, in the
same transaction, so they can never drift and no page has to count them.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import aiosqlite
from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database


class IdeaStatus(StrEnum):
    """Where an idea stands; set by the connector, shown to everyone."""

    SUBMITTED = "ingediend"
    IN_REVIEW = "in_behandeling"
    #: A quick win: it becomes an experiment.
    QUICK_WIN = "quick_win"
    #: Taken into the strategic agenda, under one of its themes.
    ADOPTED = "opgenomen"
    #: Forwarded to a department of the municipality.
    FORWARDED = "doorgestuurd"
    NOT_FEASIBLE = "niet_haalbaar"
    #: Merged with another idea that says the same.
    MERGED = "samengevoegd"


class Removal(StrEnum):
    """Why an idea is out of public view (its author still sees it among their ideas)."""

    #: Enough residents reported it: hidden until the connector decides.
    REPORTS = "reports"
    #: The connector hid it; they can show it again.
    HIDDEN = "hidden"
    #: The connector removed it, for good.
    REMOVED = "removed"


class IdeaSort(StrEnum):
    """The orders residents browse ideas in."""

    NEWEST = "new"
    MOST_SUPPORTED = "top"


class Idea(BaseModel):
    """One idea as everyone sees it (the author is a link, never shown publicly)."""

    id: int
    category: str
    title: str
    description: str
    neighbourhood: str | None
    photo_id: int | None
    author_user_id: int | None
    status: IdeaStatus
    supporters: int
    comments: int
    created_at: datetime
    updated_at: datetime
    removed_at: datetime | None
    #: Why it is out of view (None: in view, or taken out of view by its author).
    removal: Removal | None = None
    removal_reason: str | None = None
    #: When its author withdrew it (it is out of view then too).
    withdrawn_at: datetime | None = None

    @property
    def removed(self) -> bool:
        """Out of public view, for whatever reason."""
        return self.removed_at is not None

    @property
    def withdrawn(self) -> bool:
        """Taken out of view by its author."""
        return self.withdrawn_at is not None

    @property
    def editable(self) -> bool:
        """Whether its author may still change or withdraw it: nobody decided on it yet."""
        return self.status is IdeaStatus.SUBMITTED and not self.removed


class StatusChange(BaseModel):
    """One entry in an idea's status history."""

    id: int
    idea_id: int
    status: IdeaStatus
    reason: str | None
    theme: str | None
    department: str | None
    merged_into: int | None
    by_user_id: int | None
    at: datetime


class IdeaCard(BaseModel):
    """An idea as one person sees it on its card."""

    idea: Idea
    #: Every status it had, oldest first.
    history: list[StatusChange]
    #: Whether the person looking supports it, and follows it.
    supported: bool
    following: bool


class IdeaPage(BaseModel):
    """A page of ideas and how many there are in all."""

    ideas: list[Idea]
    total: int


class AuthoredIdea(BaseModel):
    """One of a resident's own ideas with its latest status change."""

    idea: Idea
    latest: StatusChange


class IdeaError(Exception):
    """An idea change that cannot be made (unknown idea, missing status detail)."""


# Visible comments are counted on the row (``comments``) by triggers; hidden ones never count.
_COLUMNS = "SELECT i.*"
_SELECT = f"{_COLUMNS} FROM ideas i"
_HISTORY_COLUMNS = (
    "id",
    "idea_id",
    "status",
    "reason",
    "theme",
    "department",
    "merged_into",
    "by_user_id",
    "at",
)
# An idea's card in one statement: the idea, whether this viewer supports and follows it,
# and its whole status history (as a JSON array, oldest first).
_CARD = (
    f"{_COLUMNS},"
    " EXISTS (SELECT 1 FROM idea_supports s WHERE s.idea_id = i.id AND s.user_id = :viewer)"
    " AS supported,"
    " EXISTS (SELECT 1 FROM idea_follows f WHERE f.idea_id = i.id AND f.user_id = :viewer)"
    " AS following,"
    " (SELECT json_group_array(json_object("
    + ", ".join(f"'{name}', h.{name}" for name in _HISTORY_COLUMNS)
    + ")) FROM (SELECT * FROM idea_status_history WHERE idea_id = i.id ORDER BY id) h)"
    " AS history"
    " FROM ideas i WHERE i.id = :idea"
)


def _idea(row: aiosqlite.Row) -> Idea:
    return Idea(
        id=row["id"],
        category=row["category"],
        title=row["title"],
        description=row["description"],
        neighbourhood=row["neighbourhood"],
        photo_id=row["photo_id"],
        author_user_id=row["author_user_id"],
        status=IdeaStatus(row["status"]),
        supporters=row["supporters"],
        comments=row["comments"],
        created_at=parse(row["created_at"]),
        updated_at=parse(row["updated_at"]),
        removed_at=parse(row["removed_at"]),
        removal=Removal(row["removal"]) if row["removal"] else None,
        removal_reason=row["removal_reason"],
        withdrawn_at=parse(row["withdrawn_at"]),
    )


def _change(row: aiosqlite.Row | dict[str, Any]) -> StatusChange:
    return StatusChange(
        id=row["id"],
        idea_id=row["idea_id"],
        status=IdeaStatus(row["status"]),
        reason=row["reason"],
        theme=row["theme"],
        department=row["department"],
        merged_into=row["merged_into"],
        by_user_id=row["by_user_id"],
        at=parse(row["at"]),
    )


class Ideas:
    """The ideas, idea_status_history, idea_supports and idea_follows tables."""

    def __init__(self, db: Database):
        self.db = db
        #: Words found too common to search for, with the ideas they are in, and since when
        #: (``time.monotonic``) they are remembered; see :meth:`_telling`.
        self._common: dict[str, int] = {}
        self._common_since = 0.0

    async def create(
        self,
        *,
        category: str,
        title: str,
        description: str,
        neighbourhood: str | None,
        photo_id: int | None,
        author_user_id: int | None,
        now: datetime,
    ) -> Idea:
        """Store a new idea as submitted; its author follows it from the start."""
        stamp = iso(now)
        async with self.db.transaction():
            row = await self.db.fetchone(
                "INSERT INTO ideas (category, title, description, neighbourhood, photo_id,"
                " author_user_id, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (
                    category,
                    title,
                    description,
                    neighbourhood,
                    photo_id,
                    author_user_id,
                    IdeaStatus.SUBMITTED.value,
                    stamp,
                    stamp,
                ),
            )
            assert row is not None
            idea = _idea(row)
            await self.db.execute(
                "INSERT INTO idea_status_history (idea_id, status, by_user_id, at)"
                " VALUES (?, ?, ?, ?)",
                (idea.id, IdeaStatus.SUBMITTED.value, author_user_id, stamp),
            )
            if author_user_id is not None:
                await self.follow(idea.id, author_user_id, now)
        return idea

    async def get(self, idea_id: int) -> Idea | None:
        """The idea with this number, removed or not; None if there is none."""
        row = await self.db.fetchone(f"{_SELECT} WHERE i.id = ?", (idea_id,))
        return _idea(row) if row else None

    async def get_many(self, idea_ids: Sequence[int]) -> list[Idea]:
        """The ideas with these numbers that exist, in the order asked for."""
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE i.id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(idea_ids)),),
        )
        found = {idea.id: idea for idea in map(_idea, rows)}
        return [found[idea_id] for idea_id in idea_ids if idea_id in found]

    async def card(self, idea_id: int, viewer_id: int) -> IdeaCard | None:
        """The idea with this number as ``viewer_id`` sees it; None if there is none."""
        row = await self.db.fetchone(_CARD, {"idea": idea_id, "viewer": viewer_id})
        if row is None:
            return None
        history = sorted(json.loads(row["history"]), key=lambda change: change["id"])
        return IdeaCard(
            idea=_idea(row),
            history=[_change(change) for change in history],
            supported=bool(row["supported"]),
            following=bool(row["following"]),
        )

    async def browse(
        self,
        sort: IdeaSort = IdeaSort.NEWEST,
        *,
        category: str | None = None,
        neighbourhood: str | None = None,
        limit: int = 5,
        offset: int = 0,
    ) -> IdeaPage:
        """A page of the ideas that are not removed, newest or most supported first."""
        where = ["i.removed_at IS NULL"]
        params: list[Any] = []
        if category is not None:
            where.append("i.category = ?")
            params.append(category)
        if neighbourhood is not None:
            where.append("i.neighbourhood = ?")
            params.append(neighbourhood)
        condition = " AND ".join(where)
        order = "i.id DESC" if sort == IdeaSort.NEWEST else "i.supporters DESC, i.id DESC"
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE {condition} ORDER BY {order} LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        # The total comes from the counts kept per category and neighbourhood (triggers).
        scope = ["1"]
        if category is not None:
            scope.append("category = ?")
        if neighbourhood is not None:
            scope.append("neighbourhood = ?")
        total = await self.db.fetchval(
            "SELECT COALESCE(SUM(listed), 0) FROM ideas_listed_counts"
            f" WHERE {' AND '.join(scope)}",
            params,
        )
        return IdeaPage(ideas=[_idea(row) for row in rows], total=int(total))

    async def by_author(self, user_id: int, *, limit: int = 5, offset: int = 0) -> list[Idea]:
        """A resident's own ideas, newest first (removed ones too: it is their history)."""
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE i.author_user_id = ? ORDER BY i.id DESC LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [_idea(row) for row in rows]

    async def merged_into(self, idea_id: int) -> int | None:
        """The idea this one was last merged into (None if it never was)."""
        found = await self.db.fetchval(
            "SELECT merged_into FROM idea_status_history WHERE idea_id = ? AND status = ?"
            " ORDER BY id DESC LIMIT 1",
            (idea_id, IdeaStatus.MERGED.value),
        )
        return int(found) if found is not None else None

    async def count_by_author(self, user_id: int) -> int:
        total = await self.db.fetchval(
            "SELECT COUNT(*) FROM ideas WHERE author_user_id = ?", (user_id,)
        )
        return int(total)

    async def similar(self, text: str, *, limit: int = 3) -> list[Idea]:
        """Ideas that look like ``text``, best first (bm25; title words weigh more).

        The resident's words are turned into quoted FTS terms, so nothing they type is read
        as query syntax. Words that many ideas share are left out (see :meth:`_telling`).
        Removed and merged ideas are left out: nobody can support those.
        """
        terms = search_terms(text)
        telling = await self._telling(terms) if terms else []
        if not telling:
            return []
        query = _match(telling)
        rows = await self.db.fetchall(
            f"{_SELECT} JOIN (SELECT rowid AS hit, bm25(ideas_fts, 3.0, 1.0) AS rank"
            " FROM ideas_fts WHERE ideas_fts MATCH ?) m ON m.hit = i.id"
            " WHERE i.removed_at IS NULL AND i.status != ?"
            " ORDER BY m.rank, i.id DESC LIMIT ?",
            (query, IdeaStatus.MERGED.value, limit),
        )
        return [_idea(row) for row in rows]

    async def search(self, words: Sequence[str], *, limit: int = 5, offset: int = 0) -> IdeaPage:
        """A page of the ideas in view with these words in their title or description, the
        best matches first (bm25; title words weigh more), and how many there are.

        ``words`` are a person's search words (:func:`search_words`): each becomes a quoted
        FTS term, never query syntax. Words that many ideas share are left out when there
        are telling ones beside them, as for :meth:`similar` (they would rank next to
        nothing, and cost the most). Ideas out of view (hidden, removed, withdrawn, or
        erased with their author and not yet deleted) are never found: the same ideas as
        :meth:`browse` lists.
        """
        terms = list(dict.fromkeys(form for word in words for form in _capitals(_stem(word))))
        # A word no idea has (a typo) takes nothing from a common one beside it.
        telling = await self._telling(terms, keep_common=True) if terms else []
        found = await self._found(telling, limit=limit, offset=offset)
        rest = [term for term in terms if term not in telling]
        if not found.total and telling and rest:
            # The telling words are only in ideas out of view (their words stay in the
            # index until they are deleted): the common words beside them still find.
            rest = await self._telling(rest, keep_common=True)
            found = await self._found(rest, limit=limit, offset=offset)
        return found

    async def _found(self, terms: list[str], *, limit: int, offset: int) -> IdeaPage:
        """A page of the ideas in view with any of these terms, best matches first."""
        if not terms:
            return IdeaPage(ideas=[], total=0)
        query = _match(terms)
        rows = await self.db.fetchall(
            f"{_SELECT} JOIN (SELECT rowid AS hit, bm25(ideas_fts, 3.0, 1.0) AS rank"
            " FROM ideas_fts WHERE ideas_fts MATCH ?) m ON m.hit = i.id"
            " WHERE i.removed_at IS NULL ORDER BY m.rank, i.id DESC LIMIT ? OFFSET ?",
            (query, limit, offset),
        )
        total = await self.db.fetchval(
            "SELECT COUNT(*) FROM ideas_fts JOIN ideas i ON i.id = ideas_fts.rowid"
            " WHERE ideas_fts MATCH ? AND i.removed_at IS NULL",
            (query,),
        )
        return IdeaPage(ideas=[_idea(row) for row in rows], total=int(total))

    async def _telling(self, terms: list[str], *, keep_common: bool = False) -> list[str]:
        """The terms that say which ideas look alike: those not in a large share of ideas.

        A word in one idea out of twenty hardly tells them apart, and its long list of
        ideas is what makes a search slow; bm25 would weigh it next to nothing anyway. If
        every word is that common, the rarest ones are kept.

        A word no idea has is left out as well: it matches nothing and adds nothing to any
        idea's rank, yet bm25 weighs it for every idea the other words find (in the drafts
        of ``bench.core``, four words of nineteen and half the time of a search). When the only
        words that are not common are such words, nothing is searched: none of the draft's
        telling words is in any idea. Empty when there is nothing to search for. With
        ``keep_common`` (a person's search, where any word will do), the rarest common ones
        are kept then instead, as when every word is common.

        Counting a word reads its whole list of ideas in the index: a rare word costs
        next to nothing, a common one about a millisecond at 20,000 ideas, and a draft has
        several. A common word stays common, so those found are remembered for
        :data:`COMMON_MEMORY` seconds and not counted again meanwhile.
        """
        if time.monotonic() - self._common_since > COMMON_MEMORY:
            self._common.clear()
            self._common_since = time.monotonic()
        folded = [_fold(term) for term in terms]
        uses = {word: self._common[word] for word in folded if word in self._common}
        unknown = [word for word in folded if word not in uses]
        telling: set[str] = set()
        if unknown:
            # One statement for every term: each counts the ideas under its prefix.
            rows = await self.db.fetchall(
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM ideas) AS ideas,"
                " (SELECT COALESCE(SUM(doc), 0) FROM ideas_fts_terms"
                "  WHERE term >= t.value AND term < t.value || char(1114111)) AS uses"
                " FROM json_each(?) t ORDER BY t.key",
                (json.dumps(unknown),),
            )
            common = max(COMMON_FLOOR, int(rows[0]["ideas"]) * COMMON_SHARE)
            for word, row in zip(unknown, rows, strict=True):
                uses[word] = int(row["uses"])
                if uses[word] > common:
                    self._common[word] = uses[word]
                else:
                    telling.add(word)
        if telling:
            kept = [
                term
                for term, word in zip(terms, folded, strict=True)
                if word in telling and uses[word]
            ]
            if kept or not keep_common:
                return kept
        counted = sorted(
            (uses[word], term) for term, word in zip(terms, folded, strict=True) if uses[word]
        )
        return [term for _, term in counted[:KEPT_WHEN_ALL_COMMON]]

    async def update_own(
        self,
        idea_id: int,
        author_user_id: int,
        *,
        category: str,
        title: str,
        description: str,
        neighbourhood: str | None,
        photo_id: int | None,
        now: datetime,
    ) -> bool:
        """Change an idea its author wrote, while it is still new; False if it is not.

        A new title is stamped (``title_changed_at``): every feed entry of the idea shows it,
        so the published feed gives those entries a newer version.
        """
        changed = await self.db.execute_rowcount(
            # In SET, ``title`` is still the old title.
            "UPDATE ideas SET title_changed_at = CASE WHEN title IS ? THEN title_changed_at"
            " ELSE ? END, category = ?, title = ?, description = ?, neighbourhood = ?,"
            " photo_id = ?, updated_at = ? WHERE id = ? AND author_user_id = ?"
            " AND status = ? AND removed_at IS NULL",
            (
                title,
                iso(now),
                category,
                title,
                description,
                neighbourhood,
                photo_id,
                iso(now),
                idea_id,
                author_user_id,
                IdeaStatus.SUBMITTED.value,
            ),
        )
        return changed > 0

    async def withdraw(self, idea_id: int, author_user_id: int, now: datetime) -> bool:
        """Its author takes a new idea back: out of view, marked withdrawn; False if it is
        not theirs or no longer new."""
        stamp = iso(now)
        changed = await self.db.execute_rowcount(
            "UPDATE ideas SET removed_at = ?, withdrawn_at = ?, updated_at = ?"
            " WHERE id = ? AND author_user_id = ? AND status = ? AND removed_at IS NULL",
            (stamp, stamp, stamp, idea_id, author_user_id, IdeaStatus.SUBMITTED.value),
        )
        return changed > 0

    async def remove(
        self,
        idea_id: int,
        now: datetime,
        *,
        how: Removal | None = None,
        reason: str | None = None,
    ) -> bool:
        """Take an idea out of public view; False if that changes nothing.

        An idea hidden by reports can then be hidden or removed by the connector, a hidden one
        removed; a removal is final.
        """
        connector = how in (Removal.HIDDEN, Removal.REMOVED)
        changed = await self.db.execute_rowcount(
            "UPDATE ideas SET removed_at = COALESCE(removed_at, ?), removal = ?,"
            " removal_reason = ?, updated_at = ? WHERE id = ? AND (removed_at IS NULL"
            " OR (? AND removal IN ('reports', 'hidden')))",
            (iso(now), how.value if how else None, reason, iso(now), idea_id, connector),
        )
        return changed > 0

    async def restore(self, idea_id: int, now: datetime) -> bool:
        """Show a hidden idea again (not one removed for good); False if it was not hidden.

        The moment is stamped (``restored_at``): while it was hidden the published feed
        carried its entries blanked, so they need a version newer than that one.
        """
        changed = await self.db.execute_rowcount(
            "UPDATE ideas SET removed_at = NULL, removal = NULL, removal_reason = NULL,"
            " restored_at = ?, updated_at = ? WHERE id = ? AND removal IN ('reports', 'hidden')",
            (iso(now), iso(now), idea_id),
        )
        return changed > 0

    # Status -----------------------------------------------------------------------------

    async def set_status(
        self,
        idea_id: int,
        status: IdeaStatus,
        *,
        now: datetime,
        reason: str | None = None,
        theme: str | None = None,
        department: str | None = None,
        merged_into: int | None = None,
        by_user_id: int | None = None,
    ) -> StatusChange:
        """Give an idea a new status and record it in its history, both or neither.

        ``opgenomen`` needs a theme, ``doorgestuurd`` a department, ``samengevoegd`` the
        other idea; details that do not belong to the status are refused too.
        """
        _check_details(idea_id, status, theme, department, merged_into)
        stamp = iso(now)
        async with self.db.transaction():
            if merged_into is not None and await self.get(merged_into) is None:
                raise IdeaError(f"idea #{merged_into} does not exist")
            changed = await self.db.execute_rowcount(
                "UPDATE ideas SET status = ?, updated_at = ? WHERE id = ?",
                (status.value, stamp, idea_id),
            )
            if changed == 0:
                raise IdeaError(f"idea #{idea_id} does not exist")
            change_id = await self.db.execute(
                "INSERT INTO idea_status_history (idea_id, status, reason, theme, department,"
                " merged_into, by_user_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (idea_id, status.value, reason, theme, department, merged_into, by_user_id, stamp),
            )
        row = await self.db.fetchone(
            "SELECT * FROM idea_status_history WHERE id = ?", (change_id,)
        )
        assert row is not None
        return _change(row)

    async def history(self, idea_id: int) -> list[StatusChange]:
        """Every status the idea had, oldest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM idea_status_history WHERE idea_id = ? ORDER BY id", (idea_id,)
        )
        return [_change(row) for row in rows]

    async def latest_changes(self, idea_ids: Sequence[int]) -> dict[int, StatusChange]:
        """The most recent status change of each of these ideas."""
        if not idea_ids:
            return {}
        marks = ", ".join("?" for _ in idea_ids)
        rows = await self.db.fetchall(
            "SELECT h.* FROM idea_status_history h"
            f" WHERE h.idea_id IN ({marks}) AND h.id = (SELECT MAX(l.id)"
            " FROM idea_status_history l WHERE l.idea_id = h.idea_id)",
            list(idea_ids),
        )
        return {row["idea_id"]: _change(row) for row in rows}

    # Supports and follows ------------------------------------------------------------------

    async def support(self, idea_id: int, user_id: int, now: datetime) -> bool:
        """Support an idea (and follow it); False if this person already supports it."""
        async with self.db.transaction():
            added = await self.db.execute_rowcount(
                "INSERT INTO idea_supports (idea_id, user_id, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (idea_id, user_id, iso(now)),
            )
            if added:
                await self.follow(idea_id, user_id, now)
        return added > 0

    async def withdraw_support(self, idea_id: int, user_id: int) -> bool:
        """Take a support back; False if there was none. Following stays as it was."""
        removed = await self.db.execute_rowcount(
            "DELETE FROM idea_supports WHERE idea_id = ? AND user_id = ?", (idea_id, user_id)
        )
        return removed > 0

    async def supporter_count(self, idea_id: int) -> int:
        """Support rows counted one by one (the idea's ``supporters`` must equal this)."""
        total = await self.db.fetchval(
            "SELECT COUNT(*) FROM idea_supports WHERE idea_id = ?", (idea_id,)
        )
        return int(total)

    async def follow(self, idea_id: int, user_id: int, now: datetime) -> bool:
        """Follow an idea's status changes; False if this person already follows it."""
        added = await self.db.execute_rowcount(
            "INSERT INTO idea_follows (idea_id, user_id, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (idea_id, user_id, iso(now)),
        )
        return added > 0

    async def unfollow(self, idea_id: int, user_id: int) -> bool:
        """Stop following; False if this person did not follow it."""
        removed = await self.db.execute_rowcount(
            "DELETE FROM idea_follows WHERE idea_id = ? AND user_id = ?", (idea_id, user_id)
        )
        return removed > 0

    async def followers(self, idea_id: int) -> list[int]:
        """The user ids to tell about a change of this idea, in the order they followed."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM idea_follows WHERE idea_id = ? ORDER BY created_at, user_id",
            (idea_id,),
        )
        return [int(row["user_id"]) for row in rows]


def _check_details(
    idea_id: int,
    status: IdeaStatus,
    theme: str | None,
    department: str | None,
    merged_into: int | None,
) -> None:
    needs = {
        IdeaStatus.ADOPTED: ("theme", theme),
        IdeaStatus.FORWARDED: ("department", department),
        IdeaStatus.MERGED: ("merged_into", merged_into),
    }
    given = {"theme": theme, "department": department, "merged_into": merged_into}
    wanted = needs.get(status)
    if wanted is not None and wanted[1] is None:
        raise IdeaError(f"status {status.value} needs {wanted[0]}")
    for name, value in given.items():
        if value is not None and (wanted is None or wanted[0] != name):
            raise IdeaError(f"status {status.value} takes no {name}")
    if merged_into == idea_id:
        raise IdeaError("an idea cannot be merged with itself")


# Similar ideas --------------------------------------------------------------------------

#: Words too common to say two ideas look alike (Dutch and English).
_STOPWORDS = """
    aan al alle als alles ben bij dan dat de deze die dit doe doen door dus een eens en er
    ga gaan geen had heb hebben heeft het hier hij hoe hun ik in is je jij kan kun kunnen
    maar me meer men met mij mijn moet moeten na naar niet nog nu of om ook op over te tot
    u uit van veel voor want waren was wat we wel werd wie wij wil willen word worden zal
    ze zeer zich zij zijn zo zou zouden graag idee ideeen ideeën gemeente
    a an and are as at be but by can do for from has have i if in into is it its more my
    no not of on or our should so that the their there this to was we were what when will
    with would you your idea ideas please
"""
STOPWORDS = frozenset(_STOPWORDS.split())
#: Plural endings folded off: "bankjes" also finds "bankje", "speeltuinen" "speeltuin".
_SUFFIXES = ("en", "s")
_WORD = re.compile(r"[^\W_]+")
MAX_TERMS = 24
#: A word in more than this share of the ideas (and at least COMMON_FLOOR of them) is too
#: common to tell ideas apart.
COMMON_SHARE = 0.05
COMMON_FLOOR = 50
KEPT_WHEN_ALL_COMMON = 2
#: Seconds a word found too common is remembered as such (the share changes slowly).
COMMON_MEMORY = 600.0


def search_words(text: str) -> list[str]:
    """The words of ``text`` a search looks for, in lower case, as typed: no stop words, no
    numbers, none shorter than three letters, none twice (``bankje`` after ``bankjes``)."""
    words: list[str] = []
    stems: set[str] = set()
    # Casefolding makes the Turkish "İ" an "i" with a combining dot, which is no letter of
    # a word; the index reads it as "i" ("İskele" is "iskele"), and so does the search.
    folded = text.casefold().replace("i\u0307", "i")
    for found in _WORD.finditer(folded):  # one by one: a huge text stops early
        word = found.group()
        if len(word) < 3 or word in STOPWORDS or word.isdigit():
            continue
        stem = _stem(word)
        if stem not in stems:
            stems.add(stem)
            words.append(word)
        if len(words) == MAX_TERMS:
            break
    return words


def search_terms(text: str) -> list[str]:
    """The telling words of ``text`` for a search: no stop words, plural endings off."""
    return [_stem(word) for word in search_words(text)]


def _match(terms: list[str]) -> str:
    """An FTS5 MATCH expression for ideas with any of these terms.

    Every term becomes a double-quoted string (so ``AND``, ``NEAR(``, ``*`` or ``-`` typed
    by a resident are plain words), with a prefix star to catch plurals; terms are OR-ed and
    bm25 decides which ideas share the most telling words.
    """
    return " OR ".join('"' + term.replace('"', '""') + '"*' for term in terms)


def _fold(term: str) -> str:
    """A term as the index keeps it: without diacritics ("café" is kept as "cafe").

    The index takes them off Latin letters only: the Ukrainian "й" and "ї", or the Arabic
    "أ", are letters of their own there, as they are to their readers."""
    if term.isascii():  # most words: nothing to fold, no character by character
        return term
    return "".join(_fold_letter(char) for char in term)


def _fold_letter(char: str) -> str:
    """A letter as the index keeps it: a Latin one without its marks."""
    parts = unicodedata.normalize("NFD", char)
    if not parts[0].isascii():
        return char
    return "".join(part for part in parts if not unicodedata.combining(part))


def _capitals(term: str) -> list[str]:
    """A search term, and how the index keeps it where the word was written with Turkish
    capitals: the index reads every "I" as "i", also the capital of "ı", so "Işık" is
    "isık" there and "IŞIK" "isik" ("ışık" stays "ısık")."""
    if "ı" not in term:
        return [term]
    forms = [term, term.replace("ı", "i")]
    if term.startswith("ı"):
        forms.insert(1, "i" + term[1:])
    return list(dict.fromkeys(forms))


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word
