"""'Wist je dat': civil servants tell what they work on; residents subscribe and read along.

A subscriber gets every theme unless they switch some off, and may ask for news about their
own neighbourhood only. Anyone can browse what was published (an experiment's updates only
its participants). :func:`news_replies` is the one place a news message is made: the
composer's preview, the broadcast and the browse pages all show what it returns.

    💡 Wist je dat ──► Aanmelden / Afmelden
                  (news.resume: the welcome back turns on again what stopped while away)
                  ├──► Thema's ──► ✓/✗ per theme
                  ├──► Alleen mijn wijk (aan/uit; asks for a neighbourhood if none)
                  └──► Lees het nieuws ──► page ◀ ▶
"""

from __future__ import annotations

import time

from handlers import paging
from handlers.answers import whole_number
from handlers.catalog import Catalog
from handlers.contract import Button, Reply, Response, Role, respond, rows
from handlers.feature import Context, Feature
from handlers.profile import Profile
from handlers.start.menu import stale_button
from storage import Repositories
from storage.news.staff import StaffCard
from storage.news.subscriptions import Subscription

feature = Feature("news")
feature.menu_entry("news.menu", "news", order=40)

PAGE_SIZE = 3


#: The keys of a news message's signature: the part that says who sends it.
SIGNATURES = ("news.signed", "news.signed_municipality")
#: How long delivery keeps a broadcast's signer before looking again (seconds).
SIGNER_MEMORY = 30.0


def says_its_header(catalog: Catalog, text: str) -> bool:
    """Whether a text begins the usual way, in any catalog's language ("Wist je dat we...",
    "Did you know we..."): then no header goes above it, here or as its title in the public
    feed, or it would read "Wist je dat… Wist je dat we..."."""
    start = " ".join(text.casefold().split())
    for lang in catalog.languages:
        prefixes = catalog.text(lang, "news.item_prefix", {}, markup=False)
        if any(start.startswith(p.strip().casefold()) for p in prefixes.split(",") if p.strip()):
            return True
    return False


def news_replies(
    ctx: Context,
    text: str,
    photo_id: int | None,
    *,
    experiment: tuple[int, str] | None = None,
) -> list[Reply]:
    """The message residents receive for a "Wist je dat" (or an experiment's update), as it
    is stored: signed by the municipality. Its author's name is put in only when it is sent
    or shown (:func:`signed`), so a name is kept in one place, the author's card, and an
    erased civil servant's name leaves every broadcast they signed.

    ``experiment`` is (id, title) for an update to an experiment's participants, the title
    in the municipality's language: each reader gets it in theirs (:func:`in_language`).
    """
    signature = signature_of(ctx.profile, ctx.lang, None)
    if experiment is not None:
        experiment_id, title = experiment
        return [
            Reply(
                key="news.experiment_item",
                params={"title": title, "text": text, "experiment": experiment_id},
                parts=[signature],
                photo_id=photo_id,
                original=True,
                buttons=[[Button(label="news.btn_experiment", payload=f"exp:{experiment_id}")]],
            )
        ]
    return [
        Reply(
            key="news.item_headed" if says_its_header(ctx.catalog, text) else "news.item",
            params={"text": text},
            parts=[signature],
            photo_id=photo_id,
            original=True,
            buttons=[[Button(label="news.btn_more", payload="news.page:0")]],
        )
    ]


def signature_of(profile: Profile, lang: str, author: StaffCard | None) -> Reply:
    """Who sends a news message: its author's card, or the municipality."""
    if author is None:
        return Reply(key="news.signed_municipality", params={"municipality": profile.name(lang)})
    return Reply(
        key="news.signed",
        params={"name": author.name, "department": department_name(profile, lang, author)},
    )


def signed(replies: list[Reply], signature: Reply) -> list[Reply]:
    """The replies with their signature put in (other replies are left as they are)."""
    return [
        reply.model_copy(
            update={
                "parts": [signature if p.key in SIGNATURES else p for p in reply.parts],
            }
        )
        if any(part.key in SIGNATURES for part in reply.parts)
        else reply
        for reply in replies
    ]


