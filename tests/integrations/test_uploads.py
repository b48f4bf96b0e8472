"""Who may read an upload: its uploader; whoever may see the order it is attached to (the
org scope: HQ, the order's region, its outlet; an engineer only their own orders); the
sign-off link's holder for that sign-off's files. Everyone else gets a 404, exactly as for
a file that does not exist. The same for thumbnails."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from servflow.customers import service as customers
from servflow.orders.models import WorkOrder
from servflow.platform.base import utcnow
from tests.api.conftest import api_settings, make_headers
from tests.world import World

Headers = Callable[[str], dict[str, str]]


def png(size: tuple[int, int] = (300, 120), color: tuple[int, int, int] = (255, 255, 255)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def upload_settings(tmp_path: Path) -> dict[str, object]:
    """Where files go (overridden by the S3 tests)."""
    return {"uploads_dir": str(tmp_path / "uploads")}


@pytest.fixture
async def api(
    session_factory: sessionmaker[Session], world: World, upload_settings: dict[str, object]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings(
        payload_key=base64.b64encode(os.urandom(32)).decode(), **upload_settings
    )
    app = create_app(settings, session_factory=session_factory, temporal_client=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def headers(session_factory: sessionmaker[Session], world: World) -> Headers:
    return make_headers(session_factory)


@pytest.fixture
def order(session_factory: sessionmaker[Session], world: World) -> str:
    """An order at 北京朝阳 (bj-001, 华北) dispatched to engineer_bj_near."""
    with session_factory() as session:
        session.add(
            WorkOrder(
                order_id="wo-upload-1",
                order_no="SF-UP-1",
                region="huabei",
                outlet_id=world.units["bj-001"].id,
                org_path=world.units["bj-001"].path,
                current_engineer_id=world.engineers["bj_near"].id,
            )
        )
        session.commit()
    return "wo-upload-1"


async def upload(
    api: httpx.AsyncClient, who: dict[str, str], data: bytes, **form: str
) -> httpx.Response:
    return await api.post(
        "/api/uploads", files={"file": ("p.png", data, "image/png")}, data=form, headers=who
    )


async def readable(api: httpx.AsyncClient, who: dict[str, str], file_id: str) -> tuple[int, int]:
    """(status of the file, status of its thumbnail) for `who`."""
    full = await api.get(f"/api/uploads/{file_id}", headers=who)
    thumb = await api.get(f"/api/uploads/{file_id}", params={"thumb": "true"}, headers=who)
    return full.status_code, thumb.status_code


async def test_an_unattached_upload_is_read_by_its_uploader_alone(api, headers):
    stored = await upload(api, headers("engineer_bj_near"), png(color=(1, 2, 3)))
    assert stored.status_code == 201, stored.text
    file_id = stored.json()["file_id"]
    assert await readable(api, headers("engineer_bj_near"), file_id) == (200, 200)
    for other in ("engineer_bj_far", "outlet_mgr_bj_001", "region_mgr_huabei", "hq_admin"):
        assert await readable(api, headers(other), file_id) == (404, 404), other
    # Refused exactly like a file that does not exist.
    missing = await api.get(f"/api/uploads/{'0' * 32}.png", headers=headers("engineer_bj_far"))
    refused = await api.get(f"/api/uploads/{file_id}", headers=headers("engineer_bj_far"))
    assert refused.status_code == missing.status_code == 404
    assert refused.json()["detail"] == missing.json()["detail"].replace("0" * 32 + ".png", file_id)


async def test_a_photo_of_an_order_is_read_within_the_orders_scope(api, headers, order):
    stored = await upload(
        api, headers("engineer_bj_near"), png(color=(9, 9, 9)), order_id=order, node_id="install"
    )
    assert stored.status_code == 201, stored.text
    file_id = stored.json()["file_id"]
    for reader in ("engineer_bj_near", "outlet_mgr_bj_001", "region_mgr_huabei", "hq_admin"):
        assert await readable(api, headers(reader), file_id) == (200, 200), reader
    # Another region, and engineers the order is not dispatched to (even in the outlet).
    for other in ("region_mgr_huadong", "engineer_bj_far", "engineer_bj_noskill"):
        assert await readable(api, headers(other), file_id) == (404, 404), other


async def test_a_photo_cannot_be_attached_to_an_order_out_of_sight(api, headers, order):
    refused = await upload(
        api, headers("engineer_bj_far"), png(color=(7, 7, 7)), order_id=order, node_id="install"
    )
    assert refused.status_code == 404
    # Nothing was granted to anyone: not even a manager of the order can read it.
    file_id = (await upload(api, headers("engineer_bj_near"), png(color=(7, 7, 7)))).json()[
        "file_id"
    ]
    assert await readable(api, headers("region_mgr_huabei"), file_id) == (404, 404)
    too_long = await upload(api, headers("engineer_bj_near"), png(), order_id="x" * 201)
    assert too_long.status_code == 422 and "order_id" in too_long.json()["errors"]


async def test_the_same_bytes_uploaded_by_two_people_keep_each_ones_grant(api, headers, order):
    photo = png(color=(5, 6, 7))
    mine = await upload(api, headers("engineer_bj_near"), photo, order_id=order, node_id="x")
    theirs = await upload(api, headers("engineer_sh_visiting"), photo)
    assert mine.json()["file_id"] == theirs.json()["file_id"]
    file_id = mine.json()["file_id"]
    assert await readable(api, headers("engineer_sh_visiting"), file_id) == (200, 200)
    assert await readable(api, headers("region_mgr_huabei"), file_id) == (200, 200)
    assert await readable(api, headers("region_mgr_huadong"), file_id) == (404, 404)


def signature() -> str:
    return "data:image/png;base64," + base64.b64encode(png(color=(0, 0, 0))).decode()


async def test_the_signoff_link_reads_its_own_signature_and_nothing_else(
    api, headers, order, session_factory, world
):
    with session_factory() as session:
        tokens = []
        for order_id in (order, "wo-upload-2"):
            token, _ = customers.create_signoff_link(
                session,
                order_id=order_id,
                customer_id=None,
                org_path=world.units["bj-001"].path,
                region="huabei",
                outlet="bj-001",
                engineer="engineer_bj_near",
                now=utcnow(),
            )
            tokens.append(token)
        session.commit()
    mine, other = tokens
    signed = await api.post(f"/api/signoff/{mine}", json={"rating": 9, "signature": signature()})
    assert signed.status_code == 200, signed.text
    listed = await api.get(f"/api/signoff/{mine}/files")
    assert listed.status_code == 200, listed.text
    [file_id] = [f["file_id"] for f in listed.json()["data"]]
    own = await api.get(f"/api/signoff/{mine}/files/{file_id}")
    assert own.status_code == 200 and own.headers["content-type"] == "image/png"
    thumb = await api.get(f"/api/signoff/{mine}/files/{file_id}", params={"thumb": "true"})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert (await api.get(f"/api/signoff/{other}/files/{file_id}")).status_code == 404
    assert (await api.get(f"/api/signoff/not-a-token/files/{file_id}")).status_code == 404
    assert (await api.get(f"/api/signoff/{other}/files")).json()["data"] == []
    # The order's photos are not the sign-off's.
    photo = await upload(api, headers("engineer_bj_near"), png(color=(3, 3, 3)), order_id=order)
    photo_id = photo.json()["file_id"]
    assert (await api.get(f"/api/signoff/{mine}/files/{photo_id}")).status_code == 404
    # The signature belongs to the order: its managers read it, others do not.
    assert await readable(api, headers("region_mgr_huabei"), file_id) == (200, 200)
    assert await readable(api, headers("engineer_bj_far"), file_id) == (404, 404)
    assert await readable(api, headers("region_mgr_huadong"), file_id) == (404, 404)
