"""The residents' features on Matrix, and one thread shared with Telegram, in one running bot."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from tests.e2e.botapi import BotApiServer
from tests.e2e.matrix_support import Residents, bot_settings, containing
from tests.e2e.synapse import SynapseServer
from tests.e2e.telegram_support import onboard, running_bot, wait_for_text

pytestmark = pytest.mark.e2e


async def test_a_matrix_resident_submits_an_idea_and_a_telegram_resident_comments_on_it(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    matrix = await bot_settings(synapse, tmp_path / "bot")
    async with BotApiServer() as telegram:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            **matrix.model_dump(exclude_none=True, exclude={"telegram_api_url"}),
            telegram_token=telegram.token,
            telegram_api_url=telegram.base_url,
        )
        async with running_bot(settings) as app:
            assert app.settings.platforms == ["telegram", "matrix"]
            anna = await residents("anna")
            await anna.open_chat(settings.matrix_user or "", encrypted=True)
            await anna.wait_for_reply(containing("Welkom bij"))
            await anna.send("1")
            await anna.wait_for_reply(containing("In welke taal"))
            await anna.send("Nederlands")
            await anna.wait_for_reply(containing("In welke wijk"))
            await anna.send("Driehuis")
            await anna.wait_for_reply(containing("Klaar, welkom!"))

            await anna.send("/idee")
            await anna.wait_for_reply(containing("Duurzaamheid"))
            await anna.send("Duurzaamheid")
            await anna.wait_for_reply(containing("korte titel"))
            await anna.send("Deelauto's bij station Driehuis")
            await anna.wait_for_reply(containing("20 tot 2.000"))
            await anna.send(
                "Een paar elektrische deelauto's bij het station, voor wie geen auto heeft."
            )
            await anna.wait_for_reply(containing("Over welke wijk"))
            await anna.send("Driehuis")
            await anna.wait_for_reply(containing("Geen foto"))
            await anna.send("Geen foto")
            preview = await anna.wait_for_reply(containing("Versturen"))
            assert "Deelauto&#x27;s" in preview.html or "Deelauto's" in preview.html
            await anna.send("Versturen")
            sent = await anna.wait_for_reply(containing("#1"))
            assert sent.decrypted

            bob = telegram.user(4001, first_name="Bob")
            await onboard(telegram, bob)
            await bob.send_text("/start idee_1")
            await wait_for_text(telegram, bob.chat_id, "Deelauto's bij station Driehuis")
            await bob.press("Reacties")
            await wait_for_text(telegram, bob.chat_id, "Reageren")
            await bob.press("Reageren")
            await wait_for_text(telegram, bob.chat_id, "1.000")
            await bob.send_text("Goed plan, ik zou er zeker gebruik van maken!")
            await wait_for_text(telegram, bob.chat_id, "Goed plan")

            await anna.send("/start idee_1")
            await anna.wait_for_reply(containing("Reacties (1)"))
            await anna.send("Reacties (1)")
            thread = await anna.wait_for_reply(containing("Goed plan, ik zou er zeker"))
            assert "Bob" not in thread.body  # public threads show no names