async def in_language(repos: Repositories, lang: str, replies: list[Reply]) -> list[Reply]:
    """The replies with the title of the experiment an update is about in ``lang``: it is
    profile text, translated, unlike the civil servant's words (stored in the municipality's
    language, or in the author's by older versions)."""
    result = []
    for reply in replies:
        experiment_id = _experiment_of(reply)
        found = await repos.experiments.get(experiment_id) if experiment_id else None
        if found is not None:
            title = found.title(lang)
            reply = reply.model_copy(update={"params": {**reply.params, "title": title}})
        result.append(reply)
    return result


def _experiment_of(reply: Reply) -> int | None:
    """The experiment an update is about: its parameter, or (stored before it had one) the
    experiment its button opens."""
    if reply.key != "news.experiment_item":
        return None
    found = reply.params.get("experiment")
    if isinstance(found, int):
        return found
    for row in reply.buttons:
        for button in row:
            prefix, _, value = button.payload.partition(":")
            if prefix == "exp" and value.isdigit():
                return int(value)
    return None


async def author_of(repos: Repositories, broadcast_id: int | None) -> StaffCard | None:
    """The card a broadcast is signed with now: its author's, while they are staff."""
    if broadcast_id is None:
        return None
    broadcast = await repos.broadcasts.get(broadcast_id)
    if broadcast is None or broadcast.author_user_id is None:
        return None
    return await repos.staff.shown(broadcast.author_user_id)


class Signer:
    """Signs broadcasts as delivery sends them, in each recipient's language.

    A broadcast's rows are the outbox batch ``broadcast:<id>``; its author's card is looked
    up once per :data:`SIGNER_MEMORY` seconds, not for every row, and again as soon as the
    outbox's generation moves (someone erased, or an author revoked: see
    :meth:`storage.outbox.Outbox.recheck`). An author being erased signs nothing more
    from that moment: not with a card remembered from before, nor with one read while the
    erasure was still under way.
    """

    def __init__(self, repos: Repositories, profile: Profile):
        self.repos = repos
        self.profile = profile
        #: Broadcast id → (when, outbox generation, its author's card) as last read.
        self._authors: dict[int, tuple[float, int, StaffCard | None]] = {}
        #: The last replies signed per (broadcast, language): every row of a broadcast
        #: hands over the same parsed replies, signed once.
        self._signed: dict[tuple[int, str], tuple[list[Reply], StaffCard | None, list[Reply]]]
        self._signed = {}
        #: People erased lately (user id → when): their card, remembered or read before the
        #: erasure was committed, signs nothing any more.
        self._erased: dict[int, float] = {}
        repos.personal.erasing.append(self.erasing)

    def erasing(self, user_id: int) -> None:
        """Called as someone is erased (inside the erasure, before it commits)."""
        now = time.monotonic()
        # Long enough for every card remembered or read meanwhile to have been looked up
        # again (the erasure deleted it by then).
        self._erased = {
            erased: at for erased, at in self._erased.items() if now - at < 2 * SIGNER_MEMORY
        }
        self._erased[user_id] = now

    async def __call__(self, batch: str | None, lang: str, replies: list[Reply]) -> list[Reply]:
        prefix, _, value = (batch or "").partition(":")
        if prefix != "broadcast" or not value.isdigit():
            return replies
        if not any(part.key in SIGNATURES for reply in replies for part in reply.parts):
            return replies
        author = await self._author(int(value))
        if author is not None and author.user_id in self._erased:
            author = None
        key = (int(value), lang)
        known = self._signed.get(key)
        if known is not None and known[0] is replies and known[1] == author:
            return known[2]
        localised = await in_language(self.repos, lang, replies)
        result = signed(localised, signature_of(self.profile, lang, author))
        if len(self._signed) > 100:
            self._signed.clear()
        self._signed[key] = (replies, author, result)
        return result

    async def _author(self, broadcast_id: int) -> StaffCard | None:
        now = time.monotonic()
        generation = self.repos.outbox.generation
        known = self._authors.get(broadcast_id)
        if known is not None and now - known[0] < SIGNER_MEMORY and known[1] == generation:
            return known[2]
        if len(self._authors) > 100:
            self._authors.clear()
        author = await author_of(self.repos, broadcast_id)
        self._authors[broadcast_id] = (now, generation, author)
        return author


