"""Every catalog language over the real Telegram adapter: a phone in that language is
welcomed in it, and in a right-to-left language the Latin names in the text arrive wrapped
in Unicode isolates, in HTML Telegram accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.catalog import FSI, PDI, Catalog
from handlers.locales import own_name, right_to_left
from tests.e2e.botapi import BotApiServer, _check_html
from tests.e2e.telegram_support import running_bot, telegram_settings, texts, wait_for_text

pytestmark = pytest.mark.e2e

CATALOG = Catalog.load()


@pytest.mark.parametrize("lang", [lang for lang in CATALOG.languages if lang != "nl"])
async def test_a_phone_in_a_catalog_language_is_welcomed_and_onboarded_in_it(
    server: BotApiServer, tmp_path: Path, lang: str
) -> None:
    user = server.user(5001, first_name="Anna", language_code=lang)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        user.send_text("/start")
        yes = CATALOG.text(lang, "onboarding.btn_consent_yes", {}, markup=False)
        await wait_for_text(server, user.chat_id, yes)
        welcome = server.messages(user.chat_id)[0]
        assert welcome["parse_mode"] == "HTML"
        shown = _check_html(welcome["text"])  # raises where Telegram would refuse it
        connector = app.profile.connector(lang)
        if right_to_left(lang):
            assert f"{FSI}{connector}{PDI}" in shown
        else:
            assert FSI not in shown and connector in shown
        await user.press(yes)
        await server.wait_for_messages(user.chat_id, 3)
        await user.press(own_name(lang))
        await server.wait_for_messages(user.chat_id, 4)
        await user.press("IJmuiden")
        await server.wait_for_messages(user.chat_id, 5)
        stored = await app.repos.users.find("telegram", "5001")
        assert stored is not None and stored.language == lang
        for text in texts(server, user.chat_id):
            _check_html(text)
