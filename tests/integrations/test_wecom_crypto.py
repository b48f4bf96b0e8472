"""WXBizMsgCrypt against WeCom's official sample vectors (Sample.py of WeCom's
WXBizMsgCrypt samples: Token, EncodingAESKey, CorpID, the URL check and a message)."""

from __future__ import annotations

import base64

import pytest

from servflow.integrations.wecom.crypto import CallbackError, MsgCrypt, parse_xml, signature
from servflow.integrations.wecom.rules import answer_for

TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP_ID = "ww1436e0e65a779aee"

VERIFY = {
    "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
    "timestamp": "1476416373",
    "nonce": "47744683",
    "echostr": "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnF"
    "yq6SVHyA==",
}
MESSAGE = {
    "msg_signature": "0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
    "timestamp": "1476422779",
    "nonce": "1597212914",
}
MESSAGE_XML = (
    b"<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n"
    b"<Encrypt><![CDATA[Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4m"
    b"Y7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6"
    b"GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EY"
    b"JIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49H"
    b"KYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+]]></Encrypt>\n"
    b"<AgentID><![CDATA[1000002]]></AgentID>\n</xml>"
)


def crypt(receive_id: str = CORP_ID) -> MsgCrypt:
    return MsgCrypt(TOKEN, AES_KEY, receive_id)


def test_the_official_url_check_yields_its_echostr():
    assert crypt().verify_url(**VERIFY) == "1288432023552776189"


def test_the_official_message_is_verified_and_decrypted():
    xml = crypt().decrypt_xml(body=MESSAGE_XML, **MESSAGE)
    fields = parse_xml(xml)
    assert fields["FromUserName"] == "ChenJiaShun"
    assert fields["Content"] == "你好"
    assert (fields["MsgType"], fields["AgentID"]) == ("text", "1000002")


def test_a_signature_off_by_one_character_is_refused():
    bad = {**VERIFY, "msg_signature": "112bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"}
    with pytest.raises(CallbackError, match="signature"):
        crypt().verify_url(**bad)
    with pytest.raises(CallbackError, match="signature"):
        crypt().decrypt_xml(body=MESSAGE_XML, **{**MESSAGE, "nonce": "1597212915"})


def test_a_message_for_another_corp_is_refused():
    with pytest.raises(CallbackError, match="receive id"):
        MsgCrypt(TOKEN, AES_KEY, "ww-someone-else").verify_url(**VERIFY)


def test_encryption_pads_to_32_bytes_and_round_trips():
    for size in (0, 1, 11, 12, 13, 44, 100):
        text = "企" * size
        encrypted = crypt().encrypt(text)
        assert len(base64.b64decode(encrypted)) % 32 == 0
        assert crypt().decrypt(encrypted) == text
        xml = crypt().encrypt_xml(text, timestamp="1", nonce="n")
        enc = parse_xml(xml)["Encrypt"]
        assert parse_xml(xml)["MsgSignature"] == signature(TOKEN, "1", "n", enc)


def test_xml_with_a_doctype_is_refused():
    with pytest.raises(CallbackError, match="DOCTYPE"):
        parse_xml(b'<!DOCTYPE x [<!ENTITY a "b">]><xml><A>&a;</A></xml>')


def test_a_click_answers_a_dispatch_offer_as_dispatch_documents_it():
    assert answer_for("dispatch.handoff", "accept") == ({"answer": "accept"}, "done")
    data, outcome = answer_for("dispatch.handoff", "decline")
    assert data["answer"] == "decline" and data["reason"] and outcome == "done"
    assert answer_for("accept", "decline") == ({}, "declined")
