"""Sign-off links are one-time, ratings are bounded, a low score opens a follow-up;
uploads are checked by decoding; the outbox is seen within scope."""

from __future__ import annotations

import base64
import io

from PIL import Image
from sqlalchemy import select

from servflow.notify import service as notify
from servflow.notify.models import Notification
from tests.customers.conftest import signoff_link
from tests.world import NOW


def png(size=(300, 120), color=(255, 255, 255)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def signature() -> str:
    return "data:image/png;base64," + base64.b64encode(png()).decode()


async def test_a_signoff_link_works_once(api, session, world):
    token = signoff_link(session, world)
    page = await api.get(f"/api/signoff/{token}")
    assert page.status_code == 200 and page.json()["engineer"] == "engineer_bj_near"
    first = await api.post(f"/api/signoff/{token}", json={"rating": 9, "signature": signature()})
    assert first.status_code == 200, first.text
    answer = {"order_id": "order-1", "rating": 9, "follow_up": False, "node_id": None}
    assert first.json() == answer
    # The same answer again (a double tap, a retry): answered alike, still one survey.
    retry = await api.post(f"/api/signoff/{token}", json={"rating": 9, "signature": signature()})
    assert retry.status_code == 200 and retry.json() == answer
    again = await api.post(f"/api/signoff/{token}", json={"rating": 10, "signature": signature()})
    assert again.status_code == 409 and again.json()["reason"] == "used"
    assert (await api.get(f"/api/signoff/{token}")).status_code == 404
    assert (await api.get("/api/signoff/not-a-token")).status_code == 404


async def test_a_rating_outside_0_to_10_or_a_bad_signature_is_refused(api, session, world):
    token = signoff_link(session, world)
    high = await api.post(f"/api/signoff/{token}", json={"rating": 11, "signature": signature()})
    assert high.status_code == 422
    text = await api.post(f"/api/signoff/{token}", json={"rating": 5, "signature": "hello"})
    assert text.status_code == 422 and "signature" in text.json()["errors"]
    assert (await api.get(f"/api/signoff/{token}")).status_code == 200  # not spent


async def test_a_low_score_opens_a_follow_up_for_the_managers(api, headers, session, world):
    token = signoff_link(session, world, order_id="order-7")
    done = await api.post(
        f"/api/signoff/{token}",
        json={"rating": 3, "comment": "迟到两小时", "signature": signature()},
    )
    assert done.json()["follow_up"] is True
    message = session.scalars(select(Notification)).one()
    assert message.recipients == ["outlet_mgr_bj_001", "region_mgr_huabei"]
    assert "3/10" in message.message and "迟到两小时" in message.message
    follow_ups = await api.get("/api/nps/follow-ups", headers=headers("region_mgr_huabei"))
    # Not opened yet (the worker opens the call-back order): no order, no status.
    assert [
        (f["order_id"], f["follow_up_order_id"], f["follow_up_status"]) for f in follow_ups.json()
    ] == [("order-7", None, None)]
    elsewhere = await api.get("/api/nps/follow-ups", headers=headers("region_mgr_huadong"))
    assert elsewhere.json() == []
    by_outlet = await api.get(
        "/api/nps", params={"group_by": "outlet"}, headers=headers("hq_admin")
    )
    assert by_outlet.json() == [
        {
            "key": "bj-001",
            "responses": 1,
            "promoters": 0,
            "passives": 0,
            "detractors": 1,
            "nps": -100.0,
        }
    ]


async def test_uploads_are_checked_by_decoding_and_get_a_thumbnail(api, headers, uploads):
    me = headers("engineer_bj_near")
    photo = png((1200, 800), (200, 30, 30))
    stored = await api.post(
        "/api/uploads", files={"file": ("a.png", photo, "image/png")}, headers=me
    )
    assert stored.status_code == 201, stored.text
    body = stored.json()
    assert (body["width"], body["height"], body["content_type"]) == (1200, 800, "image/png")
    thumb = await api.get(body["thumb_url"], headers=me)
    assert thumb.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320
    # The same bytes again (an offline retry): the same file.
    again = await api.post(
        "/api/uploads", files={"file": ("b.png", photo, "image/png")}, headers=me
    )
    assert again.json()["file_id"] == body["file_id"]
    fake = await api.post(
        "/api/uploads",
        files={"file": ("x.jpg", b"<script>alert(1)</script>", "image/jpeg")},
        headers=me,
    )
    assert fake.status_code == 422 and fake.json()["errors"] == {"file": "not a readable image"}
    liar = await api.post(
        "/api/uploads", files={"file": ("x.jpg", photo, "image/jpeg")}, headers=me
    )
    assert liar.status_code == 422
    anonymous = await api.post("/api/uploads", files={"file": ("a.png", photo, "image/png")})
    assert anonymous.status_code == 401


async def test_the_outbox_is_listed_within_scope_with_its_delivery_state(
    api, headers, session, world
):
    for key, path in (("a", world.units["bj-001"].path), ("b", world.units["sh-001"].path)):
        notify.enqueue(
            session, key=key, channel="wecom", recipients=["u"], message=key, now=NOW, org_path=path
        )
    session.commit()
    seen = await api.get("/api/notifications", headers=headers("region_mgr_huabei"))
    assert [(n["message"], n["status"], n["attempts"]) for n in seen.json()["data"]] == [
        ("a", "pending", 0)
    ]
    other = seen.json()["data"][0]["id"] + 1
    refused = await api.post(
        f"/api/notifications/{other}/retry", headers=headers("region_mgr_huabei")
    )
    assert refused.status_code == 404
    engineer = await api.get("/api/notifications", headers=headers("engineer_bj_near"))
    assert engineer.status_code == 403
