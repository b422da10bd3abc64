"""Which URLs may receive webhooks (docs/webhooks.md "Receiver URLs", ADR 0022; SSRF policy in
``domain.webhook_urls``): a
table of hostile subscription URLs refused in both environments without connecting anywhere, and
the sandbox's hosts (loopback by default; ``PAYINTENTS_SANDBOX_WEBHOOK_HOSTS``). The sender's
checks at send time are in ``test_webhook_sender.py``."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from payintents.bootstrap import ConfigurationError, Settings
from payintents.domain.errors import ValidationError
from payintents.domain.intent import Environment
from payintents.domain.webhook_urls import (
    SANDBOX_LOCAL_HOSTS,
    check_receiver_url,
    parse_ip_literal,
    parse_sandbox_hosts,
)

SANDBOX, PROD = Environment.SANDBOX, Environment.PRODUCTION

# Loopback receivers: fine for a developer's sandbox, refused in production.
LOOPBACK = [
    "http://127.0.0.1:8080/hooks",
    "http://localhost:9000/",
    "https://localhost/",
    "http://LOCALHOST:1/",
    "http://[::1]:8080/hooks",
    "https://[::1]/",
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
    "url", ["http://127.0.0.2/", "http://[0:0::1]:80/", "http://2130706433:80/", "http://127.1/"]
)
def test_sandbox_allows_only_the_listed_spellings_of_loopback(url: str, no_network: list[Any]) -> None:
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


# The sandbox's hosts are a setting (PAYINTENTS_SANDBOX_WEBHOOK_HOSTS).


@pytest.mark.parametrize("url", LOOPBACK)
def test_no_loopback_receiver_when_the_setting_names_no_host(url: str, no_network: list[Any]) -> None:
    with pytest.raises(ValidationError) as refused:
        check_receiver_url(url, SANDBOX, frozenset())
    assert "127.0.0.1" not in str(refused.value.errors)


@pytest.mark.parametrize("url", ["http://receiver:8080/hooks", "https://receiver/", "http://WebHooks.Test/"])
def test_a_named_host_serves_sandbox_receivers_and_only_those(url: str, no_network: list[Any]) -> None:
    named = frozenset({"receiver", "webhooks.test"})
    assert check_receiver_url(url, SANDBOX, named) == url
    with pytest.raises(ValidationError):
        check_receiver_url(url, PROD, named)
    with pytest.raises(ValidationError):
        check_receiver_url("http://127.0.0.1:8080/", SANDBOX, named)


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("127.0.0.1,localhost,::1", SANDBOX_LOCAL_HOSTS),
        ("", frozenset()),
        (" , ", frozenset()),
        ("Receiver, [::1] ,webhooks.internal", frozenset({"receiver", "::1", "webhooks.internal"})),
    ],
)
def test_the_setting_is_a_comma_separated_host_list(text: str, hosts: frozenset[str]) -> None:
    assert parse_sandbox_hosts(text) == hosts


@pytest.mark.parametrize("text", ["http://receiver", "receiver:8080", "local host", "a/b", "-x-"])
def test_the_setting_refuses_anything_but_hosts(text: str) -> None:
    with pytest.raises(ValueError, match="not a host name or an IP address"):
        parse_sandbox_hosts(text)


def test_the_server_reads_the_setting_from_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYINTENTS_SANDBOX_WEBHOOK_HOSTS", raising=False)
    assert Settings.from_environment().sandbox_webhook_hosts == {"127.0.0.1", "localhost", "::1"}
    monkeypatch.setenv("PAYINTENTS_SANDBOX_WEBHOOK_HOSTS", "")
    assert Settings.from_environment().sandbox_webhook_hosts == frozenset()
    monkeypatch.setenv("PAYINTENTS_SANDBOX_WEBHOOK_HOSTS", "receiver,localhost")
    assert Settings.from_environment().sandbox_webhook_hosts == {"receiver", "localhost"}
    monkeypatch.setenv("PAYINTENTS_SANDBOX_WEBHOOK_HOSTS", "http://receiver:8080")
    with pytest.raises(
        ConfigurationError, match="PAYINTENTS_SANDBOX_WEBHOOK_HOSTS names 'http://receiver:8080'"
    ):
        Settings.from_environment()
