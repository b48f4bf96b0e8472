"""`make run`: Temporal dev server, database with demo data, then the worker
(`python worker.py`) and the API (`python -m api`) as child processes.

Ctrl-C or SIGTERM stops the API, then the worker, then
Temporal. The children run in sessions of their own with a death signal: a terminal's
Ctrl-C reaches only the CLI, and none of them outlives it. State lives under var/
(temporal.db, servflow.db), so a second run finds the orders of the first.
"""

from __future__ import annotations

import argparse
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
from servflow.cli.demo import HISTORY_LOG, cmd_load_demo, start_history
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
    access lines (one per request, in either log format), so warnings and tracebacks still
    show where they did."""
    with log_path.open("ab") as log:
        for line in stream:
            log.write(line)
            log.flush()
            if not (line.startswith(b"INFO:") or b" INFO uvicorn.access " in line[:80]):
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
    apis = [child for name, child in children.items() if name.startswith("API")]
    for i, api in enumerate(apis):
        await _wait_for_api(f"http://{settings.api_host}:{settings.api_port + i}", api)
    _print_banner(settings, base)
    if len(apis) > 1:
        last = settings.api_port + len(apis) - 1
        say(f"    API replicas ports {settings.api_port}-{last} (one store, one Temporal)")
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


def _count(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 32:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and 32")
    return value


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """`servflow run`'s scale-out flags: N workers and M API replicas against one Temporal."""
    parser.add_argument(
        "--workers", type=_count, default=1, help="worker processes on the one task queue"
    )
    parser.add_argument(
        "--apis", type=_count, default=1, help="API replicas, on api_port, api_port+1, ..."
    )


def replica_envs(
    env: Mapping[str, str], settings: Settings, *, workers: int, apis: int
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Each worker's and each API replica's environment. Replicas differ only in what must
    not be shared: an API's port, a worker's metrics port; and only the first worker runs
    the reconciler (one is enough, and they would repair the same orders at once)."""
    worker_envs = []
    for i in range(workers):
        own = dict(env)
        if i and settings.worker_metrics_address:
            host, _, port = settings.worker_metrics_address.rpartition(":")
            own["SERVFLOW_WORKER_METRICS_ADDRESS"] = f"{host}:{int(port) + i}"
        if i:
            own["SERVFLOW_RECONCILE_EVERY_SECONDS"] = "0"
        worker_envs.append(own)
    api_envs = [dict(env, SERVFLOW_API_PORT=str(settings.api_port + i)) for i in range(apis)]
    return worker_envs, api_envs


def run_platform(settings: Settings, *, workers: int = 1, apis: int = 1) -> int:
    """Runs everything until Ctrl-C or SIGTERM; the exit stack stops in reverse order of
    start: the APIs, the workers, Temporal. `workers` and `apis` > 1: the scale-out shape
    (meant for PostgreSQL; on SQLite every process shares one file)."""
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
            history = start_history(demo_env(settings))
            running.callback(stop_child, history, 10)
            say(f"==> writing the demo history in the background (progress in {HISTORY_LOG})")
            worker_envs, api_envs = replica_envs(
                demo_env(settings), settings, workers=workers, apis=apis
            )
            say(
                f"==> starting {workers} worker(s) ({WORKER.name}) and"
                f" {apis} API replica(s) (python -m api)"
            )
            children: dict[str, subprocess.Popen[bytes]] = {}
            for i, env in enumerate(worker_envs):
                name = "worker" if workers == 1 else f"worker {i + 1}"
                children[name] = start_child([sys.executable, str(WORKER)], env=env)
                running.callback(_stopping, name, children[name], 60)
            for i, env in enumerate(api_envs):
                name = "API" if i == 0 else f"API {i + 1}"
                children[name] = _start_api(env)
                running.callback(_stopping, name, children[name], 20)
            code = asyncio.run(_serve(settings, children))
    except KeyboardInterrupt:
        code = 130
    except RuntimeError as exc:
        say(f"servflow could not run: {exc}")
        code = 1
    say("stopped")
    return code
