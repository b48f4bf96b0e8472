"""The payload codec: what Temporal stores is ciphertext, keys rotate, old data still reads."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from servflow.platform import keys
from servflow.platform.codec import ENCODING, KEY_ID, EncryptionCodec, PayloadKeyError, key_id
from servflow.platform.keys import WeakSecret, binary_keys
from servflow.platform.settings import Settings
from servflow.platform.temporal import data_converter, sandbox_runner
from workflows.registry import WORKFLOWS

HISTORIES = sorted((Path(__file__).parents[1] / "workflows" / "histories").glob("*.json"))
CUSTOMER = {"name": "王芳", "phone": "13911112222", "address": "北京市朝阳区工体北路8号"}


def new_key() -> bytes:
    return os.urandom(32)


def b64(*keys: bytes) -> str:
    return ",".join(base64.b64encode(key).decode() for key in keys)


async def test_stored_payload_hides_the_customer_and_decodes_back() -> None:
    converter = data_converter(Settings(payload_key=b64(new_key())))
    [payload] = await converter.encode([CUSTOMER])
    assert payload.metadata["encoding"] == ENCODING
    stored = payload.SerializeToString()
    assert b"13911112222" not in stored and "王芳".encode() not in stored
    assert await converter.decode([payload]) == [CUSTOMER]


async def test_same_value_seals_differently_each_time() -> None:
    codec = EncryptionCodec([new_key()])
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"13911112222"')
    first, second = await codec.encode([plain, plain])
    assert first.data != second.data  # a fresh nonce: equal inputs cannot be matched up


async def test_payload_written_before_encryption_passes_through() -> None:
    [plain] = await pydantic_data_converter.encode([CUSTOMER])
    converter = data_converter(Settings(payload_key=b64(new_key())))
    assert await converter.decode([plain]) == [CUSTOMER]


async def test_after_rotation_new_payloads_use_the_new_key_and_old_ones_still_open() -> None:
    old, new = new_key(), new_key()
    sealed_before = await EncryptionCodec([old]).encode([Payload(data=b"before")])
    rotated = EncryptionCodec([new, old])
    [sealed_after] = await rotated.encode([Payload(data=b"after")])
    assert sealed_after.metadata[KEY_ID] == key_id(new).encode()
    assert [p.data for p in await rotated.decode(sealed_before)] == [b"before"]
    assert rotated.key_ids == [key_id(new), key_id(old)]


async def test_payload_of_a_key_not_held_is_refused_naming_the_key_id() -> None:
    stranger = new_key()
    sealed = await EncryptionCodec([stranger]).encode([Payload(data=b"x")])
    with pytest.raises(PayloadKeyError, match=key_id(stranger)):
        await EncryptionCodec([new_key()]).decode(sealed)


async def test_altered_ciphertext_is_refused() -> None:
    codec = EncryptionCodec([new_key()])
    [sealed] = await codec.encode([Payload(data=b"13911112222")])
    tampered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + b"\0")
    with pytest.raises(PayloadKeyError, match="altered"):
        await codec.decode([tampered])


def test_key_is_required_outside_the_demo(tmp_path: Path) -> None:
    with pytest.raises(WeakSecret, match="SERVFLOW_PAYLOAD_KEY is required"):
        binary_keys("", setting="payload_key", demo=False, var=tmp_path)
    assert not list(tmp_path.iterdir())


def test_demo_generates_one_key_and_keeps_it(tmp_path: Path) -> None:
    first = binary_keys("", setting="payload_key", demo=True, var=tmp_path)
    again = binary_keys("", setting="payload_key", demo=True, var=tmp_path)
    assert first == again and len(first[0]) == 32
    assert (tmp_path / "payload-key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("change-me-to-a-long-random-secret", "base64"),
        (base64.b64encode(os.urandom(16)).decode(), "32 bytes"),
        (base64.b64encode(bytes(32)).decode(), "not random"),
        (b64(os.urandom(32)) + ",", "base64"),
    ],
    ids=["placeholder", "16 bytes", "zeros", "trailing comma"],  # stable under pytest-xdist
)
def test_unusable_key_is_refused_without_echoing_it(value: str, problem: str) -> None:
    with pytest.raises(WeakSecret, match=problem) as refused:
        binary_keys(value, setting="payload_key", demo=False)
    assert value not in str(refused.value)


def test_url_safe_key_from_token_urlsafe_is_accepted() -> None:
    key = new_key()
    text = base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert binary_keys(text, setting="payload_key", demo=False) == [key]


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_order_recorded_before_encryption_replays_with_the_encrypting_converter(
    path: Path,
) -> None:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(Settings(payload_key=b64(new_key()))),
        workflow_runner=sandbox_runner(),
    )
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_demo_processes_starting_together_keep_one_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` starts the worker and the API at once on a fresh var/: if both generate a
    key, both must end up with the one that was kept, or the worker cannot read the API's
    payloads. Here the other process writes its key while this one is generating."""
    real = keys.secrets.token_bytes
    other: list[list[bytes]] = []

    def generate_while_the_other_process_wins(size: int) -> bytes:
        monkeypatch.setattr(keys.secrets, "token_bytes", real)  # the other one: a plain run
        other.append(binary_keys("", setting="payload_key", demo=True, var=tmp_path))
        return real(size)

    monkeypatch.setattr(keys.secrets, "token_bytes", generate_while_the_other_process_wins)
    mine = binary_keys("", setting="payload_key", demo=True, var=tmp_path)
    assert mine == other[0] == binary_keys("", setting="payload_key", demo=True, var=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["payload-key"]
