"""What one benchmark run measures (modes, worker counts, sizes): light, so the CLI's parser can
read the defaults without importing the benchmark itself."""

from __future__ import annotations

from dataclasses import dataclass

MANY = "many"
HOT = "hot"


@dataclass(frozen=True, slots=True)
class BenchConfig:
    postgres_url: str | None = None
    modes: tuple[str, ...] = (MANY, HOT)
    workers: tuple[int, ...] = (1, 2)
    concurrency: int = 32
    refunds: int = 5_000
    intents: int = 500
    max_amount: int = 100
    gets: int = 2_000
    open_loop_refunds: int = 2_000
    growth: bool = False
    history_intents: int = 100_000
    history_refunds_per_intent: int = 10
    progress: bool = True

    @property
    def backend(self) -> str:
        return "sqlite" if self.postgres_url is None else "postgres"
