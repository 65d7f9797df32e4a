"""A comment shows its author by the role they wrote it in, not the role they hold now:
a resident who later becomes the connector is not named as the connector under what they
wrote as a resident, and a civil servant's answer stays the municipality's after their
role ends. Roles change as the operator changes them, on the command line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.admin.cli import main
from bot.app import App
from storage.clock import utcnow
from tests.handlers.ideas.helpers import seed_idea
from tests.people import row
from tests.support import Chat

MakeChat = Callable[..., Chat]


def _operator(app: App, monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))

    async def run(*args: str) -> None:
        assert await asyncio.to_thread(main, list(args)) == 0

    return run


async def _write(chat: Chat, idea: int, body: str) -> None:
    await chat.press_payload(f"idea.comments:{idea}")
    await chat.press("Reageren")
    await chat.send(body)
    assert chat.keys == ["comments.added", "comments.title"]


async def test_a_resident_who_becomes_the_connector_is_not_named_under_what_they_wrote_before(
    app: App, chat: MakeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = _operator(app, monkeypatch)
    await seed_idea(app, "Een moestuin bij de school")
    ria = chat("4242", platform="telegram")
    await ria.onboard()
    await _write(ria, 1, "Als buurvrouw vind ik dit een goed plan.")
    await operator("grant", "--platform", "telegram", "--user", "4242", "--role", "verbinder")
    await _write(ria, 1, "Ik kom volgende week langs om te kijken.")

    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.comments:1")
    text = bob.text
    resident_line = text[: text.index("Als buurvrouw")]
    connector_line = text[text.index("Als buurvrouw") : text.index("Ik kom volgende week")]
    assert "Een inwoner" in resident_line.splitlines()[-1]
    assert "Burgerbeest" not in resident_line
    assert "Burgerbeest" in connector_line.splitlines()[-1]
    # Her own thread still says "Jij" for both, and she may change both.
    await ria.press_payload("idea.comments:1")
    assert ria.text.count("Jij") == 2
    assert sum(label.startswith("✏️") for label in ria.last[0].labels()) == 2


async def test_a_civil_servants_answer_stays_the_municipalitys_and_cannot_be_changed_after_revoke(
    app: App, chat: MakeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = _operator(app, monkeypatch)
    await seed_idea(app, "Een bankje bij de bieb")
    piet = chat("4343", platform="telegram")
    await piet.onboard()
    await operator("grant", "--platform", "telegram", "--user", "4343", "--role", "ambtenaar")
    await _write(piet, 1, "De gemeente plaatst het bankje in mei.")
    [answer] = (await app.repos.comments.latest(1)).comments
    # He opens the change while he still holds the role, and it ends while he types.
    await piet.press_payload(f"cm.edit:{answer.id}")
    assert piet.keys == ["comments.ask_edit"]
    await operator("revoke", "--platform", "telegram", "--user", "4343", "--reason", "weg")
    await piet.send("Het bankje komt er toch niet.")
    assert piet.keys == ["comments.edit_role_gone", "comments.title"]
    assert "Het bankje komt er toch niet." in piet.text  # given back, not lost
    assert "Verwijderen kan wel" in piet.text
    [still] = (await app.repos.comments.latest(1)).comments
    assert still.body == "De gemeente plaatst het bankje in mei." and still.edited_at is None

    # Residents still read it as the municipality's answer.
    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.comments:1")
    assert "Een ambtenaar" in bob.text and "Een inwoner" not in bob.text

    # He is offered no change any more, and a kept button is refused; deleting stays his.
    await piet.press_payload("idea.comments:1")
    labels = piet.last[0].labels()
    assert not any(label.startswith("✏️") for label in labels)
    assert any(label.startswith("🗑") for label in labels), labels
    await piet.press_payload(f"cm.edit:{answer.id}")
    assert piet.keys == ["comments.edit_role_gone", "comments.title"]
    await piet.send("Toch iets anders")  # no change was begun: it is no comment's text
    assert "comments.edit_saved" not in piet.keys
    assert (await app.repos.comments.latest(1)).comments[0].body == still.body

    # Granted the role again, he may change it again.
    await operator("grant", "--platform", "telegram", "--user", "4343", "--role", "ambtenaar")
    await piet.press_payload(f"cm.edit:{answer.id}")
    assert piet.keys[-1] == "comments.ask_edit"


async def test_the_role_a_comment_was_written_in_is_in_my_data(
    app: App, chat: MakeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = _operator(app, monkeypatch)
    await seed_idea(app, "Een idee")
    ria = chat("4242", platform="telegram")
    await ria.onboard()
    await _write(ria, 1, "Als inwoner geschreven.")
    await operator("grant", "--platform", "telegram", "--user", "4242", "--role", "verbinder")
    await _write(ria, 1, "Als verbinder geschreven.")
    data = await app.repos.personal.export((await row(app, ria)).id, utcnow())
    assert data is not None
    rows = data.sections["idea_comments"].rows
    assert [(r["body"], r["role"]) for r in rows] == [
        ("Als inwoner geschreven.", "inwoner"),
        ("Als verbinder geschreven.", "verbinder"),
    ]
