"""How replies look in Matrix: escaped HTML beside plain text, numbered options, splitting."""

from __future__ import annotations

import html
import json
import re

from bot.platforms._matrix_render import (
    CUT_CHARS,
    MAX_JSON_BYTES,
    cut_line,
    render,
    transaction_id,
)
from bot.platforms._telegram_text import utf16_len
from handlers.catalog import Catalog
from handlers.contract import Button, Document, Reply
from storage import graphemes

CATALOG = Catalog.load()


def test_user_text_is_escaped_in_the_html_but_catalog_markup_is_kept() -> None:
    reply = Reply(key="general.help_title", params={"municipality": "<script>V&V</script>"})
    (message,) = render(CATALOG, "nl", [reply])
    content = message.text_content()
    assert content["formatted_body"] == (
        "<b>Samenspel</b> van &lt;script&gt;V&amp;V&lt;/script&gt;"
    )
    assert content["body"] == "Samenspel van <script>V&V</script>"
    assert content["msgtype"] == "m.notice"
    assert content["format"] == "org.matrix.custom.html"


def test_buttons_are_numbered_across_replies_under_their_own_message() -> None:
    first = Reply(
        key="raw",
        params={"text": "Kies"},
        buttons=[[Button.raw("<b>Ja</b>", "a"), Button.raw("Nee", "b")]],
    )
    second = Reply(
        key="raw", params={"text": "Of"}, buttons=[[Button(label="menu.help", payload="help")]]
    )
    one, two = render(CATALOG, "nl", [first, second])
    assert one.body == "Kies\n[1] <b>Ja</b>   [2] Nee"
    assert one.html == "Kies<br>[1] &lt;b&gt;Ja&lt;/b&gt;   [2] Nee"
    assert two.body == "Of\n[3] ❓ Hulp"


def test_line_breaks_become_html_breaks() -> None:
    (message,) = render(CATALOG, "nl", [Reply(key="raw", params={"text": "een\ntwee"})])
    assert message.html == "een<br>twee" and message.body == "een\ntwee"


def test_a_huge_text_is_split_into_messages_that_fit_a_matrix_event() -> None:
    lines = [f"regel {i} " + "é😀" * 40 for i in range(2_000)]
    text = "\n".join(lines) + "\n" + "x" * 100_000
    messages = render(
        CATALOG,
        "nl",
        [Reply(key="raw", params={"text": text}, buttons=[[Button.raw("Verder", "next")]])],
    )
    assert len(messages) > 1
    for message in messages:
        assert len(json.dumps(message.text_content())) < MAX_JSON_BYTES + 200
    assert (
        "".join(m.body.replace("\n", "") for m in messages)
        == text.replace("\n", "") + "[1] Verder"
    )
    assert messages[-1].body.endswith("[1] Verder")


def test_a_photo_or_file_comes_before_its_text() -> None:
    document = Document(filename="data.json", data=b"{}")
    messages = render(
        CATALOG,
        "nl",
        [
            Reply(key="raw", params={"text": "foto"}, photo_id=7),
            Reply(key="raw", params={"text": "bestand"}, document=document),
        ],
    )
    assert [(m.photo_id, m.document, m.body) for m in messages] == [
        (7, None, ""),
        (None, None, "foto"),
        (None, document, ""),
        (None, None, "bestand"),
    ]


def test_transaction_ids_are_stable_per_event_and_index() -> None:
    assert transaction_id("$abc", 0) == transaction_id("$abc", 0)
    ids = {transaction_id(key, index) for key in ("$abc", "$abd") for index in range(3)}
    assert len(ids) == 6
    assert all(t.replace(".", "").isalnum() for t in ids)


def _shown(formatted: str) -> str:
    """What a formatted body shows, as plain text (tags checked to be balanced)."""
    stack: list[str] = []
    for closing, name in re.findall(r"<(/?)([a-z]+)[^<>]*>", formatted):
        if name == "br":
            continue
        if closing:
            assert stack and stack[-1] == name, formatted[:200]
            stack.pop()
        else:
            stack.append(name)
    assert not stack, f"left open: {stack}"
    return html.unescape(re.sub(r"<[^<>]*>", "", formatted.replace("<br>", "\n")))


