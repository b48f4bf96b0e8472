"""In-process fakes of the marketplaces (httpx transports speaking their formats): Tmall's
TMC (consume / confirm, redelivery of what is not confirmed) and its status writeback, a
JD task query paged by a cursor and its status writeback (both check the TOP/JOS request
signature, md5 or hmac), Douyin Shop's open API (token.create, order.addOrderRemark,
order.orderDetail, order.batchDecrypt; signature over param_json checked, tokens that
expire) and AMap's geocoder. Each can be told to fail its next calls with the platform's
own error codes (rate limit, expired token, business error)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

from servflow.integrations.marketplaces.rules import (
    TMALL_WORKCARD,
    douyin_api_sign,
    douyin_param_json,
    top_sign,
)

APP_KEY, SECRET = "12345678", "fake-top-secret"


def _error(code: int, msg: str) -> httpx.Response:
    return httpx.Response(200, json={"error_response": {"code": code, "msg": msg}})


def _params(request: httpx.Request) -> dict[str, str] | None:
    params = dict(parse_qsl(request.content.decode()))
    method = params.get("sign_method", "md5")
    if method not in ("md5", "hmac", "hmac-sha256"):
        return None
    expected = top_sign(params, SECRET, sign_method=method)
    if params.get("app_key") != APP_KEY or params.get("sign") != expected:
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


SESSION, JD_TOKEN = "fake-seller-session", "fake-jd-access-token"


@dataclass
class FakeTmallWriteback:
    """TOP's router for the workcard status writeback: signature and session checked;
    `fail` holds error_response bodies answered (one per call) before succeeding."""

    told: list[dict[str, str]] = field(default_factory=list)
    fail: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        params = _params(request)
        if params is None:
            return _error(25, "Invalid signature")
        if params.get("session") != SESSION:
            return _error(27, "Invalid session")
        if params.get("method") != "tmall.servicecenter.workcard.status.update":
            return _error(22, "Invalid method")
        if self.fail:
            return httpx.Response(200, json={"error_response": self.fail.pop(0)})
        self.told.append(params)
        body = {"tmall_servicecenter_workcard_status_update_response": {"result": True}}
        return httpx.Response(200, json=body)


@dataclass
class FakeJd:
    tasks: list[dict[str, Any]] = field(default_factory=list)
    page: int = 2
    told: list[dict[str, Any]] = field(default_factory=list)
    fail: list[dict[str, Any]] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        params = _params(request)
        if params is None:
            return _error(19, "Invalid signature")
        if params.get("method") == "jingdong.homefw.task.updateStatus":
            if params.get("access_token") != JD_TOKEN:
                return httpx.Response(
                    200,
                    json={"error_response": {"code": "19", "zh_desc": "token已过期或者不存在"}},
                )
            if self.fail:
                return httpx.Response(200, json={"error_response": self.fail.pop(0)})
            self.told.append(json.loads(params["360buy_param_json"]))
            answer = {"jingdong_homefw_task_updateStatus_responce": {"code": "0"}}
            return httpx.Response(200, json=answer)
        cursor = int(json.loads(params["360buy_param_json"]).get("cursor") or 0)
        tasks = self.tasks[cursor : cursor + self.page]
        result = {"tasks": tasks, "cursor": str(cursor + len(tasks))}
        return httpx.Response(
            200, json={"jingdong_homefw_task_search_responce": {"result": result}}
        )


def http_client(fake: FakeTmc | FakeJd | FakeTmallWriteback) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(fake.handler))


DOUYIN_SHOP_ID = "77001"


def douyin_error(code: int, sub_code: str, sub_msg: str) -> dict[str, Any]:
    return {"code": code, "msg": "", "sub_code": sub_code, "sub_msg": sub_msg, "data": {}}


RATE_LIMITED = douyin_error(60000, "dop.flow-limit", "触发限流，请稍后重试")
TOKEN_EXPIRED = douyin_error(40003, "isv.access-token-expired", "access_token已过期")
BUSINESS_ERROR = douyin_error(50002, "isv.business-failed:1001", "订单已关闭，不能备注")


@dataclass
class FakeDouyin:
    """Douyin Shop's open API: POST /<method/with/slashes>?app_key&method&timestamp&v&
    sign_method&sign[&access_token], body param_json. The signature is checked over the
    body as sent; token.create issues tokens (`expire()` revokes the current one, as an
    early expiry); orders hold buyer fields as cipher texts that batchDecrypt opens."""

    app_key: str
    app_secret: str
    shop_id: str = DOUYIN_SHOP_ID
    tokens_issued: int = 0
    live_token: str = ""
    remarks: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    ciphers: dict[str, str] = field(default_factory=dict)
    decrypted: list[str] = field(default_factory=list)
    fail: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def expire(self) -> None:
        self.live_token = "revoked"

    def encrypt(self, plain: str) -> str:
        cipher = f"#{len(self.ciphers):04d}#cipher#"
        self.ciphers[cipher] = plain
        return cipher

    def add_order(self, p_id: str, *, receiver: str, tel: str, detail: str, city: str) -> None:
        self.orders[p_id] = {
            "order_id": p_id,
            "order_status": 2,
            "doudian_open_id": f"1@#dy-{p_id}",
            "encrypt_post_receiver": self.encrypt(receiver),
            "encrypt_post_tel": self.encrypt(tel),
            "post_addr": {
                "province": {"name": city, "id": "12"},
                "city": {"name": city, "id": "120100"},
                "town": {"name": "和平区", "id": "120101"},
                "street": {"name": "南市街道", "id": "120101001"},
                "encrypt_detail": self.encrypt(detail),
            },
            "sku_order_list": [{"product_name": "智能门锁 X3 安装"}],
        }

    def _answer(self, data: dict[str, Any]) -> httpx.Response:
        return httpx.Response(
            200, json={"code": 10000, "msg": "success", "sub_code": "", "data": data}
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        method = query.get("method", "")
        self.calls.append(method)
        param_json = request.content.decode()
        expected = douyin_api_sign(
            app_key=self.app_key,
            method=method,
            param_json=param_json,
            timestamp=query.get("timestamp", ""),
            v=query.get("v", ""),
            app_secret=self.app_secret,
            sign_method=query.get("sign_method", "md5"),
        )
        if (
            query.get("app_key") != self.app_key
            or query.get("sign") != expected
            or request.url.path != "/" + method.replace(".", "/")
        ):
            return httpx.Response(
                200, json=douyin_error(40003, "isv.signature-invalid", "签名校验失败")
            )
        params = json.loads(param_json)
        if param_json != douyin_param_json(params):
            return httpx.Response(200, json=douyin_error(40003, "isv.parameter-format-invalid", ""))
        if method == "token.create":
            if params.get("shop_id") != self.shop_id:
                return httpx.Response(
                    200, json=douyin_error(50001, "dop.token-generate-failed", "")
                )
            self.tokens_issued += 1
            self.live_token = f"dy-token-{self.tokens_issued}"
            return self._answer(
                {"access_token": self.live_token, "expires_in": 604800, "refresh_token": "r"}
            )
        if query.get("access_token") != self.live_token:
            return httpx.Response(200, json=TOKEN_EXPIRED)
        if self.fail:
            return httpx.Response(200, json=self.fail.pop(0))
        if method == "order.addOrderRemark":
            self.remarks.append(params)
            return self._answer({})
        if method == "order.orderDetail":
            order = self.orders.get(str(params.get("shop_order_id")))
            if order is None:
                return httpx.Response(200, json=douyin_error(40004, "isv.parameter-invalid", ""))
            return self._answer({"shop_order_detail": order})
        if method == "order.batchDecrypt":
            infos = []
            for item in params.get("cipher_infos", []):
                plain = self.ciphers.get(item["cipher_text"])
                self.decrypted.append(item["cipher_text"])
                infos.append(
                    {
                        "auth_id": item["auth_id"],
                        "cipher_text": item["cipher_text"],
                        "decrypt_text": plain or "",
                        "err_no": 0 if plain is not None else 300008,
                        "err_msg": "" if plain is not None else "解密失败",
                    }
                )
            return self._answer({"decrypt_infos": infos, "custom_err": {"err_code": 0}})
        return httpx.Response(200, json=douyin_error(70000, "isp.api-service-off", method))


AMAP_KEY = "fake-amap-key"


@dataclass
class FakeAmap:
    """AMap's geocoder: GET /v3/geocode/geo?key&address[&city] → geocodes[].location as
    "lng,lat"; an unknown address has count 0; `down` answers status 0 (e.g. over quota)."""

    places: dict[str, str] = field(default_factory=dict)
    down: bool = False
    asked: list[str] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        self.asked.append(query.get("address", ""))
        if request.url.path != "/v3/geocode/geo" or query.get("key") != AMAP_KEY:
            return httpx.Response(
                200, json={"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"}
            )
        if self.down:
            return httpx.Response(
                200, json={"status": "0", "info": "DAILY_QUERY_OVER_LIMIT", "infocode": "10003"}
            )
        location = self.places.get(query.get("address", ""))
        geocodes = (
            [{"formatted_address": query["address"], "location": location}] if location else []
        )
        return httpx.Response(
            200,
            json={
                "status": "1",
                "info": "OK",
                "infocode": "10000",
                "count": str(len(geocodes)),
                "geocodes": geocodes,
            },
        )


def mock_client(fake: Any) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(fake.handler))


class Served:
    """A fake's handler behind a real HTTP server on 127.0.0.1 (a port of 18400-18499),
    for code that is given a URL rather than an httpx client (the API, the worker)."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake

    def __enter__(self) -> Served:
        import socket
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        fake = self.fake

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = httpx.Request(
                    self.command,
                    f"http://127.0.0.1{self.path}",
                    headers=dict(self.headers.items()),
                    content=self.rfile.read(length) if length else b"",
                )
                response = fake.handler(request)
                self.send_response(response.status_code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        for port in range(18400, 18500):
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            try:
                self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            except OSError:
                continue
            break
        else:
            raise RuntimeError("no free port in 18400-18499")
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
