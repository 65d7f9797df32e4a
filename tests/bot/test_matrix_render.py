"""How replies look in Matrix: escaped HTML beside plain text, numbered options, splitting."""

from __future__ import annotations

import html
import json
import re

from bot.platforms._matrix_render import MAX_JSON_BYTES, render, transaction_id
from handlers.catalog import Catalog
from handlers.contract import Button, Document, Reply

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
