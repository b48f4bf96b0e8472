"""Text messages through Alibaba Cloud SMS (阿里云短信服务), `SendSms` of API version
2017-05-25, signed with Alibaba Cloud's RPC signature (HMAC-SHA1, signature version 1.0).

The request: every parameter (the common ones — AccessKeyId, Action, Format, RegionId,
SignatureMethod, SignatureNonce, SignatureVersion, Timestamp, Version — and SendSms's own:
PhoneNumbers, SignName, TemplateCode, TemplateParam, OutId) sorted by name, each name and
value percent-encoded per RFC 3986 (space %20, `*` %2A, `~` kept), joined `k=v&k=v`; the
string to sign is `POST&%2F&` + that string percent-encoded again; the signature is
base64(HMAC-SHA1(AccessKeySecret + "&", string to sign)), sent as `Signature`. The answer
is JSON: `{"Code": "OK", "BizId": …, "RequestId": …}`, or an error code.

Off unless configured (SERVFLOW_SMS_PROVIDER=aliyun and its keys, sign name and template):
then `sms` messages are logged, as before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from servflow.notify.notifier import DeliveryFailed, Notifier, OutgoingMessage
from servflow.platform.settings import Settings

log = logging.getLogger("servflow.notify.sms")

API_VERSION = "2017-05-25"
# Throttled by Alibaba Cloud: the per-number business limits (1/min, 5/h, 10/day for
# codes; 50/day per template for notices) and the API's own flow control. Sent again
# after the wait; the minute limit needs a minute.
THROTTLED = {
    "isv.BUSINESS_LIMIT_CONTROL": 60.0,
    "Throttling": 5.0,
    "Throttling.User": 5.0,
    "Throttling.Api": 5.0,
    "Throttling.Concurrency": 2.0,
}
# The service failing on its side: sent again with the outbox's backoff.
TRANSIENT = {"isp.SYSTEM_ERROR", "ServiceUnavailable", "InternalError", "SignatureNonceUsed"}
# Mainland mobile numbers (optionally +86 / 0086), which SendSms takes as they are.
PHONE = re.compile(r"^(?:\+?86|0086)?1[3-9]\d{9}$")


def percent_encode(value: str) -> str:
    """RFC 3986 as Alibaba Cloud wants it: only A-Z a-z 0-9 - _ . ~ left as they are."""
    return quote(value, safe="-_.~")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def signature(method: str, params: Mapping[str, str], secret: str) -> str:
    """The `Signature` of a request whose other parameters are `params`."""
    mac = hmac.new((secret + "&").encode(), string_to_sign(method, params).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


@dataclass(frozen=True)
class AliyunSmsConfig:
    access_key_id: str
    access_key_secret: str
    sign_name: str
    template_code: str
    endpoint: str = "https://dysmsapi.aliyuncs.com"
    region: str = "cn-hangzhou"
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> AliyunSmsConfig | None:
        """The configuration, or None when SMS is off or not fully configured."""
        if settings.sms_provider != "aliyun":
            return None
        config = cls(
            access_key_id=settings.sms_access_key_id,
            access_key_secret=settings.sms_access_key_secret,
            sign_name=settings.sms_sign_name,
            template_code=settings.sms_template_code,
            endpoint=settings.sms_endpoint,
            region=settings.sms_region,
        )
        missing = [
            name
            for name, value in (
                ("sms_access_key_id", config.access_key_id),
                ("sms_access_key_secret", config.access_key_secret),
                ("sms_sign_name", config.sign_name),
                ("sms_template_code", config.template_code),
            )
            if not value
        ]
        if missing:
            log.warning("SMS provider aliyun without %s: texts are logged", ", ".join(missing))
            return None
        return config


class SmsError(Exception):
    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable, self.retry_after = retryable, retry_after


class AliyunSmsClient:
    """SendSms over HTTPS (a form POST to the endpoint's `/`)."""

    def __init__(self, config: AliyunSmsConfig, *, http: httpx.Client | None = None) -> None:
        self.config = config
        self.http = http or httpx.Client(timeout=config.timeout)

    def signed_params(
        self, *, phones: list[str], template_param: Mapping[str, Any], out_id: str
    ) -> dict[str, str]:
        c = self.config
        params = {
            "AccessKeyId": c.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": c.region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": str(uuid.uuid4()),
            "SignatureVersion": "1.0",
            "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "Version": API_VERSION,
            "PhoneNumbers": ",".join(phones),
            "SignName": c.sign_name,
            "TemplateCode": c.template_code,
            "TemplateParam": json.dumps(dict(template_param), ensure_ascii=False),
            "OutId": out_id,
        }
        params["Signature"] = signature("POST", params, c.access_key_secret)
        return params

    def send(self, *, phones: list[str], template_param: Mapping[str, Any], out_id: str) -> str:
        """Sends one text to `phones`; returns Alibaba Cloud's BizId.

        Raises:
            SmsError: retryable for throttling, the service's own failures, network
                errors and 5xx; not for a refused number, template, sign name or key.
        """
        params = self.signed_params(phones=phones, template_param=template_param, out_id=out_id)
        try:
            response = self.http.post(self.config.endpoint.rstrip("/") + "/", data=params)
        except httpx.HTTPError as exc:
            raise SmsError(f"SendSms: {type(exc).__name__}: {exc}", retryable=True) from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        code = str(body.get("Code", "")) if isinstance(body, dict) else ""
        if code == "OK":
            return str(body.get("BizId", ""))
        message = str(body.get("Message", "")) if isinstance(body, dict) else ""
        text = f"SendSms: {code or f'HTTP {response.status_code}'} {message}".strip()
        if code in THROTTLED:
            raise SmsError(text, retryable=True, retry_after=THROTTLED[code])
        if code in TRANSIENT or (not code and response.status_code >= 500):
            raise SmsError(text, retryable=True)
        raise SmsError(text, retryable=False)


class SmsNotifier:
    """Delivers `sms` outbox rows: one SendSms to every recipient of a row, the row's
    `payload["sms_params"]` as the template's parameters (else `{"content": message}`),
    `OutId` `sf-<notification id>` so that a delivery receipt finds its row."""

    def __init__(self, client: AliyunSmsClient) -> None:
        self.client = client

    def send(self, message: OutgoingMessage) -> None:
        phones = [p.replace(" ", "") for p in message.recipients]
        bad = [p for p in phones if not PHONE.match(p)]
        if bad or not phones:
            raise DeliveryFailed(
                f"not a mobile number: {', '.join(bad) or '(none)'}", retryable=False
            )
        params = message.payload.get("sms_params")
        if not isinstance(params, dict):
            params = {"content": message.message}
        try:
            biz_id = self.client.send(
                phones=phones, template_param=params, out_id=f"sf-{message.notification_id}"
            )
        except SmsError as exc:
            raise DeliveryFailed(
                str(exc), retryable=exc.retryable, retry_after=exc.retry_after
            ) from exc
        log.info(
            "sms %s sent to %d number(s), BizId %s", message.notification_id, len(phones), biz_id
        )


class ChannelNotifier:
    """Sends `sms` messages by SMS and every other channel by `default` (WeCom, or the
    log)."""

    def __init__(self, default: Notifier, *, sms: Notifier) -> None:
        self.default, self.sms = default, sms

    def send(self, message: OutgoingMessage) -> None:
        (self.sms if message.channel == "sms" else self.default).send(message)


def with_sms(settings: Settings, notifier: Notifier) -> Notifier:
    """`notifier` with SMS added when it is configured; as it is otherwise (texts logged)."""
    config = AliyunSmsConfig.from_settings(settings)
    if config is None:
        return notifier
    if not settings.public_base_url:
        log.warning("SMS on without SERVFLOW_PUBLIC_BASE_URL: sign-off texts carry a bare path")
    return ChannelNotifier(notifier, sms=SmsNotifier(AliyunSmsClient(config)))
