"""A local fake of Alibaba Cloud SMS's SendSms (API 2017-05-25, RPC style): it checks each
request as the service does — the HMAC-SHA1 signature recomputed from the received
parameters the way Alibaba Cloud's own Python SDK builds it (urlencode, then the %20 / %2A
/ ~ fix-ups, then encoded again), the timestamp, a nonce used once, the common
parameters — and answers with the service's JSON: `{"Code":"OK","BizId":…}`, or
SignatureDoesNotMatch, SignatureNonceUsed, isv.BUSINESS_LIMIT_CONTROL (throttled),
isv.MOBILE_NUMBER_ILLEGAL, ServiceUnavailable. Serves on a port of 18380-18389."""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

ACCESS_KEY_ID = "LTAI5tTestKeyId0001"
ACCESS_KEY_SECRET = "test-secret-0123456789abcdef"
SIGN_NAME = "服务通"
TEMPLATE_CODE = "SMS_465011234"


def sdk_signature(method: str, params: dict[str, str], secret: str) -> str:
    """The signature as Alibaba Cloud's Python SDK (aliyun-python-sdk-core,
    rpc_signature_composer) computes it: a second implementation to check ours against."""
    query = urlencode(sorted(params.items()))
    query = query.replace("+", "%20").replace("*", "%2A").replace("%7E", "~")
    canonical = quote(query, safe="~")
    canonical = canonical.replace("+", "%20").replace("*", "%2A").replace("%7E", "~")
    to_sign = f"{method}&%2F&{canonical}"
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class FakeSmsState:
    throttle_next: int = 0
    unavailable_next: int = 0
    nonces: set[str] = field(default_factory=set)
    requests: list[dict[str, str]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _answer(params: dict[str, str], state: FakeSmsState) -> tuple[int, dict[str, Any]]:
    request_id = str(uuid.uuid4()).upper()
    required = [
        "AccessKeyId",
        "Action",
        "Format",
        "RegionId",
        "SignatureMethod",
        "SignatureNonce",
        "SignatureVersion",
        "Timestamp",
        "Version",
        "Signature",
        "PhoneNumbers",
        "SignName",
        "TemplateCode",
    ]
    missing = [name for name in required if not params.get(name)]
    if missing:
        return 400, {"Code": "MissingParameter", "Message": f"{missing[0]} is mandatory"}
    if params["AccessKeyId"] != ACCESS_KEY_ID:
        return 404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "not found"}
    given = params.pop("Signature")
    if not hmac.compare_digest(given, sdk_signature("POST", params, ACCESS_KEY_SECRET)):
        return 400, {
            "Code": "SignatureDoesNotMatch",
            "Message": "Specified signature is not matched with our calculation.",
            "RequestId": request_id,
        }
    if (params["Action"], params["Version"], params["Format"]) != ("SendSms", "2017-05-25", "JSON"):
        return 400, {"Code": "InvalidParameter", "Message": "Action/Version/Format"}
    if (params["SignatureMethod"], params["SignatureVersion"]) != ("HMAC-SHA1", "1.0"):
        return 400, {"Code": "InvalidParameter", "Message": "SignatureMethod/Version"}
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", params["Timestamp"]):
        return 400, {"Code": "InvalidTimeStamp.Format", "Message": "ISO 8601 UTC"}
    taken = calendar.timegm(time.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
    if abs(taken - time.time()) > 900:
        return 400, {"Code": "InvalidTimeStamp.Expired", "Message": "expired"}
    with state.lock:
        if params["SignatureNonce"] in state.nonces:
            return 400, {"Code": "SignatureNonceUsed", "Message": "nonce used"}
        state.nonces.add(params["SignatureNonce"])
        if state.unavailable_next:
            state.unavailable_next -= 1
            return 503, {
                "Code": "ServiceUnavailable",
                "Message": "The request has failed due to a temporary failure of the server.",
            }
        if state.throttle_next:
            state.throttle_next -= 1
            return 200, {
                "Code": "isv.BUSINESS_LIMIT_CONTROL",
                "Message": "触发分钟级流控Permits:1",
                "RequestId": request_id,
            }
    phones = params["PhoneNumbers"].split(",")
    if not all(re.fullmatch(r"(\+?86)?1\d{10}", p) for p in phones):
        return 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}
    try:
        template = json.loads(params.get("TemplateParam") or "{}")
    except ValueError:
        return 200, {"Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法"}
    biz_id = f"{int(time.time())}^{uuid.uuid4().hex[:10]}"
    with state.lock:
        state.sent.append(
            {
                "phones": phones,
                "sign_name": params["SignName"],
                "template_code": params["TemplateCode"],
                "template_param": template,
                "out_id": params.get("OutId", ""),
                "biz_id": biz_id,
            }
        )
    return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id}


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A server on the first port of 18380-18389 it can take (SO_REUSEADDR: the ports a
    previous fake closed may still hold connections in TIME_WAIT)."""
    for port in range(18380, 18390):
        try:
            return ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError:
            continue
    raise RuntimeError("no free port in 18380-18389")


class FakeAliyunSms:
    """`with FakeAliyunSms() as sms: … sms.url …`"""

    def __init__(self) -> None:
        self.state = FakeSmsState()
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                params = dict(parse_qsl(body, keep_blank_values=True))
                with state.lock:
                    state.requests.append(dict(params))
                status, answer = _answer(params, state)
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = _serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reset(self) -> None:
        """Forgets the requests and scripted answers (one fake serves a test session)."""
        with self.state.lock:
            self.state.throttle_next = self.state.unavailable_next = 0
            self.state.nonces.clear()
            self.state.requests.clear()
            self.state.sent.clear()

    def __enter__(self) -> FakeAliyunSms:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
