"""Customers' data in Temporal is ciphertext; the codec endpoint opens it for HQ admins only.

The order test runs the API and the worker on clients made by
servflow.platform.temporal.connect (the encrypting converter), against the session's dev
server, which knows nothing of the key: what it stores is what an attacker with the
Temporal UI or port 7233 would read.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from servflow.platform.codec import ENCODING, EncryptionCodec, key_id, payloads_to_json
from servflow.platform.settings import Settings
from servflow.platform.temporal import connect
from tests.api.conftest import (
    CUSTOMER_BJ,
    SERVICE_OK,
    SIGNOFF_OK,
    api_settings,
    engineer_of,
    finished,
    order_body,
    quiesce,
    real_worker,
    wait_for,
    waiting_at,
)

KEY = base64.b64encode(os.urandom(32)).decode()
UI = "http://localhost:8233"
PHONE, ADDRESS = str(CUSTOMER_BJ["phone"]), str(CUSTOMER_BJ["address"])
SECRETS = (PHONE, ADDRESS, str(CUSTOMER_BJ["name"]))


def codec_settings() -> Settings:
    return api_settings().model_copy(update={"payload_key": KEY, "codec_allowed_origins": UI})


@pytest.fixture
async def sealed_client(temporal_env: WorkflowEnvironment) -> Client:
    """A client as the worker, API and CLI make it: connect(settings) with the key."""
    server = temporal_env.client
    return await connect(
        Settings(
            temporal_address=server.service_client.config.target_host,
            temporal_namespace=server.namespace,
            payload_key=KEY,
        )
    )


@pytest.fixture
async def sealed_api(
    demo: sessionmaker[Session], sealed_client: Client, task_queue: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The API as create_app builds it with the payload key and an encrypting client."""
    app = create_app(
        codec_settings(), session_factory=demo, temporal_client=sealed_client, task_queue=task_queue
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        yield http


async def drive_to_completion(
    api: httpx.AsyncClient, headers: Callable[[str], dict[str, str]]
) -> str:
    client_key = {**headers("api_key"), "Idempotency-Key": f"crm-{uuid.uuid4()}"}
    started = await api.post("/api/orders", json=order_body(), headers=client_key)
    assert started.status_code == 201, started.text
    order_id = str(started.json()["order_id"])
    admin = headers("hq_admin")
    engineer = headers(engineer_of(await wait_for(api, order_id, waiting_at("service"), admin)))
    for node, body in (("service", {"data": SERVICE_OK}), ("signoff", {"data": SIGNOFF_OK})):
        await wait_for(api, order_id, waiting_at(node), admin)
        done = await api.post(f"/api/orders/{order_id}/steps/{node}", json=body, headers=engineer)
        assert done.status_code == 200, done.text
    body = await wait_for(api, order_id, finished, admin)
    assert body["order"]["status"] == "completed"
    return order_id


async def test_an_order_completes_while_temporal_stores_only_ciphertext(
    sealed_api: httpx.AsyncClient,
    sealed_client: Client,
    demo: sessionmaker[Session],
    task_queue: str,
    headers: Callable[[str], dict[str, str]],
) -> None:
    async with real_worker(sealed_client, demo, task_queue):
        try:
            order_id = await drive_to_completion(sealed_api, headers)
        finally:
            await quiesce(sealed_client, task_queue)
    history = await sealed_client.get_workflow_handle(order_id).fetch_history()
    stored = b"".join(event.SerializeToString() for event in history.events)
    for value in SECRETS:
        assert value.encode() not in stored, f"{value} is readable in Temporal's history"
    assert PHONE not in history.to_json()

    # What the UI would send for the order's input: the codec endpoint opens it for an admin.
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == ENCODING
    sent = {"payloads": payloads_to_json(started.input.payloads)}
    opened = await sealed_api.post("/api/codec/decode", json=sent, headers=headers("hq_admin"))
    assert opened.status_code == 200, opened.text
    plain = base64.b64decode(opened.json()["payloads"][0]["data"]).decode()
    assert PHONE in plain and ADDRESS in plain


def phone_payload() -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=b'"13911112222"')


def as_json(data: bytes, encoding: bytes = b"json/plain") -> dict[str, object]:
    return {
        "metadata": {"encoding": base64.b64encode(encoding).decode()},
        "data": base64.b64encode(data).decode(),
    }


