"""The municipality profile: names, places, themes and limits that make Samenspel local.

Loaded from TOML (``messages/velsen.toml`` by default) and validated at start-up, so a typo
in a profile stops the bot with a clear message instead of confusing residents later.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

# Re-exported: the profile's names are the same type as stored texts.
from storage.localized import Localized as Localized

LANGUAGES = ("nl", "en")
DEFAULT_PROFILE = Path(__file__).resolve().parent.parent / "messages" / "velsen.toml"


class Named(BaseModel):
    """Something residents choose from a list: a neighbourhood, a theme, a category."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9-]{1,32}$")
    name: Localized


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


class Limits(BaseModel):
    """Flood protection and moderation thresholds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages_per_minute: int = Field(default=30, ge=1)
    ideas_per_day: int = Field(default=5, ge=1)
    comments_per_hour: int = Field(default=20, ge=1)
    report_threshold: int = Field(default=3, ge=1)


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

    @field_validator("neighbourhoods", "themes", "categories", "departments")
    @classmethod
    def _unique_ids(cls, items: list[Named]) -> list[Named]:
        ids = [item.id for item in items]
        if len(ids) != len(set(ids)):
            raise ValueError("ids must be unique")
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
    return next((item for item in items if item.id == id_), None)


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
