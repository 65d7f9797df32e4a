"""Every step a civil servant takes with a "Wist je dat" lands in the audit log: sent,
scheduled, moved, cancelled; with who it is for and how many, never its text."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.app import App
from storage.clock import iso, parse, utcnow
from tests.handlers.news.test_composer import _last_broadcast, _schedule, _town, _write
from tests.people import civil_servant, row

TEXT = "Wist je dat we 12 nieuwe bankjes plaatsen?"


async def _logged(app: App, broadcast_id: int) -> list[tuple[str, int | None, dict[str, object]]]:
    return [
        (entry.action, entry.actor_user_id, entry.detail)
        for entry in await app.repos.audit.about(f"broadcast:{broadcast_id}")
    ]


async def _no_text_in_the_log(app: App) -> None:
    rows = await app.db.fetchall("SELECT * FROM audit_log")
    assert rows and not any("bankjes" in json.dumps(list(r)) for r in rows)


async def test_sending_a_broadcast_now_is_in_the_audit_log(app: App) -> None:
    await _town(app)
    ria = await civil_servant(app)
    await _write(ria)
    await ria.press("Eén wijk")
    await ria.press("IJmuiden")
    await ria.press("Nu versturen")
    assert ria.keys == ["composer.sent"]
    ria_id = (await row(app, ria)).id
    broadcast_id = await _last_broadcast(app)
    assert await _logged(app, broadcast_id) == [
        (
            "broadcast.send",
            ria_id,
            {"audience": "neighbourhood", "audience_value": "ijmuiden", "recipients": 2},
        )
    ]
    await _no_text_in_the_log(app)


async def test_scheduling_moving_and_cancelling_a_broadcast_are_in_the_audit_log(
    app: App,
) -> None:
    await _town(app)
    ria = await civil_servant(app)
    ria_id = (await row(app, ria)).id
    broadcast_id = await _schedule(app, ria, days=2)
    first = await app.repos.broadcasts.get(broadcast_id)
    assert first is not None and first.scheduled_at is not None
    await ria.send("/gepland")
    await ria.press("Ander moment")
    moved = (utcnow() + timedelta(days=5)).astimezone(app.settings.zone)
    moved = moved.replace(hour=14, minute=30, second=0, microsecond=0)
    await ria.send(moved.strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["composer.moved"]
    await ria.send("/gepland")
    await ria.press("Annuleren")
    await ria.press("Ja, annuleren")
    assert ria.keys == ["composer.cancelled"]
    everyone = {"audience": "all", "audience_value": None}
    logged = await _logged(app, broadcast_id)
    assert logged == [
        (
            "broadcast.schedule",
            ria_id,
            {**everyone, "at": iso(first.scheduled_at), "audience_size": 2},
        ),
        (
            "broadcast.move",
            ria_id,
            {
                **everyone,
                "at": iso(moved),
                "previous": iso(first.scheduled_at),
                "audience_size": 2,
            },
        ),
        ("broadcast.cancel", ria_id, {**everyone, "scheduled_at": iso(moved)}),
    ]
    assert parse(str(logged[1][2]["at"])) == moved
    await _no_text_in_the_log(app)
    # Only what happened is logged: an old cancel button changes and logs nothing.
    await ria.press_payload(f"sched.drop:{broadcast_id}")
    assert ria.keys == ["composer.not_scheduled"]
    assert len(await _logged(app, broadcast_id)) == 3


async def test_a_civil_servants_introduction_is_in_the_audit_log(app: App) -> None:
    ria = await civil_servant(app)
    await ria.send("/voorstellen")
    await ria.send("Ria de Vries")
    await ria.press("Openbare ruimte")
    await ria.send("Ik zorg voor de parken en de bankjes.")
    await ria.press("Zonder foto")
    await ria.press("Opslaan")
    assert ria.keys[-1] == "staff.saved"
    ria_id = (await row(app, ria)).id
    [entry] = await app.repos.audit.about_user(ria_id)
    assert (entry.action, entry.actor_user_id) == ("staff.introduce", ria_id)
    assert entry.detail == {"photo": False, "department": "openbare-ruimte"}
