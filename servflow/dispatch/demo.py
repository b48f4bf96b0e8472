"""The dispatch part of the demo (servflow/demo/data/dispatch.json): the skill catalogue,
engineers' certificates, shifts and leave, the smart-lock policy (its engineer must
accept within 15 minutes), Beijing outlets' service areas and the routing rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from servflow.dispatch import repo, service

DATA = Path(__file__).resolve().parents[1] / "demo" / "data" / "dispatch.json"


def load_dispatch_demo(session: Session) -> dict[str, int]:
    """Adds what is missing (a second load changes nothing); the caller commits."""
    data: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    added = {"dispatch_skills": 0, "dispatch_policies": 0, "service_areas": 0}
    for skill in data["skills"]:
        if repo.get_skill(session, code=skill["code"]) is None:
            service.save_skill(session, **skill)
            added["dispatch_skills"] += 1
    for code, extra in data["engineers"].items():
        engineer = repo.get_engineer_by_code(session, code=code)
        if engineer is not None and not engineer.certificates:
            service.save_engineer(
                session,
                scope_path=None,
                code=code,
                name=engineer.name,
                outlet=engineer.outlet.code,
                skills=list(engineer.skills),
                phone=engineer.phone,
                lat=engineer.lat,
                lng=engineer.lng,
                state=engineer.state,
                max_load=engineer.max_load,
                **extra,
            )
    for policy in data["policies"]:
        if repo.latest_policy(session, key=policy["key"]) is None:
            service.save_policy(session, body=policy, user="demo")
            added["dispatch_policies"] += 1
    if not repo.service_areas(session):
        added["service_areas"] = service.import_areas(
            session, collection=data["service_areas"], scope_path=None
        )
    if not repo.list_rules(session):
        service.set_routing_rules(session, rules=data["routing_rules"])
    session.flush()
    return added
