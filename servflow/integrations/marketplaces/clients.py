"""Marketplace open-API clients: Douyin Shop (signed param_json, access_token fetched and
refreshed), Tmall (TOP router, md5/hmac signature, the seller's session) and JD (JOS
router, 360buy_param_json, access_token). Each tells its platform about an order's
milestone (`update_status`); Douyin also gives an order's detail and decrypts its buyer.

Errors come out as `PlatformError(transient=…)`: the relay retries transient ones with
backoff and parks the others with their message.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from servflow.integrations.marketplaces import writeback
from servflow.integrations.marketplaces.rules import douyin_api_sign, douyin_param_json, top_sign
from servflow.integrations.models import OutboundUpdate
from servflow.platform.settings import Settings

TIMEOUT = 10.0


class PlatformError(Exception):
    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None):
        super().__init__(message)
        self.transient, self.retry_after = transient, retry_after


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _post(http: httpx.Client, url: str, **kwargs: Any) -> Any:
    try:
        response = http.post(url, **kwargs)
    except httpx.HTTPError as exc:
        raise PlatformError(f"{url}: {type(exc).__name__}", transient=True) from exc
    if response.status_code == 429 or response.status_code >= 500:
        retry_after = response.headers.get("retry-after")
        raise PlatformError(
            f"{url}: HTTP {response.status_code}",
            transient=True,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
    try:
        return response.json()
    except ValueError as exc:
        raise PlatformError(f"{url}: answer is not JSON", transient=True) from exc


def _raise(failure: writeback.Failure) -> None:
    raise PlatformError(failure.message[:1000], transient=failure.transient)


@dataclass
class _Token:
    value: str
    until: datetime


class DouyinApi:
    """Douyin Shop's open API (https://openapi-fxg.jinritemai.com): POST
    `/<method with dots as slashes>` with app_key, method, access_token, timestamp, v=2,
    sign_method and sign in the query and param_json as the body."""

    platform = "douyin"

    def __init__(
        self,
        *,
        url: str,
        app_key: str,
        app_secret: str,
        shop_id: str,
        sign_method: str = "hmac-sha256",
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.url = url.rstrip("/")
        self.app_key, self.app_secret, self.shop_id = app_key, app_secret, shop_id
        self.sign_method = sign_method
        self.http = http or httpx.Client(timeout=TIMEOUT)
        self.clock = clock
        self._token: _Token | None = None
        self._lock = threading.Lock()

    def _request(self, method: str, params: dict[str, Any], *, token: str | None) -> Any:
        param_json = douyin_param_json(params)
        timestamp = writeback.china_time(self.clock())
        query = {
            "app_key": self.app_key,
            "method": method,
            "timestamp": timestamp,
            "v": "2",
            "sign_method": self.sign_method,
            "sign": douyin_api_sign(
                app_key=self.app_key,
                method=method,
                param_json=param_json,
                timestamp=timestamp,
                v="2",
                app_secret=self.app_secret,
                sign_method=self.sign_method,
            ),
        }
        if token is not None:
            query["access_token"] = token
        return _post(
            self.http,
            f"{self.url}/{method.replace('.', '/')}",
            params=query,
            content=param_json.encode(),
            headers={"content-type": "application/json"},
        )

    def _access_token(self) -> str:
        """The shop's access_token (a self-use app: token.create with the shop id), kept
        until 5 minutes before it expires."""
        with self._lock:
            if self._token is not None and self._token.until > self.clock():
                return self._token.value
            body = self._request(
                "token.create",
                {"code": "", "grant_type": "authorization_self", "shop_id": self.shop_id},
                token=None,
            )
            failure = writeback.douyin_failure(body)
            if failure is not None:
                _raise(failure)
            data = body.get("data") or {}
            expires = timedelta(seconds=max(int(data.get("expires_in", 0)) - 300, 0))
            self._token = _Token(str(data.get("access_token", "")), self.clock() + expires)
            return self._token.value

    def _forget(self, value: str) -> None:
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The answer's `data`; an expired token is fetched again once."""
        for attempt in (1, 2):
            token = self._access_token()
            body = self._request(method, params, token=token)
            failure = writeback.douyin_failure(body)
            if failure is None:
                data = body.get("data")
                return data if isinstance(data, dict) else {}
            if failure.token and attempt == 1:
                self._forget(token)
                continue
            _raise(failure)
        raise AssertionError("unreachable")

    def update_status(self, update: OutboundUpdate) -> None:
        call = writeback.request_for(
            "douyin",
            status=update.status,
            external_order_id=update.external_order_id,
            order_id=update.order_id,
            payload=dict(update.payload or {}),
            now=self.clock(),
        )
        self.call(call.method, call.params)

    def order_detail(self, shop_order_id: str) -> dict[str, Any]:
        """order.orderDetail's `shop_order_detail` (buyer fields encrypted)."""
        data = self.call("order.orderDetail", {"shop_order_id": shop_order_id})
        detail = data.get("shop_order_detail")
        if not isinstance(detail, dict):
            raise PlatformError("order.orderDetail: no shop_order_detail", transient=True)
        return detail

    def batch_decrypt(self, auth_id: str, cipher_texts: list[str]) -> dict[str, str]:
        """order.batchDecrypt: each cipher text's plain text (`cipher_infos` of auth_id =
        the order id and cipher_text; answered `decrypt_infos`)."""
        infos = [{"auth_id": auth_id, "cipher_text": text} for text in cipher_texts if text]
        if not infos:
            return {}
        data = self.call("order.batchDecrypt", {"cipher_infos": infos})
        custom = data.get("custom_err") or {}
        if isinstance(custom, dict) and int(custom.get("err_code") or 0) != 0:
            raise PlatformError(
                f"order.batchDecrypt: {custom.get('err_code')} {custom.get('err_msg', '')}",
                transient=False,
            )
        plain: dict[str, str] = {}
        for item in data.get("decrypt_infos") or []:
            if not isinstance(item, dict):
                continue
            if int(item.get("err_no") or 0) != 0:
                raise PlatformError(
                    f"order.batchDecrypt: {item.get('err_no')} {item.get('err_msg', '')}",
                    transient=False,
                )
            plain[str(item.get("cipher_text", ""))] = str(item.get("decrypt_text", ""))
        return plain


