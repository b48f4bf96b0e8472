"""What each marketplace is told when an order moves on (pure): the open-API method and
its business parameters per platform, and how each platform's answer reads (delivered,
worth retrying, or not).

Milestones, in order: `accepted` (the order is made), `dispatched` (an engineer is on it),
`serviced` (the engineer's service step is done), `completed`, or `cancelled` (cancelled
or failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

CHINA = timezone(timedelta(hours=8))
MILESTONES = ("accepted", "dispatched", "serviced", "completed", "cancelled")
LABELS = {
    "accepted": "已接单",
    "dispatched": "已派工",
    "serviced": "已上门服务",
    "completed": "已完成",
    "cancelled": "已取消",
}

# Douyin Shop: a seller's remark on the order (order.addOrderRemark, documented); the
# status travels as its text, since Douyin's open API has no installation-status method
# we could verify.
DOUYIN_METHOD = "order.addOrderRemark"
# Tmall service workcards and JD home-service tasks: the method names and status words
# follow our fakes (tests/integrations/fake_marketplaces.py), not a verified document.
TMALL_METHOD = "tmall.servicecenter.workcard.status.update"
JD_METHOD = "jingdong.homefw.task.updateStatus"


def china_time(moment: datetime) -> str:
    """The timestamp format all three gateways take: yyyy-MM-dd HH:mm:ss in GMT+8."""
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]


def request_for(
    platform: str,
    *,
    status: str,
    external_order_id: str,
    order_id: str,
    payload: dict[str, Any],
    now: datetime,
) -> Call:
    """The open-API call that tells `platform` about `status`."""
    label = LABELS.get(status, status)
    if platform == "douyin":
        remark = f"[servflow {order_id}] {label}"
        if payload.get("outcome"):
            remark += f" ({payload['outcome']})"
        return Call(
            DOUYIN_METHOD,
            {"order_id": external_order_id, "remark": remark[:500], "is_add_star": "false"},
        )
    if platform == "tmall":
        return Call(
            TMALL_METHOD,
            {
                "workcard_id": external_order_id,
                "status": status.upper(),
                "update_date": str(int(now.timestamp() * 1000)),
                "comments": f"{label} ({order_id})",
            },
        )
    if platform == "jd":
        return Call(
            JD_METHOD,
            {
                "task_id": external_order_id,
                "status": status.upper(),
                "operate_time": china_time(now),
                "remark": f"{label} ({order_id})",
            },
        )
    raise ValueError(f"no writeback for platform {platform!r}")


@dataclass(frozen=True)
class Failure:
    """A platform's refusal: `transient` ones are retried with backoff; `token` ones mean
    the credentials need refreshing (Douyin: fetched again at once)."""

    message: str
    transient: bool
    token: bool = False


# Douyin Shop (code, sub_code): 10000 success; 20000/20001 service error or timeout and
# 60000 rate limited are worth retrying; 40003 isv.access-token-expired/-no-existed means
# fetch a token again; anything else (40004 bad parameter, 50002 business failure, 30001
# no permission, ...) will not get better by retrying.
DOUYIN_TRANSIENT = {20000, 20001, 60000}
DOUYIN_TOKEN_SUBCODES = {"isv.access-token-expired", "isv.access-token-no-existed"}


def douyin_failure(body: Any) -> Failure | None:
    if not isinstance(body, dict):
        return Failure("answer is not a JSON object", transient=True)
    try:
        code = int(body.get("code", 0))
    except (TypeError, ValueError):
        code = 0
    if code == 10000:
        return None
    sub = str(body.get("sub_code") or "")
    text = f"douyin {code} {sub} {body.get('sub_msg') or body.get('msg') or ''}".strip()
    if sub in DOUYIN_TOKEN_SUBCODES:
        return Failure(text, transient=True, token=True)
    return Failure(text, transient=code in DOUYIN_TRANSIENT)


# TOP (Tmall): error_response {code, msg, sub_code, sub_msg}. Code 7 (app call limited)
# and 15 with an isp.* sub code (the platform's own failure) and 520 are retried; 27 (invalid
# session) and 26/53 mean the seller must authorize again — parked, like isv.* business
# errors.
TOP_TRANSIENT = {7, 520}
TOP_TOKEN = {26, 27, 53}


def top_failure(body: Any) -> Failure | None:
    if not isinstance(body, dict):
        return Failure("answer is not a JSON object", transient=True)
    error = body.get("error_response")
    if error is None:
        return None
    error = error if isinstance(error, dict) else {}
    try:
        code = int(error.get("code", 0))
    except (TypeError, ValueError):
        code = 0
    sub = str(error.get("sub_code") or "")
    text = f"tmall {code} {sub} {error.get('sub_msg') or error.get('msg') or ''}".strip()
    if code in TOP_TOKEN:
        return Failure(text + " (authorize the seller again)", transient=False, token=True)
    return Failure(text, transient=code in TOP_TRANSIENT or sub.startswith("isp."))


# JOS (JD): error_response {code, zh_desc, en_desc}; 19 is an invalid or expired
# access_token (parked until re-authorized); our fake's rate limit is 66 and its
# busy/timeout codes 1/67 (retried).
JOS_TRANSIENT = {"1", "66", "67"}
JOS_TOKEN = {"19"}


def jos_failure(body: Any, *, method: str) -> Failure | None:
    if not isinstance(body, dict):
        return Failure("answer is not a JSON object", transient=True)
    error = body.get("error_response")
    if error is None:
        result = body.get(method.replace(".", "_") + "_responce")
        if isinstance(result, dict) and str(result.get("code", "0")) not in ("0", ""):
            return Failure(f"jd {result.get('code')} {result.get('msg', '')}", transient=False)
        return None
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code", ""))
    text = f"jd {code} {error.get('zh_desc') or error.get('en_desc') or ''}".strip()
    if code in JOS_TOKEN:
        return Failure(text + " (authorize the seller again)", transient=False, token=True)
    return Failure(text, transient=code in JOS_TRANSIENT)
