"""In-process fakes of the polled marketplaces (httpx transports speaking their formats):
Tmall's TMC (consume / confirm, redelivery of what is not confirmed) and a JD task query
paged by a cursor. Both check the md5 request signature."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

from servflow.integrations.marketplaces.rules import TMALL_WORKCARD, top_sign

APP_KEY, SECRET = "12345678", "fake-top-secret"


def _error(code: int, msg: str) -> httpx.Response:
    return httpx.Response(200, json={"error_response": {"code": code, "msg": msg}})


def _params(request: httpx.Request) -> dict[str, str] | None:
    params = dict(parse_qsl(request.content.decode()))
    if params.get("app_key") != APP_KEY or params.get("sign") != top_sign(params, SECRET):
        return None
    return params


@dataclass
class FakeTmc:
    queue: list[dict[str, Any]] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    next_id: int = 1000

    def publish(self, workcard: dict[str, Any]) -> None:
        self.queue.append(
            {"id": self.next_id, "topic": TMALL_WORKCARD, "content": json.dumps(workcard)}
        )
        self.next_id += 1

    def handler(self, request: httpx.Request) -> httpx.Response:
        params = _params(request)
        if params is None:
            return _error(25, "Invalid signature")
        if params["method"] == "taobao.tmc.messages.consume":
            messages = self.queue[: int(params.get("quantity", "100"))]
            body = {"tmc_messages_consume_response": {"messages": {"tmc_message": messages}}}
            return httpx.Response(200, json=body)
        if params["method"] == "taobao.tmc.messages.confirm":
            ids = set(params["s_message_ids"].split(","))
            self.confirmed += sorted(ids)
            self.queue = [m for m in self.queue if str(m["id"]) not in ids]
            return httpx.Response(200, json={"tmc_messages_confirm_response": {"is_success": True}})
        return _error(22, "Invalid method")


@dataclass
class FakeJd:
    tasks: list[dict[str, Any]] = field(default_factory=list)
    page: int = 2

    def handler(self, request: httpx.Request) -> httpx.Response:
        params = _params(request)
        if params is None:
            return _error(19, "Invalid signature")
        cursor = int(json.loads(params["360buy_param_json"]).get("cursor") or 0)
        tasks = self.tasks[cursor : cursor + self.page]
        result = {"tasks": tasks, "cursor": str(cursor + len(tasks))}
        return httpx.Response(
            200, json={"jingdong_homefw_task_search_responce": {"result": result}}
        )


def http_client(fake: FakeTmc | FakeJd) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(fake.handler))
