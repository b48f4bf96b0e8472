"""Marketplace formats (pure): signatures checked on the raw bytes in constant time, and
the messages read into one shape."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGES = 100  # per push
DOUYIN_CREATED, DOUYIN_PAID = "100", "101"
TMALL_WORKCARD = "tmall_fuwu_WorkcardInfo"


class BadSignature(ValueError):
    pass


class BadMessage(ValueError):
    pass


def douyin_sign(app_key: str, body: bytes, app_secret: str) -> str:
    """Douyin's event-sign: md5(app_key + raw body + app_secret), hex."""
    digest = hashlib.md5(app_key.encode() + body + app_secret.encode())  # noqa: S324 (Douyin's scheme)
    return digest.hexdigest()


def check_douyin(
    *, app_id: str, event_sign: str, body: bytes, app_key: str, app_secret: str
) -> None:
    """Raises BadSignature unless the push is signed with our app's key and secret."""
    if not app_key or not app_secret:
        raise BadSignature("Douyin intake is not configured")
    expected = douyin_sign(app_key, body, app_secret)
    same_app = hmac.compare_digest(app_id.encode(), app_key.encode())
    same_sign = hmac.compare_digest(event_sign.lower().encode(), expected.encode())
    if not (same_app and same_sign):
        raise BadSignature("event-sign does not match")


def top_sign(params: dict[str, str], secret: str, *, sign_method: str = "md5") -> str:
    """Taobao TOP's (and JD JOS's) request signature over the sorted key+value pairs
    (`sign` left out), upper hex: `md5` = md5(secret + pairs + secret); `hmac` =
    HMAC-MD5 keyed by the secret over the pairs; `hmac-sha256` likewise with SHA-256."""
    pairs = "".join(f"{k}{v}" for k, v in sorted(params.items()) if k != "sign")
    if sign_method == "md5":
        text = secret + pairs + secret
        return hashlib.md5(text.encode()).hexdigest().upper()  # noqa: S324 (TOP's scheme)
    digest = {"hmac": hashlib.md5, "hmac-sha256": hashlib.sha256}.get(sign_method)
    if digest is None:
        raise ValueError(f"sign_method: md5, hmac or hmac-sha256, not {sign_method!r}")
    return hmac.new(secret.encode(), pairs.encode(), digest).hexdigest().upper()


