"""The embedded Temporal: the CLI's dev server on a SQLite file under var/, WAL pragmas,
servflow's search attributes registered."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

from servflow.cli.processes import start_child, stop_child
from workflows.constants import SEARCH_ATTRIBUTES

TEMPORAL = Path(sys.executable).parent / "temporal"
# Measured on this machine's kind (DESIGN.md): WAL + synchronous=normal took the bare
# pipeline from 16 to 41 orders/s against the default pragmas.
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


def port_open(host: str, port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevServer:
    """A `temporal server start-dev` child process, stopped with the process that started it."""

    def __init__(
        self,
        *,
        db_file: Path | None,
        port: int = 7233,
        ui_port: int | None = 8233,
        log_file: Path | None = None,
    ) -> None:
        self.db_file, self.port, self.ui_port, self.log_file = db_file, port, ui_port, log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [str(TEMPORAL), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--log-level", "warn"]
        if self.db_file is not None:
            cmd += ["--db-filename", str(self.db_file)]
            for pragma in SQLITE_PRAGMAS:
                cmd += ["--sqlite-pragma", pragma]
        if self.ui_port is None:
            cmd.append("--headless")
        else:
            cmd += ["--ui-port", str(self.ui_port)]
        for name, kind in SEARCH_ATTRIBUTES.items():
            cmd += ["--search-attribute", f"{name}={kind}"]
        return cmd

    def start(self, timeout: float = 60) -> None:
        if port_open("127.0.0.1", self.port):
            raise RuntimeError(
                f"port {self.port} is taken: is another Temporal running? "
                "Stop it, or set SERVFLOW_TEMPORAL_ADDRESS to use it."
            )
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
        output = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self.process = start_child(self.command(), stdout=output)
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"Temporal dev server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("Temporal dev server did not start in time")
            time.sleep(0.2)

    def stop(self, timeout: float = 20) -> None:
        stop_child(self.process, timeout)

    def __enter__(self) -> DevServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
