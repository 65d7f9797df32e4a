"""Make docs/public-site.png, the README's picture of the public site's index page.

    .venv/bin/python docs/screenshot.py

A demo database in a temporary folder gets a few ideas, statuses, an experiment's
participants and a "Wist je dat" update, `samenspel export-open-data` writes the site, and
headless Chromium (Debian's ``chromium``) photographs index.html at a laptop's width.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.admin.cli import main  # noqa: E402
from bot.app import App  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.clock import utcnow  # noqa: E402
from storage.ideas.ideas import IdeaStatus  # noqa: E402
from storage.news.broadcasts import Audience, AudienceKind  # noqa: E402
from storage.users import Role  # noqa: E402
from tests.chromium import Browser  # noqa: E402

IDEAS = (
    ("verkeer", "Een zebrapad bij de Lange Nieuwstraat", IdeaStatus.FORWARDED),
    ("cultuur-natuur", "Meer bankjes in het Velserbeekpark", IdeaStatus.QUICK_WIN),
    ("duurzaamheid", "Zonnepanelen op het dak van sporthal Zeewijk", IdeaStatus.ADOPTED),
)
REASONS: dict[IdeaStatus, tuple[str, dict[str, str]]] = {
    IdeaStatus.FORWARDED: (
        "De afdeling Openbare ruimte kijkt naar de oversteek.",
        {"department": "openbare-ruimte"},
    ),
    IdeaStatus.QUICK_WIN: ("Dit kan snel: we zetten er deze zomer drie neer.", {}),
    IdeaStatus.ADOPTED: ("Past bij het thema klimaat van de agenda.", {"theme": "klimaat"}),
}


async def demo(db: Path) -> None:
    app = await App.open(Settings(_env_file=None, db=db))  # type: ignore[call-arg]
    repos, now = app.repos, utcnow() - timedelta(days=10)
    try:
        async with app.db.transaction():
            people = []
            for n in range(5):
                user = await repos.users.seen("console", f"demo{n}", now)
                await repos.users.give_consent(user.id, f"demo{n}", f"Demo {n}", now)
                people.append(user.id)
            [playground, *_] = await repos.experiments.running()
            for person in people[:3]:
                await repos.experiments.join(playground.id, person, now)
            for n, (category, title, status) in enumerate(IDEAS):
                idea = await repos.ideas.create(
                    category=category,
                    title=title,
                    description=f"{title}: dat maakt de buurt veiliger en gezelliger.",
                    neighbourhood="ijmuiden" if n % 2 else None,
                    photo_id=None,
                    author_user_id=people[n],
                    now=now + timedelta(days=n),
                )
                for supporter in people[: 4 - n]:
                    if supporter != people[n]:
                        await repos.ideas.support(idea.id, supporter, now)
                reason, extra = REASONS[status]
                await repos.ideas.set_status(
                    idea.id, status, now=now + timedelta(days=n + 3), reason=reason, **extra
                )
            text = "Wist je dat er sinds deze maand een BBQ-plek is bij het strand van IJmuiden?"
            await repos.users.set_role(people[4], Role.CIVIL_SERVANT)  # who may write one
            draft = await repos.broadcasts.save_draft(
                people[4],
                text=text,
                photo_id=None,
                audience=Audience(kind=AudienceKind.ALL),
                payload=[{"key": "news.item", "params": {"text": text}}],
                now=now,
            )
            await repos.broadcasts.release(draft, now + timedelta(days=8))
    finally:
        await app.close()


async def photograph(site: Path, out: Path, profile: Path) -> None:
    async with Browser.start(profile) as browser:
        await browser.page.goto(site / "index.html", width=900, height=2000)
        await browser.page.screenshot(out)


def run() -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        asyncio.run(demo(work / "demo.db"))
        os.environ["SAMENSPEL_DB"] = str(work / "demo.db")
        assert main(["export-open-data", "--out", str(work / "site")]) == 0
        asyncio.run(photograph(work / "site", ROOT / "docs" / "public-site.png", work / "chr"))
    print("docs/public-site.png written")


if __name__ == "__main__":
    run()
