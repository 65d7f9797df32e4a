"""Finding ideas by words: ``/ideeen bankjes`` lists the ideas in view with those words."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.app import App
from handlers.ideas.browse import MAX_PAYLOAD
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from storage.ideas.ideas import Removal
from tests.handlers.ideas.helpers import seed_idea, submit_idea
from tests.people import civil_servant, connector, person, row
from tests.support import Chat

MakeChat = Callable[..., Chat]


def _listed(chat: Chat) -> list[str]:
    """The idea buttons of the last list, as '#n title'."""
    return [label for label, payload in chat.buttons() if payload.startswith("idea.open:")]


def _payloads_fit(chat: Chat) -> None:
    """Every button of the last answer fits Telegram's 64 bytes of callback data."""
    for label, payload in chat.buttons():
        assert len(payload.encode()) <= MAX_PAYLOAD, (label, payload)


async def _count(app: App, table: str) -> int:
    return int(await app.db.fetchval(f"SELECT COUNT(*) FROM {table}"))


async def test_words_after_the_command_list_the_ideas_with_them_best_first(app: App) -> None:
    await seed_idea(app, "Zonnepanelen op het stadhuis")
    await seed_idea(
        app, "Speeltuin bij de vijver", description="Met een bankje voor de ouders ernaast."
    )
    await seed_idea(app, "Meer bankjes in het Velserbeekpark")
    anna = await person(app, "anna")
    await anna.send("/ideeen bankjes")
    assert anna.keys == ["ideas.search_title"], "nothing given back: the words were read"
    assert "Ideeën met 'bankjes'" in anna.text and "2 gevonden" in anna.text
    # A word in the title weighs more than one in the description; plurals find singulars.
    assert _listed(anna) == ["#3 Meer bankjes in het Velserbeekpark", "#2 Speeltuin bij de vijver"]
    assert "Zonnepanelen" not in anna.text
    labels = anna.last[0].labels()
    assert "🔎 Alle ideeën" in labels and "💡 Idee insturen" in labels

    # A sentence: its small words are not searched for, and none of it comes back unused.
    await anna.send("/ideeën ik zoek bankjes in het park")
    assert anna.keys == ["ideas.search_title"]
    assert "Ideeën met 'zoek bankjes park'" in anna.text
    assert _listed(anna)[0] == "#3 Meer bankjes in het Velserbeekpark"

    # Without words it is the list of all ideas, as before, saying how to search.
    await anna.send("/ideeen")
    assert anna.keys == ["ideas.list_title"] and len(_listed(anna)) == 3
    assert "Zoeken? Typ bijvoorbeeld: /ideeen park" in anna.text


async def test_in_english_the_command_and_the_title_are_english(app: App) -> None:
    await seed_idea(app, "Meer bankjes in het Velserbeekpark")
    tom = await person(app, "tom", language="English")
    await tom.press("Browse ideas")
    assert "Type for example: /ideas park" in tom.text
    await tom.send("/ideas bankjes")
    assert tom.keys == ["ideas.search_title"]
    assert "Ideas with 'bankjes'" in tom.text and "1 found" in tom.text
    await tom.send("/ideas of")
    assert tom.keys == ["ideas.search_no_words"]
    assert "/ideas park" in tom.text


async def test_a_search_never_shows_what_the_list_does_not(app: App) -> None:
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    anna_id, bob_id = (await row(app, anna)).id, (await row(app, bob)).id
    shown = await seed_idea(app, "Bankjes bij de pont")
    hidden = await seed_idea(app, "Bankjes bij het strand", author=bob_id)
    reported = await seed_idea(app, "Bankjes bij de sluizen", author=bob_id)
    removed = await seed_idea(app, "Bankjes in de duinen", author=bob_id)
    withdrawn = await seed_idea(app, "Bankjes bij het station", author=anna_id)
    async with app.db.transaction():
        await app.repos.ideas.remove(hidden.id, utcnow(), how=Removal.HIDDEN, reason="Dubbel.")
        await app.repos.ideas.remove(reported.id, utcnow(), how=Removal.REPORTS)
        await app.repos.ideas.remove(removed.id, utcnow(), how=Removal.REMOVED, reason="Nee.")
        assert await app.repos.ideas.withdraw(withdrawn.id, anna_id, utcnow())
    for who in (anna, bob, await connector(app)):
        await who.send("/ideeen bankjes")
        assert _listed(who) == [f"#{shown.id} Bankjes bij de pont"], who.user_id
        assert "1 gevonden" in who.text
    await bob.send("/ideeen strand sluizen duinen station")
    assert bob.keys == ["ideas.search_none"]
    assert "Ik vond geen ideeën met 'strand sluizen duinen station'" in bob.text


