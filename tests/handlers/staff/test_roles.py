"""Staff roles in the chat: an invite link grants its role once; staff surfaces stay hidden."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.admin.cli import main
from bot.app import App
from handlers import FEATURES
from handlers.contract import Reply, Response, Role, respond
from handlers.feature import Context, Feature, Registry
from storage.clock import utcnow
from storage.invites import code_hash
from tests.people import refused_as_unknown
from tests.privacy import database_files, traces
from tests.support import Chat

MakeChat = Callable[..., Chat]


async def _invite(app: App, role: Role = Role.CIVIL_SERVANT, age: timedelta = timedelta()) -> str:
    async with app.db.transaction():
        code, _ = await app.repos.invites.create(role, utcnow() - age)
    return code


async def test_a_new_person_opens_an_invite_onboards_and_becomes_staff(
    app: App, chat: MakeChat
) -> None:
    code = await _invite(app, Role.CONNECTOR)
    ria = chat("ria", name="Ria")
    await ria.send(f"/start inv_{code}")
    assert ria.keys == ["onboarding.welcome", "onboarding.consent_question"]
    await ria.press("Ja")
    await ria.press("Nederlands")
    await ria.press("IJmuiden")
    assert ria.keys == ["onboarding.done", "invite.welcome"]
    assert "Je bent nu verbinder in Samenspel" in ria.text
    user = await app.repos.users.find("test", "ria")
    assert user is not None and user.role is Role.CONNECTOR
    (entry,) = await app.repos.audit.recent()
    assert (entry.action, entry.actor_user_id, entry.subject_user_id) == (
        "invite.redeem",
        user.id,
        user.id,
    )
    assert entry.detail["role"] == "verbinder" and entry.detail["previous"] == "inwoner"


async def test_an_invite_link_whose_prefix_came_back_in_capitals_still_grants_its_role(
    app: App, chat: MakeChat
) -> None:
    # Typed over from a letter, or copied through a program that capitalises.
    code = await _invite(app, Role.CONNECTOR)
    ria = chat("ria", name="Ria")
    await ria.send(f"/start INV_{code}")
    assert ria.keys == ["onboarding.welcome", "onboarding.consent_question"]
    await ria.press("Ja")
    await ria.press("Nederlands")
    await ria.press("IJmuiden")
    assert ria.keys == ["onboarding.done", "invite.welcome"]
    user = await app.repos.users.find("test", "ria")
    assert user is not None and user.role is Role.CONNECTOR

    # Someone already onboarded, with the prefix in mixed case.
    code = await _invite(app, Role.CIVIL_SERVANT)
    anna = chat("anna")
    await anna.onboard()
    await anna.send(f"/start Inv_{code}")
    assert anna.keys == ["onboarding.welcome_back", "invite.welcome"]
    user = await app.repos.users.find("test", "anna")
    assert user is not None and user.role is Role.CIVIL_SERVANT


async def test_an_invite_code_in_other_letters_is_another_code(app: App, chat: MakeChat) -> None:
    # Codes are case-sensitive (letters, digits, - and _): only the prefix is read loosely.
    code = "abcDEF123_-xyzUVW"
    async with app.db.transaction():
        await app.db.execute(
            "UPDATE invites SET code_hash = ? WHERE id = ?",
            (code_hash(code), (await app.repos.invites.create(Role.CONNECTOR, utcnow()))[1].id),
        )
    bob = chat("bob")
    await bob.onboard()
    await bob.send(f"/start INV_{code.upper()}")
    assert bob.keys == ["onboarding.welcome_back", "invite.unknown"]
    await bob.send(f"/start INV_{code}")
    assert bob.keys == ["onboarding.welcome_back", "invite.welcome"]


async def test_an_invite_opened_before_onboarding_is_kept_only_as_its_hash(
    app: App, chat: MakeChat
) -> None:
    code = await _invite(app, Role.CONNECTOR)
    ria = chat("ria", name="Ria")
    await ria.send(f"/start inv_{code}")
    assert ria.keys == ["onboarding.welcome", "onboarding.consent_question"]
    # Half-way through onboarding the dialog waits in the database: a copy of it must not
    # let anyone redeem the invite, so the code is stored nowhere, in no table or file.
    await ria.press("Ja")
    assert await traces(app.db, [code]) == []
    stored = await app.db.fetchval("SELECT data FROM dialogs")
    assert code_hash(code) in stored
    for path in database_files(app):
        assert code.encode() not in path.read_bytes(), path.name

    await ria.press("Nederlands")
    await ria.press("IJmuiden")
    assert ria.keys == ["onboarding.done", "invite.welcome"]
    user = await app.repos.users.find("test", "ria")
    assert user is not None and user.role is Role.CONNECTOR


async def test_an_invite_works_once(app: App, chat: MakeChat) -> None:
    code = await _invite(app)
    anna, bob = chat("anna"), chat("bob")
    await anna.onboard()
    await bob.onboard()
    await anna.send(f"/start inv_{code}")
    assert anna.keys[-1] == "invite.welcome"
    await anna.send(f"/start inv_{code}")
    assert anna.keys[-1] == "invite.yours" and "al gebruikt. Je bent ambtenaar" in anna.text
    await bob.send(f"/start inv_{code}")
    assert bob.keys[-1] == "invite.used"
    user = await app.repos.users.find("test", "bob")
    assert user is not None and user.role is Role.RESIDENT
    assert [e.action for e in await app.repos.audit.recent()] == ["invite.redeem"]


async def test_expired_and_unknown_invites_get_a_friendly_answer(app: App, chat: MakeChat) -> None:
    old = await _invite(app, age=timedelta(days=8))
    anna = chat("anna")
    await anna.onboard()
    await anna.send(f"/start inv_{old}")
    assert anna.keys[-1] == "invite.expired"
    await anna.send("/start inv_doesnotexist")
    assert anna.keys[-1] == "invite.unknown"
    assert "ken ik niet" in anna.last[-1].text
    user = await app.repos.users.find("test", "anna")
    assert user is not None and user.role is Role.RESIDENT
    assert await app.repos.audit.recent() == []


async def test_staff_opening_an_invite_for_their_role_leave_it_for_someone_else(
    app: App, chat: MakeChat
) -> None:
    code = await _invite(app, Role.CIVIL_SERVANT)
    ria = chat("ria")
    await ria.onboard(language="English")
    user = await app.repos.users.find("test", "ria")
    assert user is not None
    async with app.db.transaction():
        await app.repos.users.set_role(user.id, Role.ADMIN)
    await ria.send(f"/start inv_{code}")
    assert ria.keys[-1] == "invite.already"
    assert "Your role is already administrator" in ria.last[-1].text
    invite = await app.repos.invites.find(code)
    assert invite is not None and not invite.used


def _staff_feature() -> Feature:
    feature = Feature("staff-test")

    @feature.command("verstuur", role=Role.CIVIL_SERVANT)
    @feature.action("verstuur", role=Role.CIVIL_SERVANT)
    async def compose(ctx: Context) -> Response:
        return respond(Reply(key="raw", params={"text": "composer"}))

    return feature


async def test_staff_surfaces_answer_residents_like_unknown_ones_until_granted_and_after_revoked(
    app: App, chat: MakeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.router.registry = Registry([*FEATURES, _staff_feature()])
    anna = chat("4242", platform="telegram")
    await anna.onboard()
    await anna.send("/verstuur")
    refused_as_unknown(app, anna)
    await anna.send("/bestaatniet")
    assert anna.keys == ["general.unknown_command"]
    await anna.press_payload("verstuur")
    assert anna.keys == ["general.stale_button"]

    await anna.send(f"/start inv_{await _invite(app)}")
    await anna.send("/verstuur")
    assert anna.text == "composer"
    assert "composer" not in [label for label, _ in anna.buttons()]

    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    revoke = ["revoke", "--platform", "telegram", "--user", "4242", "--reason", "stopt"]
    assert await asyncio.to_thread(main, revoke) == 0
    await anna.send("/verstuur")
    refused_as_unknown(app, anna)
    await anna.press_payload("verstuur")
    assert anna.keys == ["general.stale_button"]
    user = await app.repos.users.find("telegram", "4242")
    assert user is not None
    actions = [e.action for e in await app.repos.audit.about_user(user.id)]
    assert actions == ["invite.redeem", "role.revoke"]


async def test_an_invite_opened_while_writing_an_idea_is_redeemed_beside_it_and_never_stored(
    app: App, chat: MakeChat
) -> None:
    code = await _invite(app, Role.CONNECTOR)
    anna = chat("anna")
    await anna.onboard()
    await anna.send("/idee")
    await anna.press("Ruimtelijke inrichting")
    await anna.send("Een bankje bij de bieb")
    assert anna.keys == ["ideas.ask_description"]
    await anna.send(f"/start inv_{code}")
    # The invite starts nothing, so nothing of the idea is in the way: no question about
    # the draft whose button (kept with the dialog) would hold the code.
    assert anna.keys == ["invite.welcome"]
    assert any("Verder met je idee" in label for label, _ in anna.buttons())
    assert await traces(app.db, [code]) == []
    for path in database_files(app):
        assert code.encode() not in path.read_bytes(), path.name
    user = await app.repos.users.find("test", "anna")
    assert user is not None and user.role is Role.CONNECTOR
    await anna.press("Verder met je idee")
    assert anna.keys[-1] == "ideas.ask_description"


async def test_switching_to_a_role_that_cannot_hold_the_staff_dialog_ends_it_at_once(
    app: App, chat: MakeChat
) -> None:
    """``/als`` on the console ends a staff dialog the new role may not hold, as revoking
    that role does: no "Verder" back into it, and nothing typed next lands in it."""
    anna = chat("anna", platform="console")
    await anna.onboard()
    await anna.send("/als ambtenaar")
    await anna.press_payload("compose")
    assert anna.keys == ["composer.intro"]
    await anna.send("/als inwoner")
    # Why it stopped, plainly: not that it "expired".
    assert anna.keys == ["roles.lost.ambtenaar", "roles.act_as_done"]
    assert "Je bent geen ambtenaar meer" in anna.text and "verlopen" not in anna.text
    assert not any(payload.startswith("~") for _, payload in anna.buttons())
    assert await app.repos.dialogs.load(1) is None
    await anna.send("Er komt een nieuwe speeltuin.")
    assert "roles.lost.ambtenaar" not in anna.keys


async def test_switching_away_from_a_message_being_written_gives_the_message_back(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna", platform="console")
    await anna.onboard()
    await anna.send("/als ambtenaar")
    await anna.send("/nieuwbericht Er komt een nieuwe speeltuin.")
    assert anna.keys == ["composer.ask_photo"]
    await anna.send("/als inwoner")
    assert anna.keys == ["roles.lost.ambtenaar", "general.typed_not_kept", "roles.act_as_done"]
    assert "Er komt een nieuwe speeltuin." in anna.text


async def test_switching_to_a_role_that_may_hold_the_dialog_keeps_it(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna", platform="console")
    await anna.onboard()
    await anna.send("/als ambtenaar")
    await anna.press_payload("compose")
    await anna.send("/als admin")
    assert anna.keys == ["roles.act_as_done"]
    await anna.send("Er komt een nieuwe speeltuin.")
    assert anna.keys == ["composer.ask_photo"]
