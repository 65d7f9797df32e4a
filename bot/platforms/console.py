"""The console: a terminal conversation with the bot on the local database.

Buttons print as numbered options; typing the number (or the label) presses one. Works with
piped standard input, so a conversation can be scripted, and ends cleanly at end of input.
``/foto PATH`` sends a picture from a file, as a resident would from their phone.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from pathlib import Path
from typing import TextIO

from bot.app import App
from bot.render import numbered_lines
from handlers.contract import Event, Platform, Reply, Sender
from handlers.pictures import NOT_A_PICTURE, as_photo

PLATFORM = "console"
#: What the console offers: buttons are numbered options; it is always a private chat.
CONSOLE = Platform(name=PLATFORM, numbered_options=True)
MAX_PHOTO_BYTES = 10 * 1024 * 1024


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
    """Reads lines, hands them to the router, prints the replies."""

    name = PLATFORM
    platform = CONSOLE

    def __init__(self, app: App, who: str, stdin: TextIO, stdout: TextIO):
        self.app = app
        app.router.declare(self.platform)
        self.who = who
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = stdin.isatty()

    async def run(self) -> None:
        """Converse until end of input."""
        if self.interactive:
            self._print(
                self.app.catalog.text(
                    self.app.settings.language, "console.intro", {"name": self.who}, markup=False
                )
            )
        while True:
            if self.interactive:
                self.stdout.write("> ")
                self.stdout.flush()
            line = await asyncio.to_thread(self.stdin.readline)
            if not line:
                break
            if not self.interactive:
                self._print(f"> {line.rstrip()}")
            await self.app.router.handle(parse_line(line, self.who), self._deliver)

    async def _deliver(self, event: Event, lang: str, replies: list[Reply]) -> None:
        await self.send(event.chat_id, lang, replies)

    async def send(self, chat_id: str, lang: str, replies: list[Reply]) -> None:
        """Print replies as plain text with numbered options."""
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

    def _save_document(self, message: Reply) -> str:
        document = message.document
        assert document is not None
        target = Path.cwd() / Path(document.filename).name
        target.write_bytes(document.data)
        return f"[{target.name}: {target}]"

    def _print(self, text: str) -> None:
        self.stdout.write(text + "\n\n")
        self.stdout.flush()


def default_name() -> str:
    """The local person's name: the login name, else 'inwoner'."""
    try:
        return getpass.getuser() or "inwoner"
    except (KeyError, OSError):
        return "inwoner"


async def chat(app: App, who: str | None = None) -> None:
    """Run a console conversation on stdin/stdout."""
    await Console(app, who or default_name(), sys.stdin, sys.stdout).run()