async def test_results_page_and_a_card_goes_back_to_the_same_page_of_results(
    app: App,
) -> None:
    for n in range(1, 8):
        await seed_idea(app, f"Bankje nummer {n}", minutes=n)
    await seed_idea(app, "Iets anders")
    anna = await person(app, "anna")
    await anna.send("/ideeen bankje")
    assert "Pagina 1 van 2" in anna.text and "7 gevonden" in anna.text
    first = _listed(anna)
    assert len(first) == 5
    await anna.press("Volgende")
    assert anna.keys == ["ideas.search_title"]
    assert "Ideeën met 'bankje'" in anna.text and "Pagina 2 van 2" in anna.text
    second = _listed(anna)
    assert len(second) == 2 and not set(first) & set(second)
    await anna.press(second[0])
    assert anna.keys == ["ideas.card"]
    await anna.press("Steunen")
    assert anna.keys == ["ideas.supported", "ideas.card"]
    await anna.press("Terug naar de lijst")
    assert anna.keys == ["ideas.search_title"] and "Pagina 2 van 2" in anna.text
    await anna.press("Vorige")
    assert _listed(anna) == first
    await anna.press("Alle ideeën")
    assert anna.keys == ["ideas.list_title"] and "8 in totaal" in anna.text


async def test_nothing_found_or_nothing_to_search_for_is_answered_kindly(app: App) -> None:
    await seed_idea(app, "Meer bankjes in het Velserbeekpark")
    anna = await person(app, "anna")
    await anna.send("/ideeen trampoline")
    assert anna.keys == ["ideas.search_none"]
    assert "Ik vond geen ideeën met 'trampoline'" in anna.text
    assert anna.last[0].labels() == ["🔎 Alle ideeën", "💡 Idee insturen", "⬅️ Menu"]

    for typed in ("de het een", "🙂👍🏽", "12 345", "ab", "?!", "#"):
        await anna.send(f"/ideeen {typed}")
        assert anna.keys == ["ideas.search_no_words"], typed
        assert "/ideeen park" in anna.text
        assert anna.last[0].labels() == ["🔎 Alle ideeën", "💡 Idee insturen", "⬅️ Menu"]
    await anna.press("Alle ideeën")
    assert anna.keys == ["ideas.list_title"]
    await anna.send("/ideeen trampoline")
    await anna.press("Idee insturen")
    assert anna.keys == ["ideas.ask_category"], "the submit dialog opens"


async def test_query_syntax_markup_and_other_scripts_are_only_words(app: App) -> None:
    await seed_idea(app, "Meer bankjes in het Velserbeekpark")
    await seed_idea(app, "مقاعد في الحديقة", description="نريد مقاعد أكثر قرب البحيرة.")
    await seed_idea(app, "Een café op het plein")
    anna = await person(app, "anna")
    ideas, supports = await _count(app, "ideas"), await _count(app, "idea_supports")
    for typed in (
        'bankjes" OR "a',
        "bankje*",
        "NEAR(bankjes park)",
        "-bankjes",
        "bankjes AND NOT park",
        "title:bankjes",
        "<b>bankjes</b> <a href='x'>",
        "bankjes 🙂🙂🙂",
        "\u202ebankjes\u202c",
        "{bankjes} ^bankjes",
    ):
        await anna.send(f"/ideeen {typed}")
        assert anna.keys == ["ideas.search_title"], typed
        assert _listed(anna)[0] == "#1 Meer bankjes in het Velserbeekpark", typed
        assert "<" not in anna.last[0].reply.params["words"], typed
        _payloads_fit(anna)
    await anna.send("/ideeen مقاعد")
    assert _listed(anna) == ["#2 مقاعد في الحديقة"]
    _payloads_fit(anna)
    await anna.send("/ideeen cafe")  # diacritics are folded, as in the similar-idea hints
    assert _listed(anna) == ["#3 Een café op het plein"]
    for typed in ('"', '""', "*", "NEAR", "AND OR NOT", "(", ")", "-", "^", ":", "\\", "\x00"):
        await anna.send(f"/ideeen {typed}")
        assert anna.keys in (["ideas.search_no_words"], ["ideas.search_none"]), typed
    assert await _count(app, "ideas") == ideas
    assert await _count(app, "idea_supports") == supports
    assert await app.repos.dialogs.load((await row(app, anna)).id) is None


