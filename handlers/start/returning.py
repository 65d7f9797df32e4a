"""Welcome back: someone the bot could not reach (they blocked it, left the direct chat) hears
what they missed when they write again.

While they were away the connector may have answered or closed their questions (the answer
waits under "Mijn vragen"), asked them whether they want contact with another resident (the
question met the block, and the request waits for their answer), said yes after them to
such a request (the other's contact line waits for them), and their "Wist je dat"
stopped. The first time they write or tap
again, a short word comes before the answer to what they sent, in their private chat only:

    (any message or tap) ──► 👋 Welkom terug! Dit heb je gemist:
                              • answers and closings ──► Bekijk vraag #id / Mijn vragen
                              • a request to connect ──► Bekijk verzoek (con.show,
                                still to answer            handlers/community/connections)
                              • the other's contact line, of a request both said yes to
                                (the connector then hears both have the details), or
                                that it ended (the other erased their data meanwhile)
                              • news stopped ──────────► Wist je dat weer aanzetten
                                                          (news.resume, handlers/news)
                          ──► the answer to what they sent

Once per return (the router hears of it once: see :class:`storage.arrivals.Arrival`);
nothing when nothing was missed, nor for a banned person.
"""

from __future__ import annotations

from datetime import timedelta

from handlers import when
from handlers.answers import excerpt
from handlers.community.connections import line_handed
from handlers.contract import Button, Reply, Response, respond
from handlers.feature import Context, Fallback, Feature
from handlers.phrases import number
from storage.community.moderation import SanctionKind

feature = Feature("returning")

#: Questions listed one by one (more are under "Mijn vragen").
SHOWN_QUESTIONS = 5
#: Questions that get a button of their own.
QUESTION_BUTTONS = 3
EXCERPT = 60


@feature.fallback(Fallback.RETURNED)
async def welcome_back(ctx: Context) -> Response:
    """What the person missed while the bot could not reach them; nothing if nothing."""
    since = ctx.away_since
    if since is None or not ctx.user.consented or ctx.event.is_group:
        return respond()
    if ctx.sanctioned:
        sanction = await ctx.repos.sanctions.active(ctx.user.id, ctx.now)
        if sanction is not None and sanction.kind is SanctionKind.BAN:
            return respond()
    rules = ctx.profile.connections
    # Asked less than the days to answer ago (a calendar day is 23 to 25 hours: a day more
    # is looked at, and each request's own end decides below).
    missed = await ctx.repos.returns.missed(
        ctx.user.id,
        since,
        limit=SHOWN_QUESTIONS,
        asked_after=ctx.now - timedelta(days=rules.answer_days + 1),
    )
    if not missed:
        return respond()
    connector = ctx.profile.connector(ctx.lang)
    parts: list[Reply] = []
    buttons: list[list[Button]] = []
    for question in missed.questions:
        if question.answered and question.closed:
            key = "returning.answered_closed"
        elif question.answered:
            key = "returning.answered"
        else:
            key = "returning.closed"
        text = excerpt(question.text, EXCERPT)
        parts.append(
            Reply(key=key, params={"id": question.id, "connector": connector, "text": text})
        )
        if len(buttons) < QUESTION_BUTTONS:
            show = Button(
                label="returning.btn_question",
                payload=f"q.show:{question.id}",
                params={"id": question.id},
            )
            buttons.append([show])
    if missed.more:
        parts.append(Reply(key="returning.more"))
    if missed.questions:
        buttons.append([Button(label="questions.btn_mine", payload="q.mine")])
    for request in missed.connections:
        expires = rules.expires(request.asked_at, ctx.timezone)
        if expires <= ctx.now:
            continue  # over: its end is told by the job that ends it
        other = number(request.other_idea or 0)
        until = when.moment(ctx.local(expires), ctx.lang)
        parts.append(
            Reply(
                key="returning.connect",
                params={"connector": connector, "other": other, "until": until},
            )
        )
        show = Button(
            label="returning.btn_connect",
            payload=f"con.show:{request.id}",
            params={"other": other},
        )
        buttons.append([show])
    for line in missed.lines:
        parts += [Reply.model_validate(reply) for reply in line.replies]
    if missed.news:
        parts.append(Reply(key="returning.news_off"))
        buttons.append([Button(label="returning.btn_news", payload="news.resume")])
    if not parts:
        return respond()  # only requests whose time ran out as they came back
    welcome = Reply(key="returning.title", parts=parts, buttons=buttons)
    for line in missed.lines:
        # Shown in this answer (saved with it): no longer waiting for them. Last, so that
        # nothing can fail between marking it shown and showing it.
        if await ctx.repos.outbox.handed_over(line.row_id, ctx.now):
            # Now both have each other's details: the connector hears so.
            await line_handed(ctx, line.row_id)
    return respond(welcome)
