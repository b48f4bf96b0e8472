"""The WeCom client against the fake WeCom server: tokens cached per app and refetched on
42001/40014 only, messages, cards, errors, and the group robot's 20 a minute."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from servflow.integrations.wecom.client import RobotLimiter, WecomClient, WecomError
from tests.integrations.fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWecom


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWecom]:
    with FakeWecom() as server:
        yield server


@pytest.fixture
def client(fake: FakeWecom) -> WecomClient:
    fake.state.delivered.clear()
    fake.state.fail_next.clear()
    fake.state.seen.clear()
    return WecomClient(api_base=fake.url, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET)


def test_one_token_serves_many_messages(fake, client):
    before = fake.state.token_fetches
    for n in range(5):
        client.send_text(["zhangwei"], f"message {n}")
    assert fake.state.token_fetches == before + 1
    assert [m["text"]["content"] for m in fake.state.delivered] == [
        f"message {n}" for n in range(5)
    ]
    assert fake.state.delivered[0]["touser"] == "zhangwei"
    assert fake.state.delivered[0]["agentid"] == AGENT_ID


@pytest.mark.parametrize("invalidate", ["expire_tokens", "revoke_tokens"])
def test_an_expired_or_invalidated_token_is_fetched_again_once(fake, client, invalidate):
    client.send_text(["u1"], "before")
    before = fake.state.token_fetches
    getattr(fake, invalidate)()  # 42001 or 40014 on the next use
    client.send_markdown(["u1"], "after")
    client.send_text(["u1"], "and again")
    assert fake.state.token_fetches == before + 1
    assert [m["msgtype"] for m in fake.state.delivered[-2:]] == ["markdown", "text"]


def test_tokens_are_cached_per_app(fake):
    shared = WecomClient(api_base=fake.url, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET)
    other = WecomClient(
        api_base=fake.url, corp_id=CORP_ID, agent_id=2, secret=SECRET, tokens=shared.tokens
    )
    shared.send_text(["u"], "a")
    other.send_text(["u"], "b")
    assert shared.tokens.fetches == 1  # same corp and secret: one app, one token


def test_busy_is_retryable_and_a_bad_secret_is_not(fake, client):
    fake.state.fail_next.append(-1)
    with pytest.raises(WecomError) as busy:
        client.send_text(["u"], "x")
    assert busy.value.retryable and busy.value.code == -1
    bad = WecomClient(api_base=fake.url, corp_id=CORP_ID, agent_id=AGENT_ID, secret="wrong")
    with pytest.raises(WecomError) as refused:
        bad.send_text(["u"], "x")
    assert refused.value.code == 40001 and not refused.value.retryable


def test_a_card_answers_with_its_response_code_and_can_be_updated(fake, client):
    answer = client.send_card(["u1"], {"card_type": "button_interaction", "task_id": "t1"})
    assert answer["response_code"].startswith("rc-")
    client.update_card(userids=["u1"], response_code=answer["response_code"], replace_name="已接单")
    assert fake.state.card_updates[-1]["button"] == {"replace_name": "已接单"}


def test_the_same_message_resent_is_delivered_once(fake, client):
    client.send_text(["u9"], "工单 SF1 已派单")
    client.send_text(["u9"], "工单 SF1 已派单")
    assert [m["text"]["content"] for m in fake.state.delivered].count("工单 SF1 已派单") == 1


def test_the_robot_never_sends_a_21st_message_within_a_minute(fake):
    now = [0.0]
    client = WecomClient(
        api_base=fake.url,
        corp_id=CORP_ID,
        agent_id=AGENT_ID,
        secret=SECRET,
        robots=RobotLimiter(20, clock=lambda: now[0]),
    )
    url = fake.robot_url("region-huabei")
    for n in range(20):
        client.send_robot(url, f"升级 {n}")
    with pytest.raises(WecomError) as limited:
        client.send_robot(url, "升级 20")
    assert limited.value.retryable and 0 < (limited.value.retry_after or 0) <= 60
    assert len(fake.state.robot["region-huabei"]) == 20
    # Another process's robot sender (its own limiter) meets WeCom's limit: 45009, retryable.
    other = WecomClient(api_base=fake.url, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET)
    with pytest.raises(WecomError) as refused:
        other.send_robot(url, "升级 21")
    assert refused.value.code == 45009 and refused.value.retryable
