"""A ballot of many projects: one message, a page of projects at a time, brought up to
date in place after every tap (a message per project reached a Telegram voter one a second,
with "Stem uitbrengen" only under the last)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import App
from bot.platforms._telegram_text import CALLBACK_DATA_LIMIT, TEXT_LIMIT, fits, pack
from handlers.budgets.rounds import MAX_PROJECTS
from storage.budgets.rounds import NewProject, Project
from tests.handlers.budgets.test_budget_round import Clock
from tests.people import person, row
from tests.support import Chat, Seen

#: An 80-character title (the longest staff can give) that differs per project.
LONG = "Een heel lange titel over een project in de wijk met veel woorden erin, nummer"


async def a_round(
    app: App,
    count: int,
    *,
    title: str = "Project",
    name: str = "Velsen kiest",
    photo: bool = False,
) -> tuple[int, list[Project]]:
    """An open round of ``count`` projects costing € 1.000, € 2.000, ... (budget € 10.000)."""
    now = app.router.clock()
    photo_id = (
        await app.repos.media.save(b"\xff\xd8\xff jpeg", "image/jpeg", now) if photo else None
    )
    round_id = await app.repos.budgets.create(
        name=name,
        total_cents=1_000_000,
        hood_budgets={},
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=7),
        hood_only=False,
        projects=[
            NewProject(
                title=f"{title} {n}",
                description=f"Wat project {n} doet.",
                cost_cents=100_000 * n,
                neighbourhood="velserbroek" if n == 1 else None,
                photo_id=photo_id if n == 1 else None,
            )
            for n in range(1, count + 1)
        ],
        now=now,
    )
    return round_id, await app.repos.budgets.projects(round_id)


def row_of(seen: Seen, project: Project) -> list[tuple[str, str]]:
    """The labels (catalog keys) and payloads of the buttons beside ``project``."""
    opens = f"bv.card:{project.round_id}:{project.id}"
    for buttons in seen.reply.buttons:
        if buttons[0].payload == opens:
            return [(b.label, b.payload) for b in buttons]
    raise AssertionError(f"no row for {project.title!r}")


def telegram_messages(chat: Chat) -> int:
    """How many Telegram messages the last answer takes, each within Telegram's limits."""
    catalog = chat.app.catalog
    total = 0
    for seen in chat.last:
        text = catalog.render("nl", seen.reply, markup=True)
        assert fits(text, TEXT_LIMIT, markup=True), seen.key
        total += len(pack(catalog.blocks("nl", seen.reply, markup=True), TEXT_LIMIT))
        assert sum(len(row) for row in seen.reply.buttons) <= 100
        for _, data in seen.buttons:
            assert len(data.encode()) <= CALLBACK_DATA_LIMIT, data
    return total


