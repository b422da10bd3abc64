"""Which URLs may receive webhooks (issue 5; SSRF policy in ``domain.webhook_urls``): a table of
hostile subscription URLs refused in both environments without connecting anywhere, the sandbox's
loopback allowance, and the sender's second check on the resolved addresses before httpx is used."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from payintents.adapters.webhook_sender import HttpWebhookSender
from payintents.domain.errors import ValidationError
from payintents.domain.intent import Environment
from payintents.domain.webhook_urls import check_receiver_url, parse_ip_literal

SANDBOX, PROD = Environment.SANDBOX, Environment.PRODUCTION

# Loopback receivers: fine for a developer's sandbox, refused in production.
LOOPBACK = [
    "http://127.0.0.1:8080/hooks",
    "http://localhost:9000/",
    "https://localhost/",
    "http://LOCALHOST:1/",
]
# Refused in both environments.
HOSTILE = [
    "https://127.0.0.2/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/",
    "https://10.255.255.255:8443/",
    "https://172.16.0.1/",
    "https://172.31.255.255/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",
    "https://[::1]/",
    "https://[fd00::1]/",
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:a9fe:a9fe]/",
    "https://[64:ff9b::a9fe:a9fe]/",
    "https://[2002:7f00:1::]/",
    "https://[::127.0.0.1]/",
    "https://[::]/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://0x7f.1/",
    "https://0177.0.0.1/",
    "https://127.1/",
    "https://0/",
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "https://[ff02::1]/",
    "https://255.255.255.255/",
    "https://198.18.0.1/",
    "https://08.0.0.1/",
    "https://999.1.1.1/",
    "https://1.2.3.4.5/",
    "https://0x.1/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://metadata/",
    "https://api.localhost/",
    "https://db.internal/",
    "https://printer.local/",
    "https://intranet/",
    "https://[v1.fe]/",
    "ftp://example.com/",
    "file:///etc/passwd",
    "gopher://example.com:70/_GET",
    "javascript:alert(1)",
    "data:text/plain,hi",
    "//example.com/hook",
    "https://user:pass@example.com/",
    "https://user@example.com/",
    "https://@example.com/",
    "http://example.com/hook",
    "http://8.8.8.8/",
    "https://example.com:0/",
    "https://example.com:99999/",
    "https://example.com\n.evil/",
    " https://example.com/",
    "https://exa mple.com/",
    "https://-bad-.example.com/",
    "https://bücher.example/",
    "https://example.com/" + "a" * 2048,
    "",
]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Any DNS lookup or socket connection fails the test (and is recorded)."""
    calls: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        raise AssertionError(f"network used: {args}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield calls
    assert calls == []


@pytest.mark.parametrize("environment", [SANDBOX, PROD])
@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_url_is_refused_without_touching_the_network(
    url: str, environment: Environment, no_network: list[Any]
) -> None:
    with pytest.raises(ValidationError) as refused:
        check_receiver_url(url, environment)
    assert list(refused.value.errors) == ["url"]


def test_the_hostile_table_is_large_enough() -> None:
    assert len(HOSTILE) >= 20 and len(set(HOSTILE)) == len(HOSTILE)


@pytest.mark.parametrize("url", LOOPBACK)
def test_sandbox_allows_loopback_receivers_that_production_refuses(url: str, no_network: list[Any]) -> None:
    assert check_receiver_url(url, SANDBOX) == url
    with pytest.raises(ValidationError):
        check_receiver_url(url, PROD)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.2/", "http://[::1]:80/", "http://2130706433:80/", "http://127.1/"]
)
def test_sandbox_allows_only_the_two_spellings_of_loopback(url: str, no_network: list[Any]) -> None:
    with pytest.raises(ValidationError):
        check_receiver_url(url, SANDBOX)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "https://hooks.example.co.uk:8443/a/b?c=d",
        "https://8.8.8.8/",
        "https://[2606:4700:4700::1111]/",
        "https://xn--bcher-kva.example/",
    ],
)
@pytest.mark.parametrize("environment", [SANDBOX, PROD])
def test_public_https_urls_are_allowed(url: str, environment: Environment, no_network: list[Any]) -> None:
    assert check_receiver_url(url, environment) == url


@pytest.mark.parametrize(
    ("host", "address"),
    [("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"),
     ("127.1", "127.0.0.1"), ("10.1", "10.0.0.1"), ("192.168.0x101", "192.168.1.1"), ("[::1]", "::1"),
     ("example.com", None), ("08.1.1.1", None), ("256.1.1.1", None)],
)  # fmt: skip
def test_ip_literals_are_read_as_inet_aton_reads_them(host: str, address: str | None) -> None:
    parsed = parse_ip_literal(host)
    assert (str(parsed) if parsed is not None else None) == address


