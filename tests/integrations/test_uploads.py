"""Who may read an upload: its uploader; whoever may see the order it is attached to (the
org scope: HQ, the order's region, its outlet; an engineer only their own orders); the
sign-off link's holder for that sign-off's files. Everyone else gets a 404, exactly as for
a file that does not exist. The same for thumbnails, and the same on both stores: a
directory, and an S3-compatible bucket (moto's server on a port of 18350-18399)."""

from __future__ import annotations

import base64
import contextlib
import io
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from servflow.customers.models import Survey
from servflow.integrations.files import DiskBackend, FileStore, S3Backend, StoreUnavailable
from servflow.integrations.uploads import service as uploads
from servflow.integrations.uploads.models import UploadGrant
from servflow.orders.models import WorkOrder
from servflow.platform.base import utcnow
from tests.api.conftest import api_settings, make_headers
from tests.customers.conftest import signoff_link
from tests.world import World

Headers = Callable[[str], dict[str, str]]


def png(size: tuple[int, int] = (300, 120), color: tuple[int, int, int] = (255, 255, 255)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def free_port(start: int, stop: int) -> int:
    for port in range(start, stop):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{stop - 1}")


S3_KEYS = {"access": "test-access-key", "secret": "test-secret-key"}


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3-compatible server (the real HTTP API, signatures included), our range."""
    port = free_port(18350, 18380)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="cn-north-1",
        aws_access_key_id=S3_KEYS["access"],
        aws_secret_access_key=S3_KEYS["secret"],
    )


def s3_settings(endpoint: str, bucket: str) -> dict[str, object]:
    return {
        "upload_store": "s3",
        "upload_s3_endpoint": endpoint,
        "upload_s3_bucket": bucket,
        "upload_s3_access_key": S3_KEYS["access"],
        "upload_s3_secret_key": S3_KEYS["secret"],
        "upload_s3_region": "cn-north-1",
        "uploads_dir": "/nonexistent/not-used",
    }


@pytest.fixture
def bucket(s3_server: str) -> str:
    name = f"sf-{uuid.uuid4().hex[:12]}"
    s3_client(s3_server).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "cn-north-1"}
    )
    return name


@pytest.fixture(params=["disk", "s3"])
def upload_settings(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    """Where files go: a directory, or a bucket of the S3-compatible server."""
    if request.param == "disk":
        return {"uploads_dir": str(tmp_path / "uploads")}
    endpoint = request.getfixturevalue("s3_server")
    return s3_settings(endpoint, request.getfixturevalue("bucket"))


@contextlib.asynccontextmanager
async def api_with(
    session_factory: sessionmaker[Session], upload_settings: dict[str, object]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings(
        payload_key=base64.b64encode(os.urandom(32)).decode(), **upload_settings
    )
    app = create_app(settings, session_factory=session_factory, temporal_client=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def api(
    session_factory: sessionmaker[Session], world: World, upload_settings: dict[str, object]
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_with(session_factory, upload_settings) as http:
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
        tokens = [signoff_link(session, world, order_id) for order_id in (order, "wo-upload-2")]
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


# ---- the S3-compatible store -------------------------------------------------------------


async def test_on_s3_a_photo_and_its_thumbnail_are_objects_of_the_bucket(
    session_factory, world, headers, order, s3_server, bucket
):
    photo = png((1200, 800), (200, 30, 30))
    async with api_with(session_factory, s3_settings(s3_server, bucket)) as api:
        stored = await upload(api, headers("engineer_bj_near"), photo, order_id=order)
        assert stored.status_code == 201, stored.text
        file_id = stored.json()["file_id"]
        full = await api.get(f"/api/uploads/{file_id}", headers=headers("region_mgr_huabei"))
        thumb = await api.get(stored.json()["thumb_url"], headers=headers("region_mgr_huabei"))
    assert full.content == photo and full.headers["content-type"] == "image/png"
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 320
    client = s3_client(s3_server)
    stem = file_id.split(".")[0]
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {f"uploads/{stem[:2]}/{file_id}", f"uploads/{stem[:2]}/{stem}.thumb.jpg"}
    head = client.head_object(Bucket=bucket, Key=f"uploads/{stem[:2]}/{file_id}")
    assert head["ContentType"] == "image/png"


def grants(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(UploadGrant)) or 0


@pytest.mark.parametrize("fault", ["unreachable", "no bucket"])
async def test_a_store_fault_is_a_503_and_leaves_no_row(
    session_factory, world, headers, order, s3_server, bucket, fault
):
    if fault == "unreachable":  # nothing listens there
        settings = s3_settings(f"http://127.0.0.1:{free_port(18390, 18400)}", bucket)
    else:
        settings = s3_settings(s3_server, f"gone-{uuid.uuid4().hex[:8]}")
    with session_factory() as session:
        token = signoff_link(session, world, order)
    me = headers("engineer_bj_near")
    async with api_with(session_factory, settings) as api:
        refused = await upload(api, me, png(color=(1, 1, 1)), order_id=order)
        assert refused.status_code == 503, refused.text
        assert refused.json()["detail"].startswith("the file store cannot")
        assert grants(session_factory) == 0
        # The customer's sign-off waits for the store: the link is not spent, no survey.
        signed = await api.post(
            f"/api/signoff/{token}", json={"rating": 9, "signature": signature()}
        )
        assert signed.status_code == 503, signed.text
        assert (await api.get(f"/api/signoff/{token}")).status_code == 200
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(Survey)) == 0
        assert grants(session_factory) == 0
        # Reading a file the caller may read: the store's fault, not a missing file.
        with session_factory() as session:
            uploads.grant(
                session, file_id=f"{'a' * 32}.png", uploaded_by=None, now=utcnow(), order_id=order
            )
            session.commit()
        read = await api.get(f"/api/uploads/{'a' * 32}.png", headers=headers("hq_admin"))
        assert read.status_code == 503 and "file store" in read.json()["detail"]


class FailingSecondPut:
    """A store whose writes fail after the first (the thumbnail lands, the file does not)."""

    def __init__(self, inner: DiskBackend, *, fail_after: int) -> None:
        self.inner, self.fail_after, self.puts = inner, fail_after, 0

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.puts += 1
        if self.puts > self.fail_after:
            raise StoreUnavailable("the file store cannot write now; try again")
        self.inner.put(key, data, content_type)

    def get(self, key: str) -> bytes | None:
        return self.inner.get(key)


def test_a_write_cut_between_thumbnail_and_file_leaves_no_file_and_is_redone(tmp_path):
    photo = png(color=(4, 4, 4))
    failing = FailingSecondPut(DiskBackend(tmp_path), fail_after=1)
    with pytest.raises(StoreUnavailable):
        FileStore(failing).save(photo)
    store = FileStore(DiskBackend(tmp_path))
    file_id = store.save(photo).file_id  # the retry writes both
    assert store.read(file_id)[0] == photo
    assert store.read(file_id, thumb=True)[1] == "image/jpeg"


def test_a_disk_that_cannot_be_written_is_a_store_fault(tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    with pytest.raises(StoreUnavailable):
        FileStore(DiskBackend(blocked)).save(png())


class HeadForbidden:
    """A bucket policy without s3:ListBucket: HEAD on a missing key is 403, not 404."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def head_object(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadObject")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_head_refused_for_want_of_list_rights_still_stores_the_file(s3_server, bucket):
    store = FileStore(S3Backend(HeadForbidden(s3_client(s3_server)), bucket=bucket))
    photo = png(color=(8, 8, 8))
    file_id = store.save(photo).file_id
    assert store.read(file_id)[0] == photo
