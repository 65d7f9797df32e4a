"""The comment thread under an idea: read, page back, add; hidden and removed handled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.app import App
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from storage.users import Role
from tests.handlers.ideas.helpers import seed_idea, submit_idea
from tests.people import connector, person, row
from tests.support import Chat
from tests.waiting import until

MakeChat = Callable[..., Chat]


async def _comment(app: App, author: int, body: str, minutes: int) -> int:
    async with app.db.transaction():
        comment = await app.repos.comments.add(
            1, author, body, utcnow() + timedelta(minutes=minutes)
        )
    return comment.id


async def test_a_resident_reads_comments_pages_back_and_adds_one(app: App, chat: MakeChat) -> None:
    await seed_idea(app, "Een idee met reacties")
    cem = chat("cem")
    await cem.onboard()
    cem_id = (await row(app, "cem")).id
    for n in range(7):
        await _comment(app, cem_id, f"Reactie {n}", n)

    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.open:1")
    await bob.press("Reacties (7)")
    assert bob.keys == ["comments.title"]
    text = bob.text
    assert "(7)" in text
    assert [f"Reactie {n}" in text for n in range(7)] == [False] * 2 + [True] * 5
    assert text.index("Reactie 2") < text.index("Reactie 6")  # oldest first on a page
    assert "Een inwoner" in text and "cem" not in text.lower()
    assert "Nieuwere reacties ➡️" not in bob.last[0].labels()
    await bob.press("Oudere reacties")
    assert "Reactie 0" in bob.text and "Reactie 1" in bob.text and "Reactie 2" not in bob.text
    await bob.press("Nieuwere reacties")
    assert "Reactie 6" in bob.text

    await bob.press("Reageren")
    assert bob.keys == ["comments.ask"]
    await bob.send("Goed plan, <b>echt</b> waar & zo!")
    assert bob.keys == ["comments.added", "comments.title"]
    assert "Jij" in bob.text and "Goed plan, <b>echt</b> waar & zo!" in bob.text
    assert "(8)" in bob.text
    page = await app.repos.comments.latest(1)
    assert page.comments[-1].body == "Goed plan, <b>echt</b> waar & zo!"
    assert page.comments[-1].author_user_id == (await row(app, "bob")).id
    # Everyone sees the same thread, on any platform; the author is just "een inwoner".
    dora = chat("dora", platform="matrix")
    await dora.press_payload("idea.comments:1")
    assert "Goed plan" in dora.text and "Jij" not in dora.text
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.comments == 8


async def test_staff_comments_show_their_role_and_hidden_comments_never_show(
    app: App, chat: MakeChat
) -> None:
    await seed_idea(app, "Een idee")
    ria = chat("ria")
    await ria.onboard()
    ria_id = (await row(app, "ria")).id
    async with app.db.transaction():
        await app.repos.users.set_role(ria_id, Role.CONNECTOR)
    await _comment(app, ria_id, "Ik kom langs om te kijken.", 1)
    hidden = await _comment(app, ria_id, "Dit wordt verborgen.", 2)
    async with app.db.transaction():
        await app.repos.comments.hide(hidden, "per ongeluk", utcnow())
    bob = chat("bob")
    await bob.press_payload("idea.comments:1")
    assert "Burgerbeest" in bob.text and "Ik kom langs" in bob.text
    assert "verborgen" not in bob.text and "(1)" in bob.text


async def test_bad_comments_are_explained_and_nothing_is_placed(app: App, chat: MakeChat) -> None:
    await seed_idea(app, "Een idee")
    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.comment:1")
    await bob.send("   ")
    assert bob.keys == ["comments.empty_text", "comments.ask"]
    await bob.send("x" * 1001)
    assert bob.keys == ["comments.too_long", "comments.ask"]
    assert "1.001" in bob.text and "1.000" in bob.text
    await bob.handle(bob.event(unsupported="sticker"))
    assert bob.keys == ["comments.need_text", "comments.ask"]
    await bob.photo()
    assert bob.keys == ["comments.need_text", "comments.ask"]
    assert await app.repos.comments.count(1) == 0
    await bob.send('"AND OR NEAR( * -')
    assert bob.keys == ["comments.added", "comments.title"]
    await bob.send("en nog een")
    assert bob.keys == ["general.not_understood"]  # the comment dialog ended
    assert [c.body for c in (await app.repos.comments.latest(1)).comments] == ['"AND OR NEAR( * -']


async def test_stopping_a_comment_places_nothing(app: App, chat: MakeChat) -> None:
    await seed_idea(app, "Een idee")
    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.comment:1")
    await bob.press("Stoppen")
    assert bob.keys == ["comments.cancelled", "comments.title"]
    assert await app.repos.comments.count(1) == 0


async def test_a_removed_idea_refuses_comments_and_gives_the_text_back(
    app: App, chat: MakeChat
) -> None:
    await seed_idea(app, "Een idee dat weggaat")
    await seed_idea(app, "Een idee dat al weg is")
    async with app.db.transaction():
        await app.repos.ideas.remove(2, utcnow())
    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.comment:2")
    assert bob.keys == ["comments.idea_removed"]
    await bob.press_payload("idea.comments:2")
    assert bob.keys == ["comments.idea_removed"]

    await bob.press_payload("idea.comment:1")
    async with app.db.transaction():
        await app.repos.ideas.remove(1, utcnow())
    await bob.send("Mijn mooie reactie")
    assert bob.keys == ["comments.not_placed", "comments.idea_removed"]
    assert "Mijn mooie reactie" in bob.text
    assert await app.db.fetchval("SELECT COUNT(*) FROM idea_comments") == 0
    await bob.send("nog iets")
    assert bob.keys == ["general.not_understood"]


async def test_thread_buttons_with_bad_data_are_stale(app: App, chat: MakeChat) -> None:
    await seed_idea(app, "Een idee")
    bob = chat("bob")
    await bob.onboard()
    for payload in ("idea.comments:x", "idea.comments:1:-5", "idea.comment:1:2", "idea.comment:"):
        await bob.press_payload(payload)
        assert bob.keys == ["general.stale_button"], payload
    await bob.press_payload("idea.comments:1:500")
    assert bob.keys == ["comments.title"] and "Nog geen reacties" in bob.text
    await bob.press_payload("idea.comments:77")
    assert bob.keys == ["ideas.not_found"]


async def test_forged_numbers_too_large_to_look_up_are_stale_buttons(app: App) -> None:
    await seed_idea(app, "Een idee")
    bob = await person(app, "bob")
    nines = "9" * 40  # fits Telegram's 64 bytes of button data; far past SQLite's integers
    for payload in (
        f"idea.comments:1:{nines}",
        f"idea.comments:{nines}",
        f"idea.comment:{nines}",
        "idea.comments:1:²",
        f"ideas.mine:{nines}",
        f"idea.open:1:new:a::{nines}",
    ):
        await bob.press_payload(payload)
        assert bob.keys == ["general.stale_button"], payload


async def test_a_comment_that_shows_nothing_is_not_posted(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    bob = await person(app, "bob")
    await bob.press_payload("idea.comments:1")
    await bob.press("Reageren")
    await bob.send("\u200b\u2060\u202e\u200d" * 5)
    assert bob.keys[0] == "comments.empty_text"
    assert await app.db.fetchval("SELECT COUNT(*) FROM idea_comments") == 0


async def test_a_resident_changes_their_own_comment_and_it_shows_as_edited(
    app: App, chat: MakeChat
) -> None:
    await seed_idea(app, "Een idee met reacties")
    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.comments:1")
    await bob.press("Reageren")
    await bob.send("Goed plan")
    assert "✏️ Pas 1 aan" in bob.last[-1].labels()
    await bob.press("Pas 1 aan")
    assert bob.keys == ["comments.ask_edit"]
    assert "Nu staat er: Goed plan" in bob.text
    # The same text again changes nothing, and the comment is not marked as changed.
    await bob.send("  Goed plan ")
    assert bob.keys == ["comments.edit_unchanged", "comments.title"]
    assert "(bewerkt)" not in bob.text
    [same] = (await app.repos.comments.latest(1)).comments
    assert same.body == "Goed plan" and same.edited_at is None
    await bob.press("Pas 1 aan")
    await bob.send("Heel goed plan!")
    assert bob.keys == ["comments.edit_saved", "comments.title"]
    assert "Heel goed plan!" in bob.text and "(bewerkt)" in bob.text
    [comment] = (await app.repos.comments.latest(1)).comments
    assert comment.body == "Heel goed plan!" and comment.edited_at is not None
    # Someone else's comment has no such buttons, and a forged one changes nothing.
    cem = chat("cem")
    await cem.onboard()
    await cem.press_payload("idea.comments:1")
    assert not any("Pas" in label or "Wis" in label for label in cem.last[-1].labels())
    await cem.press_payload(f"cm.edit:{comment.id}")
    assert cem.keys == ["comments.not_yours"]
    await cem.press_payload(f"cm.delete:{comment.id}!")
    assert cem.keys == ["comments.not_yours"]
    assert (await app.repos.comments.latest(1)).total == 1


async def test_a_resident_deletes_their_own_comment_after_a_question_that_says_so(
    app: App, chat: MakeChat
) -> None:
    await seed_idea(app, "Een idee met reacties")
    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.comments:1")
    await bob.press("Reageren")
    await bob.send("Oeps, verkeerde idee")
    await bob.press("Wis 1")
    assert bob.keys == ["comments.delete_confirm"]
    assert "voor altijd weg" in bob.text and "Oeps, verkeerde idee" in bob.text
    await bob.press("Nee, laat staan")
    assert bob.keys == ["comments.title"] and "Oeps" in bob.text
    await bob.press("Wis 1")
    await bob.press("Ja, wis mijn reactie")
    assert bob.keys == ["comments.deleted", "comments.title"]
    assert (await app.repos.comments.latest(1)).total == 0


async def _mute(app: App, chat: Chat) -> None:
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, chat)).id,
            SanctionKind.MUTE,
            reason="Even rust.",
            by_user_id=None,
            now=utcnow(),
            ends_at=utcnow() + timedelta(days=2),
        )


async def test_a_muted_resident_is_not_asked_to_type_a_changed_comment_or_idea(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    await anna.press_payload("idea.comment:1")
    await anna.send("Goed idee, ik help mee!")
    await _mute(app, anna)
    await anna.press("✏️")
    assert anna.keys == ["moderation.muted"]
    await anna.press_payload("idea.edit:1")
    assert anna.keys == ["moderation.muted"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM dialogs") == 0


async def test_text_typed_for_a_draft_when_a_mute_began_meanwhile_is_given_back(
    app: App,
) -> None:
    await seed_idea(app, "Meer bankjes in het park")
    anna = await person(app, "anna")
    await anna.press_payload("idea.comment:1")
    assert anna.keys == ["comments.ask"]
    await _mute(app, anna)
    typed = "Mijn zorgvuldig geschreven reactie met veel details over de bankjes."
    await anna.send(typed)
    assert anna.keys == ["moderation.muted"]
    assert typed in anna.text
    assert await app.db.fetchval("SELECT COUNT(*) FROM idea_comments") == 0


async def test_changing_a_comment_is_not_counted_against_the_daily_limit(app: App) -> None:
    await seed_idea(app, "Meer bankjes in het park")
    anna = await person(app, "anna")
    anna_id = (await row(app, anna)).id
    for n in range(app.profile.limits.comments_per_hour):
        await _comment(app, anna_id, f"Reactie nummer {n}", minutes=-n)
    await anna.press_payload("idea.comment:1")
    assert anna.keys == ["flood.too_many_comments"]
    await anna.press_payload("idea.comments:1")
    await anna.press("✏️")
    assert anna.keys == ["comments.ask_edit"]
    await anna.send("Reactie nummer 0, nu beter gezegd.")
    assert anna.keys[0] == "comments.edit_saved"


async def test_a_changed_comment_hidden_meanwhile_is_given_back(app: App) -> None:
    await seed_idea(app, "Meer bankjes in het park")
    anna = await person(app, "anna")
    await anna.press_payload("idea.comment:1")
    await anna.send("Goed idee, ik help mee!")
    await anna.press("✏️")
    assert anna.keys == ["comments.ask_edit"]
    async with app.db.transaction():  # hidden after reports, meanwhile
        await app.db.execute(
            "UPDATE idea_comments SET hidden_at = ?, hidden_reason = 'meldingen'",
            (utcnow().isoformat(),),
        )
    typed = "Mijn zorgvuldig herschreven reactie met veel details over de bankjes."
    await anna.send(typed)
    assert anna.keys[0] == "comments.edit_gone"
    assert typed in anna.text


async def test_a_merged_ideas_thread_stays_to_read_and_the_talk_goes_on_at_the_other(
    app: App,
) -> None:
    await seed_idea(app, "Bankjes in het park")
    await seed_idea(app, "Bankjes bij de vijver")
    bob = await person(app, "bob")
    await bob.press_payload("idea.comment:2")
    await bob.send("Graag ook een prullenbak erbij.")
    # Carl begins a comment on #2 while the connector merges it into #1.
    carl = await person(app, "carl")
    await carl.press_payload("idea.comment:2")
    ria = await connector(app)
    await ria.send("/wachtrij #2")
    await ria.press("Samenvoegen")
    await ria.send("#1")
    await ria.send("Deze twee willen hetzelfde.")
    assert ria.keys[0] == "triage.done"
    await carl.send("Ik wil er ook een schaduwplek bij.")
    assert carl.keys == ["comments.not_placed", "comments.merged"]
    assert "schaduwplek" in carl.text and "#1" in carl.text
    # The old thread is still there to read; writing goes on at #1.
    await bob.press_payload("idea.comments:2")
    assert "prullenbak" in bob.text and "samengevoegd met idee #1" in bob.text
    assert "Reageren" not in " ".join(bob.last[0].labels())
    await bob.press("Naar de reacties bij #1")
    assert bob.keys == ["comments.title"] and "Reageren" in " ".join(bob.last[0].labels())
    await bob.press_payload("idea.comment:2")  # an older "Reageren"
    assert bob.keys == ["comments.merged"]
    assert await app.repos.comments.count(2) == 1
    # Her own comment there can still be changed.
    await bob.press_payload("idea.comments:2")
    await bob.press("Pas 1 aan")
    await bob.send("Graag ook twee prullenbakken erbij.")
    assert bob.keys[0] == "comments.edit_saved"


async def test_a_merged_ideas_thread_opens_again_when_the_other_idea_is_withdrawn(
    app: App,
) -> None:
    """The talk goes on at the idea it was merged into only while that one is there: its
    author withdrawing it leaves no way to a thread nobody may write in."""
    anna = await person(app, "anna")
    await submit_idea(anna)
    await seed_idea(app, "Bankjes bij de vijver")
    ria = await connector(app)
    await ria.send("/wachtrij #2")
    await ria.press("Samenvoegen")
    await ria.send("#1")
    await ria.send("Deze twee willen hetzelfde.")
    assert ria.keys[0] == "triage.done"
    bob = await person(app, "bob")
    await bob.press_payload("idea.comments:2")
    assert "samengevoegd met idee #1" in bob.text
    await anna.press_payload("idea.open:1")
    await anna.press("Intrekken")
    await anna.press("Ja, trek idee in")
    assert anna.keys == ["ideas.withdrawn"]
    await bob.press_payload("idea.comment:2")
    await bob.send("Graag ook een prullenbak erbij.")
    assert bob.keys[0] == "comments.added"
    await bob.press_payload("idea.comments:2")
    assert "prullenbak" in bob.text and "samengevoegd" not in bob.text
    assert "Reageren" in " ".join(bob.last[0].labels())
    assert not [p for _, p in bob.buttons() if p == "idea.comments:1"]


async def test_asking_for_help_while_writing_a_comment_is_not_posted_under_the_idea(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    bob = await person(app, "bob")
    await bob.press_payload("idea.comments:1")
    await bob.press("Reageren")
    for unsure in ("?", "help?", "Hulp?", "؟", "??"):
        await bob.send(unsure)
        # Someone unsure hears how this works and gets the question again, nothing public.
        assert bob.keys == ["drafts.help", "comments.ask"], unsure
        assert "je reactie" in bob.last[0].text and "stop" in bob.last[0].text
    assert await app.db.fetchval("SELECT COUNT(*) FROM idea_comments") == 0
    # A word alone, not asked, is what they mean to say.
    await bob.send("Help")
    assert bob.keys[0] == "comments.added"


async def test_a_comment_on_an_idea_withdrawn_meanwhile_says_it_was_withdrawn(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await seed_idea(app, "Een idee dat de indiener intrekt", author=(await row(app, "anna")).id)
    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.comment:1")
    await anna.press_payload("idea.withdraw:1!")
    assert anna.keys == ["ideas.withdrawn"]
    # The card says the idea was withdrawn by whoever sent it in; so does the thread.
    await bob.send("Mijn reactie")
    assert bob.keys == ["comments.not_placed", "ideas.withdrawn_card"]
    assert "Mijn reactie" in bob.text and "ingetrokken" in bob.text
    assert "verwijderd" not in bob.text
    await bob.press_payload("idea.comments:1")
    assert bob.keys == ["ideas.withdrawn_card"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM idea_comments") == 0


async def test_a_comment_typed_while_the_ideas_sender_erased_it_with_their_data_is_given_back(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await seed_idea(app, "Een idee dat met Anna verdwijnt", author=(await row(app, "anna")).id)
    bob = chat("bob")
    await bob.onboard()
    await bob.press_payload("idea.comment:1")
    await bob.send("Eerste reactie")
    await bob.press_payload("cm.edit:1")
    assert bob.keys == ["comments.ask_edit"]
    dora = chat("dora")
    await dora.onboard()
    await dora.press_payload("idea.comment:1")
    await anna.send("/vergeetmij")
    await anna.press("Ook wissen")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]

    async def deleted() -> bool:
        return await app.repos.ideas.get(1) is None

    await until(deleted, what="the idea deleted after the erasure")
    # The idea was there when Bob began: he hears it is gone, and gets his words back.
    await bob.send("Mijn veranderde reactie")
    assert bob.keys == ["comments.not_placed", "comments.idea_removed"]
    assert "Mijn veranderde reactie" in bob.text and "verwijderd" in bob.text
    # Coming back to the comment she began, Dora hears the same, not to check the number.
    await dora.press_payload("resume")
    assert dora.keys == ["drafts.welcome_back", "comments.idea_removed"]

    cem = chat("cem")
    await cem.onboard()
    await cem.press_payload("idea.comment:2")
    assert cem.keys == ["ideas.not_found"]