def department(ctx: Context, card: StaffCard) -> str:
    """A card's department: the profile's name for it, else what its owner typed."""
    return department_name(ctx.profile, ctx.lang, card)


def department_name(profile: Profile, lang: str, card: StaffCard) -> str:
    """The profile's name of the card's department, what its owner typed, or (a department
    since taken out of the profile) the municipality: never an empty place on the card."""
    known = profile.department(card.department_id)
    if known is not None:
        return known.name(lang)
    return card.department_text or profile.name(lang)


@feature.command(
    "wistjedat",
    translations={"en": "news"},
    consent=False,
    describe="news.cmd",
    role=Role.RESIDENT,
)
@feature.action("news", consent=False, role=Role.RESIDENT)
async def overview(ctx: Context) -> Response:
    """Whether this person gets the news, their choices, and what they can do."""
    subscription = await ctx.repos.subscriptions.get(ctx.user.id)
    return respond(_overview(ctx, subscription))


def _overview(ctx: Context, subscription: Subscription | None, key: str = "news.intro") -> Reply:
    read = [Button(label="news.btn_read", payload="news.page:0")]
    staff = [Button(label="news.btn_staff", payload="staff")]
    back = [Button(label="menu.back", payload="menu")]
    if subscription is None:
        return Reply(
            key=key,
            parts=[Reply(key="news.status_off")],
            buttons=[[Button(label="news.btn_subscribe", payload="news.sub")], read, staff, back],
        )
    themes = [t.name(ctx.lang) for t in ctx.profile.themes if subscription.follows(t.id)]
    hood = ctx.profile.neighbourhood(ctx.user.neighbourhood)
    parts = [
        Reply(key="news.status_on"),
        Reply(key="news.status_themes", params={"themes": ", ".join(themes)}),
    ]
    if subscription.neighbourhood_only and hood is not None:
        parts.append(Reply(key="news.status_hood_only", params={"place": hood.name(ctx.lang)}))
    else:
        parts.append(Reply(key="news.status_everywhere"))
    hood_button = "news.btn_hood_off" if subscription.neighbourhood_only else "news.btn_hood_on"
    hood_wanted = HOOD_OFF if subscription.neighbourhood_only else HOOD_ON
    return Reply(
        key=key,
        parts=parts,
        buttons=[
            [Button(label="news.btn_themes", payload="news.themes")],
            [Button(label=hood_button, payload=f"news.hood:{hood_wanted}")],
            read,
            staff,
            [Button(label="news.btn_unsubscribe", payload="news.unsub")],
            back,
        ],
    )


@feature.action("news.sub", role=Role.RESIDENT)
async def subscribe(ctx: Context) -> Response:
    """Subscribe with every theme on."""
    if not await ctx.repos.subscriptions.subscribe(ctx.user.id, ctx.now):
        subscription = await ctx.repos.subscriptions.get(ctx.user.id)
        return respond(_overview(ctx, subscription, "news.already_subscribed"))
    subscription = await ctx.repos.subscriptions.get(ctx.user.id)
    return respond(_overview(ctx, subscription, "news.subscribed"))


