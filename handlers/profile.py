"""The municipality profile: names, places, themes and limits that make Samenspel local.

Loaded from TOML (``messages/velsen.toml`` by default) and validated at start-up, so a typo
in a profile stops the bot with a clear message instead of confusing residents later.
"""

from __future__ import annotations

import itertools
import tomllib
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

# Re-exported: the profile's postcode ranges are what a budget round stores.
from storage.budgets.rounds import PostcodeRange as PostcodeRange
from storage.clock import days_later
from storage.consultations.tallies import NO_NEIGHBOURHOOD, OTHER_GROUP

# Re-exported: the profile's names are the same type as stored texts.
from storage.localized import Localized as Localized

LANGUAGES = ("nl", "en")
DEFAULT_PROFILE = Path(__file__).resolve().parent.parent / "messages" / "velsen.toml"


class Named(BaseModel):
    """Something residents choose from a list: a neighbourhood, a theme, a category."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9-]{1,32}$")
    name: Localized
    #: What it means, in a few words, where residents pick it (a theme).
    about: Localized | None = None


class ExperimentSeed(BaseModel):
    """A running experiment the profile brings into a fresh database."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slug: str = Field(pattern=r"^[a-z0-9-]{1,40}$")
    title: Localized
    summary: Localized
    place: Localized
    organiser: Localized
    neighbourhood: str | None = None
    theme: str | None = None


class Privacy(BaseModel):
    """Who is responsible for residents' data and where to reach them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    controller: Localized
    contact: str = Field(min_length=3)
    authority: Localized


#: Top-level themes of the government's list (TOOI "Taxonomie beleidsagenda") that fit what
#: residents send in; the open data's catalogue entry names them by URI.
GovernmentTheme = Literal[
    "Bestuur",
    "Cultuur en recreatie",
    "Natuur en milieu",
    "Ruimte en infrastructuur",
    "Sociale zekerheid",
    "Wonen",
    "Zorg en gezondheid",
]


class PublicationProfile(BaseModel):
    """How the open data and the public site present the municipality to data catalogues
    (DCAT-AP-NL, for data.overheid.nl)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The municipality's code from CBS and the government's organisation list, "gm0453".
    municipality_code: str = Field(pattern=r"^gm[0-9]{4}$")
    #: Where people ask about the published data.
    contact: str = Field(min_length=3)
    themes: list[GovernmentTheme] = Field(default=["Bestuur"], min_length=1)


class Limits(BaseModel):
    """Flood protection and moderation thresholds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages_per_minute: int = Field(default=30, ge=1)
    ideas_per_day: int = Field(default=5, ge=1)
    proposals_per_day: int = Field(default=3, ge=1)
    comments_per_hour: int = Field(default=20, ge=1)
    report_threshold: int = Field(default=3, ge=1)


class QuestionSeed(BaseModel):
    """A question of an evaluation the profile brings in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["one", "several", "scale", "text"]
    text: Localized
    options: list[Localized] = Field(default_factory=list, max_length=8)
    #: The words at 1 and at 5 of a scale.
    low: Localized | None = None
    high: Localized | None = None

    @model_validator(mode="after")
    def _fits_its_kind(self) -> QuestionSeed:
        if self.kind in ("one", "several") and len(self.options) < 2:
            raise ValueError("a choice question needs at least two options")
        if self.kind not in ("one", "several") and self.options:
            raise ValueError(f"a {self.kind} question has no options")
        if (self.kind == "scale") != (self.low is not None and self.high is not None):
            raise ValueError(
                "a scale question, and only a scale, has words at 1 and 5 (low, high)"
            )
        return self


class EvaluationSeed(BaseModel):
    """A short consultation that goes to an experiment's participants at set moments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9-]{1,40}$")
    #: The slugs of the experiments that carry it (one evaluation each)...
    experiments: list[str] = Field(default_factory=list)
    #: ...and every experiment started in the chat (from an idea, a proposal or a budget
    #: round): it gets one when it starts.
    started_in_chat: bool = False
    #: ``{experiment}`` is replaced by the experiment's title.
    title: Localized
    intro: Localized
    follow_up: Localized
    #: Participants are asked this many days after they joined (one moment each)...
    after_join_days: list[int] = Field(default_factory=list)
    #: ...and when the experiment ends.
    at_end: bool = False
    #: How many days they have to answer.
    answer_days: int = Field(default=14, ge=2)
    questions: list[QuestionSeed] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _has_a_moment(self) -> EvaluationSeed:
        if not self.experiments and not self.started_in_chat:
            raise ValueError("an evaluation needs experiments, or started_in_chat = true")
        if not self.after_join_days and not self.at_end:
            raise ValueError("an evaluation needs a moment: after_join_days or at_end")
        if any(days < 1 for days in self.after_join_days):
            raise ValueError("after_join_days are whole days from 1")
        return self


class ConsultationRules(BaseModel):
    """Consultations: what they are called, and how results protect who answered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The name residents know consultations by ("Velsen vraagt").
    name: Localized = Localized(nl="Peilingen", en="Polls")
    #: No result is shown for a group (a neighbourhood, a language) smaller than this, and
    #: no votes per project for a budget round fewer voted in.
    suppression_threshold: int = Field(default=5, ge=2)
    evaluations: list[EvaluationSeed] = Field(default_factory=list)


