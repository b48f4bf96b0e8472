"""A local fake of WeCom's server API, speaking its JSON formats: gettoken (tokens that
expire, or that the server invalidates early: 42001 / 40014), message/send with its
duplicate check (same message to the same users within the interval shown once),
update_template_card, and group robot webhooks limited to 20 messages a minute (45009).

Runs under uvicorn in a thread on a port of this work's range (18600-18699), so that
other processes (a worker under test, the bench) talk to it over HTTP.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

PORTS = range(18600, 18700)
CORP_ID = "ww-fake-corp"
SECRET = "fake-app-secret"
AGENT_ID = 1000002


def port_in_range(start: int = 18600) -> int:
    """A free port of this work's range."""
    for port in range(start, PORTS.stop):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18600-18699")


@dataclass
class FakeState:
    expires_in: int = 7200
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    revoked: set[str] = field(default_factory=set)
    token_fetches: int = 0
    delivered: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    card_updates: list[dict[str, Any]] = field(default_factory=list)
    robot: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    robot_times: dict[str, deque[float]] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)  # duplicate check
    fail_next: list[int] = field(default_factory=list)  # errcodes to answer next sends with
    hold: threading.Event | None = None  # while set-up, message/send waits for release
    held: threading.Event = field(default_factory=threading.Event)
    counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def build_app(state: FakeState) -> FastAPI:
    app = FastAPI()

    def token_error(token: str) -> dict[str, Any] | None:
        expiry = state.tokens.get(token)
        if token in state.revoked or expiry is None:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if expiry < time.monotonic():
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return None

    @app.get("/cgi-bin/gettoken")
    def gettoken(corpid: str = "", corpsecret: str = "") -> dict[str, Any]:
        if corpid != CORP_ID or corpsecret != SECRET:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        with state.lock:
            state.token_fetches += 1
            token = f"tok-{state.token_fetches}"
            state.tokens[token] = time.monotonic() + state.expires_in
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": state.expires_in}

    @app.post("/cgi-bin/message/send")
    async def send(request: Request, access_token: str = "") -> JSONResponse:
        body = await request.json()
        if error := token_error(access_token):
            return JSONResponse(error)
        with state.lock:
            state.requests.append(body)
            if state.fail_next:
                code = state.fail_next.pop(0)
                return JSONResponse({"errcode": code, "errmsg": "injected"})
            key = json.dumps(
                {k: v for k, v in body.items() if k not in ("agentid",)}, sort_keys=True
            )
            interval = int(body.get("duplicate_check_interval", 1800))
            now = time.monotonic()
            duplicate = (
                body.get("enable_duplicate_check") == 1
                and state.seen.get(key, -1e9) > now - interval
            )
            state.counter += 1
            answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "msgid": f"m{state.counter}"}
            if body.get("msgtype") == "template_card":
                answer["response_code"] = f"rc-{state.counter}"
            if not duplicate:
                state.seen[key] = now
                state.delivered.append(body)
        if state.hold is not None:
            # Delivered, but the answer never comes back while held (a sender dying here
            # has sent the message without knowing it).
            state.held.set()
            while not state.hold.wait(0.05):
                pass
        return JSONResponse(answer)

    @app.post("/cgi-bin/message/update_template_card")
    async def update_card(request: Request, access_token: str = "") -> JSONResponse:
        body = await request.json()
        if error := token_error(access_token):
            return JSONResponse(error)
        with state.lock:
            state.card_updates.append(body)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    @app.post("/cgi-bin/webhook/send")
    async def robot(request: Request, key: str = "") -> JSONResponse:
        body = await request.json()
        with state.lock:
            times = state.robot_times.setdefault(key, deque())
            now = time.monotonic()
            while times and times[0] <= now - 60:
                times.popleft()
            if len(times) >= 20:
                return JSONResponse({"errcode": 45009, "errmsg": "api freq out of limit"})
            times.append(now)
            state.robot.setdefault(key, []).append(body)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    return app


class FakeWecom:
    """The fake under uvicorn in a thread: `with FakeWecom() as fake: fake.url ...`."""

    def __init__(self, port: int | None = None) -> None:
        self.state = FakeState()
        self.port = port or port_in_range()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                build_app(self.state), host="127.0.0.1", port=self.port, log_level="warning"
            )
        )
        self.thread = threading.Thread(target=self.server.run, name="fake-wecom", daemon=True)

    def robot_url(self, key: str) -> str:
        return f"{self.url}/cgi-bin/webhook/send?key={key}"

    def expire_tokens(self) -> None:
        """Every token issued so far expires now (42001 on its next use)."""
        with self.state.lock:
            for token in self.state.tokens:
                self.state.tokens[token] = 0.0

    def revoke_tokens(self) -> None:
        """Every token issued so far is invalid now (40014): early invalidation."""
        with self.state.lock:
            self.state.revoked.update(self.state.tokens)

    def __enter__(self) -> FakeWecom:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            time.sleep(0.025)
        raise RuntimeError("the fake WeCom server did not start")

    def __exit__(self, *exc: object) -> None:
        if self.state.hold is not None:
            self.state.hold.set()
        self.server.should_exit = True
        self.thread.join(10)
