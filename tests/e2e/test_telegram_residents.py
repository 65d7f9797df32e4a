"""Residents' key journeys through the real Telegram adapter on the loopback Bot API server."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from tests.e2e.botapi import BotApiServer
from tests.e2e.telegram_support import (
    onboard,
    running_bot,
    telegram_settings,
    texts,
    wait_for_text,
)
from tests.support import Chat

pytestmark = pytest.mark.e2e


def png(width: int = 4, height: int = 3) -> bytes:
    """A small valid PNG, as a phone camera would send (only smaller)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def test_a_resident_submits_an_idea_with_a_photo(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(3001)
    picture = png()
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await anna.send_text("/idee")
        await wait_for_text(server, anna.chat_id, "Woningbeleid")
        await anna.press("Woningbeleid")
        await wait_for_text(server, anna.chat_id, "korte titel")
        await anna.send_text("Tiny houses aan de rand van Velserbroek")
        await wait_for_text(server, anna.chat_id, "20 tot 2.000 tekens")
        await anna.send_text(
            "Kleine woningen voor starters, zodat jongeren in Velsen kunnen blijven."
        )
        await wait_for_text(server, anna.chat_id, "Over welke wijk")
        await anna.press("Velserbroek")
        await wait_for_text(server, anna.chat_id, "foto")
        before = len(texts(server, anna.chat_id))
        await anna.send_photo(picture)
        await server.wait_for(
            lambda: any(m.get("photo") for m in server.messages(anna.chat_id)[before:])
        )
        await wait_for_text(server, anna.chat_id, "Versturen", after=before)
        await anna.press("Versturen")
        confirmation = await wait_for_text(server, anna.chat_id, "#1")
        assert "Burgerbeest" in confirmation

        idea = await app.repos.ideas.get(1)
        assert idea is not None and idea.title == "Tiny houses aan de rand van Velserbroek"
        assert idea.neighbourhood == "velserbroek" and idea.photo_id is not None
        stored = await app.repos.media.get(idea.photo_id)
        assert stored is not None and stored.data == picture


async def test_residents_support_and_comment_across_platforms(
    server: BotApiServer, tmp_path: Path
) -> None:
    bob = server.user(3002, first_name="Bob")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        # Anna uses the console; her idea and comment live in the same thread.
        anna = Chat(app, "anna", platform="console")
        await anna.onboard()
        await anna.send("/idee")
        await anna.press("Cultuur en natuur")
        await anna.send("Een moestuin bij de bibliotheek")
        await anna.send("Samen groente kweken bij de bibliotheek in IJmuiden, voor jong en oud.")
        await anna.press("Sla over")
        await anna.press("Geen foto")
        await anna.press("Versturen")
        assert "#1" in anna.text

        await onboard(server, bob)
        await bob.send_text("/ideeen")
        await wait_for_text(server, bob.chat_id, "Een moestuin bij de bibliotheek")
        await bob.press("Een moestuin bij de bibliotheek")
        await wait_for_text(server, bob.chat_id, "Samen groente kweken")
        await bob.press("Steunen")

        async def supported() -> bool:
            return await app.repos.ideas.supporter_count(1) == 1

        await server.wait_for(supported)
        await server.wait_for(lambda: any(m["edited"] for m in server.messages(bob.chat_id)))

        await anna.send("/start idee_1")
        await anna.press("Reacties")
        await anna.press("Reageren")
        await anna.send("Ik zoek nog mensen die mee willen doen!")

        count = len(texts(server, bob.chat_id))
        await bob.press("Reacties")
        thread = await wait_for_text(server, bob.chat_id, "Ik zoek nog mensen", after=count)
        assert "Een inwoner" in thread or "een inwoner" in thread
        await bob.press("Reageren")
        await wait_for_text(server, bob.chat_id, "1.000", after=count)
        await bob.send_text("Ik doe mee, <b>zeker</b> & graag")

        async def comment_stored() -> bool:
            return await app.repos.comments.count(1) == 2

        await server.wait_for(comment_stored)
        await anna.send("/start idee_1")
        await anna.press("Reacties")
        assert "Ik doe mee, <b>zeker</b> & graag" in anna.text
    refused = [error for error in server.errors if error[0] != "getUpdates"]
    assert not refused, refused


async def test_a_resident_joins_an_experiment_and_subscribes(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(3003)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await anna.send_text("/experimenten")
        await wait_for_text(server, anna.chat_id, "Speeltuin Zeewijk Natuurlijk!")
        await anna.press("Speeltuin Zeewijk Natuurlijk!")
        await wait_for_text(server, anna.chat_id, "Deelnemers:")
        count = len(texts(server, anna.chat_id))
        await anna.press("Doe mee")
        await wait_for_text(server, anna.chat_id, "Je doet nu mee", after=count)
        running = await app.repos.experiments.running()
        experiment = next(e for e in running if e.slug == "speeltuin-zeewijk")
        assert experiment.participants == 1
        user = await app.repos.users.find("telegram", "3003")
        assert user is not None
        assert await app.repos.experiments.takes_part(experiment.id, user.id)

        await anna.send_text("/wistjedat")
        await wait_for_text(server, anna.chat_id, "Aanmelden")
        await anna.press("Aanmelden")

        async def subscribed() -> bool:
            found = await app.repos.subscriptions.get(user.id)
            return found is not None

        await server.wait_for(subscribed)


async def test_an_idea_dialog_survives_a_restart(server: BotApiServer, tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    anna = server.user(3004)
    async with running_bot(telegram_settings(server, db)):
        await onboard(server, anna)
        await anna.send_text("/idee")
        await wait_for_text(server, anna.chat_id, "Duurzaamheid")
        await anna.press("Duurzaamheid")
        await wait_for_text(server, anna.chat_id, "korte titel")
        await anna.send_text("Zonnepanelen op het gemeentehuis")
        await wait_for_text(server, anna.chat_id, "20 tot 2.000 tekens")
    # While the bot is down the resident writes the description; nothing is lost.
    await anna.send_text("Het gemeentehuis heeft een groot plat dak dat nu niets doet.")
    async with running_bot(telegram_settings(server, db)) as app:
        await wait_for_text(server, anna.chat_id, "Over welke wijk")
        await anna.press("Sla over")
        await wait_for_text(server, anna.chat_id, "Geen foto")
        await anna.press("Geen foto")
        await wait_for_text(server, anna.chat_id, "Versturen")
        await anna.press("Versturen")
        await wait_for_text(server, anna.chat_id, "#1")
        idea = await app.repos.ideas.get(1)
        assert idea is not None
        assert idea.description == "Het gemeentehuis heeft een groot plat dak dat nu niets doet."


async def test_a_message_typed_without_a_command_reaches_the_connector(
    server: BotApiServer, tmp_path: Path
) -> None:
    """A resident writes as to a person; the bot asks what to do with it (buttons), and
    the question is sent. Markup in it stays text in Telegram's HTML."""
    anna = server.user(3005)
    typed = "Is de <b>BBQ-plek</b> ook open voor kinderen & tieners?"
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await anna.send_text(typed)
        asked = await wait_for_text(server, anna.chat_id, "Wat zal ik ermee doen?")
        # Sent as Telegram HTML that the server accepted: her markup escaped, shown as typed.
        assert "&lt;b&gt;BBQ-plek&lt;/b&gt; ook open voor kinderen &amp; tieners?" in asked
        await anna.press("Als vraag naar Burgerbeest")
        await wait_for_text(server, anna.chat_id, "Je vraag (#1) is verstuurd")
        user = await app.repos.users.find("telegram", str(anna.id))
        assert user is not None

        async def sent() -> bool:
            return [q.messages[0].text for q in await app.repos.questions.of_user(user.id)] == [
                typed
            ]

        await server.wait_for(sent)


async def test_pinning_the_bots_message_is_no_answer_and_gets_none(
    server: BotApiServer, tmp_path: Path
) -> None:
    """A resident pins the question (or the menu) in the chat with the bot; Telegram sends
    the bot the line "You pinned ...". Nobody wrote anything: it is not taken as an answer
    ("type your title, please"), nor as something the bot cannot use."""
    anna = server.user(3005)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")):
        await onboard(server, anna)
        menu = server.last_message(anna.chat_id)
        assert menu is not None
        before = len(server.messages(anna.chat_id))
        await anna.pin(menu["message_id"])
        await anna.send_text("/idee")
        await wait_for_text(server, anna.chat_id, "Duurzaamheid", after=before)
        await anna.press("Duurzaamheid")
        await wait_for_text(server, anna.chat_id, "korte titel", after=before)
        question = server.last_message(anna.chat_id)
        assert question is not None
        await anna.pin(question["message_id"])
        await anna.send_text("Zonnepanelen op het gemeentehuis")
        await wait_for_text(server, anna.chat_id, "20 tot 2.000 tekens", after=before)
        said = texts(server, anna.chat_id)[before:]
    # The category, the title and the description asked, one after the other.
    assert len(said) == 3, said
    assert not [t for t in said if "niets mee" in t or "tekst nodig" in t], said
