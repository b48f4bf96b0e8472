"""Texts through Alibaba Cloud SMS (SendSms): signed as the service checks it, delivered by
the outbox, throttling retried after its wait, refusals given up; off unless configured."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest

from servflow.notify import service
from servflow.notify.models import Notification
from servflow.notify.notifier import DeliveryFailed, LoggingNotifier, OutgoingMessage
from servflow.notify.sms import (
    AliyunSmsClient,
    AliyunSmsConfig,
    ChannelNotifier,
    SmsNotifier,
    signature,
    string_to_sign,
    with_sms,
)
from servflow.platform.settings import Settings
from tests.notify.fake_aliyun_sms import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    SIGN_NAME,
    TEMPLATE_CODE,
    FakeAliyunSms,
    sdk_signature,
)
from tests.world import NOW


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture(scope="session")
def sms_server() -> Iterator[FakeAliyunSms]:
    with FakeAliyunSms() as fake:
        yield fake


@pytest.fixture
def sms(sms_server: FakeAliyunSms) -> FakeAliyunSms:
    sms_server.reset()
    return sms_server


def config(fake: FakeAliyunSms, **overrides) -> AliyunSmsConfig:
    values = {
        "access_key_id": ACCESS_KEY_ID,
        "access_key_secret": ACCESS_KEY_SECRET,
        "sign_name": SIGN_NAME,
        "template_code": TEMPLATE_CODE,
        "endpoint": fake.url,
        **overrides,
    }
    return AliyunSmsConfig(**values)


def notifier(fake: FakeAliyunSms, **overrides) -> SmsNotifier:
    return SmsNotifier(AliyunSmsClient(config(fake, **overrides)))


def queue(session_factory, clock, *, phone="13700002222", key="signoff-link/1") -> int:
    with session_factory() as session:
        row = service.enqueue(
            session,
            key=key,
            channel="sms",
            recipients=[phone],
            message="请为本次服务签收并评分: https://sf.example.cn/phone/signoff/tok",
            now=clock(),
            order_id="wo-1",
            org_path="/hq/huabei",
            payload={"sms_params": {"link": "https://sf.example.cn/phone/signoff/tok"}},
        )
        session.commit()
        return row.id


def row(session_factory, notification_id) -> Notification:
    with session_factory() as session:
        found = session.get(Notification, notification_id)
        assert found is not None
        session.expunge(found)
        return found


def test_the_signature_of_alibaba_clouds_documented_example():
    # The worked example of Alibaba Cloud's "signature mechanism" page (DescribeRegions,
    # AccessKeyId testid, secret testsecret): its string to sign and its Signature.
    params = {
        "TimeStamp": "2016-02-23T12:46:24Z",
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "Version": "2014-05-26",
        "SignatureVersion": "1.0",
    }
    assert string_to_sign("GET", params) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
        "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
        "%26SignatureVersion%3D1.0%26TimeStamp%3D2016-02-23T12%253A46%253A24Z"
        "%26Version%3D2014-05-26"
    )
    assert signature("GET", params, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


@pytest.mark.parametrize(
    "value", ["服务通", "a b*c~d", '{"link":"https://x.cn/p?a=1&b=2"}', "+8613700002222"]
)
def test_the_signature_agrees_with_the_sdk_way_of_computing_it(value):
    params = {"AccessKeyId": "k", "SignName": value, "TemplateParam": value, "Action": "SendSms"}
    assert signature("POST", params, "secret") == sdk_signature("POST", params, "secret")


def test_a_signoff_text_goes_out_signed_with_its_template_and_row_id(session_factory, sms):
    clock = Clock()
    nid = queue(session_factory, clock)
    assert (
        service.deliver_one(session_factory, notifier(sms), notification_id=nid, clock=clock)
        == "sent"
    )
    [sent] = sms.state.sent
    assert sent["phones"] == ["13700002222"]
    assert (sent["sign_name"], sent["template_code"]) == (SIGN_NAME, TEMPLATE_CODE)
    assert sent["template_param"] == {"link": "https://sf.example.cn/phone/signoff/tok"}
    assert sent["out_id"] == f"sf-{nid}"
    assert row(session_factory, nid).status == "sent"


def test_throttling_is_retried_after_its_wait_then_sent(session_factory, sms):
    clock, sender = Clock(), notifier(sms)
    sms.state.throttle_next = 1
    nid = queue(session_factory, clock)
    assert service.deliver_one(session_factory, sender, notification_id=nid, clock=clock) == "retry"
    waiting = row(session_factory, nid)
    assert "isv.BUSINESS_LIMIT_CONTROL" in waiting.last_error
    # The minute limit: not before a minute has passed.
    assert waiting.next_attempt_at - NOW >= timedelta(seconds=60)
    clock.now = NOW + timedelta(seconds=30)
    assert service.deliver_due(session_factory, sender, clock=clock) == 0
    clock.now = NOW + timedelta(seconds=61)
    assert service.deliver_due(session_factory, sender, clock=clock) == 1
    assert len(sms.state.sent) == 1 and len(sms.state.requests) == 2
    nonces = {r["SignatureNonce"] for r in sms.state.requests}
    assert len(nonces) == 2  # each attempt signed afresh


def test_the_service_failing_is_retried(session_factory, sms):
    clock, sender = Clock(), notifier(sms)
    sms.state.unavailable_next = 1
    nid = queue(session_factory, clock)
    assert service.deliver_one(session_factory, sender, notification_id=nid, clock=clock) == "retry"
    clock.now = NOW + timedelta(minutes=1)
    assert service.deliver_due(session_factory, sender, clock=clock) == 1


def test_a_wrong_secret_or_a_bad_number_is_given_up(session_factory, sms):
    clock = Clock()
    nid = queue(session_factory, clock)
    wrong = notifier(sms, access_key_secret="not-the-secret")
    assert service.deliver_one(session_factory, wrong, notification_id=nid, clock=clock) == "dead"
    assert "SignatureDoesNotMatch" in row(session_factory, nid).last_error
    bad = queue(session_factory, clock, phone="12345", key="signoff-link/2")
    assert (
        service.deliver_one(session_factory, notifier(sms), notification_id=bad, clock=clock)
        == "dead"
    )
    assert sms.state.sent == []


def test_an_unreachable_service_is_retried():
    # A port held but not listening: the connection is refused.
    with socket.socket() as held:
        for port in range(18390, 18400):
            try:
                held.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        sender = SmsNotifier(
            AliyunSmsClient(
                AliyunSmsConfig(
                    access_key_id="k",
                    access_key_secret="s",
                    sign_name="n",
                    template_code="t",
                    endpoint=f"http://127.0.0.1:{held.getsockname()[1]}",
                    timeout=2,
                )
            )
        )
        message = OutgoingMessage(1, "sms", ("13700002222",), "hi", "wo-1")
        with pytest.raises(DeliveryFailed) as failed:
            sender.send(message)
    assert failed.value.retryable and "ConnectError" in str(failed.value)


def test_sms_is_off_unless_configured_and_then_takes_only_the_sms_channel(sms):
    logged = LoggingNotifier()
    assert with_sms(Settings(), logged) is logged
    # Half configured: still logged (and said so in the log).
    assert with_sms(Settings(sms_provider="aliyun", sms_access_key_id="k"), logged) is logged
    routed = with_sms(
        Settings(
            sms_provider="aliyun",
            sms_endpoint=sms.url,
            sms_access_key_id=ACCESS_KEY_ID,
            sms_access_key_secret=ACCESS_KEY_SECRET,
            sms_sign_name=SIGN_NAME,
            sms_template_code=TEMPLATE_CODE,
        ),
        logged,
    )
    assert isinstance(routed, ChannelNotifier)
    routed.send(OutgoingMessage(1, "wecom", ("u1",), "to WeCom", "wo-1"))
    routed.send(OutgoingMessage(2, "sms", ("13700002222",), "by SMS", "wo-1"))
    assert [m.message for m in logged.sent] == ["to WeCom"]
    assert [s["template_param"] for s in sms.state.sent] == [{"content": "by SMS"}]


def test_texts_without_a_public_base_url_are_warned_about(sms, caplog):
    settings = {
        "sms_provider": "aliyun",
        "sms_endpoint": sms.url,
        "sms_access_key_id": ACCESS_KEY_ID,
        "sms_access_key_secret": ACCESS_KEY_SECRET,
        "sms_sign_name": SIGN_NAME,
        "sms_template_code": TEMPLATE_CODE,
    }
    with caplog.at_level("WARNING", logger="servflow.notify.sms"):
        with_sms(Settings(**settings, public_base_url="https://sf.example.cn"), LoggingNotifier())
        assert caplog.records == []
        with_sms(Settings(**settings), LoggingNotifier())
    assert "SERVFLOW_PUBLIC_BASE_URL" in caplog.text
