"""What start-up does to the stored data: a language whose catalog was removed is forgotten,
every other choice is kept."""

from __future__ import annotations

from bot.app import App
from bot.settings import Settings
from tests.people import person, row


async def test_only_languages_without_a_catalog_are_forgotten_at_start_up(
    settings: Settings,
) -> None:
    app = await App.open(settings)
    try:
        chosen = {name: await person(app, name) for name in ("anna", "bob", "cem", "dora", "eva")}
        ids = {name: (await row(app, chat)).id for name, chat in chosen.items()}
        languages = sorted(app.catalog.languages)
    finally:
        await app.close()
    # As if catalogs were removed: codes below, between and above the shipped ones, and
    # shipped ones at both ends of the order.
    stored = {
        "anna": "aa",
        "bob": languages[0],
        "cem": "fr",
        "dora": languages[-1],
        "eva": "zz",
    }
    assert "fr" not in languages and languages[0] > "aa" and languages[-1] < "zz"
    app = await App.open(settings)
    try:
        async with app.db.transaction():
            for name, language in stored.items():
                await app.repos.users.set_language(ids[name], language)
    finally:
        await app.close()

    app = await App.open(settings)
    try:
        kept = {name: (await row(app, chat)).language for name, chat in chosen.items()}
        assert kept == {
            "anna": None,
            "bob": languages[0],
            "cem": None,
            "dora": languages[-1],
            "eva": None,
        }
    finally:
        await app.close()
