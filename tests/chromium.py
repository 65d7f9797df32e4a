"""A headless Chromium (Debian's ``chromium``) driven over the DevTools protocol, to look at a
page the way a person's browser shows it: the text they see, the layout on a phone's width,
the colours after CSS.

    async with Browser.start(tmp_path) as browser:
        page = await browser.open(path_to_html, width=375)
        text = await page.evaluate("document.body.innerText")

Only the standard library and aiohttp (a dependency already) talk to it. Each browser gets
a fresh profile folder and switches off everything that reaches the network by itself.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.waiting import until

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Containers often have a small /dev/shm; Chromium then crashes on bigger pages.
    "--disable-dev-shm-usage",
    "--no-default-browser-check",
    "--disable-extensions",
    "--mute-audio",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
#: Seconds to wait for Chromium to start or a page to load: generous for a busy machine.
PATIENCE = 60.0


def file_url(path: Path) -> str:
    """The ``file://`` address of a local file."""
    return path.resolve().as_uri()


def executable() -> str | None:
    """Chromium's path, or None where it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One tab, reached over its DevTools web socket."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse):
        self._socket = socket
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and wait for its answer (events are kept meanwhile)."""
        number = next(self._ids)
        await self._socket.send_json({"id": number, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self._socket.receive(), PATIENCE)
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"DevTools closed: {message.type}")
            data = json.loads(message.data)
            if data.get("id") == number:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                result: dict[str, Any] = data.get("result", {})
                return result
            if "method" in data:
                self._events.append(data)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (as JSON would carry it)."""
        answer = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def goto(self, path: Path, *, width: int, height: int = 900) -> None:
        """Show a local file at a screen of this size (a phone is about 375 wide)."""
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        url = file_url(path)
        await self.call("Page.navigate", url=url)
        await until(
            lambda: self._ready(url),
            timeout=PATIENCE,
            what=f"{path.name} to load",
        )

    async def _ready(self, url: str) -> bool:
        state = await self.evaluate("[document.readyState, location.href]")
        return bool(state == ["complete", url])

    async def screenshot(self, out: Path) -> None:
        """What the screen shows of the page, as a PNG."""
        shot = await self.call("Page.captureScreenshot", format="png")
        await asyncio.to_thread(out.write_bytes, base64.b64decode(shot["data"]))

    async def key(self, name: str) -> None:
        """Press a key such as Tab, as a keyboard user does."""
        code = {"Tab": 9, "Enter": 13}[name]
        for kind in ("keyDown", "keyUp"):
            await self.call(
                "Input.dispatchKeyEvent",
                type=kind,
                key=name,
                code=name,
                windowsVirtualKeyCode=code,
                nativeVirtualKeyCode=code,
            )


class Browser:
    """A headless Chromium process with one tab."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        session: aiohttp.ClientSession,
        page: Page,
    ):
        self.process = process
        self.session = session
        self.page = page

    @classmethod
    @asynccontextmanager
    async def start(cls, profile: Path) -> AsyncIterator[Browser]:
        """Chromium with a new profile folder in ``profile``, closed again afterwards."""
        binary = executable()
        if binary is None:
            raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
        await asyncio.to_thread(profile.mkdir, parents=True, exist_ok=True)
        process = await asyncio.create_subprocess_exec(
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        session = aiohttp.ClientSession()
        try:
            # Chromium writes the port it chose into the profile folder once it listens.
            port_file = profile / "DevToolsActivePort"
            await until(port_file.is_file, timeout=PATIENCE, what="chromium to start")
            await until(
                lambda: len(port_file.read_text().splitlines()) >= 2,
                timeout=PATIENCE,
                what="chromium to write its port",
            )
            port = int(port_file.read_text().splitlines()[0])

            async def tabs() -> list[dict[str, Any]]:
                async with session.get(f"http://127.0.0.1:{port}/json/list") as answer:
                    targets: list[dict[str, Any]] = await answer.json()
                return [t for t in targets if t["type"] == "page"]

            (tab,) = await until(tabs, timeout=PATIENCE, what="chromium's first tab")
            socket = await session.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=0)
            try:
                yield cls(process, session, Page(socket))
            finally:
                await socket.close()
        finally:
            await session.close()
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), PATIENCE)
                except TimeoutError:
                    process.kill()
                    await process.wait()
