"""The console: a terminal conversation with the bot on the local database.

Buttons print as numbered options; typing the number (or the label) presses one. Works with
piped standard input, so a conversation can be scripted, and ends cleanly at end of input
(after what is due for this person was printed) or at once on Ctrl-C. ``/foto PATH`` sends
a picture from a file, as a resident would from their phone. Delivery and the scheduler run
as on every platform: broadcasts, notices and answers for this person print when they come
due, also those that waited while their chat was closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

from bot.app import App
from bot.pacing import Pacing
from bot.platforms.base import Lost, RetryLater
from bot.render import numbered_lines
from handlers.contract import Event, Platform, Reply, Sender
from handlers.pictures import NOT_A_PICTURE, as_photo

PLATFORM = "console"
#: What the console offers: buttons are numbered options; it is always a private chat.
CONSOLE = Platform(name=PLATFORM, numbered_options=True)
MAX_PHOTO_BYTES = 10 * 1024 * 1024
#: Seconds a message for another console person waits before it is looked at again.
OTHERS_WAIT = 10.0
#: Seconds piped input waits at its end for what is due for this person to be printed.
SETTLE_WAIT = 5.0


def parse_line(line: str, name: str) -> Event:
    """One typed line as an Event from the local person ``name``."""
    sender = Sender(platform_user_id=name, display_name=name)
    text = line.rstrip("\r\n")
    stripped = text.strip()
    if stripped.startswith("/") and len(stripped) > 1 and not stripped.startswith("//"):
        command, _, args = stripped[1:].partition(" ")
        if command.lower() == "foto":
            return _photo_event(args.strip(), name, sender)
        return Event(
            platform=PLATFORM,
            chat_id=name,
            sender=sender,
            command=command.split("@")[0],
            args=args.strip(),
            written=text,
        )
    return Event(platform=PLATFORM, chat_id=name, sender=sender, text=text)


def _photo_event(path_text: str, name: str, sender: Sender) -> Event:
    path = Path(path_text).expanduser()
    try:
        data = path.read_bytes() if path.stat().st_size <= MAX_PHOTO_BYTES else b""
    except OSError:
        data = b""
    if not data:
        # Nothing to read: the handlers answer it like any unusable attachment.
        return Event(platform=PLATFORM, chat_id=name, sender=sender, unsupported="file")
    # Whatever the file is called, its content decides (the console is one local person:
    # checked here, on the loop).
    photo = as_photo(data, str(path))
    if photo is None:
        return Event(platform=PLATFORM, chat_id=name, sender=sender, unsupported=NOT_A_PICTURE)
    return Event(platform=PLATFORM, chat_id=name, sender=sender, photo=photo)


class Console:
    """Reads lines, hands them to the router, prints the replies; prints what delivery
    sends to the person at this terminal (broadcasts, notices, answers) when it comes due.

    It is an adapter like Telegram's: the runtime runs the same delivery worker and
    scheduler beside it. Rows for other console people stay in the outbox until they open
    their own chat (the database is shared, the terminal is not).
    """

    name = PLATFORM
    platform = CONSOLE

    def __init__(self, app: App, who: str, stdin: TextIO, stdout: TextIO):
        self.app = app
        app.router.declare(self.platform)
        self.who = who
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = stdin.isatty()
        self.pacing = Pacing(0)
        #: Never set: a terminal refuses nobody.
        self.lost = Lost()
        self._sent = 0
        self._prompting = False
        self._stop = asyncio.Event()

    # The conversation ----------------------------------------------------------------------

    async def run(self) -> None:
        """Converse until end of input or :meth:`interrupt` (Ctrl-C)."""
        if self.interactive:
            self._print(
                self.app.catalog.text(
                    self.app.settings.language, "console.intro", {"name": self.who}, markup=False
                )
            )
        await self._settle()  # what waited for this person comes first
        await self._resume(waited=self._sent > 0)
        lines = _Lines(self.stdin)
        while not self._stop.is_set():
            self._prompt()
            line = await self._next(lines)
            self._prompting = False
            if line is None:
                break
            if not self.interactive:
                self._print(f"> {line.rstrip()}")
            await self.app.router.handle(parse_line(line, self.who), self._deliver)
        if not self._stop.is_set():
            await self._settle()

    def interrupt(self) -> None:
        """Stop at once (Ctrl-C): the line being typed is dropped."""
        self._stop.set()

    async def _next(self, lines: _Lines) -> str | None:
        """The next line typed, or None at the end of input or on Ctrl-C."""
        reading = asyncio.ensure_future(lines.get())
        stopping = asyncio.ensure_future(self._stop.wait())
        done, _ = await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (reading, stopping):
            if task not in done:
                task.cancel()
        return reading.result() if reading in done else None

    async def _resume(self, *, waited: bool) -> None:
        """A person who comes back with a dialog open hears where they were; one who had
        messages waiting (``waited``) and no dialog hears where the menu is: the menu itself
        would number its options over theirs, and "2" must still answer the last of them."""
        async with self.app.db.committed():
            person = await self.app.repos.users.find(PLATFORM, self.who)
            dialog = await self.app.repos.dialogs.load(person.id) if person else None
        if dialog is None:
            if waited:
                lang = self.app.catalog.language(person.language if person else None)
                self._print(self.app.catalog.text(lang, "console.menu_hint", {}, markup=False))
            return
        sender = Sender(platform_user_id=self.who, display_name=self.who)
        event = Event(platform=PLATFORM, chat_id=self.who, sender=sender, button="resume")
        await self.app.router.handle(event, self._deliver)

    async def _settle(self) -> None:
        """At the end of piped input: wait (a little) for what is due for this person."""
        await self.app.router.drain()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SETTLE_WAIT):
                while True:
                    async with self.app.db.committed():
                        due = await self.app.repos.outbox.due_for_chat(
                            PLATFORM, self.who, self.app.router.clock()
                        )
                    if not due:
                        return
                    await asyncio.sleep(0.05)

    async def _deliver(self, event: Event, lang: str, replies: list[Reply]) -> None:
        self._show(lang, replies)

    # Delivery (the outbox) -----------------------------------------------------------------

    async def start(self) -> None:
        """The person at this terminal is here now: what waited for them goes now (another
        person's console held it back)."""
        async with self.app.db.transaction():
            await self.app.repos.outbox.release_chat(PLATFORM, self.who, self.app.router.clock())

    async def stop(self) -> None:
        """Nothing to disconnect."""

    async def send(
        self,
        chat_id: str,
        lang: str,
        replies: list[Reply],
        *,
        dedupe_key: str | None = None,
        skip: int = 0,
    ) -> str | None:
        """Print a message delivery sends, if it is for the person at this terminal (its
        options are numbered: delivery remembered them, so typing "1" chooses its first)."""
        if chat_id != self.who:
            raise RetryLater(OTHERS_WAIT, "for another console person")
        self._show(lang, replies[skip:])
        self._sent += 1
        return str(self._sent)

    async def edit(self, chat_id: str, message_id: str, lang: str, reply: Reply) -> None:
        """A terminal cannot change what it printed: print the new version."""
        await self.send(chat_id, lang, [reply])

    # Printing ------------------------------------------------------------------------------

    def _show(self, lang: str, replies: list[Reply]) -> None:
        """Print replies as plain text with numbered (or named) options."""
        for message, text, options in numbered_lines(
            self.app.catalog, lang, replies, markup=False
        ):
            block = [text]
            if message.photo_id is not None:
                block.append(f"[foto #{message.photo_id}]")
            if message.document is not None:
                block.append(self._save_document(message))
            if options:
                block.append(options)
            self._print("\n".join(block))
        self._prompt()

    def _save_document(self, message: Reply) -> str:
        document = message.document
        assert document is not None
        target = Path.cwd() / Path(document.filename).name
        target.write_bytes(document.data)
        return f"[{target.name}: {target}]"

    def _prompt(self) -> None:
        if self.interactive and not self._prompting and not self._stop.is_set():
            self.stdout.write("> ")
            self.stdout.flush()
            self._prompting = True

    def _print(self, text: str) -> None:
        if self._prompting:
            # Something arrived while the person was typing: on a line of its own.
            self.stdout.write("\n")
            self._prompting = False
        self.stdout.write(text + "\n\n")
        self.stdout.flush()


class _Lines:
    """Lines of a text stream, read on a thread of their own.

    A daemon thread, so Ctrl-C ends the chat at once: a thread blocked in ``readline``
    would otherwise keep the process alive until Enter is pressed.
    """

    def __init__(self, stream: TextIO):
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def read() -> None:
            while True:
                try:
                    line = stream.readline()
                except (OSError, ValueError):
                    line = ""
                loop.call_soon_threadsafe(self._queue.put_nowait, line or None)
                if not line:
                    return

        threading.Thread(target=read, name="console-input", daemon=True).start()

    async def get(self) -> str | None:
        return await self._queue.get()


def default_name() -> str:
    """The local person's name: the login name, else 'inwoner'."""
    try:
        return getpass.getuser() or "inwoner"
    except (KeyError, OSError):
        return "inwoner"


async def chat(app: App, who: str | None = None) -> None:
    """Run a console conversation on stdin/stdout, with delivery and the scheduler, until
    end of input or Ctrl-C."""
    from bot.runtime import Runtime

    console = Console(app, who or default_name(), sys.stdin, sys.stdout)
    runtime = Runtime(app, [console])
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, console.interrupt)
        loop.add_signal_handler(signal.SIGTERM, console.interrupt)
    except (NotImplementedError, RuntimeError):
        pass  # not on the main thread, or no signals here: Ctrl-C raises as usual
    await runtime.start()
    try:
        await console.run()
    finally:
        await runtime.stop()
