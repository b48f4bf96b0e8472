"""The platform under test as separate processes: one Temporal dev server, N workers
(`worker.py`), M API replicas (`python -m api`), on a SQLite file or a PostgreSQL schema
(reached through a proxy that can refuse connections). Every process can be SIGKILLed and
started again; ports come from one base port so runs stay inside a given range."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.support import PinnedDevServer
from servflow.cli.devserver import port_open
from servflow.cli.processes import start_child, stop_child
from tests.chaos.proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
ACTOR_KEY = "chaos-actor-key-" + "0123456789abcdef" * 3


@dataclass
class Ports:
    """base: Temporal (+1 HTTP, +2 metrics); base+3: the PostgreSQL proxy; base+4..: APIs."""

    base: int

    @property
    def temporal(self) -> int:
        return self.base

    @property
    def proxy(self) -> int:
        return self.base + 3

    def api(self, i: int) -> int:
        return self.base + 4 + i


@dataclass
class Cluster:
    workdir: Path
    ports: Ports
    workers: int = 1
    apis: int = 1
    pg_server: str | None = None
    load_in_process: bool = False
    """postgresql+psycopg://… of the server; None: SQLite under workdir."""
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    temporal: PinnedDevServer | None = None
    worker_procs: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    api_procs: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    proxy: TcpProxy | None = None
    schema: str = ""
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    payload_key: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())

    # ---- store -----------------------------------------------------------------------------

    @property
    def app_name(self) -> str:
        """PostgreSQL application_name of the services' connections (faults aim at them)."""
        return f"servflow_chaos_{self.run_id}"

    @property
    def sqlite_file(self) -> Path:
        return self.workdir / "servflow.db"

    def store_url(self, *, direct: bool = False) -> str:
        """The services' URL (through the proxy on PostgreSQL); `direct`: the checker's."""
        if self.pg_server is None:
            return f"sqlite:///{self.sqlite_file}"
        from sqlalchemy.engine import make_url

        url = make_url(self.pg_server)
        query = {"options": f"-csearch_path={self.schema}"}
        if not direct:
            url = url.set(host="127.0.0.1", port=self.ports.proxy)
            query["application_name"] = self.app_name
        return url.update_query_dict(query).render_as_string(hide_password=False)

    def _create_schema(self) -> None:
        from sqlalchemy import text

        from servflow.platform.db import make_engine

        self.schema = f"chaos_{self.run_id}"
        admin = make_engine(self.pg_server)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))  # our own generated id
        admin.dispose()

    def _drop_schema(self) -> None:
        from sqlalchemy import text

        from servflow.platform.db import make_engine

        admin = make_engine(self.pg_server)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        admin.dispose()

    # ---- environment -----------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "SERVFLOW_DATABASE_URL": self.store_url(),
            "SERVFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{self.ports.temporal}",
            "SERVFLOW_TASK_QUEUE": f"chaos-{self.run_id}",
            "SERVFLOW_JWT_SECRET": self.jwt_secret,
            "SERVFLOW_ACTOR_KEY": ACTOR_KEY,
            "SERVFLOW_PAYLOAD_KEY": self.payload_key,
            # The driver logs in as the demo's users.
            "SERVFLOW_DEMO": "1",
            "SERVFLOW_RECONCILE_EVERY_SECONDS": "10",
            "SERVFLOW_STEP_WAIT_SECONDS": "10",
            "SERVFLOW_LOGIN_ATTEMPTS_PER_MINUTE": "1000",
        }

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.pg_server is not None:
            self._create_schema()
            self.proxy = TcpProxy(
                listen_port=self.ports.proxy, target=self._pg_target(), name=self.app_name
            )
            self.proxy.start()
        # In parallel where nothing waits for it: the store is filled while Temporal and
        # the workers start (a worker needs the store only for its first activity).
        loading = self._load_demo()
        self.start_temporal()
        self.worker_procs = [None] * self.workers
        self.api_procs = [None] * self.apis
        for i in range(self.workers):
            self.start_worker(i)
        loading()
        for i in range(self.apis):
            self.start_api(i)
        self.wait_apis()

    def _load_demo(self) -> Callable[[], None]:
        """Starts `servflow load-demo` on the store; returns what waits for it to finish.
        In process (`load_in_process`, the short form) it runs in a thread of this process:
        one Python start fewer."""
        if self.load_in_process:
            from servflow.cli.demo import cmd_load_demo
            from servflow.platform.settings import Settings

            settings = Settings(database_url=self.store_url(direct=True))
            failed: list[BaseException] = []

            def load() -> None:
                try:
                    cmd_load_demo(settings)
                except BaseException as exc:  # handed to the waiter below
                    failed.append(exc)

            thread = threading.Thread(target=load, daemon=True)
            thread.start()

            def join() -> None:
                thread.join()
                if failed:
                    raise RuntimeError("load-demo failed") from failed[0]

            return join
        loading = subprocess.Popen(
            [sys.executable, "-m", "servflow.cli", "load-demo"],
            cwd=ROOT,
            env=self.env(),
            stdout=subprocess.DEVNULL,
        )

        def wait() -> None:
            if loading.wait() != 0:
                raise RuntimeError(f"load-demo exited with {loading.returncode}")

        return wait

    def _pg_target(self) -> tuple[str, int]:
        from sqlalchemy.engine import make_url

        url = make_url(self.pg_server or "")
        return url.host or "127.0.0.1", url.port or 5432

    def stop(self) -> None:
        for proc in self.api_procs + self.worker_procs:
            stop_child(proc, 10)
        if self.temporal is not None:
            self.temporal.stop()
        if self.proxy is not None:
            self.proxy.stop()
        if self.pg_server is not None and self.schema:
            self._drop_schema()

    def start_temporal(self) -> None:
        self.temporal = PinnedDevServer(
            db_file=self.workdir / "temporal.db",
            port=self.ports.temporal,
            log_file=self.workdir / "temporal.log",
        )
        self.temporal.start()

    def kill_temporal(self) -> None:
        assert self.temporal is not None and self.temporal.process is not None
        self.temporal.process.send_signal(signal.SIGKILL)
        self.temporal.process.wait()
        while port_open("127.0.0.1", self.ports.temporal):
            time.sleep(0.1)

    def _log(self, name: str) -> object:
        return (self.workdir / f"{name}.log").open("ab")

    def start_worker(self, i: int) -> None:
        self.worker_procs[i] = start_child(
            [sys.executable, str(ROOT / "worker.py")],
            env=self.env(),
            stdout=self._log(f"worker{i}"),  # type: ignore[arg-type]
        )

    def start_api(self, i: int) -> None:
        env = {**self.env(), "SERVFLOW_API_PORT": str(self.ports.api(i))}
        self.api_procs[i] = start_child(
            [sys.executable, "-m", "api"],
            env=env,
            stdout=self._log(f"api{i}"),  # type: ignore[arg-type]
        )

    def wait_apis(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        for i in range(self.apis):
            while not port_open("127.0.0.1", self.ports.api(i)):
                proc = self.api_procs[i]
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"API {i} exited with {proc.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"API {i} did not listen in {timeout:.0f} s")
                time.sleep(0.1)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes] | None) -> None:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def kill_worker(self, i: int) -> None:
        self._kill(self.worker_procs[i])

    def kill_api(self, i: int) -> None:
        self._kill(self.api_procs[i])

    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.ports.api(i)}" for i in range(self.apis)]

    def pids(self) -> dict[str, int]:
        found = {}
        if self.temporal is not None and self.temporal.process is not None:
            found["temporal"] = self.temporal.process.pid
        for i, proc in enumerate(self.worker_procs):
            if proc is not None:
                found[f"worker{i}"] = proc.pid
        for i, proc in enumerate(self.api_procs):
            if proc is not None:
                found[f"api{i}"] = proc.pid
        return found

    # ---- store faults ----------------------------------------------------------------------

    def terminate_backends(self) -> int:
        """pg_terminate_backend on every connection of the services (not anyone else's)."""
        import psycopg

        with psycopg.connect(self._libpq_dsn(), autocommit=True) as connection:
            rows = connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s AND pid <> pg_backend_pid()",
                (self.app_name,),
            ).fetchall()
        return len(rows)

    def _libpq_dsn(self) -> str:
        from sqlalchemy.engine import make_url

        url = make_url(self.pg_server or "")
        return (
            f"host={url.host or '127.0.0.1'} port={url.port or 5432} "
            f"user={url.username or 'postgres'} dbname={url.database or 'postgres'}"
        )

    def lock_sqlite(self, seconds: float) -> None:
        """Holds SQLite's write lock `seconds` (another process's long write transaction)."""
        connection = sqlite3.connect(self.sqlite_file, timeout=30, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            time.sleep(seconds)
            connection.execute("ROLLBACK")
        finally:
            connection.close()
