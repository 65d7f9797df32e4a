"""The municipality profile is data, validated at start-up."""

from __future__ import annotations

import tomllib

import pytest
from pydantic import ValidationError

from handlers.profile import DEFAULT_PROFILE, Profile, load_profile


def test_the_velsen_profile_has_the_seed_documents_facts() -> None:
    profile = load_profile()
    assert profile.name("nl") == "Gemeente Velsen"
    assert [n.name("nl") for n in profile.neighbourhoods] == [
        "IJmuiden",
        "Velsen-Zuid",
        "Velsen-Noord",
        "Driehuis",
        "Santpoort-Noord",
        "Santpoort-Zuid",
        "Velserbroek",
        "Spaarndam-West",
    ]
    assert [t.name("nl") for t in profile.themes] == [
        "In Velsen doet iedereen mee",
        "Velsen is in trek!",
        "Velsen benut kansen voor en met klimaat",
        "Velsen is samenspel",
    ]
    assert len(profile.categories) == 7
    assert profile.category("wonen") is not None
    assert [e.title("nl") for e in profile.experiments] == [
        "Speeltuin Zeewijk Natuurlijk!",
        "Geveltuintjes",
        "BBQ-plek in de openbare ruimte",
    ]
    assert profile.connector("nl") == "Burgerbeest"
    assert profile.full_financing_limit > 0


def test_every_name_has_dutch_and_any_other_languages() -> None:
    raw = tomllib.loads(DEFAULT_PROFILE.read_text())
    del raw["themes"][0]["name"]["en"]
    raw["themes"][0]["name"]["tr"] = "Birlikte"
    theme = Profile.model_validate(raw).themes[0]
    assert (theme.name("tr"), theme.name("en"), theme.name("pl")) == (
        "Birlikte",
        theme.name("nl"),
        theme.name("nl"),
    )
    assert theme.name.has("tr") and not theme.name.has("en")
    del raw["themes"][0]["name"]["nl"]
    with pytest.raises(ValidationError):
        Profile.model_validate(raw)
    for wrong in ({"nl": "x", "english": "x"}, {"nl": "x", "en": ""}, {"nl": "x", "en": 3}):
        raw["themes"][0]["name"] = wrong
        with pytest.raises(ValidationError):
            Profile.model_validate(raw)


def test_duplicate_ids_and_unknown_references_are_refused() -> None:
    raw = tomllib.loads(DEFAULT_PROFILE.read_text())
    raw["categories"].append(raw["categories"][0])
    with pytest.raises(ValidationError, match="unique"):
        Profile.model_validate(raw)
    raw = tomllib.loads(DEFAULT_PROFILE.read_text())
    raw["experiments"][0]["neighbourhood"] = "atlantis"
    with pytest.raises(ValidationError, match="unknown neighbourhood"):
        Profile.model_validate(raw)


def test_the_publication_names_a_known_municipality_code_and_government_themes() -> None:
    raw = tomllib.loads(DEFAULT_PROFILE.read_text())
    assert Profile.model_validate(raw).publication is not None
    for field, wrong in (("themes", ["Feestjes"]), ("municipality_code", "0453"), ("themes", [])):
        changed = tomllib.loads(DEFAULT_PROFILE.read_text())
        changed["publication"][field] = wrong
        with pytest.raises(ValidationError, match=field):
            Profile.model_validate(changed)
    del raw["publication"]
    assert Profile.model_validate(raw).publication is None, "optional: then no DCAT entry"
