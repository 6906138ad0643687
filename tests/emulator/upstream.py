"""A container stand-in for the ingress tests: an aiohttp app on its own loop thread."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


class UpstreamServer:
    """Listens on ``ip``:``port`` (0: a free port, then in ``self.port``) until :meth:`stop`; a subclass
    adds its routes in :meth:`routes`."""

    def __init__(self, ip: str, port: int = 0) -> None:
        self.ip = ip
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner: web.AppRunner | None = None
        self.port = asyncio.run_coroutine_threadsafe(self._start(port), self.loop).result(10)

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def _start(self, port: int) -> int:
        app = web.Application()
        self.routes(app)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.ip, port).start()
        return self.runner.addresses[0][1]

    def stop(self) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
