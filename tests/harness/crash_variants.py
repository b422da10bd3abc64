"""Deliberately broken servers for the crash test's negative control.

``ack-before-commit``: the refund use case answers 200 while its transactions (the reservation
and the record) are still open; each commits in a background thread a few hundred milliseconds
later, and its processor keeps what it did in memory only. A SIGKILL inside that window loses a
refund the client was told about (nothing durable says it happened, so reconciliation releases
it), which the crash test must catch. With the processor's own durable record, the two-phase
write heals a lost record; this variant shows the harness sees a loss when nothing can.

Run as ``python -m tests.harness.crash_variants --variant ack-before-commit --port P --workers N``
(database from ``PAYINTENTS_DATABASE_URL``, already migrated). Every uvicorn worker builds its own
app through the factory below, which applies the patch in that worker process.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import sys
import threading
import time
from types import TracebackType
from typing import Any, Self

from starlette.applications import Starlette

from tests.harness.variant_server import serve_variant

VARIANTS = ("ack-before-commit",)
VARIANT_ENV = "PAYINTENTS_CRASH_VARIANT"
# Long enough that a kill lands inside the window in nearly every cycle (SQLite holds its write
# lock meanwhile, so most of the traffic waits inside such a window).
COMMIT_DELAY_S = (0.5, 1.0)


class DeferredCommitUnitOfWork:
    """Wraps a real unit of work: ``commit`` only marks it, and leaving the block hands the open
    transaction to a thread that commits it after a delay, so the answer goes out first."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._commit_wanted = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def commit(self, durable: bool = True) -> None:
        self._commit_wanted = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None or not self._commit_wanted:
            self._inner.__exit__(exc_type, exc, tb)
            return
        threading.Thread(target=self._commit_later, daemon=True).start()

    def _commit_later(self) -> None:
        time.sleep(random.uniform(*COMMIT_DELAY_S))
        try:
            self._inner.commit()  # durable: the delay is the bug, not a missing flush
            self._inner.__exit__(None, None, None)
        except Exception as exc:  # the broken variant just loses it, as a real bug would
            print(f"deferred commit failed: {exc!r}", file=sys.stderr, flush=True)
            self._inner.__exit__(type(exc), exc, exc.__traceback__)


def _patch_ack_before_commit() -> None:
    from payintents.adapters.sandbox_processor import MemoryLedger, SandboxProcessor
    from payintents.service import money_operations, refunds
    from payintents.service.transactions import ThreadedTransactions

    original = money_operations.run_operation

    async def run_operation_ack_first(
        deps: Any, context: Any, scope: Any, intent_id: Any, request: Any, reserve: Any
    ) -> Any:
        real_uow = deps.uow

        def deferred_writer() -> Any:
            return DeferredCommitUnitOfWork(real_uow())

        # The refund's units (reserve and record) each in a transaction of its own on a thread,
        # not in the SQLite writer's batch, whose commit would come before the answer whatever
        # the unit of work does.
        threaded = ThreadedTransactions(deferred_writer, deps.read)
        forgetful = SandboxProcessor(ledger=MemoryLedger())
        deferred = dataclasses.replace(deps, uow=deferred_writer, transactions=threaded, processor=forgetful)
        return await original(deferred, context, scope, intent_id, request, reserve)

    # Only the refund path is broken: creates, payments and captures stay honest.
    setattr(refunds, "run_operation", run_operation_ack_first)  # noqa: B010 (a deliberate monkeypatch)
    # The sandbox request log writes after the handler, and on SQLite that write would wait for the
    # deferred commit's lock before the answer leaves, quietly repairing the bug: switch it off.
    from payintents.web import endpoint

    setattr(endpoint, "log_sandbox_request", lambda *args, **kwargs: None)  # noqa: B010


def app_factory() -> Starlette:
    """``uvicorn --factory`` entry point: runs in each worker, patches, then builds the real app."""
    from payintents.bootstrap import app_from_environment

    variant = os.environ.get(VARIANT_ENV, "")
    if variant != "ack-before-commit":
        raise RuntimeError(f"unknown crash variant {variant!r}")
    _patch_ack_before_commit()
    return app_from_environment()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ[VARIANT_ENV] = args.variant
    print(f"crash variant {args.variant} on 127.0.0.1:{args.port}", flush=True)
    serve_variant("tests.harness.crash_variants:app_factory", args.port, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
