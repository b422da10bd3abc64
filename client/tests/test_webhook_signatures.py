"""Webhook verification helpers: Dojo's ``dojo-signature`` against the two test vectors published in
Dojo's webhook documentation, and Standard Webhooks cross-checked with the independent
``standardwebhooks`` package."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from payintents_client import WebhookVerificationError, verify_dojo_signature, verify_standard_webhook

# Dojo's published delivery example, byte for byte (compact JSON, Dojo's key order).
BODY = (
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


@pytest.mark.parametrize(("secret", "header"), VECTORS)
def test_dojo_published_vectors_verify(secret: str, header: str) -> None:
    assert verify_dojo_signature(secret, BODY, header)


@pytest.mark.parametrize(("secret", "header"), VECTORS)
def test_lower_case_hex_and_missing_dashes_are_accepted(secret: str, header: str) -> None:
    assert verify_dojo_signature(secret, BODY, header.lower())
    assert verify_dojo_signature(secret, BODY, "SHA256=" + header.removeprefix("sha256=").replace("-", ""))


def test_a_changed_body_a_wrong_secret_or_a_malformed_header_is_false() -> None:
    secret, header = VECTORS[0]
    assert not verify_dojo_signature(secret, BODY + b" ", header)
    assert not verify_dojo_signature(VECTORS[1][0], BODY, header)
    for bad in ["", "4B-49", "sha256=", "sha256=zz", "sha1=" + header[7:], header[:-3], None]:
        assert not verify_dojo_signature(secret, BODY, bad)


def _signed_by_standardwebhooks(secret_value: str, msg_id: str, at: int) -> dict[str, str]:
    whsec = "whsec_" + base64.b64encode(secret_value.encode()).decode()
    signature = Webhook(whsec).sign(msg_id, datetime.fromtimestamp(at, UTC), BODY.decode())
    return {"Webhook-Id": msg_id, "Webhook-Timestamp": str(at), "Webhook-Signature": signature}


def test_standard_webhook_signed_by_the_reference_library_verifies_with_the_plain_secret_value() -> None:
    now = int(time.time())
    headers = _signed_by_standardwebhooks("PDYkJQq6sESYHp_zJuTTBQ", "evt_1", now)
    verify_standard_webhook("PDYkJQq6sESYHp_zJuTTBQ", headers, BODY)
    whsec = "whsec_" + base64.b64encode(b"PDYkJQq6sESYHp_zJuTTBQ").decode()
    verify_standard_webhook(whsec, headers, BODY)


def test_standard_webhook_accepts_any_of_several_signatures() -> None:
    now = int(time.time())
    headers = _signed_by_standardwebhooks("new-secret", "evt_1", now)
    headers["Webhook-Signature"] = "v1,AAAA " + headers["Webhook-Signature"]
    verify_standard_webhook("new-secret", headers, BODY)


def test_standard_webhook_refuses_replays_outside_the_tolerance() -> None:
    old = int(time.time()) - 301
    headers = _signed_by_standardwebhooks("s", "evt_1", old)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_standard_webhook("s", headers, BODY)
    verify_standard_webhook("s", headers, BODY, tolerance_s=600)


def test_standard_webhook_refuses_a_tampered_body_or_id_and_missing_headers() -> None:
    now = int(time.time())
    headers = _signed_by_standardwebhooks("s", "evt_1", now)
    with pytest.raises(WebhookVerificationError, match="no webhook-signature matches"):
        verify_standard_webhook("s", headers, BODY + b" ")
    with pytest.raises(WebhookVerificationError):
        verify_standard_webhook("s", {**headers, "Webhook-Id": "evt_2"}, BODY)
    with pytest.raises(WebhookVerificationError, match="missing header webhook-id"):
        verify_standard_webhook("s", {"Webhook-Signature": "v1,x", "Webhook-Timestamp": str(now)}, BODY)
