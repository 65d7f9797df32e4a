"""Reading what residents send in Matrix: commands, mentions, quoted replies, edits, places.

Plain functions over event content (dicts and strings), so each rule is easy to test.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

#: A command starts with / (as in Telegram) or ! (the custom in Matrix bots, and what
#: Element sends without asking "send as message?").
_COMMAND = re.compile(r"^[/!]([A-Za-z][A-Za-z0-9_-]{0,31})(?:@\S*)?(?:\s+(.*))?$", re.DOTALL)
_GEO = re.compile(r"^geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")


def relation(content: dict[str, Any]) -> str | None:
    """The kind of relation this content has to an earlier event (``m.replace``, ...)."""
    relates = content.get("m.relates_to")
    if isinstance(relates, dict):
        kind = relates.get("rel_type")
        return kind if isinstance(kind, str) else None
    return None


def is_edit(content: dict[str, Any]) -> bool:
    """Whether this message replaces (edits) an earlier one."""
    return relation(content) == "m.replace" or "m.new_content" in content


def is_reply(content: dict[str, Any]) -> bool:
    relates = content.get("m.relates_to")
    return isinstance(relates, dict) and isinstance(relates.get("m.in_reply_to"), dict)


def strip_reply_fallback(body: str) -> str:
    """Drop the quote a client puts above a reply ("> <@bot:x> earlier text" lines)."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith(">"):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and not lines[index].strip():
        index += 1
    return "\n".join(lines[index:])


def parse_command(text: str) -> tuple[str, str] | None:
    """(command, arguments) when the text is a command such as ``/start`` or ``!help x``."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    return match.group(1), (match.group(2) or "").strip()


def addressing(
    text: str, content: dict[str, Any], bot_id: str, names: Iterable[str]
) -> tuple[bool, str]:
    """Whether a message in a group names the bot, and the text without a leading mention.

    The bot is addressed by a mention (``m.mentions`` or a link to its id), its user id or
    display name in the text, or a command.
    """
    candidates = sorted({bot_id, *(name for name in names if name)}, key=len, reverse=True)
    stripped = text.strip()
    for name in candidates:
        if stripped.casefold().startswith(name.casefold()):
            rest = stripped[len(name) :]
            if not rest or not (rest[0].isalnum() or rest[0] == "_"):
                return True, rest.lstrip(" :,\u00a0").strip()
    mentions = content.get("m.mentions")
    if isinstance(mentions, dict) and bot_id in (mentions.get("user_ids") or []):
        return True, stripped
    formatted = content.get("formatted_body")
    if isinstance(formatted, str) and f"matrix.to/#/{bot_id}" in formatted:
        return True, stripped
    for name in candidates:
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", stripped, re.IGNORECASE):
            return True, stripped
    return parse_command(stripped) is not None, stripped


def parse_geo_uri(uri: object) -> tuple[float, float] | None:
    """(latitude, longitude) from an ``m.location`` geo URI such as ``geo:52.46,4.62``."""
    if not isinstance(uri, str):
        return None
    match = _GEO.match(uri.strip())
    if match is None:
        return None
    latitude, longitude = float(match.group(1)), float(match.group(2))
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return latitude, longitude
