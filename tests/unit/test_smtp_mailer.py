"""The SMTP adapter behind the ReceiptMailer port (adapters/smtp_mailer.py): the
PAYINTENTS_SMTP_URL format, and a receipt delivered to a real SMTP receiver on loopback as one
text + HTML message to every recipient; an unreachable server is MailUnavailableError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from payintents.adapters.smtp_mailer import DEFAULT_SENDER, SmtpReceiptMailer, SmtpSettings, parse_smtp_url
from payintents.domain.intent import Environment, Scope
from payintents.domain.receipts import Receipt
from payintents.service.ports import MailUnavailableError
from payintents.testbed.processes import free_port
from tests.smtp_receiver import smtp_receiver

RECEIPT = Receipt(
    id="rcpt_AAAAAAAAAAAAAAAAAAAAAA",
    scope=Scope("acc_x", Environment.PRODUCTION),
    payment_intent_id="pi_AAAAAAAAAAAAAAAAAAAAAA",
    recipients=("ada@example.com", "bob@example.org"),
    subject="Your receipt for Order 234",
    text="Your receipt for Order 234\n\nTotal: 10.00 GBP\n",
    html="<html><body><h1>Your receipt for Order 234</h1></body></html>",
    created_at=datetime(2026, 1, 2, tzinfo=UTC),
)


def test_the_smtp_url_is_parsed() -> None:
    assert parse_smtp_url("off") is None
    assert parse_smtp_url("") is None
    plain = SmtpSettings("mail.example.com", 25, False, DEFAULT_SENDER)
    assert parse_smtp_url("smtp://mail.example.com") == plain
    assert parse_smtp_url("smtps://u%40x:p%2Fw@mail.example.com?from=shop@example.com") == SmtpSettings(
        "mail.example.com", 465, True, "shop@example.com", "u@x", "p/w"
    )
    assert parse_smtp_url("smtp://127.0.0.1:2525") == SmtpSettings("127.0.0.1", 2525, False, DEFAULT_SENDER)
    for wrong in ("http://mail.example.com", "mail.example.com", "smtp://"):
        with pytest.raises(ValueError):
            parse_smtp_url(wrong)


def test_a_receipt_reaches_a_real_smtp_receiver_as_text_and_html() -> None:
    with smtp_receiver() as receiver:
        settings = SmtpSettings("127.0.0.1", receiver.port, False, "shop@example.com")
        SmtpReceiptMailer(settings, timeout_s=5).send(RECEIPT)
    [mail] = receiver.mail
    assert mail.sender == "shop@example.com"
    assert mail.recipients == ["ada@example.com", "bob@example.org"]
    assert mail.message["Subject"] == "Your receipt for Order 234"
    assert mail.message["To"] == "ada@example.com, bob@example.org"
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in mail.message.walk()
        if not part.is_multipart()
    }
    assert "Total: 10.00 GBP" in parts["text/plain"]
    assert "<h1>Your receipt for Order 234</h1>" in parts["text/html"]


def test_an_unreachable_mail_server_is_mail_unavailable() -> None:
    settings = SmtpSettings("127.0.0.1", free_port(), False, DEFAULT_SENDER)
    with pytest.raises(MailUnavailableError) as failure:
        SmtpReceiptMailer(settings, timeout_s=2).send(RECEIPT)
    assert "did not take the receipt" in str(failure.value)
