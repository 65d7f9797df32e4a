"""The operator's tools: grant, revoke and invite, each audited; bad input changes nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.admin.cli import main
from tests.e2e.botapi import BotApiServer

Run = tuple[int, str, str]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SAMENSPEL_TELEGRAM_TOKEN", "SAMENSPEL_TELEGRAM_API_URL", "SAMENSPEL_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "bot.db"
    monkeypatch.setenv("SAMENSPEL_DB", str(path))
    monkeypatch.chdir(tmp_path)
    return path


def samenspel(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql))


def test_grant_makes_someone_staff_even_before_they_wrote_and_audits_it(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = samenspel(
        capsys, "grant", "--platform", "telegram", "--user", "4242", "--role", "ambtenaar"
    )
    assert code == 0
    assert out.strip() == "telegram 4242 is now ambtenaar (was inwoner)"
    assert rows(db, "SELECT platform_user_id, role, consent_at FROM users") == [
        ("4242", "ambtenaar", None)
    ]
    assert rows(
        db, "SELECT actor, actor_user_id, action, subject, subject_user_id FROM audit_log"
    ) == [("cli", None, "role.grant", "user", 1)]
    code, out, _ = samenspel(
        capsys, "grant", "--platform", "telegram", "--user", "4242", "--role", "ambtenaar"
    )
    assert code == 0 and "nothing changed" in out
    assert len(rows(db, "SELECT * FROM audit_log")) == 1


def test_revoke_makes_staff_a_resident_again_with_the_reason_audited(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    samenspel(
        capsys, "grant", "--platform", "matrix", "--user", "@ria:velsen.nl", "--role", "admin"
    )
    code, out, _ = samenspel(
        capsys, "revoke", "--platform", "matrix", "--user", "@ria:velsen.nl", "--reason", "left"
    )
    assert code == 0 and out.strip() == "matrix @ria:velsen.nl is now inwoner (was admin)"
    assert rows(db, "SELECT role FROM users") == [("inwoner",)]
    assert rows(db, "SELECT action, detail, reason FROM audit_log ORDER BY id") == [
        ("role.grant", '{"previous": "inwoner", "role": "admin"}', None),
        ("role.revoke", '{"previous": "admin", "role": "inwoner"}', "left"),
    ]


def test_invite_prints_a_one_time_code_and_what_to_send_without_telegram(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = samenspel(capsys, "invite", "--role", "verbinder")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("One-time invite for the role verbinder, valid until ")
    invite = lines[1].removeprefix("Code: ")
    assert invite.startswith("inv_") and len(invite) == 20
    assert lines[-1] == f"Or send this to the bot in the chat: /start {invite}"
    assert not any(line.startswith("Link:") for line in lines)
    assert rows(db, "SELECT role, redeemed_at FROM invites") == [("verbinder", None)]
    assert rows(db, "SELECT actor, action, subject FROM audit_log") == [
        ("cli", "invite.create", "invite:1")
    ]


async def test_invite_prints_a_telegram_link_when_the_bot_tells_its_name(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with BotApiServer(bot_username="velsen_samenspel_bot") as server:
        monkeypatch.setenv("SAMENSPEL_TELEGRAM_TOKEN", server.token)
        monkeypatch.setenv("SAMENSPEL_TELEGRAM_API_URL", server.base_url)
        code = await asyncio.to_thread(main, ["invite", "--role", "ambtenaar"])
    out = capsys.readouterr().out
    assert code == 0
    invite = out.splitlines()[1].removeprefix("Code: ")
    assert f"Link: https://t.me/velsen_samenspel_bot?start={invite}" in out


@pytest.mark.parametrize(
    "user",
    ["@Ria.DeVries:velsen.nl", "@ANNA_1981!:matrix.velsen.nl:8448", "@bob:[2001:db8::1]:8448"],
)
def test_grant_takes_a_historical_matrix_id_with_capitals_as_the_bot_sees_it_write(
    db: Path, capsys: pytest.CaptureFixture[str], user: str
) -> None:
    from bot.app import App
    from bot.settings import Settings
    from tests.support import Chat

    code, out, err = samenspel(
        capsys, "grant", "--platform", "matrix", "--user", user, "--role", "ambtenaar"
    )
    assert (code, err) == (0, ""), err
    assert out.strip() == f"matrix {user} is now ambtenaar (was inwoner)"
    assert rows(db, "SELECT platform, platform_user_id, role FROM users") == [
        ("matrix", user, "ambtenaar")
    ]

    async def she_writes() -> None:
        # The Matrix adapter hands the router the sender id as the server sent it.
        app = await App.open(Settings(_env_file=None, db=db))  # type: ignore[call-arg]
        try:
            ria = Chat(app, user_id=user, name="Ria", platform="matrix")
            await ria.onboard()
            await ria.send("/nieuwbericht")
            assert ria.keys == ["composer.intro"]
        finally:
            await app.close()

    asyncio.run(she_writes())
    assert len(rows(db, "SELECT id FROM users")) == 1, "the same person, not a second one"
    code, out, _ = samenspel(capsys, "revoke", "--platform", "matrix", "--user", user)
    assert code == 0 and out.strip() == f"matrix {user} is now inwoner (was ambtenaar)"


@pytest.mark.parametrize(
    "user",
    ["@ria", "ria:velsen.nl", "@:velsen.nl", "@ria de vries:velsen.nl", "@ria:", "@riä:x.nl"],
)
def test_grant_still_refuses_what_is_no_matrix_id(
    db: Path, capsys: pytest.CaptureFixture[str], user: str
) -> None:
    code, out, err = samenspel(
        capsys, "grant", "--platform", "matrix", "--user", user, "--role", "ambtenaar"
    )
    assert (code, out) == (1, "") and "@name:example.org" in err
    assert not db.exists() or rows(db, "SELECT id FROM users") == []


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["grant", "--platform", "telegram", "--user", "1", "--role", "koning"], "--role"),
        (["grant", "--platform", "telegram", "--user", "1", "--role", "inwoner"], "--role"),
        (["grant", "--platform", "facebook", "--user", "1", "--role", "admin"], "--platform"),
        (["grant", "--platform", "telegram", "--role", "admin"], "--user"),
        (["grant", "--platform", "telegram", "--user", "anna", "--role", "admin"], "a number"),
        (["grant", "--platform", "matrix", "--user", "ria", "--role", "admin"], "@name:"),
        (["revoke", "--platform", "telegram", "--user", "777"], "no telegram user 777"),
        (["invite", "--role", "hacker"], "--role"),
        (["invite"], "--role"),
    ],
)
def test_bad_input_is_one_clear_line_a_failure_and_changes_nothing(
    db: Path, capsys: pytest.CaptureFixture[str], args: list[str], complaint: str
) -> None:
    samenspel(capsys, "grant", "--platform", "telegram", "--user", "1", "--role", "verbinder")
    before = rows(db, "SELECT id, role FROM users"), rows(db, "SELECT id FROM audit_log")
    try:
        code, out, err = samenspel(capsys, *args)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
        out, err = capsys.readouterr()
    assert code != 0
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and complaint in err, err
    assert (rows(db, "SELECT id, role FROM users"), rows(db, "SELECT id FROM audit_log")) == before


def test_grant_works_for_a_console_person_too(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = samenspel(
        capsys, "grant", "--platform", "console", "--user", "ria", "--role", "verbinder"
    )
    assert code == 0, out
    assert out.strip() == "console ria is now verbinder (was inwoner)"
    assert rows(db, "SELECT platform, platform_user_id, role FROM users") == [
        ("console", "ria", "verbinder")
    ]
    code, _, err = samenspel(
        capsys, "grant", "--platform", "console", "--user", "ria de vries", "--role", "admin"
    )
    assert code == 1 and "without spaces" in err


def test_someone_granted_a_role_still_agrees_before_a_staff_command_works(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.app import App
    from bot.settings import Settings
    from tests.support import Chat

    samenspel(capsys, "grant", "--platform", "console", "--user", "ria", "--role", "ambtenaar")

    async def ria_writes() -> None:
        app = await App.open(Settings(_env_file=None, db=db))  # type: ignore[call-arg]
        try:
            ria = Chat(app, user_id="ria", name="Ria", platform="console")
            await ria.send("/nieuwbericht")
            assert "toestemming" in ria.text and "composer.intro" not in ria.keys
            await ria.onboard()
            await ria.send("/nieuwbericht")
            assert ria.keys == ["composer.intro"]
        finally:
            await app.close()

    asyncio.run(ria_writes())


def test_granting_a_role_to_someone_banned_says_the_ban_no_longer_holds_them(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ban or mute keeps residents out, not staff: the operator hears it at the grant
    (with when and why), rather than unbanning someone without knowing."""
    samenspel(capsys, "grant", "--platform", "console", "--user", "bob", "--role", "ambtenaar")
    samenspel(capsys, "revoke", "--platform", "console", "--user", "bob", "--reason", "weg")
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO sanctions (user_id, kind, reason, created_at)"
            " VALUES (1, 'ban', 'schelden <b>', '2026-12-01T10:00:00+00:00')"
        )
    code, out, _ = samenspel(
        capsys, "grant", "--platform", "console", "--user", "bob", "--role", "verbinder"
    )
    assert code == 0
    first, note = out.strip().splitlines()
    assert first == "console bob is now verbinder (was inwoner)"
    assert note.startswith("note: ban since 2026-12-01 (reason: 'schelden <b>')")
    assert "applies again if it is revoked" in note
    # Without a sanction nothing more is said.
    code, out, _ = samenspel(
        capsys, "grant", "--platform", "console", "--user", "cas", "--role", "verbinder"
    )
    assert out.strip() == "console cas is now verbinder (was inwoner)"
