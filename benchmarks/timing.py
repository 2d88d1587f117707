"""Timing helpers for the benchmarks: batched repetitions, median and IQR, and the 60-second rule."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

LIMIT_SECONDS = 60.0
"""A peer is skipped at a size it cannot finish in this time (one call)."""
MIN_BATCH_SECONDS = 0.1
"""Calls shorter than this are timed in batches, so the clock's resolution does not matter."""


@dataclass(frozen=True)
class Timing:
    """Seconds per call over repetitions (each repetition a batch of calls), or why there is none."""

    times: tuple[float, ...] = ()
    note: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else math.nan

    @property
    def iqr(self) -> float:
        if len(self.times) < 2:
            return math.nan
        q1, _, q3 = statistics.quantiles(self.times, n=4, method="inclusive")
        return q3 - q1

    def row(self) -> dict[str, object]:
        return {"median_s": self.median, "iqr_s": self.iqr, "repetitions": len(self.times), "note": self.note}


def time_calls(fn: Callable[[], object], repetitions: int) -> Timing:
    """CPU seconds (user + system) per call of ``fn``: one warm-up call, then ``repetitions``
    batches.  CPU time rather than wall time, so that other processes on a shared machine change
    the ratios less; R is timed the same way (``system.time()``'s user + system)."""
    start = time.process_time()
    fn()
    first = time.process_time() - start
    batch = max(1, math.ceil(MIN_BATCH_SECONDS / max(first, 1e-7)))
    times = []
    for _ in range(repetitions):
        start = time.process_time()
        for _ in range(batch):
            fn()
        times.append((time.process_time() - start) / batch)
    return Timing(tuple(times))


def predict_seconds(previous: list[tuple[int, float]], k: int) -> float:
    """Seconds for one call at ``k`` from (size, seconds) at smaller sizes: growth exponent from the
    last two sizes (at least 1); 0 when nothing is known yet."""
    if not previous:
        return 0.0
    (k1, t1), (k2, t2) = (previous[-2] if len(previous) > 1 else previous[-1]), previous[-1]
    exponent = max(1.0, math.log(t2 / t1) / math.log(k2 / k1)) if k2 > k1 and t1 > 0 else 1.0
    return t2 * (k / k2) ** exponent


def skip_reason(predicted: float, how: str = "") -> str:
    """Why a peer is not timed at a size it cannot finish in the limit; "" when it can."""
    if predicted <= LIMIT_SECONDS:
        return ""
    return f"skipped: predicted {predicted:,.0f} s per call > {LIMIT_SECONDS:.0f} s{how}"


def repetitions_for(seconds_per_call: float, default: int) -> int:
    """Fewer repetitions for slow calls (the whole benchmark stays within minutes)."""
    if seconds_per_call > 5:
        return 3
    if seconds_per_call > 0.5:
        return min(default, 5)
    return default
