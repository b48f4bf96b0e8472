"""WeCom formats (pure): settings maps, the accept/decline card, events."""

from __future__ import annotations

from typing import Any

ACCEPT, DECLINE = "accept", "decline"
OUTCOMES = {ACCEPT: "accepted", DECLINE: "declined"}
LABELS = {ACCEPT: "已接单", DECLINE: "已拒单"}
TASK_PREFIX = "sf-"


def parse_map(text: str) -> dict[str, str]:
    """ "a=x, b=y" → {"a": "x", "b": "y"} (settings such as SERVFLOW_WECOM_USER_MAP)."""
    pairs = (part.split("=", 1) for part in text.split(",") if "=" in part)
    return {k.strip(): v.strip() for k, v in pairs if k.strip() and v.strip()}


def task_id_of(notification_id: int) -> str:
    return f"{TASK_PREFIX}{notification_id}"


def accept_card(*, task_id: str, title: str, text: str, fault: str) -> dict[str, Any]:
    """A button_interaction template card with 接单 / 拒单."""
    return {
        "card_type": "button_interaction",
        "source": {"desc": "servflow 工单"},
        "main_title": {"title": title[:36], "desc": fault[:44]},
        "sub_title_text": text[:300],
        "task_id": task_id,
        "button_list": [
            {"text": "接单", "style": 1, "key": ACCEPT},
            {"text": "拒单", "style": 2, "key": DECLINE},
        ],
    }


def card_click(fields: dict[str, str]) -> dict[str, str] | None:
    """The click in a decrypted callback (template_card_event), or None for anything else."""
    if fields.get("MsgType") != "event" or fields.get("Event") != "template_card_event":
        return None
    key = fields.get("EventKey", "")
    if key not in OUTCOMES or not fields.get("TaskId") or not fields.get("FromUserName"):
        return None
    return {
        "task_id": fields["TaskId"],
        "userid": fields["FromUserName"],
        "key": key,
        "response_code": fields.get("ResponseCode", ""),
    }


HANDOFF_SUFFIX = ".handoff"


def answer_for(node_id: str, key: str) -> tuple[dict[str, Any], str]:
    """The step submission (data, outcome) a click makes: a dispatch offer
    (`<node>.handoff`) is answered `{"answer": "accept"|"decline"}` as dispatch documents;
    any other step (an acceptance task) gets the outcome accepted/declined."""
    if node_id.endswith(HANDOFF_SUFFIX):
        data: dict[str, Any] = {"answer": key}
        if key == DECLINE:
            data["reason"] = "企业微信卡片拒单"
        return data, "done"
    return {}, OUTCOMES[key]
