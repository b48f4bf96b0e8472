"""The API fuzzed from its own OpenAPI schema (schemathesis): no input gives a 500.

Every operation gets generated requests as each role, so requests reach the code behind
the role and scope checks as well as the refusals in front of them. Responses must not be
server errors and must match their documented schema. A worker runs, so started orders
answer queries.

`make test` runs a few hundred cases in all (hq_admin, the most privileged caller, a
few per operation; every other role one); `make fuzz` sets SERVFLOW_FUZZ_EXAMPLES for a
longer run. Each role prints how many cases it ran.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.main import create_app
from servflow.platform.temporal import connect
from tests.api.conftest import api_settings, make_headers, quiesce, real_worker

EXAMPLES_ENV = "SERVFLOW_FUZZ_EXAMPLES"
# role → a demo user holding it (api_client: the demo's API key).
ROLES = {
    "hq_admin": "hq_admin",
    "region_manager": "region_mgr_huabei",
    "outlet_manager": "outlet_mgr_bj_001",
    "dispatcher": "dispatcher_huabei",
    "engineer": "engineer_bj_01",
    "designer": "designer",
    "finance": "finance",
    "api_client": "api_key",
    "customer_care": "care_huabei",
}

# Requests that may end the caller's own session (log out, change or reset the password,
# disable the user, change its roles, revoke its key): fuzzed last, so they do not turn
# every later request into a 401.
ENDS_THE_SESSION = {
    ("POST", "/api/auth/logout"),
    ("POST", "/api/me/password"),
    ("PATCH", "/api/users/{user_id}"),
    ("POST", "/api/users/{user_id}/disable"),
    ("POST", "/api/users/{user_id}/reset-password"),
    ("POST", "/api/api-keys/{key_id}/revoke"),
}


def examples_for(role: str) -> int:
    """Generated requests per operation for `role`."""
    asked = int(os.environ.get(EXAMPLES_ENV, "0") or 0)
    return asked or (3 if role == "hq_admin" else 1)


Calls = list[tuple[str, int]]  # (path, status) of each case


def check_operation(operation, auth: dict[str, str], calls: Calls, examples: int) -> None:
    """Raises (after shrinking) when a generated request fails a check."""
    # Valid requests reach the code behind the checks; invalid ones probe the checks.
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    strategy = st.one_of([operation.as_strategy(generation_mode=mode) for mode in modes])

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        response = case.call(headers=auth)
        calls.append((operation.path, response.status_code))
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    run()


def ends_the_session(operation) -> bool:
    return (operation.method.upper(), operation.path) in ENDS_THE_SESSION


# Routes whose callers are not our users: sign-in and refresh, and signed receivers.
NOT_BEARER_AUTHENTICATED = ("/api/auth/", "/api/intake/", "/api/wecom/callback")


def fuzz(schema, auth: dict[str, str], examples: int) -> tuple[list[str], Calls, Calls]:
    """Failures, and the cases before and after the session-ending ones."""
    failures: list[str] = []
    before: Calls = []
    after: Calls = []
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=ends_the_session)
    for operation in operations:
        calls = after if ends_the_session(operation) else before
        try:
            check_operation(operation, auth, calls, examples)
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}"[:3000])
    return failures, before, after


@pytest.mark.parametrize("role", list(ROLES))
async def test_no_generated_request_gives_a_server_error(
    demo, client, temporal_env, task_queue, role
):
    target = client.service_client.config.target_host
    key = base64.b64encode(os.urandom(32)).decode()
    app_settings = api_settings(temporal_address=target, payload_key=key)
    # The app connects its own Temporal client on startup, in schemathesis's event loop.
    app = create_app(app_settings, session_factory=demo, task_queue=task_queue)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # Each role's own credentials on every request, never generated ones in their place.
    schema.config.generation.update(with_security_parameters=False)
    auth = make_headers(demo)(ROLES[role])
    # The worker must read what the app encrypts: both connect with the same payload key.
    sealed = await connect(app_settings)
    async with real_worker(sealed, demo, task_queue):
        failures, before, after = await asyncio.to_thread(fuzz, schema, auth, examples_for(role))
        await quiesce(sealed, task_queue)
    statuses = dict(sorted(Counter(code for _, code in before + after).items()))
    print(f"\nfuzz {role}: {len(before) + len(after)} cases, statuses {statuses}")
    assert failures == [], "\n\n".join(failures)
    assert len(before) + len(after) >= len(schema)  # every operation was really exercised
    # The caller's credentials held until the session-ending requests: the cases reached
    # the role checks and the code behind them, and some got a real answer.
    # (Signing in and refreshing answer 401 to the wrong credentials they are sent.)
    # (Receivers that other systems call prove themselves by a signature over the raw body,
    # not by our credentials: a generated body is unsigned, so 401 is their right answer.)
    refused = [path for path, code in before if code == 401]
    assert [path for path in refused if not path.startswith(NOT_BEARER_AUTHENTICATED)] == []
    assert any(200 <= code < 300 for _, code in before)
