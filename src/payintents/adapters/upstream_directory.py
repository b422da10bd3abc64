"""Which scopes have an upstream (ADR 0031): an upstream account's production key has its money
moved at Dojo; sandbox keys, and accounts without an upstream, keep the built-in processor.

An account's upstream is read from the store at most every ``CACHE_S`` seconds per process, so a
``payintents accounts set-upstream`` takes effect in running servers within that time. The Dojo
client of an upstream is kept while its URL and sealed key stay the same (its connections too).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from payintents.adapters.dojo_api import DojoApi
from payintents.adapters.dojo_processor import DojoUpstream
from payintents.domain.intent import Environment, Scope
from payintents.service.ports import Clock, TransactionRunner
from payintents.service.upstream_ports import SecretBox, StoredUpstream, Upstream
from payintents.service.upstreams import open_upstream

CACHE_S = 5.0
# A Dojo answer may take this long beyond the money path's own deadline, which ends the call first.
READ_TIMEOUT_MARGIN_S = 5.0


@dataclass(frozen=True, slots=True)
class _Cached:
    read_at: float
    stored: StoredUpstream | None
    upstream: DojoUpstream | None


class UpstreamDirectory:
    def __init__(
        self,
        runner: TransactionRunner,
        secret_box: SecretBox | None,
        clock: Clock,
        *,
        processor_timeout_s: float,
    ) -> None:
        self._runner = runner
        self._secret_box = secret_box
        self._clock = clock
        self._read_timeout_s = processor_timeout_s + READ_TIMEOUT_MARGIN_S
        self._cache: dict[str, _Cached] = {}

    async def for_scope(self, scope: Scope) -> Upstream | None:
        if scope.environment is not Environment.PRODUCTION:
            return None
        cached = self._cache.get(scope.account_id)
        if cached is not None and time.monotonic() - cached.read_at < CACHE_S:
            return cached.upstream
        stored = await self._runner.read(lambda uow: uow.upstreams.get(scope.account_id))
        upstream = cached.upstream if cached is not None and cached.stored == stored else self._built(stored)
        self._cache[scope.account_id] = _Cached(time.monotonic(), stored, upstream)
        return upstream

    def _built(self, stored: StoredUpstream | None) -> DojoUpstream | None:
        if stored is None:
            return None
        opened = open_upstream(self._secret_box, stored)
        api = DojoApi(opened.base_url, opened.key, read_timeout_s=self._read_timeout_s)
        return DojoUpstream(api, self._clock)
