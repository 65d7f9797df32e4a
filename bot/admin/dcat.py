"""The open data's catalogue entry in DCAT-AP-NL (DCAT-AP-DONL), the Dutch profile of the
European DCAT-AP, so that data.overheid.nl can harvest the export.

It goes into ``datapackage.json`` under ``"dcat"`` as JSON-LD: a Data Package reader skips a
property it does not know, a harvester reads the ``dct:``/``dcat:`` terms. The values are
URIs from the lists DCAT-AP-NL asks for: TOOI for the municipality (authority, publisher,
spatial) and its themes, the EU's authority list for the language, and the licence's own
URI. Everything local comes from the profile's ``[publication]``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from handlers.profile import GovernmentTheme, Profile, PublicationProfile

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "overheid": "http://standaarden.overheid.nl/owms/terms/",
}
#: TOOI (Thesauri en Ontologieën voor Overheidsinformatie): the municipality.
TOOI_MUNICIPALITY = "https://identifier.overheid.nl/tooi/id/gemeente/"
#: DCAT-AP-NL's spatial scheme for a municipality, and the EU language list.
SPATIAL_SCHEME = "http://standaarden.overheid.nl/owms/4.0/doc/waardelijsten/overheid.gemeente"
LANGUAGE = "http://publications.europa.eu/resource/authority/language/"
#: CC0 1.0 as DCAT-AP-NL's licence list names it.
LICENSE = "http://creativecommons.org/publicdomain/zero/1.0/deed.nl"
#: The URIs of the themes a profile may name (handlers.profile.GovernmentTheme).
THEMES: dict[GovernmentTheme, str] = {
    "Bestuur": "http://standaarden.overheid.nl/owms/terms/Bestuur",
    "Cultuur en recreatie": "http://standaarden.overheid.nl/owms/terms/Cultuur_en_recreatie",
    "Natuur en milieu": "http://standaarden.overheid.nl/owms/terms/Natuur_en_milieu",
    "Ruimte en infrastructuur": (
        "http://standaarden.overheid.nl/owms/terms/Ruimte_en_infrastructuur"
    ),
    "Sociale zekerheid": "http://standaarden.overheid.nl/owms/terms/Sociale_zekerheid",
    "Wonen": "http://standaarden.overheid.nl/owms/terms/Wonen",
    "Zorg en gezondheid": "http://standaarden.overheid.nl/owms/terms/Zorg_en_gezondheid",
}


def identifier(profile: Profile, site_url: str | None) -> str:
    """The dataset's lasting identifier: its address when it is published at a known one,
    otherwise a name-based UUID that stays the same from export to export."""
    if site_url:
        return site_url + "datapackage.json"
    return uuid.uuid5(uuid.NAMESPACE_URL, f"samenspel:{profile.slug}:open-data").urn


def catalogue_entry(
    profile: Profile,
    publication: PublicationProfile,
    *,
    title: dict[str, str],
    description: dict[str, str],
    keywords: list[str],
    modified: datetime,
    site_url: str | None,
) -> dict[str, Any]:
    """The DCAT-AP-NL description of the export (a ``dcat:Dataset``) as JSON-LD."""
    municipality = TOOI_MUNICIPALITY + publication.municipality_code
    body = {"@id": municipality, "foaf:name": profile.name("nl")}
    entry: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "dcat:Dataset",
        "dct:identifier": identifier(profile, site_url),
        "dct:title": [{"@language": lang, "@value": text} for lang, text in title.items()],
        "dct:description": [
            {"@language": lang, "@value": text} for lang, text in description.items()
        ],
        "dct:language": [{"@id": LANGUAGE + "NLD"}, {"@id": LANGUAGE + "ENG"}],
        "dct:modified": {
            "@type": "http://www.w3.org/2001/XMLSchema#dateTime",
            "@value": modified.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        # DCAT-AP-NL asks for the authority (who is responsible) beside the publisher.
        "dct:publisher": body,
        "overheid:authority": body,
        "dct:license": {"@id": LICENSE},
        "dct:accessRights": {
            "@id": "http://publications.europa.eu/resource/authority/access-right/PUBLIC"
        },
        "dcat:theme": [{"@id": THEMES[name]} for name in publication.themes],
        "dcat:keyword": keywords,
        "dct:spatial": {
            "@id": municipality,
            "dct:type": {"@id": SPATIAL_SCHEME},
            "dct:identifier": publication.municipality_code,
        },
        "dcat:contactPoint": {
            "@type": "vcard:Organization",
            "vcard:fn": profile.name("nl"),
            "vcard:hasEmail": {"@id": f"mailto:{publication.contact}"},
        },
        "dct:accrualPeriodicity": {
            "@id": "http://publications.europa.eu/resource/authority/frequency/WEEKLY"
        },
    }
    if site_url:
        entry["dcat:landingPage"] = {"@id": site_url}
    return entry