class BudgetRules(BaseModel):
    """Budget rounds: what residents know them by."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The name residents know budget rounds by ("Velsen kiest"): the menu button, the
    #: example name of a new round, what residents' data calls them.
    name: Localized = Localized(nl="Burgerbegroting", en="Participatory budget")


class RoomRules(BaseModel):
    """An experiment's room: its house rules, and how residents report a message there."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The house rules a newcomer reads once, in the welcome (a few short lines).
    rules: Localized = Localized(
        nl="Wees vriendelijk. Deel geen gegevens van anderen. Geen reclame.",
        en="Be kind. Do not share other people's details. No advertising.",
    )
    #: On Matrix, a reaction with this emoji on a message reports it too (empty: replies
    #: with /melden only).
    report_reaction: str = Field(default="", max_length=8)


class MeetingRules(BaseModel):
    """Meetings: how long the list of who registered is kept after a meeting."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Registrations are removed this many days after the meeting ended.
    keep_registrations_days: int = Field(default=30, ge=0, le=365)


class ConnectionRules(BaseModel):
    """Connecting two residents: how long a request waits for both answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: A request not answered by both within this many days expires: whoever said yes is
    #: told, and the contact line they typed is forgotten.
    answer_days: int = Field(default=14, ge=1, le=365)

    def expires(self, asked_at: datetime, zone: tzinfo) -> datetime:
        """When a request asked at ``asked_at`` expires: ``answer_days`` calendar days
        later at the same clock time where the municipality is (``zone``), in UTC."""
        return days_later(asked_at, self.answer_days, zone)


class Profile(BaseModel):
    """Everything that is the municipality rather than Samenspel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slug: str
    name: Localized
    initiatives_platform: Localized
    connector: Localized
    full_financing_limit: int = Field(gt=0)
    review_days: int = Field(gt=0)
    privacy: Privacy
    limits: Limits = Limits()
    neighbourhoods: list[Named] = Field(min_length=1)
    themes: list[Named] = Field(min_length=1)
    categories: list[Named] = Field(min_length=1)
    departments: list[Named] = Field(min_length=1)
    experiments: list[ExperimentSeed] = Field(default_factory=list)
    consultations: ConsultationRules = ConsultationRules()
    budgets: BudgetRules = BudgetRules()
    rooms: RoomRules = RoomRules()
    meetings: MeetingRules = MeetingRules()
    connections: ConnectionRules = ConnectionRules()
    #: Without it the open data carries no DCAT-AP-NL metadata.
    publication: PublicationProfile | None = None
    #: The municipality's postcodes (four digits): a budget round can be limited to them.
    postcodes: list[PostcodeRange] = Field(default_factory=list)

    @field_validator("neighbourhoods", "themes", "categories", "departments")
    @classmethod
    def _unique_ids(cls, items: list[Named]) -> list[Named]:
        ids = [item.id for item in items]
        if len(ids) != len(set(ids)):
            raise ValueError("ids must be unique")
        return items

    @field_validator("neighbourhoods")
    @classmethod
    def _no_reserved_neighbourhood(cls, items: list[Named]) -> list[Named]:
        # Published results name people without a neighbourhood and small groups together
        # by these codes; a neighbourhood by the same code would be mixed up with them.
        reserved = {item.id for item in items} & {NO_NEIGHBOURHOOD, OTHER_GROUP}
        if reserved:
            raise ValueError(f"neighbourhood ids {sorted(reserved)} are reserved")
        return items

    @model_validator(mode="after")
    def _experiments_point_at_known_places(self) -> Profile:
        hoods = {n.id for n in self.neighbourhoods}
        themes = {t.id for t in self.themes}
        for seed in self.experiments:
            if seed.neighbourhood and seed.neighbourhood not in hoods:
                raise ValueError(f"experiment {seed.slug}: unknown neighbourhood")
            if seed.theme and seed.theme not in themes:
                raise ValueError(f"experiment {seed.slug}: unknown theme")
        for area in self.postcodes:
            if area.neighbourhood and area.neighbourhood not in hoods:
                raise ValueError(f"postcodes {area.shown()}: unknown neighbourhood")
        spans = sorted((a.first, a.last) for a in self.postcodes)
        for (_, last), (first, _) in itertools.pairwise(spans):
            if first <= last:
                raise ValueError(f"postcodes: ranges overlap at {first}")
        slugs = {seed.slug for seed in self.experiments}
        for evaluation in self.consultations.evaluations:
            unknown = sorted(set(evaluation.experiments) - slugs)
            if unknown:
                raise ValueError(f"evaluation {evaluation.key}: unknown experiments {unknown}")
        return self

    def neighbourhood(self, id_: str | None) -> Named | None:
        return _find(self.neighbourhoods, id_)

    def theme(self, id_: str | None) -> Named | None:
        return _find(self.themes, id_)

    def category(self, id_: str | None) -> Named | None:
        return _find(self.categories, id_)

    def department(self, id_: str | None) -> Named | None:
        return _find(self.departments, id_)


def _find(items: list[Named], id_: str | None) -> Named | None:
    for item in items:  # a handful: a plain loop, no generator to set up on every call
        if item.id == id_:
            return item
    return None


class ProfileError(Exception):
    """A profile file cannot be used; the message is one line naming the file and why."""


def load_profile(path: Path | None = None) -> Profile:
    """Read and validate a profile file (the built-in Velsen profile by default).

    Raises:
        ProfileError: the file cannot be read, is not TOML (UTF-8), or is not a valid profile.
    """
    path = path or DEFAULT_PROFILE
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not a TOML file (it is not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not a TOML file ({exc})") from None
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "the profile"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ProfileError(f"{path}: {where}: {message}") from None
