"""What happens to consultations at their moments: opening, the reminder, closing; and the
evaluations of experiments. The scheduler only triggers these; the database says what is due.

    poll:        scheduled ──opens_at──► open ──closes_at - 1 day──► reminder ──closes_at──► closed
                                          │  (to who started and did not finish)     │
                                          └── invitations in the outbox              └── results to
                                                                                         respondents
                 (first run after closes_at, the bot down all along: opened asking nobody,
                 the author told, closed; its author no longer staff: cancelled, never opened)
    evaluation:  open (seeded) ──every hour, or sooner when due──► asks participants whose moment
                 came (n days after joining, while the experiment runs; when it ended:
                 then "how is it going?" not sent or not begun is over, end_check_ins),
                 reminds them a day before their own deadline (or its closing time, when
                 staff set one that comes first); closes (with results) then

Two job kinds: ``consultation:<id>`` (one per poll, and to close an evaluation) and
``evaluations:every``. Each runner checks the stored state itself, works in transactions of
its own and returns the timers to arm next, so running one twice changes nothing.

Everything sent goes through the outbox; results are counted and drawn before the closing
transaction, which then keeps the counts (they stay when people are erased later) and queues
them, with what the municipality will do with them, for everyone who answered.

What still waits in the outbox follows the consultation (:func:`bring_up_to_date`): a moved
closing time is rewritten into the invitations and reminders not sent yet (and they expire
with it; at an evaluation, for those whose own deadline comes later); once it takes no
answers (closed now, or closed), they are withdrawn, never sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from handlers.catalog import Catalog
from handlers.consultations import results as shown_results
from handlers.consultations.shown import brand, invitation, shown_time
from handlers.contract import Button, Reply, Timer
from handlers.feature import Context
from handlers.profile import EvaluationSeed, Profile
from storage import Repositories
from storage.clock import days_later
from storage.consultations.model import (
    Consultation,
    ConsultationKind,
    ConsultationStatus,
    Content,
    Moment,
    Question,
    QuestionKind,
    pick,
)
from storage.consultations.tallies import Results

log = logging.getLogger(__name__)

#: The reminder comes this many days before closing (or before an evaluation's deadline),
#: at the same clock time (:func:`storage.clock.days_later`).
REMIND_DAYS_BEFORE = 1
#: Evaluations look for participants whose moment came at least this often.
EVALUATION_CHECK = timedelta(hours=1)
EVALUATIONS_JOB = "evaluations:every"


def job(consultation_id: int) -> str:
    """The timer job of one consultation."""
    return f"consultation:{consultation_id}"


def invitations_batch(consultation_id: int, moment: int = 0) -> str:
    """The outbox batch of a consultation's invitations (a poll's, or an evaluation's at
    one of its moments)."""
    if moment == 0:
        return f"consultation:{consultation_id}"
    return f"consultation:{consultation_id}:{moment}"


def reminders_batch(consultation_id: int, moment: int = 0) -> str:
    """The outbox batch of a consultation's reminders (at one moment of an evaluation)."""
    return f"{invitations_batch(consultation_id, moment)}:reminder"


@dataclass(frozen=True)
class Surroundings:
    """What a scheduled job has instead of a chat: the repositories, texts and profile."""

    repos: Repositories
    catalog: Catalog
    profile: Profile
    timezone: ZoneInfo

    @classmethod
    def of(cls, ctx: Context) -> Surroundings:
        return cls(ctx.repos, ctx.catalog, ctx.profile, ctx.timezone)

    @property
    def default_language(self) -> str:
        return self.catalog.default


def next_moment(consultation: Consultation, zone: tzinfo) -> datetime | None:
    """When the job of a consultation should run next (None: nothing left to do); ``zone``
    is the municipality's time zone, where "a day before" is counted."""
    if consultation.status is ConsultationStatus.SCHEDULED:
        return consultation.opens_at
    if consultation.status is not ConsultationStatus.OPEN or consultation.closes_at is None:
        return None
    remind = reminder_due(consultation, zone)
    return remind if remind is not None else consultation.closes_at


