"""Encryption of every Temporal payload (AES-256-GCM), so that the Temporal server, its
database and its UI hold customers' phones and addresses only as ciphertext.

The codec wraps each whole payload (metadata and data) into a new one whose encoding is
ENCODING and whose metadata names the key it was sealed with; keys rotate by adding a new
current key and keeping the old ones for reading. Payloads without ENCODING (orders started
before encryption, recorded histories) pass through `decode` unchanged.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from servflow.platform.keys import binary_keys
from servflow.platform.settings import Settings

ENCODING = b"binary/servflow-aes256gcm"
KEY_ID = "servflow-key-id"
NONCE_BYTES = 12  # GCM's standard nonce; random per payload


class PayloadKeyError(ValueError):
    """A payload this codec cannot open: sealed under a key it does not hold, or altered."""


def key_id(key: bytes) -> str:
    """A short public name of `key` (a hash: it reveals nothing of the key), written into
    every payload sealed with it so that a reader picks the right key after a rotation."""
    return hashlib.sha256(b"servflow payload key id\0" + key).hexdigest()[:16]


class EncryptionCodec(PayloadCodec):
    """Seals payloads with the first of `keys`; opens payloads sealed with any of them."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("the payload codec needs at least one key")
        self.current = key_id(keys[0])
        self._ciphers = {key_id(key): AESGCM(key) for key in keys}

    @property
    def key_ids(self) -> list[str]:
        """The ids of the keys held, the current one first."""
        return list(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(payload) for payload in payloads]

    def seal(self, payload: Payload) -> Payload:
        """`payload` encrypted under the current key."""
        nonce = os.urandom(NONCE_BYTES)
        # The key id is authenticated too: a payload relabelled to another key fails.
        sealed = self._ciphers[self.current].encrypt(
            nonce, payload.SerializeToString(), self.current.encode()
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: self.current.encode()}, data=nonce + sealed
        )

    def open(self, payload: Payload) -> Payload:
        """The payload `seal` was given; a payload not sealed by this codec as it is.

        Raises:
            PayloadKeyError: sealed under a key not held, or altered since.
        """
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        kid = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise PayloadKeyError(
                f"payload sealed with key id {kid!r}, which is not among the keys held "
                f"({', '.join(self._ciphers)}); add that key to SERVFLOW_PAYLOAD_KEY"
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], kid.encode())
        except InvalidTag:
            raise PayloadKeyError(f"payload sealed with key id {kid!r} was altered") from None
        return Payload.FromString(plain)


def codec_from_settings(settings: Settings) -> EncryptionCodec:
    """The codec on settings.payload_key (current key first, older ones after; generated
    under var/ in the demo).

    Raises:
        WeakSecret: no key outside the demo, or a key that is not 32 random bytes.
    """
    keys = binary_keys(settings.payload_key, setting="payload_key", demo=settings.demo)
    return EncryptionCodec(keys)


def payloads_from_json(items: list[dict[str, Any]]) -> list[Payload]:
    """Payloads from the codec server protocol's JSON (proto3 JSON: base64 metadata values
    and data), as the Temporal UI and CLI send them.

    Raises:
        ValueError: an item is not a payload.
    """
    try:
        return list(json_format.ParseDict({"payloads": items}, Payloads()).payloads)
    except json_format.ParseError as exc:
        raise ValueError(str(exc)) from None


def payloads_to_json(payloads: Sequence[Payload]) -> list[dict[str, Any]]:
    """The codec server protocol's JSON of `payloads` (the reverse of payloads_from_json)."""
    return [json_format.MessageToDict(payload) for payload in payloads]
