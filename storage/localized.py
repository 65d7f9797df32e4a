"""A text in every language Samenspel speaks: one type for the profile and for storage."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Localized(BaseModel):
    """A text in Dutch and English (a name in the profile, an experiment's title)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nl: str = Field(min_length=1)
    en: str = Field(min_length=1)

    @classmethod
    def same(cls, text: str) -> Localized:
        """One text for every language (what a person typed, in the language they wrote)."""
        return cls(nl=text, en=text)

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" else self.nl
