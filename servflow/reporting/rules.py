"""Reporting's pure rules: which counter cells an order adds, time histograms, NPS, periods.

An order adds a handful of cells to the counters (`cells_of`): its status on the day it was
created, its revenue, where its demand came from, and its completed steps' times, SLA
results, first-time fix and rating (each as the step completes, not when the order does).
When the order moves, the counters change by the difference between the cells it adds now
and the cells it added before (`difference`), so every figure stays exact whatever order
the moves arrive in, and a repeated move adds nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

# Business days are China Standard Time days (UTC+8, no daylight saving).
CST = timezone(timedelta(hours=8))
# Node times: bin 0 is under a minute; bin i >= 1 covers [60·2^((i-1)/2), 60·2^(i/2)) s.
TIME_BINS = 48
OPEN_STATUSES_EXCLUDED = ("completed", "cancelled", "failed")
AT_RISK_WITHIN = timedelta(hours=2)
SERVICE_NODE_TYPES = ("service",)
RATING_FIELDS = ("nps", "rating")
METRICS = ("orders", "revenue", "demand", "sla", "ftf", "nps", "node_time")

# City (as the org tree and addresses spell it) -> province, as the bundled China map names
# provinces. A city not listed counts under its own name.
PROVINCE_OF_CITY = {
    "北京": "北京", "天津": "天津", "上海": "上海", "重庆": "重庆",
    "石家庄": "河北", "唐山": "河北", "保定": "河北", "太原": "山西", "大同": "山西",
    "呼和浩特": "内蒙古", "包头": "内蒙古", "沈阳": "辽宁", "大连": "辽宁", "长春": "吉林",
    "哈尔滨": "黑龙江", "南京": "江苏", "苏州": "江苏", "无锡": "江苏", "杭州": "浙江",
    "宁波": "浙江", "温州": "浙江", "合肥": "安徽", "福州": "福建", "厦门": "福建",
    "南昌": "江西", "济南": "山东", "青岛": "山东", "郑州": "河南", "洛阳": "河南",
    "武汉": "湖北", "宜昌": "湖北", "长沙": "湖南", "广州": "广东", "深圳": "广东",
    "东莞": "广东", "佛山": "广东", "南宁": "广西", "桂林": "广西", "海口": "海南",
    "三亚": "海南", "成都": "四川", "绵阳": "四川", "贵阳": "贵州", "昆明": "云南",
    "拉萨": "西藏", "西安": "陕西", "兰州": "甘肃", "西宁": "青海", "银川": "宁夏",
    "乌鲁木齐": "新疆", "香港": "香港", "澳门": "澳门",
}  # fmt: skip


@dataclass(frozen=True)
class OrderView:
    """What reporting needs of an order's read-model row."""

    order_id: str
    org_path: str
    status: str
    created_at: datetime
    definition_key: str = ""
    definition_version: int = 0
    completed_at: datetime | None = None
    sandbox: bool = False


@dataclass(frozen=True)
class StepView:
    """What reporting needs of one step row of the order."""

    node_id: str
    node_type: str
    visit: int
    started_at: datetime
    completed_at: datetime | None = None
    sla_deadline: datetime | None = None
    outcome: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


# A counter cell: (metric, day iso, org_path, key, bin) -> (n, amount).
CellKey = tuple[str, str, str, str, int]
Cells = dict[CellKey, tuple[int, Decimal]]


