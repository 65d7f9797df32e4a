"""The personal-data export as the person reads it: their language, their words, local times.

Storage hands over every table's rows as stored (``budget_cents``, UTC times, status ids);
this turns them into the file a resident opens: each part titled and explained in their
language, times in the municipality's time zone, amounts in euro (``budget``, not
``budget_cents``), statuses, themes, neighbourhoods, roles and languages by their names, yes
or no for what is stored as 1 or 0. The file keeps one shape in every language (``about``,
``generated_at``, ``sections`` by table name with ``title``, ``holds`` and ``rows``; fields by
their names), so a program reads it as easily as a person.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from handlers import when
from handlers.catalog import Catalog
from handlers.money import format_euro
from handlers.profile import Profile
from storage.clock import parse
from storage.privacy.personal import PersonalData

#: Which statuses a part's ``status`` values are.
_STATUSES = {
    "ideas": "ideas.status",
    "idea_status_history": "ideas.status",
    "experiment_proposals": "proposals.status",
    "experiment_proposal_history": "proposals.status",
}
#: Fields that say yes or no (stored as 1 and 0).
_YES_NO = {
    "by_you",
    "made_by_you",
    "full_financing",
    "neighbourhood_only",
    "hood_only",
    "line_kept_for_your_return",
    "skipped",
    "invitations",
    "reminders",
}
_LANGUAGES = {"nl": "Nederlands", "en": "English"}


class Readable:
    """Turns one person's export into their file."""

    def __init__(self, profile: Profile, catalog: Catalog, lang: str, zone: ZoneInfo):
        self.profile = profile
        self.catalog = catalog
        self.lang = lang
        self.zone = zone
        self.connector = profile.connector(lang)

    def word(self, key: str, default: str | None = None, **params: Any) -> str:
        """A catalog text as plain words; ``default`` when the catalog has none."""
        try:
            return self.catalog.text(self.lang, key, params, markup=False)
        except KeyError:
            if default is None:
                raise
            return default

    def document(self, data: PersonalData, about: dict[str, str]) -> bytes:
        sections = {
            name: {
                "title": self.word(f"privacy.titles.{name}", name),
                "holds": self.word(
                    f"privacy.holds.{name}", section.holds, connector=self.connector
                ),
                "rows": [self.row(name, row) for row in section.rows],
            }
            for name, section in data.sections.items()
        }
        document = {
            "about": about,
            "generated_at": self.moment(data.generated_at),
            "sections": sections,
        }
        return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")

    def row(self, section: str, row: dict[str, Any]) -> dict[str, Any]:
        readable = {}
        for field, value in row.items():
            name, shown = self.value(section, field, value)
            readable[name] = shown
        return readable

    def value(self, section: str, field: str, value: Any) -> tuple[str, Any]:
        """The field's name (without ``_cents``) and its value in words."""
        if field.endswith("_cents"):
            shown = format_euro(value, self.lang) if isinstance(value, int) else value
            return field.removesuffix("_cents"), shown
        if value is None:
            return field, None
        moments = {"at", "since", "away_since", "not_before", "erase_after"}
        if (field.endswith("_at") or field in moments) and isinstance(value, str):
            moment = parse(value)
            return field, self.moment(moment) if moment else value
        if field in _YES_NO and isinstance(value, int):
            return field, self.word(f"privacy.file.{'yes' if value else 'no'}")
        if field == "status" and section in _STATUSES:
            return field, self.word(f"{_STATUSES[section]}.{value}", str(value))
        if field == "status" and section == "budget_rounds":
            return field, self.word(f"budgets.status_{value}", str(value))
        if field == "role":
            return field, self.word(f"roles.names.{value}", str(value))
        if field == "language":
            return field, _LANGUAGES.get(str(value), value)
        if field == "options" and isinstance(value, list):
            return field, [option[0] for option in value if option]
        if field == "muted_themes" and isinstance(value, list):
            themes = [self.profile.theme(str(theme)) for theme in value]
            return field, [
                t.name(self.lang) if t else v for t, v in zip(themes, value, strict=True)
            ]
        named = {
            "category": self.profile.category,
            "neighbourhood": self.profile.neighbourhood,
            "theme": self.profile.theme,
            "department": self.profile.department,
            "department_id": self.profile.department,
        }.get(field)
        if named is not None:
            found = named(str(value))
            return field, found.name(self.lang) if found else value
        return field, value

    def moment(self, moment: datetime) -> str:
        return when.moment(moment.astimezone(self.zone), self.lang)
