"""How replies look in Matrix: escaped HTML beside plain text, numbered options, splitting."""

from __future__ import annotations

import json

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
