"""`make run`: Temporal dev server, database with demo data, then the worker
(`python worker.py`) and the API (`python -m api`) as child processes.

Ctrl-C or SIGTERM stops the API, then the worker, then
Temporal. The children run in sessions of their own with a death signal: a terminal's
Ctrl-C reaches only the CLI, and none of them outlives it. State lives under var/
(temporal.db, servflow.db), so a second run finds the orders of the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, NoReturn

import httpx

from servflow.cli.common import ROOT, VAR, say
from servflow.cli.demo import cmd_load_demo
from servflow.cli.devserver import DevServer, port_open
from servflow.cli.orders import run_demo_orders
from servflow.cli.processes import start_child, stop_child
from servflow.platform.settings import Settings

WORKER = ROOT / "worker.py"
API_LOG = VAR / "api.log"


def child_env(settings: Settings) -> dict[str, str]:
    """This environment with every setting as its SERVFLOW_* variable, so that the worker
    and the API use what the CLI resolved (the embedded Temporal, the same database)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for name, value in settings.model_dump().items():
        env[f"SERVFLOW_{name.upper()}"] = str(value)
    return env


def demo_env(settings: Settings) -> dict[str, str]:
    """`child_env` of `make run`'s worker and API: they run the demo, so they accept its
    published credentials and generate their secrets under var/ (nothing else does)."""
    return child_env(settings.model_copy(update={"demo": True}))


def cmd_worker(_settings: Settings) -> NoReturn:
    """Becomes `python worker.py` (settings from the same SERVFLOW_* variables)."""
    os.execv(sys.executable, [sys.executable, str(WORKER)])  # noqa: S606


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


def _relay_api_output(stream: IO[bytes], log_path: Path) -> None:
    """Every line the API prints goes to var/api.log; the terminal gets all but uvicorn's
    INFO lines (one per request), so warnings and tracebacks still show where they did."""
    with log_path.open("ab") as log:
        for line in stream:
            log.write(line)
            log.flush()
            if not line.startswith(b"INFO:"):
                sys.stdout.buffer.write(line)
                sys.stdout.flush()


def _start_api(env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    api = start_child([sys.executable, "-m", "api"], env=env, stdout=subprocess.PIPE)
    assert api.stdout is not None
    relay = threading.Thread(target=_relay_api_output, args=(api.stdout, API_LOG), daemon=True)
    relay.start()
    return api


async def _wait_for_api(base: str, api: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Returns once the API answers; raises RuntimeError if it exits or is too slow."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=2) as http:
        while True:
            if api.poll() is not None:
                raise RuntimeError(f"the API exited with {api.returncode} (see {API_LOG})")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/docs")).status_code < 500:
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the API did not answer at {base} in {timeout:.0f} s")
            await asyncio.sleep(0.2)


def _print_banner(settings: Settings, base: str) -> None:
    say("")
    say("servflow is running")
    say(f"    API docs     {base}/docs")
    say(f"    designer     {base}/designer")
    say(f"    Temporal UI  {settings.temporal_ui_url}")
    say("    logins       designer, hq_admin, engineer_bj_01, ... (password demo1234)")
    say("                 API key sfk_demo_api_client_0000000000000000 (header X-API-Key)")
    say(f"    logs         {API_LOG.relative_to(ROOT)} (API requests), var/temporal.log")
    say("Press Ctrl-C to stop.")
    say("")


async def _until_stopped(stop: asyncio.Event, children: dict[str, subprocess.Popen[bytes]]) -> int:
    """0 once `stop` is set; 1 as soon as a child exits on its own."""
    while not stop.is_set():
        for name, child in children.items():
            if child.poll() is not None:
                say(f"==> the {name} exited with {child.returncode}")
                return 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    return 0


async def _serve(settings: Settings, children: dict[str, subprocess.Popen[bytes]]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    base = f"http://{settings.api_host}:{settings.api_port}"
    await _wait_for_api(base, children["API"])
    _print_banner(settings, base)
    demo = asyncio.create_task(run_demo_orders(base))
    code = await _until_stopped(stop, children)
    demo.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await demo
    return code


def _stopping(name: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    say(f"==> stopping the {name}")
    stop_child(process, timeout)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_platform(settings: Settings) -> int:
    """Runs everything until Ctrl-C or SIGTERM; the exit stack stops in reverse order of
    start: API, worker, Temporal."""
    VAR.mkdir(exist_ok=True)
    # Until the event loop takes over, SIGTERM unwinds like Ctrl-C, so the stop is ordered.
    signal.signal(signal.SIGTERM, _interrupt)
    code = 0
    try:
        with contextlib.ExitStack() as running:
            server = _embedded_temporal(settings)
            if server is not None:
                running.callback(server.stop)
                running.callback(say, "==> stopping Temporal")
            cmd_load_demo(settings)
            env = demo_env(settings)
            say(f"==> starting the worker ({WORKER.name}) and the API (python -m api)")
            worker = start_child([sys.executable, str(WORKER)], env=env)
            running.callback(_stopping, "worker", worker, 60)
            api = _start_api(env)
            running.callback(_stopping, "API", api, 20)
            code = asyncio.run(_serve(settings, {"API": api, "worker": worker}))
    except KeyboardInterrupt:
        code = 130
    except RuntimeError as exc:
        say(f"servflow could not run: {exc}")
        code = 1
    say("stopped")
    return code
