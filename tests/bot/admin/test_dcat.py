"""The open data's catalogue entry (DCAT-AP-NL), as data.overheid.nl harvests it from
``datapackage.json``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.admin.cli import main
from bot.app import App
from bot.settings import Settings
from handlers.profile import DEFAULT_PROFILE

#: What DCAT-AP-NL requires of a dataset (and what it recommends that we can always give).
REQUIRED = (
    "dct:identifier",
    "dct:title",
    "dct:description",
    "dct:language",
    "dct:modified",
    "dct:publisher",
    "overheid:authority",
    "dct:license",
    "dcat:theme",
    "dct:spatial",
    "dcat:contactPoint",
)


async def catalogue_entry(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    if url:
        monkeypatch.setenv("SAMENSPEL_OPEN_DATA_URL", url)
    out = tmp_path / "od"
    assert await asyncio.to_thread(main, ["export-open-data", "--out", str(out)]) == 0
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    return package, package["dcat"]


def prefixed_keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        keys = {k for k in node if ":" in k and not k.startswith(("@", "http"))}
        return keys.union(*(prefixed_keys(v) for k, v in node.items() if k != "@context"))
    if isinstance(node, list):
        return set().union(*(prefixed_keys(v) for v in node))
    return set()


async def test_the_package_carries_every_field_dcat_ap_nl_requires(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package, entry = await catalogue_entry(app, tmp_path, monkeypatch)
    assert entry["@type"] == "dcat:Dataset"
    missing = [name for name in REQUIRED if not entry.get(name)]
    assert missing == []
    # Every prefix used is declared, so the JSON-LD expands to full URIs.
    assert {key.split(":")[0] for key in prefixed_keys(entry)} <= entry["@context"].keys()

    titles = {t["@language"]: t["@value"] for t in entry["dct:title"]}
    assert titles["nl"] == package["title"] and "Velsen" in titles["en"]
    assert {d["@language"] for d in entry["dct:description"]} == {"nl", "en"}
    assert entry["dct:identifier"].startswith("urn:uuid:")
    languages = {lang["@id"].rsplit("/", 1)[1] for lang in entry["dct:language"]}
    assert languages == {"NLD", "ENG"}
    assert entry["dct:modified"]["@value"] == package["created"]
    velsen = "https://identifier.overheid.nl/tooi/id/gemeente/gm0453"
    assert entry["dct:publisher"]["@id"] == entry["overheid:authority"]["@id"] == velsen
    assert entry["dct:spatial"]["@id"] == velsen
    assert entry["dct:spatial"]["dct:identifier"] == "gm0453"
    assert entry["dct:license"]["@id"].startswith("http://creativecommons.org/publicdomain/zero")
    assert [t["@id"] for t in entry["dcat:theme"]] == [
        "http://standaarden.overheid.nl/owms/terms/Bestuur"
    ]
    assert entry["dcat:contactPoint"]["vcard:hasEmail"]["@id"] == "mailto:info@velsen.nl"
    assert "dcat:landingPage" not in entry


async def test_a_published_address_becomes_the_identifier_and_the_landing_page(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = await catalogue_entry(app, tmp_path, monkeypatch)
    package, entry = await catalogue_entry(
        app, tmp_path, monkeypatch, url="https://data.velsen.example/samenspel"
    )
    assert entry["dct:identifier"] == "https://data.velsen.example/samenspel/datapackage.json"
    assert entry["dcat:landingPage"]["@id"] == "https://data.velsen.example/samenspel/"
    assert package["homepage"] == "https://data.velsen.example/samenspel/"
    assert first["dcat"]["dct:identifier"] != entry["dct:identifier"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://data.example.org/",
        "data.example.org",
        "https://x.example/?a=1",
        # Each page's address is this one with a file name added: none of these can take one.
        "https://x.org/od#top",
        "https://x.org/od#",
        "https://x.org/od?",
        "https://x.org/od/index.html",
        "https://x.org/od/feed.xml",
        "https://x.org/open data/",
        "https://x.org/od/\t",
        " https://x.org/od/",
        "https://user:secret@x.org/od/",
        "https://x.org\\od\\",
        "https://x.org:99999/od/",
        "https://",
    ],
)
def test_an_address_that_is_not_a_web_address_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="the site's address"):
        Settings(_env_file=None, open_data_url=url)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("url", "used"),
    [
        ("https://x.org/od", "https://x.org/od/"),
        ("https://x.org/od/", "https://x.org/od/"),
        ("https://x.org", "https://x.org/"),
        ("http://data.velsen.example:8080/v1.2/", "http://data.velsen.example:8080/v1.2/"),
    ],
)
def test_a_folder_address_is_taken_with_one_slash_at_its_end(url: str, used: str) -> None:
    assert Settings(_env_file=None, open_data_url=url).open_data_url == used  # type: ignore[call-arg]


def test_a_wrong_site_address_stops_the_command_with_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAMENSPEL_DB", str(tmp_path / "s.db"))
    monkeypatch.setenv("SAMENSPEL_OPEN_DATA_URL", "https://x.org/od#top")
    assert main(["export-open-data", "--out", str(tmp_path / "od")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "SAMENSPEL_OPEN_DATA_URL" in line and "without ? or #" in line
    assert not (tmp_path / "od").exists()


async def test_a_profile_without_a_publication_table_exports_without_a_catalogue_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = DEFAULT_PROFILE.read_text(encoding="utf-8")
    start = text.index("[publication]")
    profile = tmp_path / "elders.toml"
    profile.write_text(text[:start] + text[text.index("[limits]") :], encoding="utf-8")
    monkeypatch.setenv("SAMENSPEL_DB", str(tmp_path / "elders.db"))
    monkeypatch.setenv("SAMENSPEL_PROFILE", str(profile))
    out = tmp_path / "od"
    assert await asyncio.to_thread(main, ["export-open-data", "--out", str(out)]) == 0
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert "dcat" not in package and package["resources"]
    assert (out / "index.html").is_file()
