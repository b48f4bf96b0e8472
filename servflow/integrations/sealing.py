"""Buyer data at rest: marketplace messages are stored sealed (AES-256-GCM under a key
derived from SERVFLOW_PAYLOAD_KEY for this purpose alone) and opened only to make the
order — whose customer then travels inside Temporal encrypted by the payload codec."""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from servflow.platform.keys import binary_keys
from servflow.platform.settings import Settings

PURPOSE = b"servflow inbound marketplace message"


class SealError(ValueError):
    pass


def _derive(key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(key)


class Sealer:
    """Seals with the first key; opens with any (keys rotate like the payload codec's)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("the sealer needs a key")
        self._ciphers = [AESGCM(_derive(key)) for key in keys]

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        keys = binary_keys(settings.payload_key, setting="payload_key", demo=settings.demo)
        return cls(keys)

    def seal(self, data: bytes) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._ciphers[0].encrypt(nonce, data, PURPOSE)).decode()

    def open(self, sealed: str) -> bytes:
        raw = base64.b64decode(sealed)
        for cipher in self._ciphers:
            try:
                return cipher.decrypt(raw[:12], raw[12:], PURPOSE)
            except InvalidTag:
                continue
        raise SealError("sealed under a key not held, or altered")
