"""The router enforces what each feature declares, at every event, and knows no feature.

Every command, action and dialog declares the role it needs; the router reads the person's
role from the database at each event, each dialog step and dialog button included, and
drops a dialog the person may no longer hold. A dialog step that fails drops its dialog
instead of jamming the person for a day.
"""

from __future__ import annotations

import ast
import inspect
import logging
from datetime import timedelta
from pathlib import Path

import pytest

import handlers
from bot.admin.cli import revoke
from bot.app import App
from handlers.contract import Response, Role, respond
from handlers.feature import Context, Fallback, Feature, Registry
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from tests.handlers.ideas.helpers import seed_idea
from tests.people import connector, outbox, person, refused_as_unknown, row
from tests.support import Chat, with_broken_step

ROOT = Path(__file__).resolve().parents[2]


# What features declare -------------------------------------------------------------------


def test_every_command_action_and_dialog_must_declare_its_role() -> None:
    # No default: leaving the role out is a TypeError at import (and a mypy error).
    for method in (Feature.command, Feature.action, Feature.dialog):
        role = inspect.signature(method).parameters["role"]
        assert role.default is inspect.Parameter.empty, method.__name__
    registry = handlers.registry()
    declared = [
        *(("command", name, spec.policy) for name, spec in registry.commands.items()),
        *(("action", name, spec.policy) for name, spec in registry.actions.items()),
        *(("dialog", name, spec.policy) for name, spec in registry.dialogs.items()),
    ]
    assert len(declared) > 100
    for kind, name, policy in declared:
        assert isinstance(policy.role, Role), (kind, name)
    with pytest.raises(TypeError):
        Feature("careless").command("oops")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("names", "translations"),
    [
        (["MijnData"], None),  # matched in lowercase: never answered
        (["lijst"], {"en": "List"}),
        (["lijst"], {"en": "lijst"}),
        (["lijst", "lijst"], None),
        (["overzicht"], {"en": "menu"}),  # another command's name already
    ],
)
def test_a_command_name_that_could_never_be_answered_or_is_taken_is_refused(
    names: list[str], translations: dict[str, str] | None
) -> None:
    feature = Feature("careless")
    feature.command("menu", role=Role.RESIDENT)(handlers.FEATURES[0].commands["menu"].handler)
    with pytest.raises(ValueError, match="twice, taken or not lowercase"):
        feature.command(*names, role=Role.RESIDENT, translations=translations)


def test_staff_areas_declare_staff_roles_and_menu_buttons_the_role_of_their_action() -> None:
    registry = handlers.registry()
    for entry in registry.menu:
        action = registry.actions[entry.payload.partition(":")[0]]
        assert action.role is entry.role, entry.payload
    staff_dialogs = {"moderate", "inbox", "triage", "compose", "introduce"}
    for name in staff_dialogs & registry.dialogs.keys():
        assert registry.dialogs[name].role is not Role.RESIDENT, name
    for name in ("meldingen", "wachtrij", "inbox", "nieuwbericht", "verbind", "logboek"):
        assert registry.commands[name].role is not Role.RESIDENT, name


def test_a_registry_without_an_answer_for_what_no_feature_claims_is_refused() -> None:
    general = handlers.FEATURES[0]
    assert Fallback.IN_GROUP in general.fallbacks
    with pytest.raises(ValueError, match="no feature answers"):
        Registry([f for f in handlers.FEATURES if f is not general])


def test_a_dialog_declared_without_a_step_is_refused() -> None:
    feature = Feature("forgetful")
    feature.dialog("half", role=Role.RESIDENT)
    with pytest.raises(ValueError, match="dialogs without a step"):
        Registry([*handlers.FEATURES, feature])


def test_a_menu_entry_whose_button_opens_nothing_is_refused() -> None:
    feature = Feature("dangling")
    feature.menu_entry("menu.help", "nowhere", order=99)
    with pytest.raises(ValueError, match=r"menu entries without an action: \['nowhere'\]"):
        Registry([*handlers.FEATURES, feature])