@pytest.mark.parametrize("count", [25, MAX_PROJECTS])
async def test_a_round_of_many_projects_is_one_ballot_message_with_stem_uitbrengen_on_it(
    app: App, count: int
) -> None:
    # The longest names staff can give, so the page is as long as it gets.
    round_id, projects = await a_round(app, count, title=LONG, name="R" * 80)
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    assert anna.keys == ["budgets.intro", "budgets.page"]
    assert telegram_messages(anna) == 2
    page = anna.last[-1]
    pages = -(-count // 5)
    assert f"pagina 1 van {pages}" in page.text
    assert "Stem uitbrengen" in " ".join(page.labels())
    assert all(len(label) <= 40 for label in page.labels())
    assert "Over: €\u00a010.000" in page.text and "Je hebt nog niet gestemd." in page.text
    # The first five, each with its cost and a ➕ beside its name; no others.
    for n in range(1, 6):
        assert f"• {LONG} {n} · €\u00a0{n}.000" in page.text
        assert row_of(page, projects[n - 1])[1] == (
            "budgets.btn_add",
            f"bv.add:{round_id}:{projects[n - 1].id}",
        )
    assert f"{LONG} 6" not in page.text
    assert ("Volgende ➡️", f"bv.page:{round_id}:2") in page.buttons
    assert not any("Vorige" in label for label in page.labels())

    # Paging goes through the list in place, to the last page and no further.
    for number in range(2, pages + 1):
        await anna.press("Volgende")
        [shown] = anna.last
        assert shown.reply.edit and shown.key == "budgets.page"
        assert f"pagina {number} van {pages}" in shown.text
        assert f"{LONG} {number * 5 - 4} · " in shown.text
        assert telegram_messages(anna) == 1
        assert "Stem uitbrengen" in " ".join(shown.labels())
    assert not any("Volgende" in label for label in anna.last[0].labels())
    await anna.press("Vorige")
    assert f"pagina {pages - 1} van {pages}" in anna.text
    # A page past the end (a list that got shorter) shows the last one.
    await anna.press_payload(f"bv.page:{round_id}:99")
    assert f"pagina {pages} van {pages}" in anna.text


async def test_a_tap_on_the_page_brings_it_up_to_date_in_place_with_a_minus_for_what_is_chosen(
    app: App,
) -> None:
    round_id, projects = await a_round(app, 12)
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    await anna.press("Volgende")
    add_seven = row_of(anna.last[0], projects[6])[1][1]
    await anna.press_payload(add_seven)
    [page] = anna.last
    assert page.key == "budgets.added" and page.reply.edit
    assert page.text.startswith("✅ Project 7 staat in je keuze.")
    # The same page (the one Project 7 is on), now with ➖ beside it and the new total.
    assert "pagina 2 van 3" in page.text and "✅ Project 7 · €\u00a07.000" in page.text
    assert row_of(page, projects[6])[1] == (
        "budgets.btn_remove",
        f"bv.del:{round_id}:{projects[6].id}",
    )
    assert row_of(page, projects[5])[1][0] == "budgets.btn_add"
    assert "Over: €\u00a03.000" in page.text and "Stem uitbrengen" in " ".join(page.labels())
    # The old ➕ tapped again (a double tap) only says so; the page still shows ➖.
    await anna.press_payload(add_seven)
    assert anna.keys == ["budgets.already_added"]
    assert row_of(anna.last[0], projects[6])[1][0] == "budgets.btn_remove"
    # What no longer fits cannot be added: said on the page, which keeps its ➕.
    await anna.press_payload(row_of(anna.last[0], projects[7])[1][1])
    assert anna.keys == ["budgets.no_fit"] and anna.last[0].reply.edit
    assert "Project 8 kost €\u00a08.000. Je hebt nog €\u00a03.000 over." in anna.text
    assert row_of(anna.last[0], projects[7])[1][0] == "budgets.btn_add"
    # ➖ takes it off; the stale ➖ again says it was not chosen, and changes nothing.
    remove = row_of(anna.last[0], projects[6])[1][1]
    await anna.press_payload(remove)
    assert anna.keys == ["budgets.removed"] and "Over: €\u00a010.000" in anna.text
    assert row_of(anna.last[0], projects[6])[1][0] == "budgets.btn_add"
    await anna.press_payload(remove)
    assert anna.keys == ["budgets.not_chosen"] and "Over: €\u00a010.000" in anna.text
    ballot = await app.repos.budgets.ballot(round_id, (await row(app, anna)).id)
    assert ballot.chosen == set()


async def test_a_projects_card_shows_its_photo_and_its_button_follows_the_choice(
    app: App,
) -> None:
    round_id, projects = await a_round(app, 7, photo=True)
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    await anna.press("Project 1")
    photo, card = anna.last
    assert photo.reply.photo_id == projects[0].photo_id and "Project 1" in photo.text
    assert card.key == "budgets.card" and not card.reply.edit
    assert "Wat project 1 doet." in card.text and "Velserbroek" in card.text
    assert card.buttons[0] == ("➕ Toevoegen", f"bv.add:{round_id}:{projects[0].id}:c")
    # ➕ on the card: the card, in place, says so, shows ➖ and what is left.
    await anna.press("Toevoegen")
    [card] = anna.last
    assert card.key == "budgets.added" and card.reply.edit and card.reply.photo_id is None
    assert "✅ Project 1 · €\u00a01.000" in card.text and "Over: €\u00a09.000" in card.text
    assert card.buttons[0] == ("➖ Weghalen", f"bv.del:{round_id}:{projects[0].id}:c")
    await anna.press_payload(f"bv.add:{round_id}:{projects[0].id}:c")
    assert anna.keys == ["budgets.already_added"]
    assert anna.last[0].buttons[0][0] == "➖ Weghalen"
    # Back to the list: the page the project is on, ✅ beside it.
    await anna.press("Terug naar de lijst")
    [page] = anna.last
    assert page.key == "budgets.page" and page.reply.edit and "pagina 1 van 2" in page.text
    assert ("✅ Project 1", f"bv.card:{round_id}:{projects[0].id}") in page.buttons
    # A project without a photo: its card alone. From page 2, back to page 2.
    await anna.press_payload(f"bv.card:{round_id}:{projects[6].id}")
    assert anna.keys == ["budgets.card"]
    await anna.press("Terug naar de lijst")
    assert "pagina 2 van 2" in anna.text


async def test_forged_page_and_card_buttons_change_nothing(app: App) -> None:
    round_id, projects = await a_round(app, 7)
    other_id, others = await a_round(app, 2)
    anna = await person(app, "anna")
    mine = projects[0].id
    for forged in (
        f"bv.page:{round_id}",
        f"bv.page:{round_id}:0",
        f"bv.page:{round_id}:-1",
        f"bv.page:{round_id}:abc",
        f"bv.page:{round_id}:999999999999",
        "bv.page:999:1",
        f"bv.add:{round_id}:{mine}:x",
        f"bv.add:{round_id}:{mine}:c:c",
        f"bv.del:{round_id}:{mine}:p",
        f"bv.card:{round_id}:{mine}:c",
        f"bv.card:{round_id}",
        f"bv.card:{round_id}:{others[0].id}",
        f"bv.add:{round_id}:{others[0].id}:c",
    ):
        await anna.press_payload(forged)
        assert anna.keys == ["budgets.not_found"], forged
    assert await app.db.fetchval("SELECT COUNT(*) FROM budget_choices") == 0
    assert other_id != round_id


async def test_a_page_of_a_closed_round_says_so_and_changes_nothing(
    clocked: App, clock: Clock
) -> None:
    round_id, projects = await a_round(clocked, 7)
    anna = await person(clocked, "anna")
    await anna.send("/stemmen")
    clock.now += timedelta(days=8)
    for tap in (
        f"bv.page:{round_id}:2",
        f"bv.card:{round_id}:{projects[0].id}",
        f"bv.add:{round_id}:{projects[0].id}:c",
        f"bv.add:{round_id}:{projects[0].id}",
    ):
        await anna.press_payload(tap)
        assert anna.keys == ["budgets.closed"], tap
    assert await clocked.db.fetchval("SELECT COUNT(*) FROM budget_choices") == 0


async def test_a_chosen_project_with_a_long_title_still_fits_its_button_with_the_tick(
    app: App,
) -> None:
    round_id, projects = await a_round(app, 3, title=LONG)
    anna = await person(app, "anna")
    await anna.press_payload(f"bv.add:{round_id}:{projects[0].id}")
    [page] = anna.last
    card = f"bv.card:{round_id}:{projects[0].id}"
    opener = next(label for label, payload in page.buttons if payload == card)
    assert opener.startswith("✅ ") and opener.endswith("…")
    assert all(len(label) <= 40 for label in page.labels())
