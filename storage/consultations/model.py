"""What a consultation is made of: its questions, its moments, a person's response and answers.

Texts written for residents (a title, a question, an option) are kept per language as
:data:`Texts` (``{"nl": "...", "en": "..."}``); a civil servant writes in the municipality's
language, the profile's evaluations come in both. :func:`pick` chooses the one to show; an
edit is kept under that one's language (:func:`picked_language`) and replaces them all.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from storage.news.broadcasts import Audience

#: A text by language code.
Texts = dict[str, str]

MAX_QUESTIONS = 10
MAX_OPTIONS = 8
SCALE = range(1, 6)
#: The answer value for "zeg ik liever niet" (in button payloads and tallies).
SKIP = "x"


def pick(texts: Texts | None, lang: str, fallback: str = "nl") -> str:
    """The text in ``lang``, else in ``fallback``, else in whatever language there is."""
    if not texts:
        return ""
    return texts[picked_language(texts, lang, fallback)]


def picked_language(texts: Texts, lang: str, fallback: str = "nl") -> str:
    """The language whose text :func:`pick` shows (``fallback`` when there is none): an
    edit replaces the text that was shown, whatever language the editor reads."""
    for choice in (lang, fallback):
        if texts.get(choice):
            return choice
    return next((language for language, text in texts.items() if text), fallback)


class QuestionKind(StrEnum):
    """How a question is answered."""

    #: One of the options.
    ONE = "one"
    #: Any number of the options (at least one).
    SEVERAL = "several"
    #: 1 to 5, with words at both ends.
    SCALE = "scale"
    #: A short typed text, read by staff before anyone else sees it.
    TEXT = "text"


class Question(BaseModel):
    """One question; every question can also be answered with "zeg ik liever niet"."""

    model_config = ConfigDict(frozen=True)

    kind: QuestionKind
    text: Texts
    options: list[Texts] = Field(default_factory=list)
    #: The words at 1 and at 5 of a scale.
    low: Texts | None = None
    high: Texts | None = None

    def choices(self) -> range:
        """The option numbers (or scale values) an answer may hold."""
        if self.kind is QuestionKind.SCALE:
            return SCALE
        return range(1, len(self.options) + 1)


class Moment(BaseModel):
    """When an evaluation asks the participants of its experiment."""

    model_config = ConfigDict(frozen=True)

    #: So many days after a participant joined.
    after_join_days: int | None = Field(default=None, gt=0)
    #: When the experiment ends.
    at_end: bool = False


class ConsultationKind(StrEnum):
    POLL = "poll"
    EVALUATION = "evaluation"


class ConsultationStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Content(BaseModel):
    """What a consultation asks and says: everything a civil servant composes."""

    title: Texts
    intro: Texts
    follow_up: Texts
    questions: list[Question] = Field(min_length=1, max_length=MAX_QUESTIONS)


class Consultation(Content):
    """A consultation as stored."""

    id: int
    kind: ConsultationKind
    moments: list[Moment] = Field(default_factory=list)
    answer_days: int | None = None
    audience: Audience
    experiment_id: int | None = None
    author_user_id: int | None = None
    status: ConsultationStatus
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    reminded_at: datetime | None = None
    closed_at: datetime | None = None
    invited: int = 0
    created_at: datetime
    updated_at: datetime

    @property
    def total(self) -> int:
        return len(self.questions)

    def question(self, number: int) -> Question | None:
        """Question ``number`` (from 1), or None when there is no such question."""
        if 1 <= number <= len(self.questions):
            return self.questions[number - 1]
        return None

    def moment_numbers(self) -> list[int]:
        """The moments people are asked at: 0 for a poll, 1..n for an evaluation."""
        if self.kind is ConsultationKind.POLL:
            return [0]
        return list(range(1, len(self.moments) + 1))

    def takes_answers(self, now: datetime) -> bool:
        """Open, and not past its closing time."""
        return self.status is ConsultationStatus.OPEN and (
            self.closes_at is None or now < self.closes_at
        )

    def answers_until(self, deadline: datetime | None) -> datetime | None:
        """Until when someone whose own deadline is ``deadline`` (an evaluation's answering
        period; None for a poll's) can answer: that deadline, or the closing time when it
        comes first (staff may close an evaluation before everyone's time is over)."""
        if deadline is None or self.closes_at is None:
            return deadline or self.closes_at
        return min(deadline, self.closes_at)


class Response(BaseModel):
    """One person's response to one consultation (at one moment of an evaluation)."""

    id: int
    consultation_id: int
    moment: int
    user_id: int
    invited_at: datetime | None = None
    deadline: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reminded_at: datetime | None = None
    #: Invited, but the invitation was withdrawn before it went out (the experiment of
    #: an evaluation's "how is it going?" ended): not asked after all.
    withdrawn_at: datetime | None = None

    def takes_answers(self, now: datetime) -> bool:
        """Not past this person's own deadline (an evaluation's answering period)."""
        return self.deadline is None or now < self.deadline


class Answer(BaseModel):
    """The answer to one question."""

    question: int
    choices: list[int] = Field(default_factory=list)
    text: str | None = None
    skipped: bool = False
    review: str | None = None
    answered_at: datetime