async def test_a_huge_search_is_cut_to_what_fits_and_says_so(app: App) -> None:
    await seed_idea(app, "Meer bankjes in het Velserbeekpark")
    anna = await person(app, "anna")
    await anna.send("/ideeen bankjes " + " ".join(f"woord{n}" for n in range(2000)))
    assert anna.keys == ["ideas.search_title"]
    assert "ik zocht alleen op de eerste" in anna.text.casefold()
    assert _listed(anna) == ["#1 Meer bankjes in het Velserbeekpark"]
    assert len(anna.text) < 1000
    _payloads_fit(anna)
    await anna.send("/ideeen " + "bankjes" * 1000)
    assert anna.keys == ["ideas.search_none"]
    assert "ik zocht alleen op de eerste" in anna.text.casefold()
    assert len(anna.text) < 1000


async def test_every_button_of_a_search_fits_telegrams_callback_data(app: App) -> None:
    # Numbers as a large town reaches them, and more: the longest payloads there are.
    async with app.db.transaction():
        await app.db.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('ideas', ?)", (10**11,)
        )
    titles = (
        "Meer bankjes in het Velserbeekpark",
        "Speeltuinvoorzieningenonderhoudsprogramma voor heel IJmuiden",
        "مقاعد في الحديقة قرب البحيرة",
        "Лавки в парку біля озера",
        "𝔅𝔞𝔫𝔨𝔧𝔢𝔰 𐌱𐌰𐌽𐌺𐌾𐌴𐍃 overal",
    )
    for n in range(6):
        for title in titles:
            await seed_idea(app, f"{title} {n}")
    anna = await person(app, "anna")
    searches = (
        "bankjes",
        "speeltuinvoorzieningenonderhoudsprogramma bankjes velserbeekpark ijmuiden",
        "مقاعد الحديقة البحيرة",
        "лавки парку озера",
        "𐌱𐌰𐌽𐌺𐌾𐌴𐍃𐌱𐌰𐌽𐌺𐌾𐌴𐍃𐌱𐌰𐌽𐌺𐌾𐌴𐍃 𝔅𝔞𝔫𝔨𝔧𝔢𝔰",
        "x" * 200,
    )
    for typed in searches:
        await anna.send(f"/ideeen {typed}")
        _payloads_fit(anna)
        if anna.keys != ["ideas.search_title"]:
            continue
        assert "Pagina 1 van" in anna.text
        heard = anna.text.splitlines()[0]
        if any(label.startswith("Volgende") for label in anna.last[0].labels()):
            await anna.press("Volgende")
            _payloads_fit(anna)
            assert anna.text.splitlines()[0] == heard, "the next page is the same search"
        await anna.press(_listed(anna)[0])
        assert anna.keys == ["ideas.card"]
        _payloads_fit(anna)
        await anna.press("Steunen")
        _payloads_fit(anna)
        await anna.press("Terug naar de lijst")
        assert anna.keys in (["ideas.search_title"], ["ideas.list_title"]), typed
        _payloads_fit(anna)
    # The searches that fit keep the way back to their results from a card.
    await anna.send("/ideeen bankjes")
    await anna.press(_listed(anna)[0])
    await anna.press("Terug naar de lijst")
    assert anna.keys == ["ideas.search_title"]


