"""Logs: pseudonyms no one outside the installation can turn back into ids; libraries that
would log secrets kept quiet."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import PSEUDONYM_KEY, App
from bot.logs import OWN_LOGGERS, QUIET_LIBRARIES, pseudonym, scrubbed, setup_logging
from bot.settings import Settings

TELEGRAM_ID = "987654321"


async def _tag_in(db: Path) -> tuple[str, str | None]:
    """The tag a platform id gets in the logs of the installation on ``db``, and its key."""
    app = await App.open(Settings(_env_file=None, db=db))  # type: ignore[call-arg]
    try:
        return pseudonym(TELEGRAM_ID), await app.repos.platform_state.get(*PSEUDONYM_KEY)
    finally:
        await app.close()


def _with_public_key(platform_id: str) -> str:
    """The tag as the code computed it with the key everyone can read in its source."""
    return hashlib.blake2b(platform_id.encode(), key=b"samenspel-log", digest_size=5).hexdigest()


async def test_log_pseudonyms_use_a_random_key_of_the_installation_kept_in_its_database(
    tmp_path: Path,
) -> None:
    tag, key = await _tag_in(tmp_path / "velsen.db")
    assert key is not None and len(bytes.fromhex(key)) == 32
    # Anyone could hash every plausible Telegram id with a public key and find this tag.
    assert tag != _with_public_key(TELEGRAM_ID)
    assert len(tag) == 10 and TELEGRAM_ID not in tag

    again, same_key = await _tag_in(tmp_path / "velsen.db")
    assert (again, same_key) == (tag, key), "a restart keeps the tags, so logs still correlate"
    other, other_key = await _tag_in(tmp_path / "haarlem.db")
    assert other != tag and other_key != key, "another installation tags differently"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    names = [*OWN_LOGGERS, *QUIET_LIBRARIES, "peewee", "some.library"]
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in names})
    try:
        yield
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


def test_at_debug_only_samenspel_itself_logs_below_warning(restored_logging: None) -> None:
    setup_logging("DEBUG")
    # peewee logs nio's key store's SQL with the pickled keys; any library may log secrets.
    for library in ("peewee", "nio.crypto", "aiohttp.client", "some.library"):
        assert not logging.getLogger(library).isEnabledFor(logging.INFO), library
        assert logging.getLogger(library).isEnabledFor(logging.WARNING), library
    for own in ("bot.platforms.matrix", "handlers.ideas.submit", "storage.db", "__main__"):
        assert logging.getLogger(own).isEnabledFor(logging.DEBUG), own
    setup_logging("WARNING")
    assert not logging.getLogger("bot.platforms.matrix").isEnabledFor(logging.INFO)


def test_a_platform_error_naming_people_keeps_only_their_pseudonyms() -> None:
    said = "@anna:hs is banned; @anna:hs.example and @an:hs are not (/ban/%40anna%3Ahs)"
    scrubbed_text = scrubbed(said, "@anna:hs", "@anna:hs.example", "")
    assert "@anna" not in scrubbed_text
    assert f"<{pseudonym('@anna:hs.example')}> and @an:hs" in scrubbed_text
    assert scrubbed_text.startswith(f"<{pseudonym('@anna:hs')}> is banned")
    assert scrubbed_text.endswith(f"(/ban/<{pseudonym('@anna:hs')}>)")
    # Only whole ids: a Telegram user id inside a group's id is another id.
    assert scrubbed("user 123 in chat -1001234", "123") == (
        f"user <{pseudonym('123')}> in chat -1001234"
    )
