"""Posters: an A4 PNG with a title and a QR code that opens the bot at an experiment or idea.

Hung in a community centre or a playground, the QR code opens the bot's deep link
(``/start exp_3``). The link needs the bot's public address, which only the runtime knows:
``ctx.installation.start_link`` (for Telegram ``https://t.me/<bot>?start=``). Without it the
poster shows the plain command to type, so it still works on every platform.

    /poster ──► which experiment (buttons, a page at a time) ──► poster.png
    /poster exp_3 | /poster idee_42 ──► poster.png
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

from PIL import Image, ImageDraw

from handlers import fonts, paging
from handlers.answers import as_ascii_digits, parse_id
from handlers.charts import aligned, draw_line, drawn, wrapped
from handlers.contract import Button, Document, Reply, Response, Role, respond
from handlers.feature import Context, Feature, menu_reply
from handlers.start.menu import stale_button
from storage import graphemes

feature = Feature("posters")
feature.menu_entry("posters.menu", "poster", order=63, role=Role.CIVIL_SERVANT)

#: A4 portrait at 150 dpi.
WIDTH, HEIGHT = 1240, 1754
MARGIN = 90
BAND = (0, 84, 140)
INK = (25, 25, 25)

FindTitle = Callable[[Context, int], Awaitable[str | None]]


async def _experiment_title(ctx: Context, experiment_id: int) -> str | None:
    experiment = await ctx.repos.experiments.get(experiment_id)
    if experiment is None or experiment.status != "running":
        return None
    return experiment.title(ctx.lang)


async def _idea_title(ctx: Context, idea_id: int) -> str | None:
    # Only an idea everyone can see: a poster of one taken out of view (hidden, removed or
    # withdrawn) would print its title where no one can take it back.
    idea = await ctx.repos.ideas.get(idea_id)
    if idea is None or idea.removed:
        return None
    return idea.title


#: What a poster can point at: deep-link prefix ➜ (title lookup, catalog key of the call).
SOURCES: dict[str, tuple[FindTitle, str]] = {
    "exp": (_experiment_title, "posters.call_experiment"),
    "idee": (_idea_title, "posters.call_idea"),
}


def deep_link(ctx: Context, payload: str) -> str:
    """The link a QR code holds: the bot's start link, or the command to type."""
    base = ctx.installation.start_link
    return f"{base}{payload}" if base else f"/start {payload}"


@feature.command("poster", role=Role.CIVIL_SERVANT, describe="posters.cmd")
@feature.action("poster", role=Role.CIVIL_SERVANT)
async def poster(ctx: Context) -> Response:
    """Make a poster for ``exp_<id>`` or ``idee_<id>``; without one, offer the experiments."""
    # A number in any script's digits is that number ("idee_١٢" is idee_12).
    payload = as_ascii_digits(ctx.value.strip()).lower()
    if not payload:
        return respond(await _choose(ctx, 1))
    prefix, _, value = payload.partition("_")
    source = SOURCES.get(prefix)
    number = parse_id(value)
    title = await source[0](ctx, number) if source and number else None
    if source is None or number is None or title is None:
        return respond(menu_reply(ctx, "posters.not_found", payload=graphemes.cut(payload, 40)))
    link = deep_link(ctx, f"{prefix}_{number}")
    image = await drawn(
        ctx.repos.db,
        render_poster,
        municipality=ctx.profile.name(ctx.lang),
        title=title,
        call=ctx.catalog.text(ctx.lang, source[1], {}, markup=False),
        link=link,
    )
    return respond(
        Reply(
            key="posters.ready",
            params={"title": title, "link": link},
            document=Document(
                filename=f"poster-{prefix}_{number}.png", data=image, mime_type="image/png"
            ),
        )
    )


@feature.action("poster.list", role=Role.CIVIL_SERVANT)
async def another_page(ctx: Context) -> Response:
    """``poster.list:<page>``: another page of experiments to make a poster for."""
    wanted = paging.number(ctx.value)
    if wanted is None:
        return await stale_button(ctx)
    return respond(await _choose(ctx, wanted))


async def _choose(ctx: Context, wanted: int) -> Reply:
    """A page of the running experiments, a button each, to make a poster for (with none
    running: that, and how to make one for an idea)."""
    repo = ctx.repos.experiments
    shown = paging.page(wanted, await repo.count_running())
    running = await repo.running(limit=shown.size, offset=shown.offset)
    if not running:
        return Reply(key="posters.none", buttons=[[Button(label="menu.back", payload="menu")]])
    buttons = [
        [Button.raw(paging.short(e.title(ctx.lang)), f"poster:exp_{e.id}")] for e in running
    ]
    return Reply(
        key="posters.choose",
        parts=paging.where(shown),
        buttons=[
            *buttons,
            *paging.turn(shown, lambda label, n: Button(label=label, payload=f"poster.list:{n}")),
            [Button(label="menu.back", payload="menu")],
        ],
    )


def render_poster(*, municipality: str, title: str, call: str, link: str) -> bytes:
    """An A4 portrait PNG: municipality band, title, a large QR code of ``link``, the link."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 200), fill=BAND)
    # A line that reads from right to left (Arabic) stands against the right margin.
    across = (MARGIN, WIDTH - MARGIN)
    x, anchor = aligned(municipality, *across)
    draw.text((x, 100), municipality, font=fonts.font(64, bold=True), fill="white", anchor=anchor)
    top = 270
    # Each line of a wrapped title or call goes the way of the whole (see aligned()).
    big, medium = fonts.font(84, bold=True), fonts.font(46, bold=True)
    for line in wrapped(draw, title, big, WIDTH - 2 * MARGIN, 4):
        draw_line(draw, top, line, across, big, INK, paragraph=title, vertical="a")
        top += 104
    top += 30
    for line in wrapped(draw, call, medium, WIDTH - 2 * MARGIN, 3):
        draw_line(draw, top, line, across, medium, INK, paragraph=call, vertical="a")
        top += 62
    code = _qr(link, size=min(820, HEIGHT - top - 260))
    image.paste(code, ((WIDTH - code.width) // 2, top + 40))
    caption_top = top + 40 + code.height + 40
    for line in wrapped(draw, link, fonts.font(36, bold=True), WIDTH - 2 * MARGIN, 2):
        width = draw.textlength(line, font=fonts.font(36, bold=True))
        draw.text(
            ((WIDTH - width) / 2, caption_top), line, font=fonts.font(36, bold=True), fill=INK
        )
        caption_top += 48
    draw.rectangle((0, HEIGHT - 40, WIDTH, HEIGHT), fill=BAND)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _qr(link: str, size: int) -> Image.Image:
    """The QR code of ``link`` as a sharp black-on-white square of about ``size`` pixels."""
    import segno  # imported when a poster is made: not needed to start answering

    code = segno.make(link, error="m", micro=False)
    modules = code.symbol_size(scale=1, border=2)[0]
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=max(1, size // modules), border=2)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")
