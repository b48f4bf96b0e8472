"""`make run`: Temporal dev server, database with demo data, worker and API in one command.

Ctrl-C stops the API, then the worker (letting running activities finish), then Temporal.
State lives under var/ (temporal.db, servflow.db), so a second run finds the orders of the
first.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from typing import Any

from servflow.cli.devserver import DevServer, port_open
from servflow.cli.main import VAR, cmd_load_demo, say
from servflow.platform.settings import Settings


class _ApiServer:
    """uvicorn inside our event loop, stopped by us rather than by its own signal handlers."""

    def __init__(self, app: Any, settings: Settings) -> None:
        import uvicorn

        config = uvicorn.Config(
            app, host=settings.api_host, port=settings.api_port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.server.capture_signals = _no_signal_capture  # type: ignore[method-assign]

    async def serve(self) -> None:
        await self.server.serve()

    def stop(self) -> None:
        self.server.should_exit = True


@contextlib.contextmanager
def _no_signal_capture() -> Iterator[None]:
    yield


def _embedded_temporal(settings: Settings) -> DevServer | None:
    host, _, port_text = settings.temporal_address.rpartition(":")
    port = int(port_text)
    if host not in ("localhost", "127.0.0.1"):
        say(f"==> using Temporal at {settings.temporal_address}")
        return None
    if port_open("127.0.0.1", port):
        say(f"==> a Temporal server already listens on {port}: using it")
        return None
    server = DevServer(
        db_file=VAR / "temporal.db", port=port, ui_port=port + 1000, log_file=VAR / "temporal.log"
    )
    say(
        f"==> starting Temporal dev server on {port}"
        " (state in var/temporal.db, log var/temporal.log)"
    )
    server.start()
    return server


async def _serve(settings: Settings) -> None:
    from activities.registry import ActivityDeps, build_activities
    from api.main import create_app
    from servflow.cli.orders import run_demo_orders
    from servflow.platform.db import make_engine, make_session_factory
    from worker import build_worker, connect

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    client = await connect(settings)
    worker = build_worker(
        client,
        task_queue=settings.task_queue,
        activities=build_activities(ActivityDeps(session_factory=session_factory)),
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_cached_workflows=settings.worker_max_cached_workflows,
    )
    api = _ApiServer(
        create_app(settings, session_factory=session_factory, temporal_client=client), settings
    )
    async with worker:
        api_task = asyncio.create_task(api.serve())
        while not api.server.started:
            if api_task.done():
                await api_task  # raises why it could not start (e.g. the port is taken)
                return
            await asyncio.sleep(0.05)
        base = f"http://{settings.api_host}:{settings.api_port}"
        say("")
        say("servflow is running")
        say(f"    API docs     {base}/docs")
        say(f"    designer     {base}/designer")
        say(f"    Temporal UI  {settings.temporal_ui_url}")
        say("    logins       designer, hq_admin, engineer_bj_01, ... (password demo1234)")
        say("                 API key sfk_demo_api_client_0000000000000000 (header X-API-Key)")
        say("Press Ctrl-C to stop.")
        say("")
        demo = asyncio.create_task(run_demo_orders(base))
        await stop.wait()
        say("==> stopping: API, then worker")
        demo.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await demo
        api.stop()
        await api_task
    engine.dispose()


def run_platform(settings: Settings) -> int:
    VAR.mkdir(exist_ok=True)
    server = _embedded_temporal(settings)
    try:
        cmd_load_demo(settings)
        asyncio.run(_serve(settings))
    finally:
        if server is not None:
            say("==> stopping Temporal")
            server.stop()
    say("stopped")
    return 0
