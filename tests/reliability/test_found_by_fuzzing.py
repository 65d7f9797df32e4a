"""Bad input the fuzzer found that once reached a handler bug (``errors.sorry``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.app import App
from tests.handlers.ideas.helpers import seed_idea
from tests.support import Chat

MakeChat = Callable[..., Chat]


@pytest.mark.parametrize(
    "payload",
    [
        "idea.comment:²",
        "idea.comments:²",
        "idea.comments:1:²",
        "idea.open:²",
        "idea.support:١٢",
        "ideas.mine:²",
        "ideas.list:new:a::²",
    ],
)
async def test_a_button_with_a_number_that_is_not_ascii_digits_is_a_stale_button(
    app: App, chat: MakeChat, payload: str
) -> None:
    await seed_idea(app, "Een zebrapad bij de school")
    anna = chat("anna")
    await anna.onboard()
    await anna.press_payload(payload)
    assert anna.keys == ["general.stale_button"]


async def test_a_deep_link_with_a_superscript_number_finds_no_idea(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await anna.send("/start idee_²")
    assert "errors.sorry" not in anna.keys
    assert "ideas.not_found" in anna.keys


async def test_typing_a_superscript_number_on_the_console_is_not_an_option_number(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna", platform="console")
    await anna.send("/menu")
    await anna.send("²")
    assert "errors.sorry" not in anna.keys
