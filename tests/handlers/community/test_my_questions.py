"""📨 Mijn vragen: one message with a line and a button per thread, a page at a time, newest
activity first; a thread opens with every message. Only one's own threads, however the
buttons are forged."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.app import App
from storage.clock import utcnow
from storage.community.questions import Side
from tests.people import person, row
from tests.support import Chat

THREADS = 25


async def asked(app: App, chat: Chat, count: int = THREADS) -> list[int]:
    """``count`` questions from ``chat``'s person, an hour apart: the first asked longest ago."""
    user = await row(app, chat)
    start = utcnow() - timedelta(days=3)
    ids = []
    for n in range(count):
        async with app.db.transaction():
            ids.append(
                await app.repos.questions.ask(
                    user.id,
                    f"Vraag {n}: wanneer wordt de stoep gemaakt?",
                    start + timedelta(hours=n),
                )
            )
    return ids


def opened(chat: Chat) -> list[int]:
    """The threads the last answer has a button to open, in order."""
    return [int(n) for _, p in chat.buttons() for n in re.findall(r"^q\.show:(\d+):\d+$", p)]


async def test_all_twenty_five_threads_can_be_reached_one_message_a_page(app: App) -> None:
    anna = await person(app, "anna")
    ids = await asked(app, anna)
    await anna.send("/mijnvragen")
    pages = []
    while True:
        # One message a page, however many threads there are.
        assert anna.keys == ["questions.mine_title"]
        pages.append(opened(anna))
        if not any("Volgende" in label for label, _ in anna.buttons()):
            break
        await anna.press("Volgende")
    assert "Pagina 4 van 4" in anna.text
    assert [len(page) for page in pages] == [8, 8, 8, 1]
    # Newest activity first, each thread exactly once.
    assert [i for page in pages for i in page] == list(reversed(ids))
    labels = [label for label, _ in anna.buttons()]
    assert labels == [
        f"#{ids[0]} Vraag 0: wanneer wordt de stoep gemaakt?",
        "⬅️ Vorige",
        "💬 Nieuwe vraag",
        "⬅️ Menu",
    ]


async def test_a_line_says_the_number_whether_open_and_when_and_the_first_words(
    app: App,
) -> None:
    anna = await person(app, "anna")
    [first, second] = await asked(app, anna, 2)
    long = "Mag ik " + "heel " * 30 + "graag een bankje bij de bushalte?"
    async with app.db.transaction():
        third = await app.repos.questions.ask(
            (await row(app, anna)).id, long, utcnow() - timedelta(days=1)
        )
        await app.repos.questions.close(second, utcnow() - timedelta(days=1))
    await anna.send("/mijnvragen")
    assert anna.keys == ["questions.mine_title"]
    text = anna.text
    assert "Mijn vragen (3)" in text
    assert f"Vraag #{second} (afgesloten, " in text
    assert f"Vraag #{first} (open, " in text
    assert "Vraag 0: wanneer wordt de stoep gemaakt?" in text
    # A long question: its first words, on the line and on the button.
    assert long not in text
    assert "Mag ik heel heel" in text and "…" in text
    [button] = [label for label, _ in anna.buttons() if label.startswith(f"#{third} ")]
    assert len(button) <= len(f"#{third} ") + 40
    # The thread that changed last comes first: closing the second made it the newest.
    assert opened(anna) == [second, third, first]
    assert "Pagina" not in text


async def test_a_thread_opens_with_every_message_and_leads_back_to_its_page(app: App) -> None:
    anna = await person(app, "anna")
    ids = await asked(app, anna, 10)
    oldest = ids[0]
    async with app.db.transaction():
        await app.repos.questions.add_message(
            oldest, Side.CONNECTOR, None, "We kijken ernaar.", utcnow() - timedelta(hours=1)
        )
        await app.repos.questions.add_message(
            ids[1], Side.CONNECTOR, None, "Dat is gepland.", utcnow() - timedelta(hours=2)
        )
    await anna.send("/mijnvragen")
    # An answer is new activity: those two threads come first now.
    assert opened(anna)[:2] == [oldest, ids[1]]
    assert "We kijken ernaar." not in anna.text
    await anna.press("Volgende")
    assert opened(anna) == [ids[3], ids[2]]
    await anna.press(f"#{ids[2]} ")
    assert anna.keys == ["questions.thread"]
    assert "Vraag 2: wanneer wordt de stoep gemaakt?" in anna.text
    await anna.press("Mijn vragen")
    assert anna.keys == ["questions.mine_title"]
    assert "Pagina 2 van 2" in anna.text

    await anna.send("/mijnvragen")
    await anna.press(f"#{oldest} ")
    assert anna.keys == ["questions.thread"]
    assert "Vraag 0: wanneer wordt de stoep gemaakt?" in anna.text
    assert "We kijken ernaar." in anna.text
    await anna.press(f"Iets toevoegen aan #{oldest}")
    assert anna.keys == ["questions.add_prompt"]


async def test_only_ones_own_threads_are_listed_and_opened_whatever_the_button_says(
    app: App,
) -> None:
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    annas = await asked(app, anna, 3)
    await bob.send("/mijnvragen")
    assert bob.keys == ["questions.none"]
    assert [label for label, _ in bob.buttons()] == ["💬 Nieuwe vraag", "⬅️ Menu"]
    for payload in (f"q.show:{annas[0]}:1", f"q.show:{annas[0]}", f"q.show:{annas[0]}:x"):
        await bob.press_payload(payload)
        assert bob.keys == ["questions.not_found"], payload
        assert "stoep" not in bob.text
    # Forged page numbers are no page; one past the end shows the last page.
    for forged in ("q.mine:0", "q.mine:x", "q.mine:-1", "q.mine:²", "q.mine:" + "9" * 40):
        await anna.press_payload(forged)
        assert anna.keys == ["general.stale_button"], forged
    await anna.press_payload("q.mine:99")
    assert anna.keys == ["questions.mine_title"]
    assert opened(anna) == list(reversed(annas))
    # Words typed after the command are no page.
    await anna.send("/mijnvragen 2")
    assert opened(anna) == list(reversed(annas))


async def test_ones_own_questions_come_without_a_note_and_the_connectors_answer_with_it(
    app: App,
) -> None:
    """A resident writes in her own language: the list of her questions is her own words
    and says nothing about them; the thread holds the connector's Dutch answer, and the
    one line under it says it is shown as written (not that everything is Dutch)."""
    fatima = await person(app, "fatima", language="العربية")
    await fatima.send("/vraag")
    await fatima.send("متى يتم جمع القمامة في IJmuiden؟")
    [asked_id] = [q.id for q in await app.repos.questions.of_user((await row(app, fatima)).id)]
    async with app.db.transaction():
        await app.repos.questions.add_message(
            asked_id, Side.CONNECTOR, None, "Op dinsdag.", utcnow() - timedelta(minutes=1)
        )
    note = app.catalog.text("ar", "languages.as_written", {}, markup=False)
    await fatima.send("/mijnvragen")
    assert fatima.keys == ["questions.mine_title"]
    assert "متى يتم جمع القمامة" in fatima.text
    assert note not in fatima.text
    await fatima.press_payload(f"q.show:{asked_id}:1")
    assert fatima.keys == ["questions.thread"]
    assert "Op dinsdag." in fatima.text
    assert fatima.text.endswith(note)
    assert "هولندية" not in note  # it does not call her Arabic words Dutch