# The sender: resolution checked before any HTTP request.


@dataclass
class Recorder:
    lookups: list[str] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    answers: dict[str, list[str]] = field(default_factory=dict)
    respond: Any = None


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        rec.lookups.append(host)
        if host not in rec.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0))
            for a in rec.answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return rec


def sender_for(rec: Recorder) -> HttpWebhookSender:
    def handle(request: httpx.Request) -> httpx.Response:
        rec.requests.append(request)
        return rec.respond(request) if rec.respond else httpx.Response(200)

    sender = HttpWebhookSender(timeout_s=1)
    sender._client = httpx.Client(transport=httpx.MockTransport(handle), follow_redirects=False)
    return sender


HEADERS = {"Content-Type": "application/json", "webhook-id": "evt_1"}


@pytest.mark.parametrize("url", HOSTILE + LOOPBACK)
def test_sender_never_sends_to_a_refused_url(url: str, recorder: Recorder) -> None:
    result = sender_for(recorder).send(url, b"{}", HEADERS, PROD)
    assert result.status_code is None and result.error and result.error.startswith("refused")
    assert recorder.requests == [] and recorder.lookups == []


@pytest.mark.parametrize(
    "addresses", [["10.0.0.7"], ["169.254.169.254"], ["127.0.0.1"], ["::1"], ["93.184.216.34", "192.168.0.4"]]
)
@pytest.mark.parametrize("environment", [SANDBOX, PROD])
def test_a_public_name_resolving_to_a_private_address_is_refused_at_send_time(
    addresses: list[str], environment: Environment, recorder: Recorder
) -> None:
    recorder.answers["rebind.example.com"] = addresses
    result = sender_for(recorder).send("https://rebind.example.com/hook", b"{}", HEADERS, environment)
    assert result.status_code is None and "refused" in (result.error or "")
    assert recorder.lookups == ["rebind.example.com"] and recorder.requests == []


def test_sandbox_localhost_must_resolve_to_loopback_only(recorder: Recorder) -> None:
    sender = sender_for(recorder)
    recorder.answers["localhost"] = ["127.0.0.1", "::1"]
    assert sender.send("http://localhost:8123/h", b"{}", HEADERS, SANDBOX).status_code == 200
    recorder.answers["localhost"] = ["10.1.2.3"]
    refused = sender.send("http://localhost:8123/h", b"{}", HEADERS, SANDBOX)
    assert refused.status_code is None and len(recorder.requests) == 1


def test_a_public_receiver_gets_the_body_and_headers(recorder: Recorder) -> None:
    recorder.answers["hooks.example.com"] = ["93.184.216.34"]
    result = sender_for(recorder).send("https://hooks.example.com/in", b'{"a":1}', HEADERS, PROD)
    assert result.status_code == 200 and result.error is None
    (request,) = recorder.requests
    assert request.method == "POST" and request.content == b'{"a":1}'
    assert request.headers["webhook-id"] == "evt_1" and request.headers["user-agent"].startswith("payintents")


def test_unresolvable_host_timeouts_and_connection_errors_are_reported_not_raised(recorder: Recorder) -> None:
    sender = sender_for(recorder)
    missing = sender.send("https://nowhere.example.com/", b"{}", HEADERS, PROD)
    assert missing.status_code is None and "resolve" in (missing.error or "")
    recorder.answers["slow.example.com"] = ["93.184.216.34"]
    for failure, text in [
        (httpx.ReadTimeout("slow"), "timed out"),
        (httpx.ConnectError("down"), "ConnectError"),
    ]:

        def raise_it(request: httpx.Request, failure: Exception = failure) -> httpx.Response:
            raise failure

        recorder.respond = raise_it
        result = sender.send("https://slow.example.com/", b"{}", HEADERS, PROD)
        assert result.status_code is None and text in (result.error or "")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("0", 0.0), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_is_read_as_seconds_or_a_date(
    header: str, seconds: float | None, recorder: Recorder
) -> None:
    recorder.answers["busy.example.com"] = ["93.184.216.34"]
    recorder.respond = lambda request: httpx.Response(503, headers={"Retry-After": header})
    result = sender_for(recorder).send("https://busy.example.com/", b"{}", HEADERS, PROD)
    assert result.status_code == 503 and result.retry_after_s == seconds


def test_redirects_are_not_followed(recorder: Recorder) -> None:
    recorder.answers["hooks.example.com"] = ["93.184.216.34"]
    recorder.respond = lambda request: httpx.Response(307, headers={"Location": "http://169.254.169.254/"})
    result = sender_for(recorder).send("https://hooks.example.com/", b"{}", HEADERS, PROD)
    assert result.status_code == 307 and len(recorder.requests) == 1