class _TopStyle:
    """A TOP/JOS-style router: every parameter (common and business) form-encoded and
    signed together."""

    def __init__(
        self,
        *,
        url: str,
        app_key: str,
        secret: str,
        sign_method: str = "md5",
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.url, self.app_key, self.secret = url, app_key, secret
        self.sign_method = sign_method
        self.http = http or httpx.Client(timeout=TIMEOUT)
        self.clock = clock

    platform = ""

    def update_status(self, update: OutboundUpdate) -> None:
        """Tells the platform the order's new status (one signed router call)."""
        call = writeback.request_for(
            self.platform,
            status=update.status,
            external_order_id=update.external_order_id,
            order_id=update.order_id,
            payload=dict(update.payload or {}),
            now=self.clock(),
        )
        params = self._signed(
            {
                "method": call.method,
                "v": "2.0",
                "sign_method": self.sign_method,
                **self._call_params(call),
            }
        )
        failure = self._failure(_post(self.http, self.url, data=params), call)
        if failure is not None:
            _raise(failure)

    def _call_params(self, call: writeback.Call) -> dict[str, str]:
        """The platform's own parameters: its credential and the business ones."""
        raise NotImplementedError

    def _failure(self, body: Any, call: writeback.Call) -> writeback.Failure | None:
        raise NotImplementedError

    def _signed(self, params: dict[str, str]) -> dict[str, str]:
        params = {
            **params,
            "app_key": self.app_key,
            "timestamp": writeback.china_time(self.clock()),
        }
        params["sign"] = top_sign(params, self.secret, sign_method=self.sign_method)
        return params


class TmallApi(_TopStyle):
    """Taobao/Tmall TOP (https://eco.taobao.com/router/rest): method, app_key, session,
    timestamp, format=json, v=2.0, sign_method (md5, hmac, hmac-sha256), sign."""

    platform = "tmall"

    def __init__(self, *, session: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session

    def _call_params(self, call: writeback.Call) -> dict[str, str]:
        business = {k: str(v) for k, v in call.params.items()}
        return {"session": self.session, "format": "json", **business}

    def _failure(self, body: Any, call: writeback.Call) -> writeback.Failure | None:
        return writeback.top_failure(body)


class JdApi(_TopStyle):
    """JD JOS (https://api.jd.com/routerjson): method, app_key, access_token, timestamp,
    v=2.0, sign_method=md5, 360buy_param_json (the business parameters), sign."""

    platform = "jd"

    def __init__(self, *, access_token: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.access_token = access_token

    def _call_params(self, call: writeback.Call) -> dict[str, str]:
        business = json.dumps(call.params, ensure_ascii=False)
        return {"access_token": self.access_token, "360buy_param_json": business}

    def _failure(self, body: Any, call: writeback.Call) -> writeback.Failure | None:
        return writeback.jos_failure(body, method=call.method)


def douyin_from_settings(settings: Settings, **kwargs: Any) -> DouyinApi | None:
    """The Douyin client when its API, app and shop are configured, else None."""
    if not (
        settings.douyin_api_url
        and settings.douyin_app_key
        and settings.douyin_app_secret
        and settings.douyin_shop_id
    ):
        return None
    return DouyinApi(
        url=settings.douyin_api_url,
        app_key=settings.douyin_app_key,
        app_secret=settings.douyin_app_secret,
        shop_id=settings.douyin_shop_id,
        sign_method=settings.douyin_sign_method,
        **kwargs,
    )


def clients_from_settings(settings: Settings, **kwargs: Any) -> dict[str, Any]:
    """The writeback clients configured, by platform; a platform missing here keeps its
    rows pending (see `missing_settings`)."""
    clients: dict[str, Any] = {}
    douyin = douyin_from_settings(settings, **kwargs)
    if douyin is not None:
        clients["douyin"] = douyin
    tmall_url = settings.tmall_api_url or settings.tmall_tmc_url
    if (
        tmall_url
        and settings.tmall_app_key
        and settings.tmall_app_secret
        and settings.tmall_session
    ):
        clients["tmall"] = TmallApi(
            url=tmall_url,
            app_key=settings.tmall_app_key,
            secret=settings.tmall_app_secret,
            session=settings.tmall_session,
            sign_method=settings.tmall_sign_method,
            **kwargs,
        )
    if (
        settings.jd_api_url
        and settings.jd_app_key
        and settings.jd_app_secret
        and settings.jd_access_token
    ):
        clients["jd"] = JdApi(
            url=settings.jd_api_url,
            app_key=settings.jd_app_key,
            secret=settings.jd_app_secret,
            access_token=settings.jd_access_token,
            **kwargs,
        )
    return clients


MISSING = {
    "douyin": "SERVFLOW_DOUYIN_API_URL, _APP_KEY, _APP_SECRET, _SHOP_ID",
    "tmall": "SERVFLOW_TMALL_API_URL (or _TMC_URL), _APP_KEY, _APP_SECRET, _SESSION",
    "jd": "SERVFLOW_JD_API_URL, _APP_KEY, _APP_SECRET, _ACCESS_TOKEN",
}


def missing_settings(platform: str) -> str:
    """Why a platform's rows are not sent: the settings its client needs."""
    return f"not sent: {platform} writeback is not configured ({MISSING.get(platform, '?')})"
