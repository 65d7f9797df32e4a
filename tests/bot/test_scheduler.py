"""The scheduler: a trigger only; jobs live in the database and survive a stopped bot.

The job kind here ("reminder") is defined by the test, with a table of its own, the way the
community feature's scheduled broadcasts use the scheduler.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.app import App
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from handlers.contract import Response, Role, Timer, respond
from handlers.feature import Context, Feature, Registry
from storage import Database
from storage.clock import iso, parse, utcnow
from tests.support import Chat
from tests.waiting import until


class Reminders:
    """A stored job kind: rows with a due time; running one marks it done."""

    def __init__(self, db: Database):
        self.db = db
        self.ran: list[str] = []

    async def create_table(self) -> None:
        await self.db.execute(
            "CREATE TABLE IF NOT EXISTS reminders"
            " (id INTEGER PRIMARY KEY, due_at TEXT NOT NULL, state TEXT NOT NULL)"
        )

    async def add(self, due: datetime, state: str = "pending") -> int:
        async with self.db.transaction():
            return await self.db.execute(
                "INSERT INTO reminders (due_at, state) VALUES (?, ?)", (iso(due), state)
            )

    async def cancel(self, reminder: int) -> None:
        async with self.db.transaction():
            await self.db.execute(
                "UPDATE reminders SET state = 'cancelled' WHERE id = ?", (reminder,)
            )

    async def run(self, key: str) -> None:
        async with self.db.transaction():
            changed = await self.db.execute_rowcount(
                "UPDATE reminders SET state = 'done' WHERE id = ? AND state = 'pending'",
                (int(key),),
            )
        if changed:
            self.ran.append(key)

    async def pending(self) -> list[tuple[int, datetime]]:
        rows = await self.db.fetchall(
            "SELECT id, due_at FROM reminders WHERE state = 'pending' ORDER BY id"
        )
        return [(row[0], parse(row[1])) for row in rows]  # type: ignore[misc]

    async def state(self, reminder: int) -> str:
        return str(await self.db.fetchval("SELECT state FROM reminders WHERE id = ?", (reminder,)))


async def _reminders(app: App) -> Reminders:
    reminders = Reminders(app.db)
    async with app.db.transaction():
        await reminders.create_table()
    return reminders


def _scheduler(reminders: Reminders) -> Scheduler:
    scheduler = Scheduler(retry_after=timedelta(milliseconds=100))
    scheduler.register("reminder", runner=reminders.run, pending=reminders.pending)
    return scheduler


async def test_a_job_that_came_due_while_the_bot_was_stopped_runs_at_start_up(app: App) -> None:
    reminders = await _reminders(app)
    now = utcnow()
    missed = await reminders.add(now - timedelta(hours=2))  # due while the bot was down
    later = await reminders.add(now + timedelta(milliseconds=800))
    cancelled = await reminders.add(now - timedelta(hours=1), state="cancelled")

    scheduler = _scheduler(reminders)
    await scheduler.start()
    try:
        assert set(scheduler.scheduled()) == {f"reminder:{missed}", f"reminder:{later}"}
        await until(lambda: str(missed) in reminders.ran)
        await until(lambda: str(later) in reminders.ran)
    finally:
        await scheduler.stop()
    assert reminders.ran == [str(missed), str(later)]
    assert await reminders.state(cancelled) == "cancelled"


async def test_a_disarmed_job_never_runs(app: App) -> None:
    reminders = await _reminders(app)
    scheduler = _scheduler(reminders)
    await scheduler.start()
    try:
        now = utcnow()
        dropped = await reminders.add(now + timedelta(milliseconds=600))
        kept = await reminders.add(now + timedelta(milliseconds=900))
        # Cancelled before it is armed and disarmed, with nothing awaited in between: on a
        # slow machine the commit could otherwise take longer than the job's 0.6 s.
        await reminders.cancel(dropped)
        await scheduler.arm(
            [
                Timer(job=f"reminder:{dropped}", at=now + timedelta(milliseconds=600)),
                Timer(job=f"reminder:{kept}", at=now + timedelta(milliseconds=900)),
            ]
        )
        assert f"reminder:{dropped}" in scheduler.scheduled()
        await scheduler.arm([Timer(job=f"reminder:{dropped}", at=None)])
        assert f"reminder:{dropped}" not in scheduler.scheduled()
        await until(lambda: str(kept) in reminders.ran)
    finally:
        await scheduler.stop()
    # Started again later: the cancelled one is not pending, so it is not armed either.
    again = _scheduler(reminders)
    await again.start()
    try:
        assert again.scheduled() == {}
    finally:
        await again.stop()
    assert reminders.ran == [str(kept)]
    assert await reminders.state(dropped) == "cancelled"


async def test_arming_again_moves_a_job_instead_of_adding_one(app: App) -> None:
    reminders = await _reminders(app)
    scheduler = _scheduler(reminders)
    await scheduler.start()
    try:
        now = utcnow()
        job = await reminders.add(now + timedelta(hours=1))
        await scheduler.arm([Timer(job=f"reminder:{job}", at=now + timedelta(hours=1))])
        await scheduler.arm([Timer(job=f"reminder:{job}", at=now + timedelta(milliseconds=50))])
        assert list(scheduler.scheduled()) == [f"reminder:{job}"]
        await until(lambda: reminders.ran == [str(job)])
    finally:
        await scheduler.stop()


async def test_a_failing_job_is_tried_again(app: App) -> None:
    reminders = await _reminders(app)
    failures = [RuntimeError("database busy")]

    async def flaky(key: str) -> None:
        if failures:
            raise failures.pop()
        await reminders.run(key)

    scheduler = Scheduler(retry_after=timedelta(milliseconds=50))
    scheduler.register("reminder", runner=flaky, pending=reminders.pending)
    job = await reminders.add(utcnow() - timedelta(minutes=1))
    await scheduler.start()
    try:
        await until(lambda: reminders.ran == [str(job)])
    finally:
        await scheduler.stop()


async def test_jobs_that_could_not_be_listed_at_start_up_are_armed_a_little_later(
    app: App,
) -> None:
    reminders = await _reminders(app)
    failures = [RuntimeError("database is locked")]

    async def flaky() -> list[tuple[int, datetime]]:
        if failures:
            raise failures.pop()
        return await reminders.pending()

    scheduler = Scheduler(retry_after=timedelta(milliseconds=50))
    scheduler.register("reminder", runner=reminders.run, pending=flaky)
    job = await reminders.add(utcnow() - timedelta(minutes=1))  # due while the bot was down
    await scheduler.start()
    try:
        await until(lambda: reminders.ran == [str(job)])
    finally:
        await scheduler.stop()
    assert failures == []


def _reminder_feature(reminders: Reminders) -> Feature:
    feature = Feature("reminders")

    @feature.command("herinner", consent=False, role=Role.RESIDENT)
    async def remind(ctx: Context) -> Response:
        due = ctx.now + timedelta(milliseconds=int(ctx.value))
        reminder = await ctx.repos.db.execute(
            "INSERT INTO reminders (due_at, state) VALUES (?, 'pending')", (iso(due),)
        )
        return respond(timers=[Timer(job=f"reminder:{reminder}", at=due)])

    return feature


async def test_a_handlers_timer_is_armed_by_the_running_bot_and_survives_a_restart(
    app: App,
) -> None:
    from handlers import FEATURES

    reminders = await _reminders(app)
    app.router.registry = Registry([*FEATURES, _reminder_feature(reminders)])
    anna = Chat(app, "anna")

    runtime = Runtime(app, adapters=[])
    runtime.scheduler.register("reminder", runner=reminders.run, pending=reminders.pending)
    await runtime.start()
    try:
        await anna.send("/herinner 100")
        await until(lambda: reminders.ran == ["1"])
        await anna.send("/herinner 3600000")  # an hour from now
        assert "reminder:2" in runtime.scheduler.scheduled()
    finally:
        await runtime.stop()
    assert app.router.arm_timers is None

    # A new process: the job an hour away is armed again from the database.
    restarted = Runtime(app, adapters=[])
    restarted.scheduler.register("reminder", runner=reminders.run, pending=reminders.pending)
    await restarted.start()
    try:
        armed = [job for job in restarted.scheduler.scheduled() if job.startswith("reminder:")]
        assert armed == ["reminder:2"]
    finally:
        await restarted.stop()
