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


def test_an_evaluation_names_its_experiments_or_goes_to_those_started_in_the_chat() -> None:
    raw = tomllib.loads(DEFAULT_PROFILE.read_text())
    [evaluation] = raw["consultations"]["evaluations"]
    evaluation["experiments"] = []
    assert Profile.model_validate(raw).consultations.evaluations[0].started_in_chat
    evaluation["started_in_chat"] = False
    with pytest.raises(ValidationError, match="needs experiments"):
        Profile.model_validate(raw)
    evaluation["experiments"] = ["kermis"]
    with pytest.raises(ValidationError, match="unknown experiments"):
        Profile.model_validate(raw)


@pytest.mark.parametrize("reserved", ["geen", "overig"])
def test_a_neighbourhood_may_not_take_a_code_published_results_use(reserved: str) -> None:
    # Results name people without a neighbourhood "geen" and small groups together "overig".
    raw = tomllib.loads(DEFAULT_PROFILE.read_text())
    raw["neighbourhoods"][0]["id"] = reserved
    with pytest.raises(ValidationError, match="reserved"):
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


def test_velsens_postcodes_are_in_the_profile_each_in_its_neighbourhood() -> None:
    profile = load_profile()
    assert [(p.shown(), p.neighbourhood) for p in profile.postcodes] == [
        ("1951", "velsen-noord"),
        ("1970–1976", "ijmuiden"),
        ("1981", "velsen-zuid"),
        ("1985", "driehuis"),
        ("1991", "velserbroek"),
        ("2071", "santpoort-noord"),
        ("2082", "santpoort-zuid"),
    ]


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"first": 1976, "last": 1970}, "ends at or after"),
        ({"first": 999, "last": 1000}, "greater than or equal"),
        ({"first": 1970, "last": 10000}, "less than or equal"),
        ({"first": 1975, "last": 1980}, "overlap"),
        ({"first": 2000, "last": 2000, "neighbourhood": "atlantis"}, "unknown neighbourhood"),
        ({"first": 2000, "last": 2000, "street": "Lange Nieuwstraat"}, "Extra inputs"),
    ],
)
def test_postcode_ranges_that_cannot_be_meant_are_refused(
    bad: dict[str, object], error: str
) -> None:
    raw = tomllib.loads(DEFAULT_PROFILE.read_text())
    raw["postcodes"].append(bad)
    with pytest.raises(ValidationError, match=error):
        Profile.model_validate(raw)


def test_a_profile_without_postcodes_is_valid() -> None:
    raw = tomllib.loads(DEFAULT_PROFILE.read_text())
    del raw["postcodes"]
    assert Profile.model_validate(raw).postcodes == []


def test_budget_rounds_have_a_name_written_in_dutch_or_none_and_nothing_else() -> None:
    raw = tomllib.loads(DEFAULT_PROFILE.read_text())
    assert Profile.model_validate(raw).budgets.name.texts == {
        "nl": "Velsen kiest",
        "en": "Velsen decides",
    }
    for wrong in ({"name": {"en": "Velsen decides"}}, {"name": {"nl": " "}}, {"nam": {"nl": "x"}}):
        raw["budgets"] = wrong
        with pytest.raises(ValidationError, match="budgets"):
            Profile.model_validate(raw)
    del raw["budgets"]
    assert Profile.model_validate(raw).budgets.name("nl") == "Burgerbegroting"
