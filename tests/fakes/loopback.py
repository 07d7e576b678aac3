"""What every fake server of the tests (Bot API, Graph API) stands on: a Starlette app served
by uvicorn on 127.0.0.1 (a free port) inside the running event loop, and a change signal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette


class EmbeddedServer(uvicorn.Server):
    """uvicorn server that signals readiness, leaves the process' signal handlers alone and
    stops in milliseconds (uvicorn's own loop polls every 0.1 s and sleeps 0.1 s on shutdown,
    which adds up over a test suite starting one fake per test)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self.exit_requested = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    async def main_loop(self) -> None:
        await self.on_tick(0)
        await self.exit_requested.wait()

    async def shutdown(self, sockets: Any = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2.0
        # uvicorn offers no event for "all connections closed": poll briefly.
        while (self.server_state.connections or self.server_state.tasks) and (  # noqa: ASYNC110
            loop.time() < deadline and not self.force_exit
        ):
            await asyncio.sleep(0.005)
        for task in list(self.server_state.tasks):
            task.cancel()


class LoopbackServer:
    """Serves `app` on 127.0.0.1 (started in at most 5 s, stopped in milliseconds)."""

    def __init__(self, app: Starlette, name: str) -> None:
        self.app = app
        self.name = name
        self.port: int | None = None
        self._server: EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._task is not None

    async def start(self) -> int:
        """Bind a free port and serve; the port."""
        if self._task is not None:
            raise RuntimeError(f"{self.name} already started")
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            log_config=None,
            access_log=False,
            lifespan="off",
            http="h11",
            timeout_graceful_shutdown=2,
        )
        server = EmbeddedServer(config)
        self._server = server

        async def serve() -> None:
            try:
                await server.serve()
            except SystemExit as exc:  # uvicorn calls sys.exit() when startup fails
                raise RuntimeError(f"uvicorn failed to start (exit code {exc.code})") from None

        self._task = asyncio.create_task(serve(), name=f"{self.name}.serve")
        ready_task = asyncio.create_task(server.ready.wait())
        try:
            await asyncio.wait(
                {self._task, ready_task}, timeout=5, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready_task.cancel()
        if not server.ready.is_set():
            task, self._task = self._task, None
            if task.done():
                task.result()  # re-raise the startup error
            task.cancel()
            raise RuntimeError(f"{self.name} did not start within 5 s")
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop serving; bounded to a few seconds."""
        task, server = self._task, self._server
        self._task = None
        if task is None or server is None:
            return
        server.should_exit = True
        server.exit_requested.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=5)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=1)


class Signal:
    """Broadcast "something changed" notification (sync ``notify``, async ``wait``)."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the next :meth:`notify`; return ``False`` on timeout."""
        loop = asyncio.get_running_loop()
        if self._event is None or self._loop is not loop:
            self._event, self._loop = asyncio.Event(), loop
        event = self._event
        try:
            async with asyncio.timeout(max(seconds, 0.0)):
                await event.wait()
        except TimeoutError:
            return False
        return True
