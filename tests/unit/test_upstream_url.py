"""Which upstream URLs an account may be given (service/upstreams.py, ADR 0031): the Dojo key
travels in every request's Authorization header, so it goes over plain HTTP only to this host
(a test upstream, a local TLS-terminating proxy), never across a network."""

from __future__ import annotations

import pytest

from payintents.domain.errors import ValidationError
from payintents.service.upstreams import checked_url


@pytest.mark.parametrize(
    "url",
    [
        "https://api.dojo.tech/",
        "https://dojo.example:8443/v1",
        "http://127.0.0.1:8080",
        "http://localhost:9",
        "http://[::1]:80",
    ],
)
def test_https_anywhere_and_plain_http_to_this_host_are_accepted(url: str) -> None:
    assert checked_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://api.dojo.tech",
        "http://10.0.0.7:8080",
        "http://dojo.internal",
        "ftp://x",
        "https://u:p@dojo.tech",
    ],
)
def test_plain_http_across_a_network_would_show_the_key_and_is_refused(url: str) -> None:
    with pytest.raises(ValidationError):
        checked_url(url)
