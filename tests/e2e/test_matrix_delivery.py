"""What the outbox brings to Matrix residents: a "Wist je dat" broadcast and the connector's
answer, sent by the delivery worker through the real adapter against Synapse."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.contract import Role
from tests.e2e.matrix_support import Residents, bot_settings, containing
from tests.e2e.synapse import SynapseServer
from tests.e2e.telegram_support import running_bot
from tests.people import with_role
from tests.support import Chat

pytestmark = pytest.mark.e2e


async def test_a_broadcast_and_an_answer_reach_a_resident_in_an_encrypted_chat(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    async with running_bot(settings) as app:
        anna = await residents("anna")
        await anna.open_chat(settings.matrix_user or "", encrypted=True)
        await anna.wait_for_reply(containing("Welkom bij"))
        for answer, next_question in (
            ("1", "In welke taal"),
            ("Nederlands", "In welke wijk"),
            ("IJmuiden", "Klaar, welkom!"),
        ):
            await anna.send(answer)
            await anna.wait_for_reply(containing(next_question))
        await anna.send("/wistjedat")
        await anna.wait_for_reply(containing("Aanmelden"))
        await anna.send("Aanmelden")
        await anna.wait_for_reply(containing("Afmelden"))

        # A civil servant, in the console, writes to everyone who wants "Wist je dat".
        ria = Chat(app, "ria", platform="console")
        await ria.onboard()
        await with_role(app, ria, Role.CIVIL_SERVANT)
        await ria.send("/nieuwbericht")
        await ria.send("Wist je dat de gemeente dit jaar 12 nieuwe bankjes plaatst?")
        await ria.press("Zonder foto")
        await ria.press("Alle abonnees")
        assert "Aantal ontvangers: 1" in ria.text
        await ria.press("Nu versturen")
        news = await anna.wait_for_reply(containing("12 nieuwe bankjes"))
        assert news.decrypted and news.msgtype == "m.notice"

        # A question to the connector, answered from the console, comes back in the chat.
        await anna.send("/vraag Wanneer wordt het gras in het park gemaaid?")
        await anna.wait_for_reply(containing("#1"))
        burgerbeest = Chat(app, "bea", platform="console")
        await burgerbeest.onboard()
        await with_role(app, burgerbeest, Role.CONNECTOR)
        await burgerbeest.send("/inbox")
        await burgerbeest.press("Bekijk vraag #1")
        await burgerbeest.press("Beantwoorden")
        await burgerbeest.send("Volgende week dinsdag.")
        assert burgerbeest.keys[0] == "inbox.answered"
        answer = await anna.wait_for_reply(containing("Volgende week dinsdag."))
        assert "Burgerbeest" in answer.body and answer.decrypted
