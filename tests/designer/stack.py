"""The whole platform on this machine for browser tests: store, worker, API and designer.

A temporary SQLite database with the demo data, a worker with the real activities on a
uuid task queue of the given Temporal server, and the API (which serves the designer)
under uvicorn in a background thread on a free 127.0.0.1 port.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.registry import build_activities
from activities.support import ActivityDeps
from api.main import create_app
from servflow.demo.loader import load_demo
from servflow.platform.db import make_engine, make_session_factory
from servflow.platform.settings import Settings
from servflow.platform.temporal import connect
from servflow.tables import metadata
from worker import build_worker


@dataclass
class LiveStack:
    url: str
    session_factory: sessionmaker[Session]
    task_queue: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def live_stack(client: Client, db_path: Path) -> AsyncIterator[LiveStack]:
    """Runs worker + API until the block ends; both are shut down cleanly."""
    engine = make_engine(f"sqlite:///{db_path}")
    metadata.create_all(engine)
    session_factory = make_session_factory(engine)
    with session_factory() as session:
        load_demo(session)
        session.commit()
    task_queue = f"designer-{uuid.uuid4()}"
    settings = Settings(
        temporal_address=client.service_client.config.target_host,
        temporal_namespace=client.namespace,
        task_queue=task_queue,
        database_url=f"sqlite:///{db_path}",
        jwt_secret="designer-tests-" + uuid.uuid4().hex,
        demo=True,  # the browser signs in with the demo password
        login_attempts_per_minute=1000,  # one address signs in as many roles
        # Given, so the demo does not generate one under the work tree's var/.
        payload_key=base64.b64encode(os.urandom(32)).decode(),
    )
    # The API connects its own Temporal client on uvicorn's event loop.
    app = create_app(settings, session_factory=session_factory, task_queue=task_queue)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="designer-api", daemon=True)
    # The worker must read what the API encrypts: both connect with the same settings.
    worker = build_worker(
        await connect(settings),
        task_queue=task_queue,
        activities=build_activities(ActivityDeps(session_factory=session_factory)),
    )
    async with worker:
        thread.start()
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("the API did not start")
        try:
            yield LiveStack(f"http://127.0.0.1:{port}", session_factory, task_queue)
        finally:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 15)
    engine.dispose()