@feature.action("news.resume", role=Role.RESIDENT)
async def resume(ctx: Context) -> Response:
    """Turn on again, as it was, the news that stopped while the bot could not reach them
    (the welcome back offers it); a second tap, or a tap with nothing to turn on again,
    says so and changes nothing."""
    hood = ctx.profile.neighbourhood(ctx.user.neighbourhood)
    subscriptions = ctx.repos.subscriptions
    resumed = await subscriptions.resume(ctx.user.id, ctx.now, neighbourhood_only=hood is not None)
    subscription = await subscriptions.get(ctx.user.id)
    if resumed:
        key = "news.resumed"
    elif subscription is not None:
        key = "news.already_subscribed"
    else:
        key = "news.nothing_to_resume"
    return respond(_overview(ctx, subscription, key))


@feature.action("news.unsub", role=Role.RESIDENT)
async def unsubscribe(ctx: Context) -> Response:
    """Stop the news; reading stays possible."""
    key = "news.unsubscribed"
    if not await ctx.repos.subscriptions.unsubscribe(ctx.user.id):
        key = "news.not_subscribed"
    return respond(_overview(ctx, None, key))


@feature.action("news.themes", role=Role.RESIDENT)
async def themes(ctx: Context) -> Response:
    """The themes with ✓ or ✗; pressing one (``news.themes:<id>:on`` or ``:off``) switches
    it to what its mark promised, so a double tap (both from the keyboard as it was) does
    not switch it back. A plain ``news.themes:<id>`` (a message from before) switches it."""
    subscription = await ctx.repos.subscriptions.get(ctx.user.id)
    if subscription is None:
        return respond(_overview(ctx, None, "news.not_subscribed"))
    key = "news.themes_title"
    value, _, wanted = ctx.value.partition(":")
    theme = ctx.profile.theme(value) if value else None
    if value and (theme is None or wanted not in ("", "on", "off")):
        key = "news.theme_unknown"
    elif theme is not None:
        follows = subscription.follows(theme.id)
        on = not follows if not wanted else wanted == "on"
        others = [t for t in ctx.profile.themes if t.id != theme.id]
        if on == follows:
            pass  # already as the button promised
        elif not on and not any(subscription.follows(t.id) for t in others):
            key = "news.keep_one_theme"
        else:
            await ctx.repos.subscriptions.set_theme(ctx.user.id, theme.id, on)
            subscription = await ctx.repos.subscriptions.get(ctx.user.id)
            assert subscription is not None
    buttons = [
        Button(
            label="news.btn_theme",
            payload=f"news.themes:{t.id}:{'off' if subscription.follows(t.id) else 'on'}",
            params={
                "mark": "✅" if subscription.follows(t.id) else "⬜",
                "name": t.name(ctx.lang),
            },
        )
        for t in ctx.profile.themes
    ]
    return respond(
        Reply(
            key=key,
            parts=theme_explanations(ctx),
            buttons=[*rows(buttons), [Button(label="news.btn_done", payload="news")]],
            edit=True,
        )
    )


def theme_explanations(ctx: Context) -> list[Reply]:
    """One line per theme saying what it is about, for those who pick one."""
    return [
        Reply(
            key="news.theme_about", params={"name": t.name(ctx.lang), "about": t.about(ctx.lang)}
        )
        for t in ctx.profile.themes
        if t.about is not None
    ]


#: The values of the overview's button: "only my neighbourhood" on or off, as its label says
#: (never a neighbourhood's id, which has no "@"). A plain ``news.hood`` (a message from
#: before) switches it.
HOOD_ON = "@on"
HOOD_OFF = "@off"