def business_day(at: datetime) -> date:
    """The China Standard Time day of `at` (naive datetimes are UTC)."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(CST).date()


def province_of(city: str) -> str:
    return PROVINCE_OF_CITY.get(city, city)


def time_bin(seconds: float) -> int:
    """The histogram bin of a duration (log scale, two bins per doubling from one minute)."""
    if seconds < 60:
        return 0
    return min(TIME_BINS - 1, int(2 * math.log2(seconds / 60)) + 1)


def bin_seconds(index: int) -> float:
    """The duration a bin stands for: the geometric middle of its bounds (30 s for bin 0)."""
    if index <= 0:
        return 30.0
    low, high = 60 * 2 ** ((index - 1) / 2), 60 * 2 ** (index / 2)
    return math.sqrt(low * high)


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The `q` quantile (0 < q <= 1) of a time histogram, as its bin's middle; None if empty."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    wanted, seen = q * total, 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= wanted:
            return round(bin_seconds(index), 1)
    return round(bin_seconds(max(histogram)), 1)


def nps_class(field_name: str, value: Any) -> str | None:
    """A rating as an NPS class: an `nps` field holds 0-10 (9-10 promoter, 7-8 passive), a
    `rating` field 1-5 stars (5 promoter, 4 passive); anything else is no rating."""
    try:
        score = int(str(value).strip())
    except ValueError:
        return None
    if field_name == "rating" and 1 <= score <= 5:
        return "promoter" if score == 5 else "passive" if score == 4 else "detractor"
    if field_name == "nps" and 0 <= score <= 10:
        return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
    return None


def nps_score(promoters: int, passives: int, detractors: int) -> float | None:
    total = promoters + passives + detractors
    return round(100 * (promoters - detractors) / total, 1) if total else None


def node_key(definition_key: str, version: int, node_id: str) -> str:
    return f"{definition_key}|{version}|{node_id}"[:200]


def cells_of(
    order: OrderView,
    steps: Iterable[StepView],
    *,
    revenue: Mapping[str, str],
    province: str,
    city: str,
) -> Cells:
    """The counter cells `order` adds now; none for a test run or an order not placed yet."""
    if order.sandbox or not order.org_path:
        return {}
    day = business_day(order.created_at).isoformat()
    path = order.org_path
    cells: Cells = {}

    def add(metric: str, key: str, n: int = 1, amount: Decimal = Decimal(0), *, at: str = day,
            bin_: int = 0) -> None:  # fmt: skip
        old_n, old_amount = cells.get((metric, at, path, key, bin_), (0, Decimal(0)))
        cells[(metric, at, path, key, bin_)] = (old_n + n, old_amount + amount)

    add("orders", order.status)
    for currency, amount in sorted(revenue.items()):
        add("revenue", currency, 1, Decimal(amount))
    if city:
        add("demand", f"{province}|{city}")
    _step_cells(order, list(steps), add)
    return {key: value for key, value in cells.items() if value != (0, Decimal(0))}


def _step_cells(order: OrderView, steps: list[StepView], add: Any) -> None:
    """What the order's completed steps add, as each completes (a running order is in the
    bottleneck heat map and the SLA figures from its first finished step; the same cells
    stay when the order completes, so nothing is counted twice): each step's time and SLA
    result, the first-time fix once a service visit finished (moved from "yes" to "no" if a
    later visit follows), and the sign-off's rating."""
    month = business_day(order.created_at).replace(day=1).isoformat()
    service = [s for s in steps if s.node_type in SERVICE_NODE_TYPES and s.completed_at]
    if service:
        add("ftf", "yes" if max(s.visit for s in service) == 1 else "no")
    for step in steps:
        if step.completed_at is None:
            continue
        if step.sla_deadline is not None:
            add("sla", "met" if step.completed_at <= step.sla_deadline else "breached")
        seconds = (step.completed_at - step.started_at).total_seconds()
        key = node_key(order.definition_key, order.definition_version, step.node_id)
        add("node_time", key, at=month, bin_=time_bin(max(0.0, seconds)))
        for name in RATING_FIELDS:
            rated = nps_class(name, step.data.get(name)) if step.node_type == "signoff" else None
            if rated:
                add("nps", rated)
                break


def difference(before: Cells, after: Cells) -> Cells:
    """What to add to the counters to go from `before` to `after` (zero cells left out)."""
    out: Cells = {}
    for key in sorted(set(before) | set(after)):
        n0, a0 = before.get(key, (0, Decimal(0)))
        n1, a1 = after.get(key, (0, Decimal(0)))
        if (n1 - n0, a1 - a0) != (0, Decimal(0)):
            out[key] = (n1 - n0, a1 - a0)
    return out


def spread(cells: Cells) -> Cells:
    """Each cell counted at its unit and at every unit above it ("/hq/huabei/bj/bj-001"
    also counts for "/hq/huabei/bj", "/hq/huabei" and "/hq")."""
    out: Cells = {}
    for (metric, day, path, key, bin_), (n, amount) in cells.items():
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            at = (metric, day, "/" + "/".join(parts[:depth]), key, bin_)
            n0, a0 = out.get(at, (0, Decimal(0)))
            out[at] = (n0 + n, a0 + amount)
    return out


def depth_of(path: str) -> int:
    return len(path.strip("/").split("/"))


def cells_to_json(cells: Cells) -> list[list[Any]]:
    return [[*key, n, str(amount)] for key, (n, amount) in sorted(cells.items())]


def cells_from_json(rows: Iterable[list[Any]]) -> Cells:
    return {
        (str(m), str(d), str(p), str(k), int(b)): (int(n), Decimal(a))
        for m, d, p, k, b, n, a in rows
    }


def next_deadline(steps: Iterable[StepView], *, closed: bool) -> datetime | None:
    """The earliest SLA deadline of the steps still waiting (None once the order closed)."""
    if closed:
        return None
    deadlines = [s.sla_deadline for s in steps if s.completed_at is None and s.sla_deadline]
    return min(deadlines) if deadlines else None


def settled_amount(output: Mapping[str, Any] | None) -> tuple[str, Decimal] | None:
    """A settlement step's (currency, amount) from its output; None for any other step and
    for a test run's simulated settlement."""
    if not output or output.get("sandbox") or "settlement_id" not in output:
        return None
    try:
        return str(output.get("currency") or "CNY"), Decimal(str(output["amount"]))
    except (KeyError, ArithmeticError):
        return None


SETTLEMENT_NODE_TYPES = ("settlement",)


def settled_revenue(steps: Iterable[StepView]) -> dict[str, str]:
    """An order's settled revenue by currency, from its settlement steps' recorded output
    (what the order writer added up as each settlement ran)."""
    out: dict[str, Decimal] = {}
    for step in steps:
        money = settled_amount(step.data) if step.node_type in SETTLEMENT_NODE_TYPES else None
        if money is not None:
            out[money[0]] = out.get(money[0], Decimal(0)) + money[1]
    return {currency: str(amount) for currency, amount in out.items()}


def period(start: date | None, end: date | None, days: int, today: date) -> tuple[date, date]:
    """The dashboard's period: [start, end] inclusive, by default the last `days` days."""
    last = end or today
    first = start or last - timedelta(days=days - 1)
    return first, last
