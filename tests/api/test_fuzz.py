"""The API fuzzed from its own OpenAPI schema (schemathesis): no input gives a 500.

Every operation gets a few generated requests as hq_admin, the most privileged caller, so
requests reach the code behind the role checks. Responses must not be server errors and
must match their documented schema. A worker runs, so started orders answer queries.
"""

from __future__ import annotations

import asyncio

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.main import create_app
from servflow.platform.settings import Settings
from tests.api.conftest import JWT_SECRET, quiesce, real_worker

MAX_EXAMPLES = 12


def check_operation(operation, auth: dict[str, str], calls: list[int]) -> None:
    """Raises (after shrinking) when a generated request fails a check."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case):
        response = case.call(headers=auth)
        calls.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    run()


def fuzz(schema, auth: dict[str, str]) -> tuple[list[str], list[int]]:
    failures: list[str] = []
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            check_operation(operation, auth, calls)
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}"[:3000])
    return failures, calls


async def test_no_generated_request_gives_a_server_error(
    demo, client, temporal_env, headers, task_queue
):
    target = client.service_client.config.target_host
    # The app connects its own Temporal client on startup, in schemathesis's event loop.
    app = create_app(
        Settings(jwt_secret=JWT_SECRET, temporal_address=target),
        session_factory=demo,
        task_queue=task_queue,
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    async with real_worker(client, demo, task_queue):
        failures, calls = await asyncio.to_thread(fuzz, schema, headers("hq_admin"))
        await quiesce(client, task_queue)
    assert failures == [], "\n\n".join(failures)
    assert len(calls) > 5 * len(schema)  # every operation was really exercised
    assert any(200 <= code < 300 for code in calls)
