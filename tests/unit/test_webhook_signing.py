"""Webhook bodies and signatures (docs/webhooks.md, "A delivery"): both published
``dojo-signature`` test vectors byte for byte, the delivery body's key order and compactness, and
the Standard Webhooks headers checked by a verifier written here from that spec (and by the
``standardwebhooks`` package), with the ``whsec_`` form of the secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook

from payintents.domain.events import EventName, OutboxEvent
from payintents.domain.intent import Environment, Scope
from payintents.domain.webhook_signing import (
    delivery_body,
    dojo_signature,
    iso_timestamp,
    signed_headers,
    standard_webhooks_secret,
    standard_webhooks_signature,
)

# The example delivery of Dojo's webhooks page, compact, exactly as Dojo signed it for the published vectors.
CONTRACT_BODY = (
    b'{"id":"evt_hnnHxIKR_Uy6bhZCusCltw","event":"payment_intent.created","accountId":"acc_test",'
    b'"createdAt":"2022-02-01T13:07:41.8667859Z","data":{"paymentIntentId":"pi_vpwd4ooAPEqyNAQe4z89WQ",'
    b'"paymentStatus":"Created","captureMode":"Auto"}}'
)
VECTORS = [
    (
        "PDYkJQq6sESYHp_zJuTTBQ",
        "sha256=4B-49-F8-FE-25-A7-E6-7D-00-4F-A7-9C-F8-0B-63-00-C7-77-B4-F2-2D-E5-E1-22-84-FA-04-18-50-A1-76-FD",
    ),
    (
        "ws_OYsyzcrH70GpJfs8MMkKpg",
        "sha256=94-AC-93-67-D6-8B-69-6D-15-A2-C2-45-40-98-B5-E7-64-72-38-C5-1F-6D-32-D0-5F-CB-91-20-A9-20-64-F4",
    ),
]
SECRET = "secret-value_with-url-safe-chars_0123456789"
CREATED = datetime(2022, 2, 1, 13, 7, 41, 866785, tzinfo=UTC)


def contract_event(created_at: datetime = CREATED) -> OutboxEvent:
    data = {"paymentIntentId": "pi_vpwd4ooAPEqyNAQe4z89WQ", "paymentStatus": "Created", "captureMode": "Auto"}
    scope = Scope("acc_test", Environment.SANDBOX)
    return OutboxEvent(
        "evt_hnnHxIKR_Uy6bhZCusCltw", scope, EventName.PAYMENT_INTENT_CREATED, data["paymentIntentId"],
        created_at, data,
    )  # fmt: skip


def verify_standard_webhooks(whsec: str, headers: dict[str, str], body: bytes) -> bool:
    """An independent verifier from the Standard Webhooks spec: key = base64-decoded part after
    ``whsec_``; signed content ``{id}.{timestamp}.{body}``; header = space-separated ``v1,<b64>``."""
    key = base64.b64decode(whsec.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1) for s in headers["webhook-signature"].split(" ")]
    return any(version == "v1" and hmac.compare_digest(sig, expected) for version, sig in offered)


@pytest.mark.parametrize(("secret", "expected"), VECTORS)
def test_dojo_signature_reproduces_the_published_test_vectors(secret: str, expected: str) -> None:
    assert dojo_signature(secret, CONTRACT_BODY) == expected


def test_dojo_signature_is_upper_case_hex_pairs_joined_by_dashes() -> None:
    signature = dojo_signature(SECRET, b"{}")
    pairs = signature.removeprefix("sha256=").split("-")
    assert signature.startswith("sha256=") and len(pairs) == 32
    assert all(len(p) == 2 and p == p.upper() and int(p, 16) >= 0 for p in pairs)
    # PHP's check: strip the prefix and dashes, lower-case, compare with the plain hex digest.
    plain = hmac.new(SECRET.encode(), b"{}", hashlib.sha256).hexdigest()
    assert "".join(pairs).lower() == plain


def test_delivery_body_is_compact_json_in_dojos_key_order() -> None:
    body = delivery_body(contract_event())
    assert body == CONTRACT_BODY.replace(b"41.8667859Z", b"41.866785Z")
    assert b" " not in body and b"\n" not in body
    parsed = json.loads(body)
    assert list(parsed) == ["id", "event", "accountId", "createdAt", "data"]
    assert list(parsed["data"]) == ["paymentIntentId", "paymentStatus", "captureMode"]


def test_delivery_body_created_at_is_utc_with_z_whatever_the_input_zone() -> None:
    elsewhere = CREATED.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert json.loads(delivery_body(contract_event(elsewhere)))["createdAt"] == "2022-02-01T13:07:41.866785Z"
    assert iso_timestamp(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000000Z"


def test_delivery_body_keeps_non_ascii_as_utf8() -> None:
    event = contract_event()
    odd = OutboxEvent(event.id, event.scope, EventName.REFUND_CREATED, "pi_1", CREATED, {"notes": "£ café"})
    body = delivery_body(odd)
    assert "£ café".encode() in body
    assert json.loads(body)["data"] == {"notes": "£ café"}


def test_standard_webhooks_secret_is_whsec_plus_base64_of_the_secret_value() -> None:
    whsec = standard_webhooks_secret(SECRET)
    assert whsec.startswith("whsec_")
    assert base64.b64decode(whsec.removeprefix("whsec_")) == SECRET.encode()


def test_signed_headers_carry_both_schemes_and_verify_independently() -> None:
    body = delivery_body(contract_event())
    headers = signed_headers(SECRET, "evt_hnnHxIKR_Uy6bhZCusCltw", 1643720861, body)
    assert headers["Content-Type"] == "application/json"
    assert headers["dojo-signature"] == dojo_signature(SECRET, body)
    assert headers["webhook-id"] == "evt_hnnHxIKR_Uy6bhZCusCltw"
    assert headers["webhook-timestamp"] == "1643720861"
    assert headers["webhook-signature"].startswith("v1,")
    assert verify_standard_webhooks(standard_webhooks_secret(SECRET), headers, body)


def test_standard_webhooks_signature_fails_on_any_change() -> None:
    body = delivery_body(contract_event())
    headers = signed_headers(SECRET, "evt_1", 1643720861, body)
    whsec = standard_webhooks_secret(SECRET)
    assert not verify_standard_webhooks(whsec, headers, body + b" ")
    assert not verify_standard_webhooks(whsec, {**headers, "webhook-id": "evt_2"}, body)
    assert not verify_standard_webhooks(whsec, {**headers, "webhook-timestamp": "1643720862"}, body)
    assert not verify_standard_webhooks(standard_webhooks_secret("other"), headers, body)


def test_standard_webhooks_signature_matches_the_spec_formula() -> None:
    signed = b"msg_1.1700000000." + b'{"a":1}'
    digest = hmac.new(SECRET.encode(), signed, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    assert standard_webhooks_signature(SECRET, "msg_1", 1700000000, b'{"a":1}') == expected


def test_the_standardwebhooks_package_accepts_our_headers() -> None:
    now = datetime.now(UTC)
    body = delivery_body(contract_event(now))
    headers = signed_headers(SECRET, "evt_hnnHxIKR_Uy6bhZCusCltw", int(now.timestamp()), body)
    verified = Webhook(standard_webhooks_secret(SECRET)).verify(body, headers)
    assert verified["id"] == "evt_hnnHxIKR_Uy6bhZCusCltw"