@feature.action("news.hood", role=Role.RESIDENT)
async def neighbourhood_only(ctx: Context) -> Response:
    """'Only news from my neighbourhood' on (``news.hood:@on``) or off (``news.hood:@off``),
    so a double tap or an older overview's button does what its label says;
    ``news.hood:<id>`` also sets the place."""
    subscription = await ctx.repos.subscriptions.get(ctx.user.id)
    if subscription is None:
        return respond(_overview(ctx, None, "news.not_subscribed"))
    if ctx.value == HOOD_OFF:
        only = False
    elif ctx.value and ctx.value != HOOD_ON:
        hood = ctx.profile.neighbourhood(ctx.value)
        if hood is None:
            return respond(_overview(ctx, subscription, "news.hood_unknown"))
        await ctx.repos.users.set_neighbourhood(ctx.user.id, hood.id)
        ctx.user = ctx.user.model_copy(update={"neighbourhood": hood.id})
        only = True
    elif ctx.profile.neighbourhood(ctx.user.neighbourhood) is None:
        hoods = [
            Button.raw(n.name(ctx.lang), f"news.hood:{n.id}") for n in ctx.profile.neighbourhoods
        ]
        back = [
            Button(label="news.btn_back", payload="news"),
            Button(label="menu.back", payload="menu"),
        ]
        return respond(Reply(key="news.which_hood", buttons=[*rows(hoods, 2), back]))
    else:
        only = ctx.value == HOOD_ON or not subscription.neighbourhood_only
    await ctx.repos.subscriptions.set_neighbourhood_only(ctx.user.id, only)
    subscription = await ctx.repos.subscriptions.get(ctx.user.id)
    return respond(_overview(ctx, subscription, "news.hood_set" if only else "news.hood_unset"))


async def _without_past_meetings(ctx: Context, item: Reply) -> Reply:
    """An invitation to a meeting without its "Ik kom" once the meeting began (or went):
    signing up can no longer be done, and the button would only say so."""
    kept = []
    for row in item.buttons:
        on = []
        for button in row:
            prefix, _, value = button.payload.partition(":")
            if prefix == "mt.go" and value.isdecimal():
                meeting = await ctx.repos.meetings.get(int(value))
                if meeting is None or meeting.cancelled or meeting.starts_at <= ctx.now:
                    continue
            on.append(button)
        if on:
            kept.append(on)
    return item if kept == item.buttons else item.model_copy(update={"buttons": kept})


def _without_more(item: Reply) -> Reply:
    """A news message on a browse page: its 'more news' button would lead back here."""
    kept = [[b for b in row if not b.payload.startswith("news.page")] for row in item.buttons]
    return item.model_copy(update={"buttons": [row for row in kept if row]})


@feature.action("news.page", consent=False, role=Role.RESIDENT)
async def browse(ctx: Context) -> Response:
    """A page of recent news, newest first (``news.page:<n>``, counting from 0)."""
    index = whole_number(ctx.value, paging.MAX_PAGE - 1) if ctx.value else 0
    if index is None:
        return await stale_button(ctx)
    total = await ctx.repos.news.count_for(ctx.user.id)
    page = paging.page(index + 1, total, PAGE_SIZE)
    items = await ctx.repos.news.recent_for(ctx.user.id, offset=page.offset, limit=page.size)
    if not items:
        return respond(
            Reply(key="news.empty", buttons=[[Button(label="menu.back", payload="menu")]])
        )
    shown = []
    for item in items:
        signature = signature_of(
            ctx.profile, ctx.lang, await author_of(ctx.repos, item.broadcast_id)
        )
        stored = [Reply.model_validate(p) for p in item.payload]
        stored = [await _without_past_meetings(ctx, reply) for reply in stored]
        replies = signed(await in_language(ctx.repos, ctx.lang, stored), signature)
        shown += [_without_more(reply) for reply in replies]
    # The payload counts from 0 (news.page:0 is the newest), as it always has.
    nav = paging.turn(
        page,
        lambda label, n: Button(label=label, payload=f"news.page:{n - 1}"),
        ("news.btn_newer", "news.btn_older"),
    )
    footer = Reply(
        key="news.page_info",
        params={"page": page.number, "pages": page.pages},
        buttons=[
            *nav,
            [
                Button(label="news.btn_back", payload="news"),
                Button(label="menu.back", payload="menu"),
            ],
        ],
    )
    return respond(*shown, footer)
