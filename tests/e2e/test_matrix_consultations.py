"""A poll on Matrix against Synapse: the invitation delivered by the outbox in an encrypted
chat and answered by typing a number, and every kind of question answered by typing the
numbers (or labels) of the options."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.contract import Role
from tests.consultations import compose_poll, last_consultation
from tests.e2e.matrix_support import Residents, bot_settings, containing
from tests.e2e.synapse import SynapseServer
from tests.e2e.telegram_support import running_bot
from tests.people import with_role
from tests.support import Chat

pytestmark = pytest.mark.e2e


async def test_a_matrix_resident_answers_a_poll_with_numbered_options(
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

        # A civil servant, in the console, asks everyone.
        ria = Chat(app, "ria", platform="console")
        await ria.onboard()
        await with_role(app, ria, Role.CIVIL_SERVANT)
        await compose_poll(ria)
        await ria.press("Publiceren")
        assert ria.keys == ["consultations.published"]
        poll = await last_consultation(app)

        invitation = await anna.wait_for_reply(containing("Vraag 1 van 4"))
        assert invitation.decrypted and invitation.msgtype == "m.notice"
        assert "[1] Schommel" in invitation.body and "Zeg ik liever niet" in invitation.body

        # The invitation's options are answered by their number, like any reply's.
        await anna.send("2")  # Klimrek
        await anna.wait_for_reply(containing("Vraag 2 van 4"))
        await anna.send("/peilingen")
        listed = await anna.wait_for_reply(containing("Nieuwe speelplek Zeewijk"))
        assert "[1] ⏳ Nieuwe speelplek Zeewijk" in listed.body
        for typed, expected in (
            ("1", "Vraag 2 van 4"),  # on where she was
            ("4", "Vraag 3 van 4"),  # 4 on the scale
            ("1", "✅ Kinderen"),  # tick
            ("Volgende", "Vraag 4 van 4"),  # the label works as well as the number
            ("Meer schaduw bij de bankjes", "Bedankt!"),
        ):
            await anna.send(typed)
            await anna.wait_for_reply(containing(expected))

        user = await app.repos.users.find("matrix", anna.user_id)
        assert user is not None
        taking = await app.repos.responses.find(poll, 0, user.id)
        assert taking is not None and taking.finished_at is not None
        answers = await app.repos.responses.answers(taking.id)
        assert [(a.choices, a.text) for a in answers.values()] == [
            ([2], None),
            ([4], None),
            ([1], None),
            ([], "Meer schaduw bij de bankjes"),
        ]