async def test_admin_round_trip_encode_then_decode(
    sealed_api: httpx.AsyncClient, headers: Callable[[str], dict[str, str]]
) -> None:
    admin = headers("hq_admin")
    plain = [as_json(b'"13911112222"'), as_json(b'{"city": "\xe5\x8c\x97\xe4\xba\xac"}')]
    sealed = await sealed_api.post("/api/codec/encode", json={"payloads": plain}, headers=admin)
    assert sealed.status_code == 200, sealed.text
    assert all(
        base64.b64decode(p["metadata"]["encoding"]) == ENCODING for p in sealed.json()["payloads"]
    )
    assert "13911112222" not in str(sealed.json())
    opened = await sealed_api.post("/api/codec/decode", json=sealed.json(), headers=admin)
    assert opened.status_code == 200, opened.text
    assert opened.json() == {"payloads": plain}


async def test_payload_that_was_never_encrypted_decodes_as_it_is(
    sealed_api: httpx.AsyncClient, headers: Callable[[str], dict[str, str]]
) -> None:
    plain = {"payloads": [as_json(b'"before encryption"')]}
    opened = await sealed_api.post("/api/codec/decode", json=plain, headers=headers("hq_admin"))
    assert opened.status_code == 200 and opened.json() == plain


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401), ("api_key", 403), ("engineer_bj_01", 403), ("finance", 403), ("designer", 403)],
)
async def test_only_a_signed_in_hq_admin_may_decode(
    sealed_api: httpx.AsyncClient,
    headers: Callable[[str], dict[str, str]],
    who: str | None,
    status: int,
) -> None:
    sealed = await EncryptionCodec([base64.b64decode(KEY)]).encode([phone_payload()])
    body = {"payloads": payloads_to_json(sealed)}
    answer = await sealed_api.post(
        "/api/codec/decode", json=body, headers=headers(who) if who else {}
    )
    assert answer.status_code == status, answer.text
    assert "13911112222" not in answer.text


async def test_payload_sealed_with_another_key_is_refused_naming_its_key_id(
    sealed_api: httpx.AsyncClient, headers: Callable[[str], dict[str, str]]
) -> None:
    other = os.urandom(32)
    sealed = await EncryptionCodec([other]).encode([phone_payload()])
    answer = await sealed_api.post(
        "/api/codec/decode",
        json={"payloads": payloads_to_json(sealed)},
        headers=headers("hq_admin"),
    )
    assert answer.status_code == 422
    assert key_id(other) in answer.json()["detail"]
    assert "SERVFLOW_PAYLOAD_KEY" in answer.json()["detail"]
    assert set(answer.json()["errors"]) == {"payloads[0]"}


async def test_what_is_not_a_payload_is_refused(
    sealed_api: httpx.AsyncClient, headers: Callable[[str], dict[str, str]]
) -> None:
    answer = await sealed_api.post(
        "/api/codec/decode",
        json={"payloads": [{"data": "not base64!"}]},
        headers=headers("hq_admin"),
    )
    assert answer.status_code == 422 and "payloads" in answer.json()["errors"]


async def test_ui_origin_passes_the_preflight_and_reads_the_answer(
    sealed_api: httpx.AsyncClient, headers: Callable[[str], dict[str, str]]
) -> None:
    preflight = await sealed_api.options(
        "/api/codec/decode",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == UI
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "x-namespace"} <= {
        h.strip() for h in allowed.split(",")
    }
    assert "POST" in preflight.headers["access-control-allow-methods"]

    answer = await sealed_api.post(
        "/api/codec/decode",
        json={"payloads": []},
        headers={**headers("hq_admin"), "Origin": UI, "X-Namespace": "default"},
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == UI


async def test_other_origins_and_refused_callers_get_no_cors_headers(
    sealed_api: httpx.AsyncClient, headers: Callable[[str], dict[str, str]]
) -> None:
    evil = "https://evil.example"
    preflight = await sealed_api.options(
        "/api/codec/decode", headers={"Origin": evil, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    from_evil = await sealed_api.post(
        "/api/codec/decode",
        json={"payloads": []},
        headers={**headers("hq_admin"), "Origin": evil},
    )
    assert from_evil.status_code == 403
    # Without a token the UI's fetch fails on CORS, so the UI keeps showing ciphertext.
    anonymous = await sealed_api.post(
        "/api/codec/decode", json={"payloads": []}, headers={"Origin": UI}
    )
    assert anonymous.status_code == 401
    assert "access-control-allow-origin" not in anonymous.headers
