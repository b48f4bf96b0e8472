"""WeCom's server API over HTTP: access tokens, application messages, template cards and
group robots (the documented JSON formats; `api_base` points at a fake in tests).

Errors are `WecomError` with `retryable` saying whether sending again later may succeed
(system busy, rate limits, network trouble) or never will (unknown user, bad card).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

# errcodes: https://developer.work.weixin.qq.com/document/path/90313
INVALID_TOKEN = 40014
EXPIRED_TOKEN = 42001
TOKEN_CODES = frozenset({INVALID_TOKEN, EXPIRED_TOKEN, 41001})
RETRYABLE_CODES = frozenset({-1, 45009, 45033, 45047})
TOKEN_MARGIN_SECONDS = 300  # refetch this long before WeCom's expires_in runs out
# Repeated text to one user within this window is delivered once (WeCom's own check): a
# message re-sent after a relay died mid-request is not shown twice.
DUPLICATE_CHECK_SECONDS = 1800


class WecomError(Exception):
    def __init__(self, message: str, *, code: int = 0, retryable: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.retry_after: float | None = None


@dataclass
class _Token:
    value: str
    expires_at: float


@dataclass
class TokenCache:
    """access_tokens per app (corp id + secret), shared by the threads of one process.

    A token is fetched once and kept until shortly before it expires, or until WeCom says
    it is invalid or expired (40014/42001) — then it is dropped and fetched again once, by
    whichever thread comes first.
    """

    clock: Callable[[], float] = time.monotonic
    _tokens: dict[str, _Token] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    fetches: int = 0

    @staticmethod
    def app_key(corp_id: str, secret: str) -> str:
        return f"{corp_id}:{hashlib.sha256(secret.encode()).hexdigest()[:16]}"

    def get(self, app: str, fetch: Callable[[], tuple[str, int]]) -> str:
        with self._lock:
            token = self._tokens.get(app)
            if token is not None and token.expires_at > self.clock():
                return token.value
            value, expires_in = fetch()
            self.fetches += 1
            keep = max(expires_in - TOKEN_MARGIN_SECONDS, expires_in // 2)
            self._tokens[app] = _Token(value, self.clock() + keep)
            return value

    def invalidate(self, app: str, value: str) -> None:
        """Drops `value` (only if it is still the cached one: another thread may have
        fetched a fresh token already)."""
        with self._lock:
            token = self._tokens.get(app)
            if token is not None and token.value == value:
                del self._tokens[app]


class RobotLimiter:
    """At most `per_minute` messages per robot webhook in any 60 s (WeCom allows 20)."""

    def __init__(self, per_minute: int = 20, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, url: str) -> float:
        """0 when a message may go now (and counts it), else seconds to wait."""
        with self._lock:
            now = self.clock()
            sent = self._sent.setdefault(url, deque())
            while sent and sent[0] <= now - 60:
                sent.popleft()
            if len(sent) >= self.per_minute:
                return sent[0] + 60 - now
            sent.append(now)
            return 0.0


class WecomClient:
    """One WeCom app (corp id, agent id, secret) and the group robots."""

    def __init__(
        self,
        *,
        api_base: str,
        corp_id: str,
        agent_id: int,
        secret: str,
        tokens: TokenCache | None = None,
        robots: RobotLimiter | None = None,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.corp_id, self.agent_id, self.secret = corp_id, agent_id, secret
        self.tokens = tokens or TokenCache()
        self.robots = robots or RobotLimiter()
        self.http = http or httpx.Client(timeout=timeout)
        self.app = TokenCache.app_key(corp_id, secret)

    # ---- access token ---------------------------------------------------------------

    def _fetch_token(self) -> tuple[str, int]:
        body = self._get(
            "/cgi-bin/gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret}
        )
        _raise_for(body, "gettoken")
        return str(body["access_token"]), int(body.get("expires_in", 7200))

    def token(self) -> str:
        return self.tokens.get(self.app, self._fetch_token)

    def _call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POSTs with the cached token; on 40014/42001 drops it and tries once more."""
        for attempt in (1, 2):
            token = self.token()
            body = self._post(f"{path}?access_token={token}", payload)
            code = int(body.get("errcode", 0))
            if code in TOKEN_CODES and attempt == 1:
                self.tokens.invalidate(self.app, token)
                continue
            _raise_for(body, path)
            return body
        raise AssertionError("unreachable")

    # ---- messages -----------------------------------------------------------------------

    def _message(self, userids: list[str], msgtype: str, content: dict[str, Any]) -> dict[str, Any]:
        if not userids:
            raise WecomError("no WeCom user to send to", retryable=False)
        payload = {
            "touser": "|".join(userids),
            "msgtype": msgtype,
            "agentid": self.agent_id,
            msgtype: content,
            "enable_duplicate_check": 1,
            "duplicate_check_interval": DUPLICATE_CHECK_SECONDS,
        }
        body = self._call("/cgi-bin/message/send", payload)
        if body.get("invaliduser") and body["invaliduser"] == "|".join(userids):
            raise WecomError(f"unknown WeCom users: {body['invaliduser']}", retryable=False)
        return body

    def send_text(self, userids: list[str], text: str) -> dict[str, Any]:
        return self._message(userids, "text", {"content": text})

    def send_markdown(self, userids: list[str], text: str) -> dict[str, Any]:
        return self._message(userids, "markdown", {"content": text})

    def send_textcard(
        self, userids: list[str], *, title: str, description: str, url: str
    ) -> dict[str, Any]:
        content = {"title": title, "description": description, "url": url, "btntxt": "详情"}
        return self._message(userids, "textcard", content)

    def send_card(self, userids: list[str], card: dict[str, Any]) -> dict[str, Any]:
        """A template card; the answer carries its `response_code` (to update it later)."""
        return self._message(userids, "template_card", card)

    def update_card(self, *, userids: list[str], response_code: str, replace_name: str) -> None:
        """Turns a button card's buttons into one greyed-out label (after a click)."""
        self._call(
            "/cgi-bin/message/update_template_card",
            {
                "userids": userids,
                "agentid": self.agent_id,
                "response_code": response_code,
                "button": {"replace_name": replace_name},
            },
        )

    # ---- group robots -----------------------------------------------------------------------

    def send_robot(self, webhook_url: str, markdown: str) -> None:
        """A markdown message to a group robot, within its 20 messages a minute."""
        wait = self.robots.take(webhook_url)
        if wait:
            error = WecomError(f"robot limit: next message in {wait:.0f}s", code=45009)
            error.retry_after = wait
            raise error
        body = self._post(webhook_url, {"msgtype": "markdown", "markdown": {"content": markdown}})
        _raise_for(body, "robot")

    # ---- HTTP -------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.api_base}{path}"

    def _get(self, path: str, *, params: dict[str, str]) -> dict[str, Any]:
        return self._answer(lambda: self.http.get(self._url(path), params=params))

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._answer(lambda: self.http.post(self._url(path), json=payload))

    @staticmethod
    def _answer(request: Callable[[], httpx.Response]) -> dict[str, Any]:
        try:
            response = request()
        except httpx.HTTPError as exc:
            raise WecomError(f"WeCom unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise WecomError(f"WeCom answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise WecomError(f"WeCom answered HTTP {response.status_code}, not JSON") from None
        if not isinstance(body, dict):
            raise WecomError("WeCom answered JSON that is not an object")
        return body


def _raise_for(body: dict[str, Any], what: str) -> None:
    code = int(body.get("errcode", 0))
    if code == 0:
        return
    message = f"{what}: errcode {code} {str(body.get('errmsg', ''))[:200]}"
    raise WecomError(message, code=code, retryable=code in RETRYABLE_CODES or code in TOKEN_CODES)
