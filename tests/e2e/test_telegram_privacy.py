"""Privacy through the real Telegram adapter: the logs of a whole journey name nobody, the data
export arrives as a file, and a forgotten resident starts afresh."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import QUIET_LIBRARIES, TEXT_FORMAT, JsonFormatter, setup_logging
from tests.e2e.botapi import BotApiServer, free_port
from tests.e2e.telegram_support import (
    onboard,
    running_bot,
    telegram_settings,
    texts,
    wait_for_text,
)

pytestmark = pytest.mark.e2e

NAME = ("Annabel", "Zwartkruis")
TITLE = "Xjqw een speeltuin bij de Zeeweg"
DESCRIPTION = "Xjqw klimrekken en een zandbak voor kinderen uit de hele buurt."
COMMENT = "Xjqw ik help graag mee met bouwen!"


class Collected(logging.Handler):
    """Every log line, formatted as text and as JSON (with traces), as the operator sees it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.json = JsonFormatter()
        self.text = logging.Formatter(TEXT_FORMAT)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += [self.text.format(record), self.json.format(record)]


@pytest.fixture
def logs() -> Iterator[Collected]:
    """The bot's own logging set up at INFO, collected; restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in QUIET_LIBRARIES}
    setup_logging("INFO", "text")
    collected = Collected()
    root.addHandler(collected)
    try:
        yield collected
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_whole_journey_logs_no_name_no_text_and_no_platform_id(
    server: BotApiServer, tmp_path: Path, logs: Collected, mode: str
) -> None:
    anna = server.user(987654321, first_name=NAME[0], last_name=NAME[1], language_code="nl")
    webhook: dict[str, str] = {}
    if mode == "webhook":
        port = free_port()
        webhook = {
            "telegram_webhook_url": f"http://127.0.0.1:{port}/hook-Qz7/telegram",
            "telegram_webhook_listen": f"127.0.0.1:{port}",
            "telegram_webhook_secret": "s3cret-Qz7-long-enough-for-webhook-mode",
        }
    async with running_bot(telegram_settings(server, tmp_path / "bot.db", **webhook)):
        await onboard(server, anna)
        await anna.send_text("/idee")
        await wait_for_text(server, anna.chat_id, "Woningbeleid")
        await anna.press("Woningbeleid")
        await wait_for_text(server, anna.chat_id, "korte titel")
        await anna.send_text(TITLE)
        await wait_for_text(server, anna.chat_id, "20 tot 2.000 tekens")
        await anna.send_text(DESCRIPTION)
        await wait_for_text(server, anna.chat_id, "Over welke wijk")
        await anna.press("Sla over")
        await wait_for_text(server, anna.chat_id, "Geen foto")
        await anna.press("Geen foto")
        await wait_for_text(server, anna.chat_id, "Versturen")
        await anna.press("Versturen")
        await wait_for_text(server, anna.chat_id, "#1")
        await anna.send_text("/start idee_1")
        await wait_for_text(server, anna.chat_id, "Reacties (0)")
        await anna.press("Reacties (0)")
        await wait_for_text(server, anna.chat_id, "Reageren")
        await anna.press("Reageren")
        await wait_for_text(server, anna.chat_id, "Typ je reactie")
        await anna.send_text(COMMENT)
        await wait_for_text(server, anna.chat_id, "Je reactie staat bij idee #1")
        await anna.send_text("iets wat de bot niet begrijpt")
        await wait_for_text(server, anna.chat_id, "Wat zal ik ermee doen?")

    everything = "\n".join(logs.lines)
    started = "telegram polling started" if mode == "polling" else "telegram webhook serving"
    assert started in everything, "the journey was logged at INFO"
    for secret in (*NAME, "987654321", TITLE, "Xjqw", "iets wat de bot", server.token, "Qz7"):
        assert secret not in everything, secret


async def test_my_data_arrives_as_a_json_file_in_the_chat(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(3101, first_name="Annabel")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")):
        await onboard(server, anna)
        await anna.send_text("/mijngegevens")
        await wait_for_text(server, anna.chat_id, "Je gegevens op")
    [message] = [m for m in server.messages(anna.chat_id) if m.get("document")]
    document = message["document"]
    assert document["file_name"].endswith(".json")
    stored = server.file(document["file_id"])
    data = json.loads(stored.data)
    assert data["sections"]["users"]["rows"][0]["display_name"] == "Annabel"
    assert "Profiel: 1" in "\n".join(texts(server, anna.chat_id))


async def test_a_forgotten_resident_starts_afresh(server: BotApiServer, tmp_path: Path) -> None:
    anna = server.user(3102, first_name="Annabel")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await anna.send_text("/vergeetmij")
        await wait_for_text(server, anna.chat_id, "Weet je het zeker?")
        await anna.press("Ja, wis mijn gegevens")
        await wait_for_text(server, anna.chat_id, "Je gegevens zijn gewist")
        assert await app.repos.users.find("telegram", "3102") is None
        count = len(texts(server, anna.chat_id))
        await anna.send_text("hallo")
        await wait_for_text(server, anna.chat_id, "Welkom bij", after=count)
