"""The Docker image and the compose example: non-root, data on volumes, a health check."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path → volume name."""
    return {spec.split(":")[1]: spec.split(":")[0] for spec in service.get("volumes", [])}


def test_the_image_runs_as_a_user_with_its_data_on_a_volume() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert '"/data"' in dockerfile and "SAMENSPEL_DB=/data/" in dockerfile


def test_the_compose_example_runs_the_bot_with_a_health_check_and_its_volumes() -> None:
    spec = compose()
    bot = spec["services"]["bot"]
    assert bot["build"] == "." and bot["env_file"] == ".env"
    assert bot["healthcheck"]["test"] == ["CMD", "samenspel", "doctor"]
    volumes = mounts(bot)
    assert volumes["/data"] in spec["volumes"]
    database = PurePosixPath(bot["environment"]["SAMENSPEL_DB"])
    assert database.parent == PurePosixPath("/data")
    # The export swaps folders by renaming: it must live inside the volume, not be it.
    export = PurePosixPath(bot["environment"]["SAMENSPEL_OPEN_DATA_DIR"])
    assert str(export.parent) in volumes and str(export) not in volumes


def test_synapse_and_the_open_data_server_are_optional_profiles() -> None:
    services = compose()["services"]
    assert services["synapse"]["profiles"] == ["matrix"]
    assert "/data" in mounts(services["synapse"])
    assert services["open-data"]["profiles"] == ["open-data"]
    published = services["open-data"]["volumes"][0]
    assert published.endswith(":ro") and published.startswith("open-data:")
    assert "bot" not in [p for s in services.values() for p in s.get("profiles", [])]