async def test_forged_or_stale_search_buttons_change_nothing(app: App) -> None:
    await seed_idea(app, "Meer bankjes in het Velserbeekpark")
    anna = await person(app, "anna")
    supports = await _count(app, "idea_supports")
    for payload in (
        "ideas.list:new:s::1",
        "ideas.list:new:s:ab,de:1",
        "ideas.list:new:s:bankjes:0",
        "ideas.list:new:s:bankjes:-1",
        "ideas.list:new:s:bankjes:x",
        "ideas.list:new:s:bankjes:1:2",
        "ideas.list:new:q:bankjes:1",
        "ideas.list:new:s:🙂:1",
        "idea.support:1:new:s::1",
        "idea.open:1:new:s:,,,:1",
    ):
        await anna.press_payload(payload)
        assert anna.keys[-1] == "general.stale_button", payload
    assert await _count(app, "idea_supports") == supports

    # Words we did not send are only a search for them: nothing more.
    for payload in (
        'ideas.list:top:s:"bankjes" OR x*:1',
        "ideas.list:new:s:NEAR(bankjes):1",
        "ideas.list:new:s:BANKJES,Park,park:1",
        "ideas.list:new:s:bankjes:99999",
        "ideas.list:new:s:" + "bankjes," * 50 + ":1",
    ):
        await anna.press_payload(payload)
        assert anna.keys == ["ideas.search_title"], payload
        assert _listed(anna) == ["#1 Meer bankjes in het Velserbeekpark"], payload
        _payloads_fit(anna)

    # A page of results whose ideas went out of view since: said kindly.
    await anna.send("/ideeen bankjes")
    results = list(anna.history[-1])
    async with app.db.transaction():
        await app.repos.ideas.remove(1, utcnow(), how=Removal.HIDDEN, reason="Dubbel.")
    anna.history.append(results)
    await anna.press("#1")
    assert anna.keys == ["ideas.removed"]
    anna.history.append(results)
    await anna.press_payload("ideas.list:new:s:bankjes:1")
    assert anna.keys == ["ideas.search_none"]


async def test_erased_ideas_are_not_found_not_even_their_words_in_the_index(app: App) -> None:
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    await submit_idea(
        anna, "Xjqwbankjes bij de pont", "Een xjqwrustplek voor wie op de pont wacht."
    )
    await bob.send("/ideeen xjqwbankjes")
    assert _listed(bob) == ["#1 Xjqwbankjes bij de pont"]
    await anna.send("/vergeetmij")
    await anna.press("Ook wissen")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]
    for typed in ("xjqwbankjes", "xjqwrustplek pont"):
        await bob.send(f"/ideeen {typed}")
        assert bob.keys in (["ideas.search_none"], ["ideas.search_title"]), typed
        assert "Xjqw" not in bob.text.replace(typed, "")
        assert _listed(bob) == []
    await app.db.settled()  # the erasure's last steps, in the background
    terms = await app.db.fetchall("SELECT term FROM ideas_fts_terms WHERE term LIKE 'xjqw%'")
    assert [r["term"] for r in terms] == []


async def test_a_search_typed_in_a_group_gets_the_pointer_to_a_private_chat(app: App) -> None:
    await seed_idea(app, "Meer bankjes in het Velserbeekpark")
    await person(app, "anna")
    in_group = Chat(app, "anna", chat_id="group-1")
    await in_group.handle(in_group.event(command="ideeen", args="bankjes", is_group=True))
    assert in_group.keys[0].startswith("general.in_group")
    assert "Velserbeekpark" not in in_group.text and _listed(in_group) == []


async def test_staff_and_visitors_search_too_a_banned_resident_hears_the_ban(
    app: App, chat: MakeChat
) -> None:
    await seed_idea(app, "Meer bankjes in het Velserbeekpark")
    await seed_idea(app, "Zonnepanelen op het stadhuis")
    ria = await connector(app)
    ambt = await civil_servant(app, "ambt")
    visitor = chat("visitor")
    await visitor.send("/start")
    await visitor.press("Nee")
    for who in (ria, ambt, visitor):
        await who.send("/ideeen bankjes")
        assert _listed(who) == ["#1 Meer bankjes in het Velserbeekpark"], who.user_id
    assert await app.repos.dialogs.load((await row(app, visitor)).id) is None

    bob = await person(app, "bob")
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, bob)).id,
            SanctionKind.BAN,
            reason="Bedreigde andere bewoners.",
            by_user_id=(await row(app, ria)).id,
            now=utcnow(),
        )
    await bob.send("/ideeen bankjes")
    assert bob.keys == ["moderation.banned"]
    assert _listed(bob) == [] and "Velserbeekpark" not in bob.text


