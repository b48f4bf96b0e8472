"""Polled marketplace feeds: Tmall workcards through TMC (taobao.tmc.messages.consume,
then .confirm — a message not confirmed is delivered again) and JD home-service tasks
(a cursor-paged query). Both sign requests the TOP/JOS way (md5 over the secret and the
sorted parameters). Stored first, confirmed after: a crash between the two redelivers,
and the platform:msg_id dedupe drops the repeat.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

import httpx

from servflow.integrations.marketplaces.rules import TMALL_WORKCARD, Incoming, top_sign

CHINA = timezone(timedelta(hours=8))


class FeedError(Exception):
    pass


class Feed(Protocol):
    platform: str

    def fetch(self) -> list[Incoming]:
        """Messages not confirmed yet (may repeat ones seen before)."""

    def confirm(self, messages: list[Incoming]) -> None:
        """Tells the platform these are stored (TMC stops redelivering them)."""


def _stamp(clock: Callable[[], datetime]) -> str:
    return clock().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


class _Signed:
    def __init__(
        self,
        *,
        url: str,
        app_key: str,
        secret: str,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.url, self.app_key, self.secret = url, app_key, secret
        self.http = http or httpx.Client(timeout=10)
        self.clock = clock

    def call(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        signed = {
            "method": method,
            "app_key": self.app_key,
            "timestamp": _stamp(self.clock),
            "format": "json",
            "v": "2.0",
            "sign_method": "md5",
            **params,
        }
        signed["sign"] = top_sign(signed, self.secret)
        try:
            response = self.http.post(self.url, data=signed)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise FeedError(f"{method}: {type(exc).__name__}") from exc
        if not isinstance(body, dict) or "error_response" in body:
            error = body.get("error_response", {}) if isinstance(body, dict) else {}
            raise FeedError(f"{method}: {error.get('code')} {error.get('msg', '')}"[:300])
        return body


class TmallTmcFeed(_Signed):
    """Tmall service workcards (`tmall_fuwu_WorkcardInfo`) from a TMC group."""

    platform = "tmall"

    def __init__(self, *, group: str = "default", quantity: int = 100, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.group, self.quantity = group, quantity

    def fetch(self) -> list[Incoming]:
        body = self.call(
            "taobao.tmc.messages.consume",
            {"group_name": self.group, "quantity": str(self.quantity)},
        )
        consumed = body.get("tmc_messages_consume_response", {}).get("messages") or {}
        messages = []
        for item in consumed.get("tmc_message", []) or []:
            if item.get("topic") != TMALL_WORKCARD:
                messages.append(_incoming("tmall", item, {}, tag=str(item.get("topic", ""))))
                continue
            content = item.get("content") or "{}"
            card = json.loads(content) if isinstance(content, str) else content
            messages.append(_incoming("tmall", item, card, tag=TMALL_WORKCARD))
        return messages

    def confirm(self, messages: list[Incoming]) -> None:
        if messages:
            ids = ",".join(m.msg_id for m in messages)
            self.call(
                "taobao.tmc.messages.confirm", {"group_name": self.group, "s_message_ids": ids}
            )


def _incoming(platform: str, item: dict[str, Any], card: dict[str, Any], *, tag: str) -> Incoming:
    key = "task_id" if platform == "jd" else "workcard_id"
    external = str(card.get(key) or item.get("id", ""))
    return Incoming(
        platform=platform,
        msg_id=str(item.get("id", ""))[:128],
        tag=tag[:32],
        external_order_id=external[:128],
        raw={"tag": tag, "msg_id": str(item.get("id", "")), "data": card},
    )


class JdTaskFeed(_Signed):
    """JD home-service tasks, paged by a cursor the feed keeps (confirm moves it on)."""

    platform = "jd"
    method = "jingdong.homefw.task.search"

    def __init__(self, *, cursor: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cursor = cursor
        self._next = cursor

    def fetch(self) -> list[Incoming]:
        body = self.call(self.method, {"360buy_param_json": json.dumps({"cursor": self.cursor})})
        result = body.get("jingdong_homefw_task_search_responce", {}).get("result") or {}
        self._next = str(result.get("cursor", self.cursor))
        return [
            _incoming("jd", {"id": f"jd-task-{t.get('task_id')}"}, t, tag="task")
            for t in result.get("tasks", []) or []
            if isinstance(t, dict)
        ]

    def confirm(self, messages: list[Incoming]) -> None:
        self.cursor = self._next