def reminder_due(consultation: Consultation, zone: tzinfo) -> datetime | None:
    """When a poll's reminder goes, if it still has to: a day before closing at the same
    clock time, for polls that are open longer than that."""
    if (
        consultation.kind is not ConsultationKind.POLL
        or consultation.reminded_at is not None
        or consultation.closes_at is None
    ):
        return None
    at = days_later(consultation.closes_at, -REMIND_DAYS_BEFORE, zone)
    opened = consultation.opens_at or consultation.created_at
    return at if at > opened else None


async def pending(repos: Repositories, zone: tzinfo) -> list[tuple[int, datetime]]:
    """(id, when) of every consultation whose job still has to run (for start-up)."""
    found = []
    for consultation in await repos.consultations.with_work():
        at = next_moment(consultation, zone)
        if at is not None:
            found.append((consultation.id, at))
    return found


# Opening ---------------------------------------------------------------------------------------


async def publish(env: Surroundings, consultation_id: int, now: datetime) -> int | None:
    """Open a poll and queue its invitation for everyone in its audience, each in their own
    language; returns how many were asked, or None when it was not (or no longer) due.

    Call it inside a transaction.
    """
    repos = env.repos
    invited = await repos.consultations.open(consultation_id, now)
    if invited is None:
        return None
    consultation = await repos.consultations.get(consultation_id)
    assert consultation is not None
    until = consultation.closes_at
    await _queue(
        env,
        invited,
        _invitations(consultation, 0, env, until),
        batch=invitations_batch(consultation_id),
        now=now,
        expires_at=until,
    )
    log.info("consultation opened id=%d invited=%d", consultation_id, len(invited))
    return len(invited)


