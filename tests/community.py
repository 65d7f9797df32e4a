"""Helpers for the community journeys: residents, civil servants, subscribers, timers."""

from __future__ import annotations

from bot.app import App
from handlers.contract import Role, Timer
from storage.users import User
from tests.support import Chat


async def resident(
    app: App, user_id: str, *, hood: str = "IJmuiden", language: str = "Nederlands"
) -> Chat:
    """Someone who went through onboarding."""
    person = Chat(app, user_id=user_id, name=user_id.title())
    await person.onboard(language=language, hood=hood)
    return person


async def civil_servant(app: App, user_id: str = "ria") -> Chat:
    """An onboarded person with the civil servant's role."""
    person = await resident(app, user_id)
    user = await stored(app, user_id)
    async with app.db.transaction():
        await app.repos.users.set_role(user.id, Role.CIVIL_SERVANT)
    return person


async def stored(app: App, user_id: str) -> User:
    """The users row of a test chat."""
    user = await app.repos.users.find("test", user_id)
    assert user is not None
    return user


async def subscribe(person: Chat) -> None:
    """Subscribe to "Wist je dat" with the buttons."""
    await person.send("/wistjedat")
    await person.press("Aanmelden")
    assert person.keys == ["news.subscribed"]


class TimerLog:
    """Stands in for the scheduler: records the timers the router would arm."""

    def __init__(self, app: App):
        self.armed: list[Timer] = []
        app.router.arm_timers = self._arm

    async def _arm(self, timers: list[Timer]) -> None:
        self.armed.extend(timers)
