"""Receipts mailed through an SMTP server (``PAYINTENTS_SMTP_URL``; off by default).

``smtp://[user:password@]host[:port]`` (port 25; STARTTLS when the server offers it) or
``smtps://…`` (port 465, TLS from the start); ``?from=receipts@example.com`` sets the sender.
One connection per receipt, closed after it: receipts are rare, and a held connection would
go stale between them.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from payintents.domain.receipts import Receipt
from payintents.service.ports import MailUnavailableError

DEFAULT_SENDER = "receipts@payintents.invalid"


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool
    sender: str
    user: str | None = None
    password: str | None = None


def parse_smtp_url(text: str) -> SmtpSettings | None:
    """``PAYINTENTS_SMTP_URL`` read; empty or ``off`` is None (no mail). Raises ValueError."""
    if text.strip().lower() in ("", "off"):
        return None
    parts = urlsplit(text.strip())
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("must be smtp://[user:password@]host[:port] or smtps://…, or off")
    implicit_tls = parts.scheme == "smtps"
    sender = parse_qs(parts.query).get("from", [DEFAULT_SENDER])[0]
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or (465 if implicit_tls else 25),
        implicit_tls=implicit_tls,
        sender=sender,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class SmtpReceiptMailer:
    """The ReceiptMailer port over SMTP: one text/HTML message to every recipient."""

    def __init__(self, settings: SmtpSettings, timeout_s: float = 15.0) -> None:
        self._settings = settings
        self._timeout_s = timeout_s

    def send(self, receipt: Receipt) -> None:
        try:
            with self._connect() as smtp:
                smtp.send_message(self.message(receipt))
        except (OSError, smtplib.SMTPException) as failure:
            # Generic words: the server's own reply may quote addresses or internal host names.
            raise MailUnavailableError(
                f"The mail server did not take the receipt ({type(failure).__name__})."
            ) from failure

    def message(self, receipt: Receipt) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.sender
        message["To"] = ", ".join(receipt.recipients)
        message["Subject"] = receipt.subject
        message.set_content(receipt.text)
        message.add_alternative(receipt.html, subtype="html")
        return message

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if settings.implicit_tls:
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=self._timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=self._timeout_s)
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
        if settings.user is not None:
            smtp.login(settings.user, settings.password or "")
        return smtp
