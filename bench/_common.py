"""What the benchmarks share: simulated residents, idea texts, percentiles, printed figures.

Residents here talk to the router directly (no chat platform) and press buttons by their
payload, the way a person taps what they see: they only ever press buttons the bot offered.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.router import Router
from handlers.contract import Event, Reply, Sender

#: What ideas are about; drawn Zipf-like (the first ones most often), as in real texts.
_TOPICS = """
    speeltuin bankje bomen fietspad stoep verlichting parkeerplaats hondenpoep afval
    container strand duinen haven sluis pont markt bibliotheek buurthuis jongeren ouderen
    moestuin zwembad sportveld voetbal skatebaan wandelpad bloemen plantsoen water kunst
    muziek festival verkeer drempel oversteek school fiets bushalte zebrapad geluid
    zonnepanelen warmte buren koffie ochtend avond weekend zomer winter kinderen honden
    vogels bijen vlinders kerk dijk kade strandopgang boulevard rotonde kruispunt snelheid
    vrachtwagen scooter laadpaal deelauto deelfiets wateroverlast riool gracht vijver
    fontein standbeeld muurschildering graffiti zwerfvuil glasbak papierbak kledingbak
    bladkorf boom schaduw hitte regen wind storm energie isolatie woning huurhuis
    starterswoning mantelzorg eenzaamheid vrijwilligers buurtfeest straatfeest rommelmarkt
    repaircafe taalcafe huiswerkklas peuterspeelzaal sporthal tennisbaan atletiekbaan
    hardlooproute ommetje picknick barbecue watertappunt toilet invalidenparkeerplaats
    rolstoel stoeprand bankjes prullenbak
"""
TOPICS = _TOPICS.split()
#: Common words around the topics (not searched for: stop words of the search).
_FILLERS = """
    de het een en van in op bij voor met aan naar graag meer veel mooi fijn goed nieuw oud
    groot klein er is zijn wordt kan moet zou we ik je ze ons onze
"""
FILLERS = _FILLERS.split()


def _zipf(count: int) -> list[float]:
    return [1 / (rank + 1) for rank in range(count)]


#: Cumulative, as ``random.choices`` would sum them on every call: the same draws.
_TOPIC_CUMULATIVE = list(itertools.accumulate(_zipf(len(TOPICS))))


def _word(rng: random.Random) -> str:
    """A word of an idea: mostly fillers and common topics, sometimes a rare compound."""
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(FILLERS)
    if roll < 0.85:
        return rng.choices(TOPICS, cum_weights=_TOPIC_CUMULATIVE)[0]
    # Dutch glues nouns together: most of these compounds occur in only a few ideas.
    return rng.choice(TOPICS) + rng.choice(TOPICS)


def idea_title(rng: random.Random) -> str:
    """A short, plausible idea title (5 to 120 characters)."""
    topics = rng.choices(TOPICS, cum_weights=_TOPIC_CUMULATIVE, k=2)
    return f"Meer {topics[0]} bij de {topics[1]} in {_word(rng)}"[:120]


def idea_description(rng: random.Random) -> str:
    """A plausible idea description of a few sentences (20 to 2,000 characters)."""
    sentences = []
    for _ in range(rng.randint(2, 5)):
        words = [_word(rng) for _ in range(rng.randint(6, 16))]
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)[:2000]


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by the nearest-rank method; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def line(label: str, value: str) -> None:
    """Print one figure, aligned."""
    print(f"  {label:<44} {value}")


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


#: What an event said, as a resident records it: its text, command, args and button.
Said = tuple[str | None, str | None, str, str | None]


@dataclass
class Resident:
    """One simulated person talking to a router; remembers the buttons last offered.

    Every event it sends is recorded in ``sent`` (so the same stream can be replayed, see
    :meth:`replay`), and in ``timings`` when it was handed to the router and how long until
    its replies were delivered (seconds, from ``time.perf_counter``).

    Of an event only what it said is recorded (a tuple of strings, see :data:`Said`), and of
    the last replies only their keys and the payloads of their buttons are kept: a bot
    forgets an update once it has answered it, and tens of thousands of kept models would
    make every pass of the garbage collector walk them, pauses that are the benchmark's
    bookkeeping, not the bot's. (It once wrote each event out as JSON, about 15 µs an
    event counted on the side of the run that sent it, and read it back on the replay's.)
    """

    router: Router
    user_id: str
    timings: list[tuple[float, float]]
    platform: str = "bench"
    language: str = "nl"
    #: Seconds to wait before each event (a person reading and tapping); none by default.
    think: Callable[[], float] | None = None
    #: The keys of the last replies, and the payloads of the buttons they offered.
    keys: list[str] = field(default_factory=list)
    offered: list[str] = field(default_factory=list)
    sent: list[Said] = field(default_factory=list)

    def event(self, **content: object) -> Event:
        return Event(
            platform=self.platform,
            chat_id=self.user_id,
            sender=Sender(
                platform_user_id=self.user_id, display_name="Inwoner", language_hint=self.language
            ),
            received_at=datetime.now(UTC),
            **content,
        )

    async def handle(self, event: Event) -> list[Reply]:
        delivered: list[Reply] = []

        async def deliver(_: Event, __: str, replies: list[Reply]) -> None:
            delivered.extend(replies)

        if self.think is not None:
            await asyncio.sleep(self.think())
        self.sent.append((event.text, event.command, event.args, event.button))
        started = time.perf_counter()
        # Its own task, as a chat adapter hands over each update: it queues behind the
        # events that arrived before it, and that wait counts in its latency.
        await asyncio.create_task(self.router.handle(event, deliver))
        self.timings.append((started, time.perf_counter() - started))
        self.keys = [reply.key for reply in delivered]
        self.offered = [b.payload for reply in delivered for row in reply.buttons for b in row]
        return delivered

    async def replay(self, said: Said) -> list[Reply]:
        """Send again what another resident's recorded event said, built the same way."""
        text, command, args, button = said
        return await self.handle(self.event(text=text, command=command, args=args, button=button))

    async def text(self, text: str) -> list[Reply]:
        return await self.handle(self.event(text=text))

    async def command(self, name: str, args: str = "") -> list[Reply]:
        return await self.handle(self.event(command=name, args=args))

    async def payload(self, payload: str) -> list[Reply]:
        return await self.handle(self.event(button=payload))

    def payloads(self) -> list[str]:
        """The payloads of the buttons the last replies offered."""
        return list(self.offered)

    def find(self, wanted: Callable[[str], bool]) -> str | None:
        """The payload of the first offered button that ``wanted`` accepts."""
        return next((payload for payload in self.offered if wanted(payload)), None)

    async def press(self, wanted: Callable[[str], bool]) -> list[Reply]:
        """Press an offered button; a missing one is a bug in the scenario or the bot."""
        payload = self.find(wanted)
        if payload is None:
            raise AssertionError(f"{self.user_id}: no such button after {self.keys}")
        return await self.payload(payload)

    def reply_keys(self) -> list[str]:
        return list(self.keys)


def dialog_value(value: str) -> Callable[[str], bool]:
    """Matches a dialog button answering with ``value`` (``~token:value``)."""
    return lambda payload: payload.startswith("~") and payload.partition(":")[2] == value


def action(name: str) -> Callable[[str], bool]:
    """Matches a global button of action ``name`` (``name`` or ``name:...``)."""
    return lambda payload: payload == name or payload.startswith(f"{name}:")
