"""Reading the next batch while the current one is evaluated, as far as memory allows.

A detection run alternates reading a batch (Parquet decoding) and evaluating it (Polars calls
on every core in bursts, Python between them). On two cores the next batch's read fits in the
gaps of the current batch's evaluation: the cloud benchmark's run takes 5-10% less time. It
costs a second batch in memory, which a run whose evaluation already fills most of the budget
cannot afford (2,800 Windows rules over 285k events peak at 1.5-1.9 GiB; reading ahead there
took it past 2 GiB). So the choice is made batch by batch from the process's peak memory so
far: the next batch is read early only while that peak, plus `HEADROOM` times the size of the
batch in hand, stays within `MEMORY_BUDGET` less a `MARGIN`. Nothing is read early before one
batch has been evaluated, since only its peak tells what evaluating costs.

>>> [item for item, _ in read_ahead([1, 2, 3], lambda n: n * 10, lambda v: v, peak=lambda: 0)]
[1, 2, 3]
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Value = TypeVar("Value")

MEMORY_BUDGET = 2 * 2**30
"""Peak resident memory a detection run keeps within, whatever the lake's size."""
MARGIN = 2**28
"""Budget kept back from reading ahead: a process's peak RSS varies from run to run with the
pages the allocator keeps (the same Windows run's peak after its first batch: 1.2-1.5 GiB over
a dozen runs), so a plan that fills the budget to the last megabyte can overshoot it. With the
whole budget, 2,800 Windows rules at 1.23 GiB after their first batch (1.23 + 4 x 0.19 GiB:
53 MiB to spare) read ahead, and the run peaked at 1.76-1.88 GiB."""
HEADROOM = 4
"""Memory to leave for a batch read early, in multiples of the in-memory size of the batch in
hand: its columns, the Parquet pages and buffers its decoding holds, and what its evaluation
adds to the peak beyond the previous batch's (reading every Windows batch ahead added
0.3-0.5 GB to the peak for batches of 190 MiB: 1.5-2.5x)."""


def peak_rss() -> int:
    """The process's peak resident memory so far, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux counts KiB, macOS bytes


def read_ahead(
    items: Sequence[Item],
    read: Callable[[Item], Value],
    size: Callable[[Value], int],
    *,
    budget: int | None = None,
    peak: Callable[[], int] | None = None,
) -> Iterator[tuple[Item, Value]]:
    """Each item with `read(item)`, in order; while the caller works on one, the next is read
    in a thread when `peak() + HEADROOM * size(value)` is within `budget` (`peak_rss`, and
    `MEMORY_BUDGET` less `MARGIN`, by default) and the caller has finished at least one item.
    A failed read raises here, in the caller's order. Nothing here holds a value once the
    caller asks for the next one, so a caller that lets go of it keeps one batch in memory,
    not two."""
    budget = MEMORY_BUDGET - MARGIN if budget is None else budget
    peak = peak or peak_rss
    pool = ThreadPoolExecutor(1, thread_name_prefix="read-ahead")
    pending: Future[Value] | None = None
    try:
        for index, item in enumerate(items):
            value = pending.result() if pending is not None else read(item)
            pending = None
            has_next, finished_one = index + 1 < len(items), index > 0
            if has_next and finished_one and peak() + HEADROOM * size(value) <= budget:
                pending = pool.submit(read, items[index + 1])
            yield item, value
            del value  # the caller is done with it: free it before the next read, not after
    finally:
        if pending is not None:
            pending.cancel()  # a read already under way is waited for, so nothing outlives the run
        pool.shutdown(wait=True)
