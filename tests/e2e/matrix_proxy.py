"""A loopback HTTP proxy between the bot and the test Synapse, for what Synapse will not do
on request: be unreachable for a while, or answer a sync with something malformed.

Every request is passed on to Synapse unchanged, except ``/sync`` while a test says
otherwise: :meth:`SyncProxy.cut` drops the connection of each sync (the homeserver is
down), :meth:`SyncProxy.garble` answers the next syncs with the given bodies instead.
The proxy lists the syncs it saw (their ``since`` tokens) so a test can wait for them.

Usage::

    async with SyncProxy(synapse.base_url) as proxy:
        settings = await bot_settings(synapse, folder, homeserver=proxy.url)
        proxy.cut()
        await proxy.wait_for_syncs(3)
        proxy.mend()
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import ClientSession, web

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class SyncProxy:
    """Passes requests to ``upstream``; syncs can be cut or answered with garbage."""

    upstream: str
    url: str = ""
    #: The ``since`` token of every sync request seen, and whether it was passed on.
    syncs: list[tuple[str | None, bool]] = field(default_factory=list)
    _cut: bool = False
    _garbage: list[tuple[int, bytes]] = field(default_factory=list)
    _seen: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None
    _session: ClientSession | None = None

    async def __aenter__(self) -> SyncProxy:
        self._session = ClientSession()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._pass)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def cut(self) -> None:
        """From now on every sync's connection is dropped, as by a homeserver that is down."""
        self._cut = True

    def mend(self) -> None:
        """Syncs reach Synapse again."""
        self._cut = False

    def garble(self, *bodies: tuple[int, bytes]) -> None:
        """Answer the next syncs with these (status, body) pairs instead of Synapse's."""
        self._garbage.extend(bodies)

    async def wait_for_syncs(self, count: int) -> None:
        """Wait until ``count`` syncs have been seen in all (a minute and a half at most)."""
        async with asyncio.timeout(90), self._seen:
            await self._seen.wait_for(lambda: len(self.syncs) >= count)

    async def _pass(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.path.endswith("/sync"):
            passed = not self._cut and not self._garbage
            async with self._seen:
                self.syncs.append((request.query.get("since"), passed))
                self._seen.notify_all()
            if self._cut:
                assert request.transport is not None
                request.transport.close()  # the client sees the connection drop
                return web.Response(status=502)
            if self._garbage:
                status, garbage = self._garbage.pop(0)
                return web.Response(status=status, body=garbage, content_type="application/json")
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with self._session.request(
            request.method,
            f"{self.upstream}{request.path_qs}",
            data=body,
            headers=headers,
            timeout=None,
        ) as answer:
            content = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
            return web.Response(status=answer.status, body=content, headers=kept)
