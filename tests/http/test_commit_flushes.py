"""Which of a refund's three commits reach the disk by themselves (ADR 0030), on both stores.

With the sandbox processor, whose ledger is in our own database, the reservation and the ledger
entry commit without a flush of their own and the record's commit, durable, carries both to disk:
one flush per refund. With a processor elsewhere the reservation is flushed before the call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from payintents.adapters.sql.unit_of_work import POSTGRES_COMMIT_NOT_FLUSHED
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.web.app import build_app
from tests.fakes import ApprovingProcessor
from tests.support import Api

RELAXED = (POSTGRES_COMMIT_NOT_FLUSHED, "PRAGMA synchronous=NORMAL")


@pytest.fixture
def relaxed_commits() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        if sql in RELAXED:
            seen.append(sql)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def test_a_sandbox_refund_flushes_only_its_record(api: Api, relaxed_commits: list[str]) -> None:
    intent = api.captured_intent()
    relaxed_commits.clear()
    assert api.refund(intent, 100).status_code == 200
    assert len(relaxed_commits) == 2  # the reservation and the processor's ledger entry
    assert api.get(f"/payment-intents/{intent}").json()["refundedAmount"] == 100


def test_with_a_processor_elsewhere_the_reservation_is_flushed(
    deps: Dependencies, relaxed_commits: list[str]
) -> None:
    elsewhere = dataclasses.replace(deps, processor=ApprovingProcessor())
    with TestClient(build_app(elsewhere), base_url="http://testserver") as client:
        api = Api(client, create_account(deps, "elsewhere").sandbox_key)
        intent = api.captured_intent()
        relaxed_commits.clear()
        assert api.refund(intent, 100).status_code == 200
    assert relaxed_commits == []