def douyin_param_json(params: dict[str, Any]) -> str:
    """Douyin Shop's param_json: the business parameters as JSON with sorted keys and no
    spaces (the signature covers this exact text)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def douyin_api_sign(
    *,
    app_key: str,
    method: str,
    param_json: str,
    timestamp: str,
    v: str,
    app_secret: str,
    sign_method: str = "hmac-sha256",
) -> str:
    """Douyin Shop open API's request signature: app_secret + "app_key…method…param_json…
    timestamp…v…" + app_secret, then HMAC-SHA256 keyed by app_secret (`hmac-sha256`) or
    md5 (`md5`), lower hex."""
    text = (
        f"{app_secret}app_key{app_key}method{method}param_json{param_json}"
        f"timestamp{timestamp}v{v}{app_secret}"
    )
    if sign_method == "md5":
        return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 (Douyin's scheme)
    if sign_method != "hmac-sha256":
        raise ValueError(f"sign_method: md5 or hmac-sha256, not {sign_method!r}")
    return hmac.new(app_secret.encode(), text.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Incoming:
    """One marketplace message, read: its id for deduplication, and the order it is about."""

    platform: str
    msg_id: str
    tag: str
    external_order_id: str
    raw: dict[str, Any] = field(compare=False)


def douyin_messages(body: bytes) -> list[Incoming]:
    """The messages of a Douyin push: `[{tag, msg_id, data}]`, data a JSON string."""
    try:
        items = json.loads(body)
    except ValueError:
        raise BadMessage("body: not JSON") from None
    if not isinstance(items, list) or not 0 < len(items) <= MAX_MESSAGES:
        raise BadMessage(f"body: a list of 1 to {MAX_MESSAGES} messages expected")
    messages = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("msg_id") or "tag" not in item:
            raise BadMessage(f"body[{index}]: tag and msg_id are required")
        data = item.get("data")
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                raise BadMessage(f"body[{index}].data: not JSON") from None
        if not isinstance(data, dict):
            raise BadMessage(f"body[{index}].data: an object expected")
        messages.append(
            Incoming(
                platform="douyin",
                msg_id=str(item["msg_id"])[:128],
                tag=str(item["tag"])[:32],
                external_order_id=str(data.get("p_id") or data.get("order_id") or "")[:128],
                raw={"tag": str(item["tag"]), "msg_id": str(item["msg_id"]), "data": data},
            )
        )
    return messages


@dataclass(frozen=True)
class Buyer:
    """What an installation order needs of the buyer (opened from the sealed message)."""

    name: str
    phone: str
    address: str
    city: str
    lat: float | None
    lng: float | None
    buyer_id: str
    product: str


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _name(part: Any) -> str:
    return str(part.get("name", "")) if isinstance(part, dict) else str(part or "")


def douyin_needs_detail(data: dict[str, Any]) -> bool:
    """A real push carries the order id only: its buyer is fetched (order.orderDetail)."""
    return not (data.get("post_tel") or data.get("post_receiver"))


def douyin_ciphers(detail: dict[str, Any]) -> list[str]:
    """The encrypted buyer fields of an order detail: receiver, phone, street address."""
    addr = detail.get("post_addr") if isinstance(detail.get("post_addr"), dict) else {}
    texts = [
        detail.get("encrypt_post_receiver"),
        detail.get("encrypt_post_tel"),
        (addr or {}).get("encrypt_detail"),
    ]
    return [str(t) for t in texts if t]


def douyin_detail_data(p_id: str, detail: dict[str, Any], plain: dict[str, str]) -> dict[str, Any]:
    """The push's data filled from the order detail, its buyer fields decrypted (`plain`
    maps each cipher text to its text): the shape `douyin_buyer` reads."""
    addr = detail.get("post_addr") if isinstance(detail.get("post_addr"), dict) else {}
    addr = dict(addr or {})

    def opened(cipher: Any, clear: Any = "") -> str:
        return plain.get(str(cipher), "") if cipher else str(clear or "")

    town = _name(addr.get("town")) + _name(addr.get("street"))
    return {
        "p_id": p_id,
        "open_id": str(detail.get("doudian_open_id") or detail.get("open_id") or ""),
        "post_receiver": opened(detail.get("encrypt_post_receiver"), detail.get("post_receiver")),
        "post_tel": opened(detail.get("encrypt_post_tel"), detail.get("post_tel")),
        "post_addr": {
            "province": {"name": _name(addr.get("province"))},
            "city": {"name": _name(addr.get("city"))},
            "town": {"name": town},
            "detail": opened(addr.get("encrypt_detail"), addr.get("detail")),
        },
        "sku_order_list": detail.get("sku_order_list") or [],
    }


def douyin_buyer(data: dict[str, Any]) -> Buyer:
    """The buyer of a paid Douyin order: receiver, phone and address as the order detail
    gives them (post_receiver, post_tel, post_addr{province,city,town,detail}), with the
    address's coordinates (post_addr.lat/lng, geocoded upstream)."""
    addr = data.get("post_addr") or {}
    if not isinstance(addr, dict):
        addr = {}
    parts = [_name(addr.get(k)) for k in ("province", "city", "town")] + [
        str(addr.get("detail", ""))
    ]
    products = data.get("sku_order_list") or []
    product = ""
    if isinstance(products, list) and products and isinstance(products[0], dict):
        product = str(products[0].get("product_name", ""))
    return Buyer(
        name=str(data.get("post_receiver", ""))[:100],
        phone=str(data.get("post_tel", ""))[:32],
        address="".join(p for p in parts if p)[:400],
        city=_name(addr.get("city"))[:100],
        lat=_float(addr.get("lat")),
        lng=_float(addr.get("lng")),
        buyer_id=str(data.get("open_id") or data.get("buyer_id") or "")[:200],
        product=product[:200] or "电商商品安装",
    )


def workcard_buyer(card: dict[str, Any]) -> Buyer:
    """The buyer of a Tmall workcard or a JD home-service task (the fakes' shared shape:
    buyer_name, buyer_phone, address, city, lat, lng, buyer_id, service_name)."""
    return Buyer(
        name=str(card.get("buyer_name", ""))[:100],
        phone=str(card.get("buyer_phone", ""))[:32],
        address=str(card.get("address", ""))[:400],
        city=str(card.get("city", ""))[:100],
        lat=_float(card.get("lat")),
        lng=_float(card.get("lng")),
        buyer_id=str(card.get("buyer_id", ""))[:200],
        product=str(card.get("service_name", ""))[:200] or "上门安装",
    )


def wants_order(platform: str, tag: str) -> bool:
    """Which messages make an installation order: a paid Douyin order, a Tmall workcard,
    a JD task. Others (e.g. Douyin 100, created but not paid) are stored and done."""
    if platform == "douyin":
        return tag == DOUYIN_PAID
    return True


def order_id_for(platform: str, external_order_id: str) -> str:
    """One work order per marketplace order, whatever message (or replay) names it."""
    safe = "".join(ch for ch in external_order_id if ch.isalnum() or ch in "-_")[:100]
    return f"{platform}-{safe}"
