"""The console as a person uses it: Ctrl-C, the README's example, coming back to a dialog."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMENSPEL = [sys.executable, "-m", "bot.admin.cli"]


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENSPEL_")}
    env["SAMENSPEL_DB"] = str(tmp_path / "chat.db")
    return env


def test_ctrl_c_ends_the_chat_at_once(tmp_path: Path) -> None:
    chat = subprocess.Popen(
        [*SAMENSPEL, "chat", "--as", "anna"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(tmp_path),
        cwd=tmp_path,
    )
    try:
        assert chat.stdin is not None and chat.stdout is not None
        chat.stdin.write("/help\n")
        chat.stdin.flush()
        # Wait for the answer, so the chat is reading its next line when Ctrl-C comes.
        while "/annuleer" not in (line := chat.stdout.readline()):
            assert line, "the chat ended before it answered"
        chat.send_signal(signal.SIGINT)
        # The input stays open: a chat waiting for Enter would never end by itself.
        returned = chat.wait(timeout=30)
    finally:
        if chat.poll() is None:
            chat.kill()
            chat.wait()
    assert returned in (0, 130)
    assert chat.stderr is not None
    assert "Traceback" not in chat.stderr.read()


def test_the_readmes_piped_example_runs_as_written(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [command] = re.findall(r"^printf .* \| \.venv/bin/samenspel chat .*$", readme, re.MULTILINE)
    if not (ROOT / ".venv" / "bin" / "samenspel").exists():
        pytest.skip("the README's virtual environment is not installed here")
    done = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        env=_environment(tmp_path),
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Klaar, welkom!" in done.stdout
    assert "Met Samenspel praat je mee" in done.stdout
    assert "Traceback" not in done.stderr


def test_coming_back_to_the_console_says_where_you_were(tmp_path: Path) -> None:
    def chat(script: str) -> str:
        done = subprocess.run(
            [*SAMENSPEL, "chat", "--as", "anna"],
            input=script,
            capture_output=True,
            text=True,
            env=_environment(tmp_path),
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    chat("/start\n1\n1\n1\n/idee\n6\nMeer bankjes in het park\n")
    again = chat("")
    assert "Welkom terug! Je was bezig met je idee" in again
    assert "Vertel wat je idee is" in again


def test_what_waited_while_the_chat_was_closed_keeps_its_numbers(tmp_path: Path) -> None:
    def chat(who: str, script: str) -> str:
        done = subprocess.run(
            [*SAMENSPEL, "chat", "--as", who],
            input=script,
            capture_output=True,
            text=True,
            env=_environment(tmp_path),
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    chat("anna", "/start\n1\n1\n1\n/vraag\nWanneer wordt het afval opgehaald?\n")
    chat("ria", "/start\n1\n1\n9\n/als verbinder\n/inbox\n1\n1\nOp dinsdag.\n")
    again = chat("anna", "2\n")
    # The answer, where the menu is, and "2" is the answer's second option (her questions),
    # not the menu's (a menu printed after it numbered its own options over the answer's).
    answer, hint = again.index("Op dinsdag."), again.index("Het menu krijg je met /menu.")
    assert answer < hint, again
    assert "[2] 📨 Mijn vragen" in again[answer:hint], again
    assert "Wat wil je doen?" not in again
    assert "📨 Mijn vragen (1)" in again[hint:], again
    # With nothing waiting and no dialog open, opening the chat prints nothing.
    assert chat("anna", "") == ""