async def test_an_idea_changed_by_its_author_is_found_by_its_new_words_only(app: App) -> None:
    anna = await person(app, "anna")
    anna_id = (await row(app, anna)).id
    idea = await seed_idea(app, "Bankjes bij de pont", author=anna_id)
    async with app.db.transaction():
        assert await app.repos.ideas.update_own(
            idea.id,
            anna_id,
            category="wonen",
            title="Picknicktafels bij de pont",
            description="Een plek om te zitten terwijl je wacht.",
            neighbourhood=None,
            photo_id=None,
            now=utcnow(),
        )
    await anna.send("/ideeen bankjes")
    assert anna.keys == ["ideas.search_none"]
    await anna.send("/ideeen picknicktafels")
    assert _listed(anna) == [f"#{idea.id} Picknicktafels bij de pont"]


async def test_a_turkish_capital_i_finds_what_the_index_holds(app: App) -> None:
    await seed_idea(app, "İskele yolunda daha fazla bank")
    ayse = await person(app, "ayse", language="Türkçe")
    await ayse.send("/ideeen İSKELE")
    assert ayse.keys == ["ideas.search_title"]
    assert _listed(ayse) == ["#1 İskele yolunda daha fazla bank"]


async def test_a_number_after_the_command_opens_that_idea(app: App) -> None:
    """``/ideeen 2`` (or ``#2``, or in Arabic digits) is the idea with that number, as the
    number on a poster or in a list says; a number no idea has is said to be unknown."""
    await seed_idea(app, "Zonnepanelen op het stadhuis")
    await seed_idea(app, "Meer bankjes in het Velserbeekpark")
    anna = await person(app, "anna")
    for typed in ("2", "#2", " # 2 ", "٢"):
        await anna.send(f"/ideeen {typed}")
        assert anna.keys == ["ideas.card"], typed
        assert "Meer bankjes in het Velserbeekpark" in anna.text
    await anna.send("/ideeen 99")
    assert anna.keys == ["ideas.not_found"] and "99" in anna.text
    await anna.send("/ideeen " + "9" * 40)
    assert anna.keys == ["ideas.not_found"]
    assert len(anna.text) < 400


async def test_a_word_no_idea_has_takes_nothing_from_a_common_word_beside_it(
    app: App,
) -> None:
    """A word in many ideas ("park") still finds them with a word no idea has beside it (a
    typo, "trampoline"): the search is for ideas with any of the words."""
    for n in range(60):
        await seed_idea(app, f"Iets voor het park, deel {n}", minutes=n)
    anna = await person(app, "anna")
    await anna.send("/ideeen park")
    assert anna.keys == ["ideas.search_title"] and "60 gevonden" in anna.text
    for typed in ("park trampoline", "trampoline park", "park xqzwv deel"):
        await anna.send(f"/ideeen {typed}")
        assert anna.keys == ["ideas.search_title"], typed
        assert "60 gevonden" in anna.text and len(_listed(anna)) == 5, typed
    await anna.send("/ideeen trampoline")
    assert anna.keys == ["ideas.search_none"]


async def test_one_endless_word_in_another_script_is_cut_at_once(app: App) -> None:
    """Matrix and the console take messages far longer than Telegram's: a search of one
    word of 100,000 Cyrillic letters is cut to what its buttons carry in one go, not letter
    by letter (which kept the bot busy for seconds)."""
    await seed_idea(app, "Лавки в парку біля озера")
    anna = await person(app, "anna")
    began = time.perf_counter()
    await anna.send("/ideeen " + "ж" * 100_000)
    assert time.perf_counter() - began < 2
    assert anna.keys == ["ideas.search_none"]
    assert "ik zocht alleen op de eerste" in anna.text.casefold()
    assert "ж" * 16 in anna.text and "ж" * 17 not in anna.text
    await anna.send("/ideeen лавки " + "ж" * 100_000)
    assert anna.keys == ["ideas.search_title"]
    assert "ik zocht alleen op de eerste" in anna.text.casefold()
    assert _listed(anna) == ["#1 Лавки в парку біля озера"]
    _payloads_fit(anna)


