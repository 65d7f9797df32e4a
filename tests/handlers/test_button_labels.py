"""Button labels fit on a phone: about 30 characters, or the phone cuts them off."""

from __future__ import annotations

import pytest

from handlers.catalog import Catalog

CATALOG = Catalog.load()
WIDTH = 30
SHORTENED = (
    "onboarding.btn_read_privacy",
    "experiments.btn_propose",
    "composer.btn_experiment",
    "composer.btn_all",
    "consultations.btn_audience_all",
    "consultations.btn_reviews",
    "triage.btn_connect",
    "budgets.btn_tie_cost",
    "budgets.btn_tie_hood",
    "budgets.btn_tie_earliest",
    "budgets.btn_tie_lot",
    "budgets.btn_who_hood",
    "budgets.btn_who_postcode",
    "meetings.btn_filter",
    "news.btn_hood_on",
    "news.btn_hood_off",
    "news.btn_staff",
    "drafts.btn_go_on",
)
#: A count as large as Velsen's residents on Samenspel could make it.
SAMPLE = {"number": 1234, "count": 12345, "municipality": "Gemeente Velsen"}


@pytest.mark.parametrize("lang", CATALOG.languages)
def test_these_labels_fit_on_a_phone_in_every_language(lang: str) -> None:
    long = {
        key: label
        for key in SHORTENED
        if len(label := CATALOG.text(lang, key, SAMPLE, markup=False)) > WIDTH
    }
    assert long == {}


@pytest.mark.parametrize("lang", CATALOG.languages)
def test_every_stop_button_carries_the_same_mark(lang: str) -> None:
    stops = {key: text for key, text in CATALOG.texts[lang].items() if key.endswith(".btn_stop")}
    assert len(stops) >= 7
    assert {key for key, text in stops.items() if not str(text).startswith("✖️ ")} == set()