async def _queue(
    env: Surroundings,
    user_ids: list[int],
    build: Callable[[str], list[Reply]],
    *,
    batch: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> int:
    """Queue ``build(lang)`` for these people, grouped by the language they read; not sent
    after ``expires_at`` (when they can no longer answer)."""
    if not user_ids:
        return 0
    groups = await env.repos.recipients.by_language(user_ids, env.default_language)
    queued = 0
    for lang, ids in groups.items():
        payload = [reply.model_dump(mode="json") for reply in build(lang)]
        queued += await env.repos.outbox.fan_out(
            ids, payload, kind="consultation", batch=batch, now=now, expires_at=expires_at
        )
    return queued


# What waits in the outbox ----------------------------------------------------------------------


async def bring_up_to_date(env: Surroundings, consultation_id: int, now: datetime) -> int:
    """A consultation's closing time changed: its invitations and reminders still waiting in
    the outbox say the time that holds now for each reader and expire with it, each in the
    language its reader reads now; once it takes no answers (closed now, or closed), they
    are withdrawn. Returns how many rows were changed or withdrawn.

    The time that holds is a poll's closing time, and for an evaluation each person's own
    deadline, or its closing time where that comes first (:meth:`Consultation.answers_until`).

    Call it inside the transaction that made the change. A row a delivery worker already
    took goes out as it is (its turn is a moment away); should the platform cut it off,
    the next try sends the new messages from where they were made to go on (the parts
    that arrived are not counted against them, see :meth:`storage.outbox.Outbox.settle`).
    """
    repos = env.repos
    consultation = await repos.consultations.get(consultation_id)
    if consultation is None:
        return 0
    if not consultation.takes_answers(now):
        waiting = []
        for moment in consultation.moment_numbers():
            waiting += [
                invitations_batch(consultation_id, moment),
                reminders_batch(consultation_id, moment),
            ]
        return await repos.outbox.withdraw(waiting)
    changed = 0
    for moment in consultation.moment_numbers():
        batch = invitations_batch(consultation_id, moment)
        for until, people in await _waiting(env, consultation, moment, batch):
            if until is not None:
                changed += await _tell_partly_sent(env, batch, until, people)
            build = _invitations(consultation, moment, env, until)
            changed += await _rewrite(env, batch, build, until, people)
        batch = reminders_batch(consultation_id, moment)
        for until, people in await _waiting(env, consultation, moment, batch):
            if until is not None:
                build = _reminders(consultation, moment, env, until)
                changed += await _rewrite(env, batch, build, until, people)
    return changed


async def _waiting(
    env: Surroundings, consultation: Consultation, moment: int, batch: str
) -> list[tuple[datetime | None, list[int] | None]]:
    """Who ``batch`` (at ``moment``) still waits for, by the time that holds for them:
    everyone (None) at a poll's closing time; at an evaluation, each group of people with
    the same time (their own deadline, or the closing time where that comes first)."""
    if consultation.kind is ConsultationKind.POLL:
        return [(consultation.closes_at, None)]
    people = await env.repos.outbox.people_waiting(batch)
    deadlines = await env.repos.responses.deadlines(consultation.id, moment, people)
    grouped: dict[datetime, list[int]] = {}
    for deadline, ids in deadlines.items():
        until = consultation.answers_until(deadline)
        assert until is not None
        grouped.setdefault(until, []).extend(ids)
    return [(until, grouped[until]) for until in sorted(grouped)]


async def _rewrite(
    env: Surroundings,
    batch: str,
    build: Callable[[str], list[Reply]],
    expires_at: datetime | None,
    people: list[int] | None = None,
) -> int:
    """The rows of ``batch`` (of ``people`` only, when given) still waiting, made again with
    ``build(lang)`` in the language each reader reads; all of them (those partly sent too)
    expire at ``expires_at``."""
    outbox = env.repos.outbox
    changed = 0
    for lang in await outbox.languages_waiting(batch, env.default_language, people):
        payload = [reply.model_dump(mode="json") for reply in build(lang)]
        changed += await outbox.rewrite(
            batch,
            payload,
            expires_at=expires_at,
            reading=(lang, env.default_language),
            people=people,
        )
    await outbox.expire_with(batch, expires_at, people)
    return changed


#: The line that goes first in what is still to come of a message whose first part (with
#: the closing time as it was) went out before the closing time moved.
CLOSING_MOVED = "consultations.closing_moved"


async def _tell_partly_sent(
    env: Surroundings, batch: str, until: datetime, people: list[int] | None = None
) -> int:
    """Rows of ``batch`` (of ``people`` only, when given) cut off between their messages (a
    platform asked to wait): the part already read says another time than ``until``, so
    what is still to come starts with it. A line put there by an earlier move is replaced.
    Rows that say ``until`` already (they expire then) stay as they are. Call it before
    they are made to expire at ``until``. Returns how many rows."""
    outbox = env.repos.outbox
    told = 0
    for row in await outbox.partly_sent(batch, env.default_language, people):
        if row.expires_at == until:
            continue
        line = Reply(
            key=CLOSING_MOVED, params={"until": shown_time(until, env.timezone, row.language)}
        ).model_dump(mode="json")
        payload, sent = row.payload, row.sent
        to_come = [part for part in payload[sent:] if part.get("key") != CLOSING_MOVED]
        await outbox.set_messages(row.row_id, [*payload[:sent], line, *to_come])
        told += 1
    return told


# The job of one consultation ---------------------------------------------------------------


async def run_consultation(env: Surroundings, consultation_id: int, now: datetime) -> list[Timer]:
    """Do what is due for one consultation (open, remind, close); the next timer to arm."""
    repos = env.repos
    consultation = await repos.consultations.get(consultation_id)
    if consultation is None:
        return []
    if (
        consultation.status is ConsultationStatus.SCHEDULED
        and consultation.opens_at is not None
        and consultation.opens_at <= now
    ):
        # Its whole time passed while the bot was down: asking now would invite people to
        # a poll that closes at once. It opens and closes without them; its author hears.
        missed = consultation.closes_at is not None and consultation.closes_at <= now
        async with repos.db.transaction():
            role = await repos.consultations.refuse(consultation_id, now)
            if role is not None:
                # Its author may no longer ask residents (the role was taken away some way
                # other than ``samenspel revoke``, which cancels it at once): it never opens.
                log.warning(
                    "consultation %d cancelled: its author's role is now %s", consultation_id, role
                )
                await repos.audit.record(
                    "consultation.cancel",
                    now=now,
                    subject=f"consultation:{consultation_id}",
                    subject_user_id=consultation.author_user_id,
                    detail={"why": "author_role", "role": role},
                )
                asked = None
            elif missed:
                asked = await _open_missed(env, consultation, now)
            else:
                asked = await publish(env, consultation_id, now)
            if asked is not None:
                await repos.audit.record(
                    "consultation.open",
                    now=now,
                    subject=f"consultation:{consultation_id}",
                    detail={"invited": asked, "missed": True} if missed else {"invited": asked},
                )
    consultation = await repos.consultations.get(consultation_id)
    assert consultation is not None
    remind = reminder_due(consultation, env.timezone)
    if remind is not None and remind <= now and consultation.takes_answers(now):
        await _remind_poll(env, consultation, now)
    if (
        consultation.status is ConsultationStatus.OPEN
        and consultation.closes_at is not None
        and consultation.closes_at <= now
    ):
        await close(env, consultation_id, now)
    consultation = await repos.consultations.get(consultation_id)
    assert consultation is not None
    at = next_moment(consultation, env.timezone)
    return [Timer(job=job(consultation_id), at=at)] if at is not None else []


async def _open_missed(env: Surroundings, consultation: Consultation, now: datetime) -> int | None:
    """Open a poll whose time to be open passed unseen, asking nobody, and tell its author;
    0, or None when it was not (or no longer) due. Call it inside a transaction."""
    if await env.repos.consultations.open(consultation.id, now, ask=False) is None:
        return None
    log.warning(
        "consultation missed id=%d: its time passed while the bot was down", consultation.id
    )
    author = consultation.author_user_id
    assert consultation.opens_at is not None and consultation.closes_at is not None
    if author is not None:
        groups = await env.repos.recipients.by_language([author], env.default_language)
        for lang, ids in groups.items():
            note = Reply(
                key="consultations.missed",
                params={
                    "title": pick(consultation.title, lang),
                    "opens": shown_time(consultation.opens_at, env.timezone, lang),
                    "closes": shown_time(consultation.closes_at, env.timezone, lang),
                },
                buttons=[[Button(label="consultations.btn_staff", payload="cs.staff")]],
            )
            await env.repos.outbox.fan_out(
                ids, [note.model_dump(mode="json")], kind="consultation", now=now
            )
    return 0


async def _remind_poll(env: Surroundings, consultation: Consultation, now: datetime) -> None:
    async with env.repos.db.transaction():
        if not await env.repos.consultations.mark_reminded(consultation.id, now):
            return
        due = await env.repos.responses.remind_unfinished(consultation.id, now, moment=0)
        people = due.get(0, [])
        assert consultation.closes_at is not None
        until = consultation.closes_at
        await _queue(
            env,
            people,
            _reminders(consultation, 0, env, until),
            batch=reminders_batch(consultation.id),
            now=now,
            expires_at=until,
        )
    log.info("consultation reminder id=%d reminded=%d", consultation.id, len(people))


def _invitations(
    consultation: Consultation, moment: int, env: Surroundings, until: datetime | None
) -> Callable[[str], list[Reply]]:
    def build(lang: str) -> list[Reply]:
        shown = shown_time(until, env.timezone, lang) if until else None
        return invitation(consultation, moment, lang, profile=env.profile, until=shown)

    return build


def _reminders(
    consultation: Consultation, moment: int, env: Surroundings, until: datetime
) -> Callable[[str], list[Reply]]:
    def build(lang: str) -> list[Reply]:
        shown = shown_time(until, env.timezone, lang)
        return [reminder(consultation, moment, lang, profile=env.profile, until=shown)]

    return build


def reminder(
    consultation: Consultation, moment: int, lang: str, *, profile: Profile, until: str
) -> Reply:
    """The one reminder to someone who started and did not finish."""
    return Reply(
        key="consultations.reminder",
        params={
            "brand": brand(profile, lang),
            "title": pick(consultation.title, lang),
            "until": until,
        },
        buttons=[
            [Button(label="consultations.btn_go_on", payload=f"cs.o:{consultation.id}:{moment}")],
            [Button(label="consultations.btn_reminders_off", payload="cs.rem:off")],
        ],
    )


# Closing ---------------------------------------------------------------------------------------


async def close(env: Surroundings, consultation_id: int, now: datetime) -> int | None:
    """Close a consultation whose closing time has come and send its results to everyone
    who answered; returns how many results were queued, None when it was not due (or
    someone else closed it)."""
    repos = env.repos
    minimum = shown_results.threshold(env.profile)
    async with repos.db.committed():
        consultation = await repos.consultations.get(consultation_id)
        if (
            consultation is None
            or consultation.status is not ConsultationStatus.OPEN
            or consultation.closes_at is None
            or consultation.closes_at > now
        ):
            return None
        counted: dict[int, tuple[Results, dict[str, list[int]], dict[int, list[str]]]] = {}
        for moment in consultation.moment_numbers():
            results = await repos.tallies.count(consultation_id, moment, env.default_language)
            people = await repos.responses.respondents(consultation_id, moment)
            groups = await repos.recipients.by_language(people, env.default_language)
            quotes = {
                number: await repos.responses.approved_texts(
                    consultation_id, moment, number, shown_results.QUOTES
                )
                for number, asked in enumerate(consultation.questions, start=1)
                if asked.kind is QuestionKind.TEXT and results.answered(number) >= minimum
            }
            counted[moment] = (results, groups, quotes)
    # Drawing takes a while: off the loop, outside any transaction.
    drawn: dict[tuple[int, str, int], bytes] = {}
    for moment, (results, groups, _) in counted.items():
        for lang in groups:
            for number in shown_results.charted(consultation, results, minimum):
                png = await asyncio.to_thread(
                    shown_results.chart,
                    consultation,
                    number,
                    results,
                    lang,
                    profile=env.profile,
                    catalog=env.catalog,
                )
                if png is not None:
                    drawn[(moment, lang, number)] = png
    queued = 0
    async with repos.db.transaction():
        if not await repos.consultations.close(consultation_id, now):
            return None
        # Invitations and reminders held back until now ask for answers no longer taken.
        await bring_up_to_date(env, consultation_id, now)
        # Read again: what the municipality will do with the answers may have been changed
        # while the charts were drawn (it can be, until the closing time), and that is what
        # residents get. What they answered could not change after the closing time.
        closed = await repos.consultations.get(consultation_id)
        assert closed is not None
        for moment, (results, groups, quotes) in counted.items():
            await repos.tallies.keep(consultation_id, moment, results)
            for lang, ids in groups.items():
                charts = {
                    number: await repos.media.save(png, "image/png", now)
                    for (at, language, number), png in drawn.items()
                    if at == moment and language == lang
                }
                payload = shown_results.for_respondents(
                    closed,
                    results,
                    lang,
                    profile=env.profile,
                    quotes=quotes,
                    charts=charts,
                )
                queued += await repos.outbox.fan_out(
                    ids,
                    [reply.model_dump(mode="json") for reply in payload],
                    kind="consultation",
                    batch=f"consultation:{consultation_id}:results:{moment}",
                    now=now,
                )
        respondents = sum(results.respondents for results, _, _ in counted.values())
        await repos.audit.record(
            "consultation.closed",
            now=now,
            subject=f"consultation:{consultation_id}",
            detail={"respondents": respondents, "results_sent": queued},
        )
    log.info("consultation closed id=%d results=%d", consultation_id, queued)
    return queued


# Evaluations of experiments ------------------------------------------------------------------


async def seed_evaluations(repos: Repositories, profile: Profile, now: datetime) -> int:
    """Bring the profile's evaluations in, one per experiment that carries it; returns how
    many were new. Run at every start-up (inside a transaction), after the experiments.

    An evaluation for experiments started in the chat reaches the running ones that lack it
    here too (the profile may have gained it since they started)."""
    added = 0
    for seed in profile.consultations.evaluations:
        for slug in seed.experiments:
            experiment = await repos.consultations.experiment_of(slug)
            if experiment is not None and await _evaluate(repos, seed, *experiment, now):
                added += 1
    if any(seed.started_in_chat for seed in profile.consultations.evaluations):
        for experiment_id, titles in await repos.consultations.started_in_chat():
            added += await evaluate_started_experiment(repos, profile, experiment_id, titles, now)
    return added


async def evaluate_started_experiment(
    repos: Repositories,
    profile: Profile,
    experiment_id: int,
    titles: dict[str, str],
    now: datetime,
) -> int:
    """Give an experiment just started in the chat the profile's evaluations for such
    experiments; returns how many. Its participants are asked at the evaluations' moments
    like those of the profile's own experiments."""
    added = 0
    for seed in profile.consultations.evaluations:
        if seed.started_in_chat and await _evaluate(repos, seed, experiment_id, titles, now):
            added += 1
    return added


async def _evaluate(
    repos: Repositories,
    seed: EvaluationSeed,
    experiment_id: int,
    titles: dict[str, str],
    now: datetime,
) -> bool:
    """Add one evaluation to one experiment, once; True when it was new."""

    def named(text: dict[str, str]) -> dict[str, str]:
        # The experiment's title in the same language, else its Dutch one.
        return {
            lang: with_title(value, titles.get(lang, titles["nl"])) for lang, value in text.items()
        }

    content = Content(
        title=named(seed.title.model_dump()),
        intro=named(seed.intro.model_dump()),
        follow_up=named(seed.follow_up.model_dump()),
        questions=[
            Question(
                kind=QuestionKind(question.kind),
                text=question.text.model_dump(),
                options=[option.model_dump() for option in question.options],
                low=question.low.model_dump() if question.low else None,
                high=question.high.model_dump() if question.high else None,
            )
            for question in seed.questions
        ],
    )
    moments = [Moment(after_join_days=days) for days in seed.after_join_days]
    if seed.at_end:
        moments.append(Moment(at_end=True))
    return await repos.consultations.seed_evaluation(
        seed.key,
        experiment_id,
        content,
        moments=moments,
        answer_days=seed.answer_days,
        now=now,
    )


def with_title(text: str, title: str) -> str:
    """``text`` with ``{experiment}`` replaced by ``title``; a full stop right after it is
    left out when the title ends a sentence itself ("Natuurlijk!", not "Natuurlijk!.")."""
    if title.endswith(("!", "?", ".", "…")):
        text = text.replace("{experiment}.", "{experiment}")
    return text.replace("{experiment}", title)


async def run_evaluations(env: Surroundings, now: datetime) -> list[Timer]:
    """Ask the participants whose moment came, remind those about to run out of time;
    returns the timer for the next look (within :data:`EVALUATION_CHECK`)."""
    repos = env.repos
    soonest = now + EVALUATION_CHECK
    for consultation in await repos.consultations.open_evaluations():
        if (
            consultation.experiment_id is None
            or consultation.answer_days is None
            or not consultation.takes_answers(now)
        ):
            # Past its closing time, it asks nobody more (its closing job is due).
            continue
        ended = await repos.consultations.experiment_status(consultation.experiment_id) == "ended"
        # Each person's own time to answer; what they are told (and how long the invitation
        # may wait) ends at the closing time when staff set that sooner.
        deadline = days_later(now, consultation.answer_days, env.timezone)
        until = consultation.answers_until(deadline)
        for number, moment in enumerate(consultation.moments, start=1):
            if moment.after_join_days is not None and ended:
                # Nobody is asked how it is going once it is over: the moment at the end
                # asks everyone taking part.
                continue
            if moment.after_join_days is not None:
                wait = moment.after_join_days
                joined_before = _joined_by(now, wait, env.timezone)
            elif moment.at_end and ended:
                wait, joined_before = 0, now
            else:
                continue
            async with repos.db.transaction():
                if moment.after_join_days is not None and (
                    await repos.consultations.experiment_status(consultation.experiment_id)
                    == "ended"
                ):
                    # It ended since it was looked at above (end_check_ins has run).
                    continue
                asked = await repos.responses.invite_joined_before(
                    consultation.id,
                    number,
                    consultation.experiment_id,
                    joined_before,
                    now=now,
                    deadline=deadline,
                )
                await _queue(
                    env,
                    asked,
                    _invitations(consultation, number, env, until),
                    batch=invitations_batch(consultation.id, number),
                    now=now,
                    expires_at=until,
                )
            if asked:
                log.info(
                    "evaluation asked id=%d moment=%d asked=%d",
                    consultation.id,
                    number,
                    len(asked),
                )
            if moment.after_join_days is not None:
                later = await repos.responses.next_joined(
                    consultation.id, number, consultation.experiment_id, after=joined_before
                )
                if later is not None:
                    soonest = min(soonest, days_later(later, wait, env.timezone))
        await _remind_evaluation(env, consultation, now)
        remind_from = days_later(now, REMIND_DAYS_BEFORE, env.timezone)
        upcoming = await repos.responses.next_deadline(consultation.id, after=remind_from)
        if upcoming is not None:
            soonest = min(soonest, days_later(upcoming, -REMIND_DAYS_BEFORE, env.timezone))
        closes = consultation.closes_at
        if closes is not None and days_later(closes, -REMIND_DAYS_BEFORE, env.timezone) > now:
            soonest = min(soonest, days_later(closes, -REMIND_DAYS_BEFORE, env.timezone))
    return [Timer(job=EVALUATIONS_JOB, at=max(soonest, now))]


def _joined_by(now: datetime, wait: int, zone: tzinfo) -> datetime:
    """The last moment of joining whose ``wait`` days are over at ``now``: ``wait`` days
    before, at the same clock time. Where that clock time came twice that day (the clocks
    went back), the second of the two: someone who joined then is asked at this clock time
    too (:func:`storage.clock.days_later` from either is now), not an hour later."""
    local = now.astimezone(zone)
    then = datetime.combine(local.date() - timedelta(days=wait), local.time(), tzinfo=zone)
    return max(days_later(now, -wait, zone), then.replace(fold=1).astimezone(UTC))


async def withdraw_evaluations(repos: Repositories, experiment_id: int, user_id: int) -> int:
    """Withdraw the evaluation invitations and reminders of an experiment still waiting for
    someone who left it: it no longer asks them how it goes (joining again gives them
    back, :func:`give_back_evaluations`). Returns how many."""
    batches = [
        batch
        for consultation in await repos.consultations.open_evaluations()
        if consultation.experiment_id == experiment_id
        for moment in range(1, len(consultation.moments) + 1)
        for batch in (
            invitations_batch(consultation.id, moment),
            reminders_batch(consultation.id, moment),
        )
    ]
    return await repos.outbox.withdraw(batches, people=[user_id]) if batches else 0


#: Why a check-in invitation was not sent (kept with its cancelled outbox rows).
CHECK_IN_OVER = "experiment ended"


async def end_check_ins(repos: Repositories, experiment_id: int, now: datetime) -> int:
    """An experiment ended: the "how is it going?" of its evaluations (the moments some
    time after joining) is out of date, and the evaluation of the end asks instead.

    Its invitations still waiting in the outbox are withdrawn, never sent (not to be given
    back: nobody joins an ended experiment again), and those people count as not asked
    (unless they began it from their list), as do those whose invitation was withdrawn
    when they left before it went out; a check-in nobody began can no longer be
    begun, so their list no longer offers it. One begun or finished stays, to finish or
    change until its own deadline, and counts in the results.

    Call it inside the transaction that ended it. Returns how many invitations were
    withdrawn."""
    withdrawn = 0
    for consultation in await repos.consultations.open_evaluations():
        if consultation.experiment_id != experiment_id:
            continue
        for number, moment in enumerate(consultation.moments, start=1):
            if moment.after_join_days is None:
                continue
            batch = invitations_batch(consultation.id, number)
            # Whose invitation never went out: they were not asked (the staff's card
            # counts them apart), unless they began it from their list. That includes
            # whoever left before theirs went out: nobody joins an ended one again.
            never_sent = await repos.outbox.people_waiting(batch)
            never_sent += await repos.outbox.people_withdrawn(batch)
            withdrawn += await repos.outbox.withdraw([batch], why=CHECK_IN_OVER)
            await repos.responses.not_asked(consultation.id, number, never_sent, now)
            ended = await repos.responses.end_unstarted(consultation.id, number, now)
            log.info(
                "evaluation check-in over id=%d moment=%d not_begun=%d",
                consultation.id,
                number,
                len(ended),
            )
    return withdrawn


async def give_back_evaluations(
    env: Surroundings, experiment_id: int, user_id: int, now: datetime
) -> int:
    """Someone joined an experiment again: the evaluation invitations and reminders withdrawn
    when they left (:func:`withdraw_evaluations`) come back, for every moment they were asked
    at and can still answer (their own time, and the evaluation's, not over). One that
    reached them before they left is not sent twice: that message works again. Returns how
    many were queued.

    An invitation withdrawn before it reached them comes with a new time to answer, as long
    as a first invitation gives, from now (as it was never theirs to answer before): not the
    time left of the one they never saw, which may be short or over. The evaluation's own
    closing time still ends it, where staff set one.

    A reminder comes back only to someone who still wants reminders (they may have turned
    them off while they were out).

    Call it inside the transaction that made them take part again."""
    repos = env.repos
    queued = 0
    reminded = await repos.responses.reminders_on(user_id)
    for consultation in await repos.consultations.open_evaluations():
        if consultation.experiment_id != experiment_id or not consultation.takes_answers(now):
            continue
        for moment in consultation.moment_numbers():
            taking = await repos.responses.find(consultation.id, moment, user_id)
            if taking is None or taking.finished_at is not None:
                continue
            invitation = invitations_batch(consultation.id, moment)
            if (
                consultation.answer_days is not None
                and taking.started_at is None
                and await repos.outbox.withdrawn_from(invitation, user_id)
            ):
                fresh = days_later(now, consultation.answer_days, env.timezone)
                if taking.deadline is None or taking.deadline < fresh:
                    await repos.responses.give_time(taking.id, fresh)
                    taking = taking.model_copy(update={"deadline": fresh})
            if not taking.takes_answers(now):
                continue
            until = consultation.answers_until(taking.deadline)
            batches = (
                (invitation, _invitations),
                (reminders_batch(consultation.id, moment), _reminders),
            )
            for batch, build in batches:
                if until is None or not await repos.outbox.withdrawn_from(batch, user_id):
                    continue
                if build is _invitations and taking.started_at is not None:
                    continue  # begun (from their list): what they need is the reminder
                if build is _reminders and not reminded:
                    continue
                queued += await _queue(
                    env,
                    [user_id],
                    build(consultation, moment, env, until),
                    batch=batch,
                    now=now,
                    expires_at=until,
                )
    return queued


async def _remind_evaluation(env: Surroundings, consultation: Consultation, now: datetime) -> None:
    repos = env.repos
    async with repos.db.transaction():
        # A day before each person's own deadline, or before the closing time if that is
        # sooner.
        due = await repos.responses.remind_unfinished(
            consultation.id,
            now,
            due_before=days_later(now, REMIND_DAYS_BEFORE, env.timezone),
            closes_at=consultation.closes_at,
        )
        for moment, people in due.items():
            deadlines = await repos.responses.deadlines(consultation.id, moment, people)
            for deadline, ids in deadlines.items():
                until = consultation.answers_until(deadline)
                assert until is not None
                await _queue(
                    env,
                    ids,
                    _reminders(consultation, moment, env, until),
                    batch=reminders_batch(consultation.id, moment),
                    now=now,
                    expires_at=until,
                )
