"""The privacy statement's "what" names every kind of thing a resident does that is kept:
poll answers, budget votes, meeting sign-ups and reported messages in an experiment's group
are kept (and exported by /mijngegevens), so the statement says so, in Dutch and English."""

from __future__ import annotations

from bot.app import App
from tests.support import Chat

NAMED = {
    "nl": ("peilingen", "stemronde", "bijeenkomsten", "gemelde berichten in de groep"),
    "en": ("polls", "budget round", "meetings", "reported messages in an experiment's group"),
}


async def test_the_statement_names_polls_votes_meetings_and_reported_group_messages(
    app: App,
) -> None:
    for lang, words in NAMED.items():
        anna = Chat(app, f"anna-{lang}", language_hint=lang)
        await anna.send("/privacy")
        assert anna.keys == ["privacy.statement"]
        what = next(line for line in anna.text.splitlines() if line.startswith(("Wat:", "What:")))
        for word in words:
            assert word in what, (lang, word)
