"""The Docker image and the compose example, read as text: CI has no Docker daemon to build or
run them. What can be checked without one is checked against the project itself: the packages
pip installs, the console script, the command line, the files left out of the build."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from bot.admin.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (keyword, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (keyword.upper(), rest.strip())
        for keyword, _, rest in (line.partition(" ") for line in lines)
        if keyword and not keyword.startswith("#")
    ]


def instruction(keyword: str) -> list[str]:
    return [rest for name, rest in dockerfile() if name == keyword]


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path → volume name."""
    return {spec.split(":")[1]: spec.split(":")[0] for spec in service.get("volumes", [])}


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def subcommands() -> set[str]:
    parser = build_parser()
    (choices,) = [a.choices for a in parser._actions if a.dest == "command"]
    return set(choices)


def test_the_dockerfile_says_the_image_runs_as_a_user_with_its_data_on_a_volume() -> None:
    users = instruction("USER")
    assert users and users[-1] not in ("root", "0")
    (run,) = instruction("RUN")
    assert f"useradd --system --uid 10001 --home-dir /data {users[-1]}" in run
    assert f"chown {users[-1]} /data /srv/open-data" in run
    # The letters of every language in charts and posters (see handlers/fonts.py).
    assert "apt-get install -y --no-install-recommends fonts-dejavu-core libfribidi0" in run
    (volumes,) = instruction("VOLUME")
    assert json.loads(volumes) == ["/data", "/srv/open-data"]
    environment = " ".join(instruction("ENV"))
    assert "SAMENSPEL_DB=/data/samenspel.db" in environment


def test_the_dockerfile_copies_everything_pip_installs_and_leaves_data_out_of_the_build() -> None:
    project = pyproject()
    (base,) = instruction("FROM")
    python = re.fullmatch(r"python:(\d+\.\d+)-slim", base)
    assert python is not None
    assert project["project"]["requires-python"] == f">={python[1]}"
    copied = {
        source for rest in instruction("COPY") for source in rest.split()[:-1] if source != "."
    }
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {f"{name.rstrip('*')}" for name in packages} <= copied
    assert {"pyproject.toml", project["project"]["readme"]} <= copied
    # setuptools refuses to build when a licence file it is told to ship is missing.
    assert set(project["project"]["license-files"]) <= copied
    for source in copied:
        assert (ROOT / source).exists(), source
    # The build context leaves out residents' data and local environments.
    ignored = (ROOT / ".dockerignore").read_text().split()
    for local in ("samenspel.db", "samenspel.db-wal", ".venv", ".git", ".env"):
        assert any(fnmatch.fnmatch(local, pattern) for pattern in ignored), local
    for source in copied:
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_the_image_and_the_compose_example_run_commands_that_exist() -> None:
    scripts = pyproject()["project"]["scripts"]
    (entrypoint,) = instruction("ENTRYPOINT")
    assert json.loads(entrypoint) == ["samenspel"] and "samenspel" in scripts
    (command,) = instruction("CMD")
    bot = compose()["services"]["bot"]
    health = bot["healthcheck"]["test"]
    assert health[:2] == ["CMD", "samenspel"]
    assert {*json.loads(command), health[2]} <= subcommands()
    assert json.loads(command) == ["run"] and health[2:] == ["doctor", "--quick"]


def test_the_compose_example_runs_the_bot_with_a_health_check_and_its_volumes() -> None:
    spec = compose()
    bot = spec["services"]["bot"]
    assert bot["build"] == "." and bot["env_file"] == ".env"
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


def test_the_open_data_server_publishes_the_export_folder_as_a_site_without_scripts() -> None:
    loaded = compose()
    bot, server = loaded["services"]["bot"], loaded["services"]["open-data"]
    (config,) = server["configs"]
    assert config["target"] == "/etc/nginx/conf.d/default.conf"
    nginx = loaded["configs"][config["source"]]["content"]
    # Compose turns $$ into $ and would empty a lone $name: every $ of nginx is doubled.
    assert "$$uri" in nginx and "$" not in nginx.replace("$$", "")
    nginx = nginx.replace("$$", "$")
    assert nginx.count("{") == nginx.count("}")
    # Its root is the folder the bot writes, seen through the read-only volume.
    volume, inside, _ = server["volumes"][0].split(":")
    (root,) = re.findall(r"^\s*root (\S+);$", nginx, re.MULTILINE)
    export = PurePosixPath(bot["environment"]["SAMENSPEL_OPEN_DATA_DIR"])
    published = {v.split(":")[1]: v.split(":")[0] for v in bot["volumes"]}
    assert published[str(export.parent)] == volume
    assert PurePosixPath(root) == PurePosixPath(inside) / export.name
    assert "index index.html;" in nginx and "application/atom+xml xml;" in nginx
    assert "default-src 'none'" in nginx and "X-Content-Type-Options nosniff" in nginx
