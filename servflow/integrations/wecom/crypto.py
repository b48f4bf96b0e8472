"""WXBizMsgCrypt: WeCom's callback signature and message encryption (pure).

The scheme (WeCom's 加解密方案说明):
- signature = sha1 of the sorted concatenation of token, timestamp, nonce and the
  encrypted text;
- AESKey = base64(EncodingAESKey + "="), 32 bytes; AES-256-CBC with IV = AESKey[:16];
- plaintext = random(16) + len(msg) as 4 bytes big-endian + msg + receive_id, padded with
  PKCS#7 to a multiple of 32 bytes;
- the receive id (CorpID, or the suite id for third-party apps) must be ours.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from xml.etree import ElementTree

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32
MAX_XML_BYTES = 64 * 1024


class CallbackError(ValueError):
    """A callback that is not WeCom's: bad signature, undecryptable, or not for us."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """WeCom's msg_signature over the four values."""
    text = "".join(sorted([token, timestamp, nonce, encrypted]))
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (WeCom's protocol is SHA-1)


def _pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    if not data:
        raise CallbackError("empty plaintext")
    n = data[-1]
    if n < 1 or n > BLOCK or data[-n:] != bytes([n]) * n:
        raise CallbackError("bad padding")
    return data[:-n]


class MsgCrypt:
    """One app's callback settings: Token, EncodingAESKey and the receive id (CorpID)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        try:
            self.key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error:
            raise ValueError("EncodingAESKey is not base64") from None
        self.token = token
        self.receive_id = receive_id

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def check_signature(self, msg_signature: str, timestamp: str, nonce: str, text: str) -> None:
        expected = signature(self.token, timestamp, nonce, text)
        if not hmac.compare_digest(expected.encode(), msg_signature.lower().encode()):
            raise CallbackError("msg_signature does not match")

    def decrypt(self, encrypted: str) -> str:
        """The message inside `encrypted` (base64), after checking its receive id."""
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except binascii.Error:
            raise CallbackError("Encrypt is not base64") from None
        if not raw or len(raw) % 16:
            raise CallbackError("Encrypt is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = _unpad(decryptor.update(raw) + decryptor.finalize())
        if len(plain) < 20:
            raise CallbackError("plaintext too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise CallbackError("message length beyond the plaintext")
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if not hmac.compare_digest(receive_id, self.receive_id.encode()):
            raise CallbackError("the message is for another receive id")
        return message.decode("utf-8")

    def encrypt(self, message: str, *, random16: bytes | None = None) -> str:
        """`message` encrypted as WeCom does (what the fake server and replies use)."""
        body = message.encode()
        plain = (
            (random16 or os.urandom(16))
            + struct.pack(">I", len(body))
            + body
            + self.receive_id.encode()
        )
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(_pad(plain)) + encryptor.finalize()).decode()

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The URL check (GET): the plaintext echostr, to be returned raw."""
        self.check_signature(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_xml(self, msg_signature: str, timestamp: str, nonce: str, body: bytes) -> str:
        """A callback POST: the inner XML of its <Encrypt>."""
        encrypted = _field(body, "Encrypt")
        self.check_signature(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def encrypt_xml(self, message: str, *, timestamp: str, nonce: str) -> str:
        """A callback POST body as WeCom sends it (for the fake server and tests)."""
        encrypted = self.encrypt(message)
        sig = signature(self.token, timestamp, nonce, encrypted)
        return (
            f"<xml><ToUserName><![CDATA[{self.receive_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{sig}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )


def parse_xml(body: bytes | str) -> dict[str, str]:
    """The flat fields of a WeCom XML message (nested elements by their path `A/B`).

    The standard library's parser expands no external entities; a DOCTYPE is refused
    outright so that no entity expansion (billion laughs) can happen either.
    """
    data = body.encode() if isinstance(body, str) else body
    if len(data) > MAX_XML_BYTES:
        raise CallbackError("XML too large")
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise CallbackError("XML with a DOCTYPE is refused")
    try:
        # No DOCTYPE (checked above), so no entity can be declared or expanded.
        root = ElementTree.fromstring(data)  # noqa: S314
    except ElementTree.ParseError:
        raise CallbackError("malformed XML") from None
    fields: dict[str, str] = {}

    def walk(element: ElementTree.Element, prefix: str) -> None:
        for child in element:
            name = f"{prefix}{child.tag}"
            if len(child):
                walk(child, f"{name}/")
            else:
                fields.setdefault(name, (child.text or "").strip())

    walk(root, "")
    return fields


def _field(body: bytes, name: str) -> str:
    value = parse_xml(body).get(name, "")
    if not value:
        raise CallbackError(f"no <{name}> in the callback")
    return value