def test_a_long_quoted_text_split_over_messages_keeps_its_italics_in_each() -> None:
    typed = "\n".join(f"regel {i} <b>&amp; " + "é😀" * 40 for i in range(300))
    messages = render(CATALOG, "nl", [Reply(key="general.typed_what_now", params={"text": typed})])
    assert len(messages) > 2
    for message in messages:
        assert _shown(message.html) == message.body
        assert len(json.dumps(message.text_content())) < MAX_JSON_BYTES + 200
    # Every part of the quote is still in italics, and the question after it is not.
    assert all(m.html.startswith("<i>") for m in messages[1:])
    assert messages[-1].html.endswith("</i><br>Wat zal ik ermee doen? Kies hieronder.")
    assert "\n".join(m.body for m in messages).count("regel") == 300


def test_one_huge_line_in_italics_is_cut_into_well_formed_messages() -> None:
    typed = "woord " * 30_000 + "einde"
    messages = render(CATALOG, "nl", [Reply(key="general.typed_what_now", params={"text": typed})])
    assert len(messages) > 2
    for message in messages:
        assert _shown(message.html) == message.body
        assert len(json.dumps(message.text_content())) < MAX_JSON_BYTES + 200
    assert messages[1].html.startswith("<i>woord")
    assert messages[-1].body.endswith("einde\nWat zal ik ermee doen? Kies hieronder.")
    assert " ".join(m.body for m in messages).count("woord") == 30_000


FAMILY = "👩\u200d👩\u200d👧\u200d👦"  # one character to a reader, seven code points


def _boundaries(text: str) -> set[int]:
    """Where a reader's characters begin and end in ``text``."""
    at, found = 0, {0}
    for cluster in graphemes.clusters(text):
        at += len(cluster)
        found.add(at)
    return found


def _cuts(pieces: list[str]) -> list[int]:
    at, cuts = 0, []
    for piece in pieces[:-1]:
        at += len(piece)
        cuts.append(at)
    return cuts


def test_a_long_line_is_cut_after_a_space_and_nothing_is_lost_or_doubled() -> None:
    line = " ".join(f"woord{n} {FAMILY}🇳🇱" for n in range(2_000))
    pieces = [piece.plain for piece in cut_line(line)]
    assert len(pieces) > 10
    assert "".join(pieces) == line
    assert all(piece.endswith(" ") for piece in pieces[:-1])
    assert all(utf16_len(piece) <= CUT_CHARS for piece in pieces)


def test_a_long_line_without_spaces_is_cut_between_whole_characters() -> None:
    for line in (FAMILY * 900, "🇳🇱🇧🇪" * 900, "e\u0301👍🏽" * 900, "ab" + FAMILY * 700):
        pieces = [piece.plain for piece in cut_line(line)]
        assert len(pieces) > 1
        assert "".join(pieces) == line
        assert set(_cuts(pieces)) <= _boundaries(line)
        assert all(utf16_len(piece) <= CUT_CHARS for piece in pieces)


def test_one_character_longer_than_a_piece_is_cut_by_code_points_without_loss() -> None:
    line = "a" + "\u0301" * 3_000 + " b"
    pieces = [piece.plain for piece in cut_line(line)]
    assert "".join(pieces) == line
    assert all(utf16_len(piece) <= CUT_CHARS for piece in pieces)


def test_the_messages_of_one_huge_line_join_to_exactly_that_line() -> None:
    """Plain body and HTML alike: cuts between words or whole emoji, no space dropped, no
    line break added between the pieces within a message."""
    line = " ".join(f"<b>{n}</b> & {FAMILY} zeer lang" for n in range(6_000))
    messages = render(CATALOG, "nl", [Reply(key="raw", params={"text": line})])
    assert len(messages) > 2
    assert "".join(m.body for m in messages) == line
    for message in messages:
        assert "\n" not in message.body
        assert _shown(message.html) == message.body
        assert len(json.dumps(message.text_content())) < MAX_JSON_BYTES + 200
    assert set(_cuts([m.body for m in messages])) <= _boundaries(line)
    assert all(m.body.endswith(" ") for m in messages[:-1])