def test_the_router_imports_no_feature_and_holds_none_of_their_words() -> None:
    source = (ROOT / "bot" / "router.py").read_text()
    tree = ast.parse(source)
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    core = {
        "handlers.catalog",
        "handlers.contract",
        "handlers.feature",
        "handlers.profile",
    }
    assert {m for m in imported if m.startswith("handlers")} <= core
    assert {m for m in imported if m.startswith("storage.")} <= {"storage.clock"}
    registry = handlers.registry()
    names = {*registry.commands, *registry.actions, *registry.dialogs, "idea", "comment"}
    literals = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert not names & literals
    assert "numbered_platforms" not in source and "extras" not in source


def test_only_the_runtime_and_the_cli_import_a_concrete_adapter() -> None:
    concrete = {"bot.platforms.telegram", "bot.platforms.matrix", "bot.platforms.console"}
    importers = set()
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/**/*.py")]:
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("bot/platforms/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in concrete:
                importers.add(relative)
    assert importers == {"bot/runtime.py", "bot/admin/cli.py"}


# Revoked staff ----------------------------------------------------------------------------


async def _revoke(app: App, chat: Chat) -> None:
    """The role is gone in the database (as ``samenspel revoke`` from another process)."""
    async with app.db.transaction():
        await app.repos.users.set_role((await row(app, chat)).id, Role.RESIDENT)


async def test_a_revoked_connectors_next_typed_step_is_refused_and_the_dialog_dropped(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag Wanneer wordt het gras gemaaid?")
    ria = await connector(app)
    await ria.send("/inbox")
    await ria.press("Bekijk vraag #1")
    await ria.press("Beantwoorden")
    assert ria.keys == ["inbox.ask_answer"]
    await _revoke(app, ria)

    await ria.send("Volgende week dinsdag.")
    # Refused, saying plainly why (not that it "expired"), and what she typed comes back
    # so it is not lost without a word.
    assert ria.keys == ["roles.lost.verbinder", "general.typed_not_kept"]
    assert "Je bent geen verbinder meer" in ria.text and "verlopen" not in ria.text
    assert "Dit had je geschreven:\nVolgende week dinsdag." in ria.text
    assert "Wachtrij" not in ria.text and "Inbox" not in ria.text  # a resident's menu now
    question = await app.repos.questions.get(1)
    assert question is not None and [m.text for m in question.messages] == [
        "Wanneer wordt het gras gemaaid?"
    ]
    assert await app.repos.dialogs.load((await row(app, ria)).id) is None
    # The next message is an ordinary one again.
    await ria.send("Volgende week dinsdag.")
    assert ria.keys == ["general.typed_what_now"]


async def _reported_comment(app: App) -> Chat:
    await seed_idea(app, "Een speeltuin in Zeewijk")
    anna = await person(app, "anna")
    await anna.press_payload("idea.comment:1")
    await anna.send("Wat een onzin, jullie zijn allemaal gek.")
    bob = await person(app, "bob")
    await bob.press_payload("idea.comments:1")
    await bob.press("Meld 1")
    await bob.press("Schelden of beledigend")
    assert bob.keys == ["reporting.thanks"]
    return anna


async def test_a_revoked_connectors_dialog_button_is_refused_and_nothing_is_decided(
    app: App,
) -> None:
    anna = await _reported_comment(app)
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press("Dempen")
    period = [payload for _, payload in ria.buttons() if payload.startswith("~")]
    assert period, ria.buttons()
    await _revoke(app, ria)

    await ria.press_payload(period[0])
    assert ria.keys == ["roles.lost.verbinder"]
    assert await app.repos.sanctions.of_user((await row(app, anna)).id) == []
    assert await app.repos.dialogs.load((await row(app, ria)).id) is None
    # The button stays dead, and a command of the old role looks unknown.
    await ria.press_payload(period[0])
    assert ria.keys == ["general.stale_button"]
    await ria.send("/meldingen")
    refused_as_unknown(app, ria)


async def _revoked_while_answering(app: App) -> Chat:
    """A connector answering Anna's question, whose role is revoked before she sends it."""
    anna = await person(app, "anna")
    await anna.send("/vraag Wanneer wordt het gras gemaaid?")
    ria = await connector(app)
    await ria.send("/inbox")
    await ria.press("Bekijk vraag #1")
    await ria.press("Beantwoorden")
    await _revoke(app, ria)
    return ria


async def test_a_command_after_a_revoke_is_answered_after_a_word_about_the_dropped_dialog(
    app: App,
) -> None:
    ria = await _revoked_while_answering(app)

    await ria.send("/help")
    assert ria.keys == ["roles.lost.verbinder", "general.help_title"]
    assert "Je bent geen verbinder meer" in ria.text
    assert ria.last[0].buttons == []  # one menu, under the answer
    assert await app.repos.dialogs.load((await row(app, ria)).id) is None


async def test_a_command_with_words_after_a_revoke_gets_its_words_after_the_word_about_the_role(
    app: App,
) -> None:
    """The word naming the lost role is said before the command, which still reads what
    was typed after it."""
    ria = await _revoked_while_answering(app)

    await ria.send("/vraag Mag ik nog iets vragen?")
    assert ria.keys == ["roles.lost.verbinder", "questions.sent"]
    question = await app.repos.questions.get(2)
    assert question is not None and [m.text for m in question.messages] == [
        "Mag ik nog iets vragen?"
    ]


async def test_samenspel_revoke_clears_the_staff_dialog_the_person_had_open(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag Wanneer wordt het gras gemaaid?")
    ria = await connector(app, "4242")
    await ria.send("/inbox")
    await ria.press("Bekijk vraag #1")
    await ria.press("Beantwoorden")
    user = await row(app, ria)
    assert await app.repos.dialogs.load(user.id) is not None
    async with app.db.transaction():
        await app.db.execute("UPDATE users SET platform = 'telegram' WHERE id = ?", (user.id,))
    said = await revoke(app.settings, "telegram", "4242", "left the team")
    assert "is now inwoner" in said
    assert await app.repos.dialogs.load(user.id) is None


async def test_someone_whose_staff_dialog_a_revoke_cleared_is_told_it_stopped(app: App) -> None:
    """``samenspel revoke`` clears the poll she was composing, so her next answer meets no
    dialog: she hears first, in her chat, that what she was doing stopped, rather than
    finding her next line taken for a message to the connector without a word."""
    ria = await person(app, "4242", platform="telegram")
    async with app.db.transaction():
        await app.repos.users.set_role((await row(app, ria)).id, Role.CIVIL_SERVANT)
    await ria.send("/nieuwepeiling")
    await ria.send("Nieuwe speelplek Zeewijk")
    assert ria.keys == ["consultations.ask_intro"]
    await revoke(app.settings, "telegram", "4242", "left the team")
    [told] = await outbox(app, "dialog_dropped")
    assert told.user_id == (await row(app, ria)).id
    # With the title she had written, so it is not lost.
    assert [reply.key for reply in told.replies] == [
        "roles.lost.ambtenaar",
        "general.typed_not_kept",
    ]
    assert "Je bent geen ambtenaar meer" in told.text(app, "nl")
    assert "Nieuwe speelplek Zeewijk" in told.text(app, "nl")
    assert told.payloads() == ["menu"]
    # Someone without a staff dialog open hears nothing of it.
    sam = await connector(app, "4243")
    async with app.db.transaction():
        await app.db.execute(
            "UPDATE users SET platform = 'telegram' WHERE id = ?", ((await row(app, sam)).id,)
        )
    await revoke(app.settings, "telegram", "4243", None)
    assert len(await outbox(app, "dialog_dropped")) == 1


async def test_a_revoked_connector_is_told_she_is_no_connector_any_more_whatever_she_wrote(
    app: App,
) -> None:
    """The word names the role she had, even where the dialog needed less (a message any
    civil servant may write): she was a connector, not a civil servant."""
    ria = await connector(app, "4244")
    await ria.send("/nieuwbericht Er komt een nieuwe speeltuin.")
    assert ria.keys == ["composer.ask_photo"]
    user = await row(app, ria)
    async with app.db.transaction():
        await app.db.execute("UPDATE users SET platform = 'telegram' WHERE id = ?", (user.id,))
    await revoke(app.settings, "telegram", "4244", None)
    [told] = await outbox(app, "dialog_dropped")
    assert [reply.key for reply in told.replies] == [
        "roles.lost.verbinder",
        "general.typed_not_kept",
    ]
    for lang in ("nl", "en"):
        text = told.text(app, lang)
        assert "verlopen" not in text and "expired" not in text
    assert "Je bent geen verbinder meer" in told.text(app, "nl")
    assert "no longer a community connector" in told.text(app, "en")
    assert "Er komt een nieuwe speeltuin." in told.text(app, "nl")


async def test_a_dialog_dropped_for_another_reason_than_a_role_keeps_the_general_word(
    app: App,
) -> None:
    """Consent withdrawn (as by another version's data): no role is named."""
    anna = await person(app, "anna")
    await anna.send("/vraag")
    async with app.db.transaction():
        await app.db.execute(
            "UPDATE users SET consent_at = NULL WHERE id = ?", ((await row(app, anna)).id,)
        )
    await anna.send("Wanneer wordt het gras gemaaid?")
    assert anna.keys[0] == "general.dialog_dropped"


async def test_a_resident_dialog_survives_a_revoke(app: App) -> None:
    ria = await connector(app, "4243")
    await ria.send("/vraag")
    user = await row(app, ria)
    async with app.db.transaction():
        await app.db.execute("UPDATE users SET platform = 'telegram' WHERE id = ?", (user.id,))
    await revoke(app.settings, "telegram", "4243", None)
    stored = await app.repos.dialogs.load(user.id)
    assert stored is not None and stored.name == "question"


# Dialogs this code no longer understands ---------------------------------------------------


async def _store_dialog(
    app: App, chat: Chat, name: str, step: str, data: dict[str, object]
) -> str:
    user = await row(app, chat)
    async with app.db.transaction():
        await app.repos.dialogs.save(user.id, name, step, data, "abc123", utcnow())
    return "abc123"


@pytest.mark.parametrize(
    ("name", "step", "data"),
    [
        ("question", "no-such-step", {}),  # UnknownStep
        ("connect", "contact", {}),  # KeyError: a data key this code expects
        ("forget", "confirm", {"content": "alles-en-nog-wat"}),  # ValueError (validation)
        ("no-such-dialog", "start", {}),  # a dialog no feature declares any more
    ],
)
async def test_a_stored_dialog_this_code_cannot_go_on_with_is_dropped_once_and_logged(
    app: App, name: str, step: str, data: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    anna = await person(app, "anna")
    token = await _store_dialog(app, anna, name, step, data)
    caplog.set_level(logging.INFO, logger="bot.router")

    await anna.send("hallo")
    # The dialog it was meant for stopped: the text comes back with the word why.
    assert anna.keys == ["general.dialog_dropped", "general.typed_not_kept"]
    assert "verlopen" in anna.text and "Dit had je geschreven:\nhallo" in anna.text
    assert "dialog" in caplog.text and name in caplog.text
    assert await app.repos.dialogs.load((await row(app, anna)).id) is None
    await anna.send("zomaar wat")
    assert anna.keys == ["general.not_understood"]
    # Its buttons are stale now.
    await anna.press_payload(f"~{token}:yes")
    assert anna.keys == ["general.stale_button"]


@pytest.mark.parametrize("data", ["null", "[]", '"tekst"', "{niet json", ""])
@pytest.mark.parametrize(
    ("first", "answer"),
    [
        ("hallo", "general.hello"),
        ("/menu", "menu.title"),
        ("/stop", "general.nothing_to_cancel"),
        ("/vergeetmij", "privacy.forget.confirm"),
    ],
)
async def test_a_stored_dialog_that_cannot_be_read_is_dropped_once_and_the_event_handled(
    app: App, data: str, first: str, answer: str, caplog: pytest.LogCaptureFixture
) -> None:
    anna = await person(app, "anna")
    user = await row(app, anna)
    async with app.db.transaction():
        await app.db.execute(
            "INSERT INTO dialogs (user_id, name, step, data, token, updated_at)"
            " VALUES (?, 'question', 'ask', ?, 'abc123', ?)",
            (user.id, data, utcnow().isoformat()),
        )
    caplog.set_level(logging.WARNING, logger="bot.router")

    await anna.send(first)
    assert anna.keys[0] == "general.dialog_dropped"
    assert "cannot be read" in caplog.text
    assert await app.db.fetchval("SELECT COUNT(*) FROM dialogs WHERE name = 'question'") == 0
    # Said once; from then on the person is served as anyone else.
    await anna.send(first)
    assert anna.keys[0] == answer


async def test_a_dialog_button_of_a_broken_dialog_drops_it_too(app: App) -> None:
    anna = await person(app, "anna")
    token = await _store_dialog(app, anna, "connect", "contact", {})
    await anna.press_payload(f"~{token}:no")
    assert anna.keys == ["general.dialog_dropped"]
    assert await app.repos.dialogs.load((await row(app, anna)).id) is None


async def test_a_failed_step_keeps_none_of_its_writes(app: App) -> None:
    with_broken_step(app)
    anna = Chat(app, "anna")
    await anna.send("/breek")
    await anna.send("iets")
    assert anna.keys == ["general.dialog_dropped", "general.typed_not_kept"]
    user = await app.repos.users.find("test", "anna")
    assert user is not None and user.role is Role.RESIDENT
    assert await app.repos.dialogs.load(user.id) is None


# Bans and mutes at a dialog step -----------------------------------------------------------


async def test_a_ban_drops_the_dialog_the_person_had_open_and_a_mute_keeps_it(app: App) -> None:
    anna, bob = await person(app, "anna"), await person(app, "bob")
    await anna.send("/vraag")
    assert anna.keys == ["questions.ask"]
    # A muted resident may still ask the connector: a comment is what a mute refuses.
    await seed_idea(app, "Een bankje bij de haven")
    await bob.press_payload("idea.comment:1")
    assert bob.keys == ["comments.ask"]
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, anna)).id,
            SanctionKind.BAN,
            reason="Schelden",
            by_user_id=None,
            now=utcnow(),
        )
        await app.repos.sanctions.add(
            (await row(app, bob)).id,
            SanctionKind.MUTE,
            reason="Afkoelen",
            by_user_id=None,
            now=utcnow(),
            ends_at=utcnow() + timedelta(days=1),
        )

    await anna.send("Wanneer wordt het gras gemaaid?")
    assert anna.keys == ["moderation.banned"]
    assert await app.repos.dialogs.load((await row(app, anna)).id) is None
    await bob.send("Wanneer wordt het gras gemaaid?")
    assert bob.keys == ["moderation.muted"]
    assert await app.repos.dialogs.load((await row(app, bob)).id) is not None
    assert await app.repos.questions.of_user((await row(app, anna)).id, limit=5) == []
    assert (await app.repos.comments.latest(1)).total == 0


def test_posts_without_a_posting_limit_are_refused_at_start_up() -> None:
    feature = Feature("unlimited")

    @feature.action("spam.post", posts="spam", role=Role.RESIDENT)
    async def post(ctx: Context) -> Response:
        return respond()

    with pytest.raises(ValueError, match=r"posts without a posting limit: \['spam'\]"):
        Registry([*handlers.FEATURES, feature])
    feature.posts_bounded("spam", why="one a person, ever")
    Registry([*handlers.FEATURES, feature])
