"""The settings of a shared server: defaults that are safe with nothing configured, and values
that would not work refused at start with the variable's name."""

from __future__ import annotations

import pytest

from payintents.bootstrap import ConfigurationError, Settings
from payintents.web.http_protocol import HttpLimits
from payintents.web.metrics import parse_metrics_address


def test_defaults_bind_metrics_to_loopback_and_time_out_slow_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PAYINTENTS_METRICS_ADDRESS", "PAYINTENTS_HEADER_TIMEOUT_S", "PAYINTENTS_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_environment()
    assert settings.metrics_address == ("127.0.0.1", 9464)
    assert settings.http_limits == HttpLimits(
        header_timeout_s=10.0, body_timeout_s=30.0, max_connections=1000
    )
    assert settings.public_url is None


def test_http_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYINTENTS_HEADER_TIMEOUT_S", "2.5")
    monkeypatch.setenv("PAYINTENTS_BODY_TIMEOUT_S", "7")
    monkeypatch.setenv("PAYINTENTS_MAX_CONNECTIONS", "50")
    assert Settings.from_environment().http_limits == HttpLimits(2.5, 7.0, 50)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAYINTENTS_HEADER_TIMEOUT_S", "0"),
        ("PAYINTENTS_BODY_TIMEOUT_S", "-1"),
        ("PAYINTENTS_MAX_CONNECTIONS", "0"),
        ("PAYINTENTS_MAX_CONNECTIONS", "many"),
        ("PAYINTENTS_HEADER_TIMEOUT_S", "nan"),
        ("PAYINTENTS_BODY_TIMEOUT_S", "inf"),
        ("PAYINTENTS_METRICS_ADDRESS", "9464"),
        ("PAYINTENTS_METRICS_ADDRESS", "localhost:http"),
        ("PAYINTENTS_METRICS_ADDRESS", "127.0.0.1:70000"),
    ],
)
def test_unworkable_values_stop_the_server_at_start(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_environment()


@pytest.mark.parametrize(
    ("text", "address"),
    [("off", None), ("OFF", None), ("0.0.0.0:9100", ("0.0.0.0", 9100)), ("[::1]:9464", ("::1", 9464))],
)
def test_metrics_address_forms(text: str, address: tuple[str, int] | None) -> None:
    assert parse_metrics_address(text) == address
