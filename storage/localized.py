"""A text in the languages it was written in: one type for the profile and for storage.

Dutch is always there (staff and the profile write in Dutch); any other language is
optional and keyed by its two-letter code (``{"nl": "Buurtbieb", "tr": "Sokak kütüphanesi"}``).
A reader whose language is missing reads the Dutch text; :meth:`Localized.has` tells whether
that happened, so the reader can be told it is the Dutch original.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

ORIGINAL = "nl"
_CODE = re.compile(r"^[a-z]{2}$")


class Localized(BaseModel):
    """A text in Dutch and any other languages (a name in the profile, an experiment's title).

    Stored as a JSON object by language, the same shape the profile writes in TOML.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    nl: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _languages(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for code, text in data.items():
                if not isinstance(code, str) or not _CODE.match(code):
                    raise ValueError(f"{code!r} is not a two-letter language code")
                if not isinstance(text, str) or not text.strip():
                    raise ValueError(f"the {code} text must be text, not empty")
        return data

    @classmethod
    def same(cls, text: str) -> Localized:
        """A text someone typed: the Dutch original, read as it is in every language."""
        return cls(nl=text)

    @property
    def texts(self) -> dict[str, str]:
        """Every language it is written in, Dutch first."""
        return {ORIGINAL: self.nl, **{k: str(v) for k, v in (self.model_extra or {}).items()}}

    def has(self, lang: str) -> bool:
        """Whether it is written in ``lang`` (otherwise ``lang`` reads the Dutch text)."""
        return lang in self.texts

    def folded(self) -> set[str]:
        """Its texts in every language, casefolded (to recognise one typed)."""
        return {text.casefold() for text in self.texts.values()}

    def __call__(self, lang: str) -> str:
        # As texts.get(lang, nl), without building every language's dict first: a list of
        # ideas names a category and a neighbourhood on every line.
        if lang != ORIGINAL and self.model_extra and lang in self.model_extra:
            return str(self.model_extra[lang])
        return self.nl