async def test_ukrainian_and_arabic_letters_with_marks_of_their_own_are_found(
    app: App,
) -> None:
    """The index takes the marks off Latin letters only ("café" is "cafe"): an "й", an
    "ї" or an Arabic "أ" is a letter of its own there, and a search with it finds it."""
    await seed_idea(app, "Новий майданчик біля їдальні", description="Гойдалки для дітей.")
    await seed_idea(app, "إضاءة أفضل في الحديقة", description="نريد أشجارًا ومقاعد.")
    await seed_idea(app, "Een café op het plein")
    olena = await person(app, "olena", language="Українська")
    for typed in ("майданчик", "Новий", "їдальні", "гойдалки"):
        await olena.send(f"/ideeen {typed}")
        assert olena.keys == ["ideas.search_title"], typed
        assert _listed(olena) == ["#1 Новий майданчик біля їдальні"], typed
    layla = await person(app, "layla", language="العربية")
    for typed in ("إضاءة", "أفضل", "أشجارًا"):
        await layla.send(f"/ideeen {typed}")
        assert layla.keys == ["ideas.search_title"], typed
        assert _listed(layla) == ["#2 إضاءة أفضل في الحديقة"], typed
    await layla.send("/ideeen CAFÉ")
    assert _listed(layla) == ["#3 Een café op het plein"]


async def test_a_word_only_ideas_out_of_view_have_takes_nothing_from_a_common_word(
    app: App,
) -> None:
    """A removed or withdrawn idea's words stay in the index until it is deleted: a word only
    such an idea has ("casino") still leaves the ideas in view with "park" to be found, and
    never shows the idea itself."""
    anna = await person(app, "anna")
    anna_id = (await row(app, anna)).id
    for n in range(60):
        await seed_idea(app, f"Iets voor het park, deel {n}", minutes=n)
    removed = await seed_idea(app, "Een casino aan het strand")
    withdrawn = await seed_idea(app, "Een kermis op het plein", author=anna_id)
    async with app.db.transaction():
        await app.repos.ideas.remove(removed.id, utcnow(), how=Removal.REMOVED, reason="Nee.")
        assert await app.repos.ideas.withdraw(withdrawn.id, anna_id, utcnow())
    for typed in ("park casino", "kermis park", "casino kermis park strand"):
        await anna.send(f"/ideeen {typed}")
        assert anna.keys == ["ideas.search_title"], typed
        assert "60 gevonden" in anna.text, typed
        assert not any("casino" in t or "kermis" in t for t in _listed(anna)), typed
    await anna.send("/ideeen casino kermis")
    assert anna.keys == ["ideas.search_none"]


async def test_a_turkish_dotless_i_finds_the_words_written_with_a_capital(app: App) -> None:
    """The index reads every "I" as "i", also the Turkish capital of "ı": a search typed as
    Turkish is written ("ışık") finds the word at the start of a title ("Işık") and in
    capitals ("IŞIK") too."""
    await seed_idea(app, "Işıklandırma parkta", description="Akşamları çok karanlık.")
    await seed_idea(app, "IŞIK YOK", description="Sokakta hiç lamba yok.")
    await seed_idea(app, "Daha fazla ışık", description="Köprünün yanında.")
    await seed_idea(app, "Isıtma", description="Bekleme yerinde.")
    ayse = await person(app, "ayse", language="Türkçe")
    await ayse.send("/ideeen ışık")
    assert ayse.keys == ["ideas.search_title"]
    assert sorted(_listed(ayse)) == ["#1 Işıklandırma parkta", "#2 IŞIK YOK", "#3 Daha fazla ışık"]
    await ayse.send("/ideeen ısıtma")
    assert _listed(ayse) == ["#4 Isıtma"]
