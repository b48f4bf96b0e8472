"""The SLA demo data (data/sla.json): a national 7×12 calendar with the mainland holidays,
a region's office calendar, and the policy `onsite` with its escalation ladders."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session

from servflow.org import service as org
from servflow.sla import repo
from servflow.sla.models import SlaCalendar, SlaPolicy
from servflow.sla.rules import PolicyBody, mainland_days_off
from workflows.business_time import BusinessCalendar

DATA = Path(__file__).parent / "data" / "sla.json"


def load_sla_demo(session: Session) -> dict[str, int]:
    """Adds the demo calendars and policies that are not there yet (by key); idempotent."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    hq = org.path_of_context(session, region="", outlet="")
    added = {"sla_calendar": 0, "sla_policy": 0}
    for item in data["calendars"]:
        if repo.get_calendar(session, key=item["key"]) is not None:
            continue
        calendar = BusinessCalendar.model_validate(item["calendar"])
        if item.get("mainland_years"):
            holidays, workdays = mainland_days_off(*item["mainland_years"])
            calendar = calendar.model_copy(update={"holidays": holidays, "workdays": workdays})
        scope = (
            org.path_of_context(session, region=item["scope"], outlet="") if item["scope"] else hq
        )
        session.add(
            SlaCalendar(
                key=item["key"],
                name=item["name"],
                scope_path=scope,
                body=calendar.model_dump(mode="json"),
                updated_by="demo",
            )
        )
        added["sla_calendar"] += 1
    for item in data["policies"]:
        if repo.latest_policy(session, key=item["key"]) is not None:
            continue
        body = PolicyBody.model_validate(item["policy"])
        session.add(
            SlaPolicy(
                key=item["key"],
                version=1,
                scope_path=hq,
                body=body.model_dump(mode="json"),
                created_by="demo",
            )
        )
        added["sla_policy"] += 1
    session.flush()
    return added
