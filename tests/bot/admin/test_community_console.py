"""A community journey scripted through the console: a civil servant and a resident."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SAMENSPEL = [sys.executable, "-m", "bot.admin.cli"]


def _chat(who: str, script: list[str], tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENSPEL_")}
    env["SAMENSPEL_DB"] = str(tmp_path / "chat.db")
    done = subprocess.run(
        [*SAMENSPEL, "chat", "--as", who],
        input="\n".join(script) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def test_a_resident_joins_and_subscribes_and_a_civil_servant_writes_to_them(
    tmp_path: Path,
) -> None:
    resident = _chat(
        "anna",
        ["/start", "1", "1", "1", "/experimenten", "1", "1", "/wistjedat", "1"],
        tmp_path,
    )
    assert "Speeltuin Zeewijk Natuurlijk!" in resident
    assert "Leuk! Je doet nu mee met Speeltuin Zeewijk Natuurlijk!" in resident
    assert 'Gelukt! Je krijgt nu "Wist je dat"' in resident

    servant = _chat(
        "ria",
        [
            "/start",
            "1",
            "1",
            "1",
            "/als ambtenaar",
            "/nieuwbericht",
            "Wist je dat de speeltuin in mei opent?",
            "Zonder foto",
            "4",  # participants of an experiment
            "Speeltuin Zeewijk Natuurlijk! (1)",
            "1",  # send now: the preview's own button is named under it, not numbered
            "/poster exp_1",
        ],
        tmp_path,
    )
    assert "Aantal ontvangers: 1" in servant
    assert "Nieuws over Speeltuin Zeewijk Natuurlijk!" in servant
    assert "📤 Verstuurd!" in servant
    assert (tmp_path / "poster-exp_1.png").stat().st_size > 1000

    # Anna was not in the chat when it was sent: it is printed when she opens it again.
    later = _chat("anna", ["/wistjedat", "3"], tmp_path)  # 3: read the news
    arrived, _, typed = later.partition("> /wistjedat")
    assert "Wist je dat de speeltuin in mei opent?" in arrived
    assert "Wist je dat de speeltuin in mei opent?" in typed

    # And Ria, the next time she opens hers, reads how it went.
    report = _chat("ria", [], tmp_path)
    assert "Je bericht is verstuurd" in report
    assert "Aangekomen: 1" in report


def test_a_connectors_answer_reaches_a_console_resident(tmp_path: Path) -> None:
    question = "Wanneer gaat de speeltuin open?"
    asked = _chat("anna", ["/start", "1", "1", "1", "/vraag", question], tmp_path)
    assert "Je vraag (#1) is verstuurd" in asked
    answer = ["/inbox", "1", "1", "In mei!"]  # open #1, answer it
    _chat("ben", ["/start", "1", "1", "1", "/als verbinder", *answer], tmp_path)
    answered = _chat("anna", [], tmp_path)
    assert "beantwoordt je vraag #1" in answered
    assert "In mei!" in answered
