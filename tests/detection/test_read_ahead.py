"""Reading the next batch early: same items in the same order, early only when memory allows
and after one item is done, failures raised in order, no read left running."""

from __future__ import annotations

import threading
import time
import weakref
from collections import defaultdict

import pytest

from auditlake.detection.read_ahead import HEADROOM, MARGIN, MEMORY_BUDGET, read_ahead


class Reads:
    """A reader that logs which thread read what, and when, beside the caller's steps."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.log: list[tuple[str, int, str]] = []
        self.fail_on = fail_on
        self.lock = threading.Lock()
        self.read_done: defaultdict[int, threading.Event] = defaultdict(threading.Event)

    def __call__(self, item: int) -> int:
        time.sleep(0.01)  # a read long enough for the caller to be seen working beside it
        if item == self.fail_on:
            raise OSError(f"file of batch {item} is gone")
        with self.lock:
            self.log.append(("read", item, threading.current_thread().name))
            self.read_done[item].set()
        return item * 10

    def note(self, step: str, item: int) -> None:
        with self.lock:
            self.log.append((step, item, threading.current_thread().name))


def _consume(reads: Reads, items: list[int], *, early_from: int | None = None, **options: object) -> list[tuple[int, int]]:
    """Work on each item; from `early_from` on, until the next item's read has happened (a read
    made early ends while the caller still works; one made in turn would time out here)."""
    out = []
    for item, value in read_ahead(items, reads, lambda value: value, **options):  # type: ignore[arg-type]
        reads.note("start", item)
        if early_from is not None and early_from <= item < items[-1]:
            reads.read_done[item + 1].wait(timeout=10)
        else:
            time.sleep(0.03)
        reads.note("end", item)
        out.append((item, value))
    return out


def test_with_room_the_next_item_is_read_in_a_thread_while_the_caller_works() -> None:
    reads = Reads()
    assert _consume(reads, [1, 2, 3, 4], early_from=2, peak=lambda: 0) == [(1, 10), (2, 20), (3, 30), (4, 40)]
    threads = {item: thread for step, item, thread in reads.log if step == "read"}
    assert threads[1] == threads[2] == threading.current_thread().name  # nothing early before one is done
    assert threads[3].startswith("read-ahead") and threads[4].startswith("read-ahead")
    order = [(step, item) for step, item, _ in reads.log]
    assert order.index(("read", 3)) < order.index(("end", 2))  # read while item 2 was worked on
    assert order.index(("read", 4)) < order.index(("end", 3))


def test_without_room_every_item_is_read_when_its_turn_comes() -> None:
    reads = Reads()
    size = 100
    peak = 2**30 - HEADROOM * size * 10 + 1  # one byte over the budget for an item of value 10·size
    items = [size, size, size]
    assert [v for _, v in _consume(reads, items, peak=lambda: peak, budget=2**30)] == [1000] * 3
    assert {thread for step, _, thread in reads.log if step == "read"} == {threading.current_thread().name}
    order = [(step, n) for n, (step, _, _) in enumerate(reads.log)]
    reads_at = [n for step, n in order if step == "read"]
    ends_at = [n for step, n in order if step == "end"]
    assert reads_at[1] > ends_at[0] and reads_at[2] > ends_at[1]


def test_a_failed_read_raises_after_the_items_before_it() -> None:
    reads = Reads(fail_on=3)
    seen: list[int] = []
    with pytest.raises(OSError, match="batch 3"):
        for item, _ in read_ahead([1, 2, 3, 4], reads, lambda value: value, peak=lambda: 0):
            seen.append(item)
    assert seen == [1, 2]


def test_stopping_early_leaves_no_read_running() -> None:
    reads = Reads()
    items = read_ahead(range(1, 10), reads, lambda value: value, peak=lambda: 0)
    for item, _ in items:
        if item == 3:
            break
    items.close()  # the generator's end: a read begun for item 4 is waited for
    logged = len(reads.log)
    time.sleep(0.05)
    assert len(reads.log) == logged and max(item for _, item, _ in reads.log) <= 4
    assert not any(t.name.startswith("read-ahead") for t in threading.enumerate())


class Batch:
    """A value that can be watched for being freed."""

    def __init__(self, number: int) -> None:
        self.number = number


def test_without_room_a_batch_is_freed_before_the_next_is_read() -> None:
    """Read in turn, only one batch is alive at a time once the caller lets go of it."""
    alive: list[weakref.ref[Batch]] = []

    def read(number: int) -> Batch:
        assert all(ref() is None for ref in alive), "the previous batch is still held"
        batch = Batch(number)
        alive.append(weakref.ref(batch))
        return batch

    seen = []
    for number, batch in read_ahead([1, 2, 3], read, lambda _: 1, peak=lambda: 0, budget=0):
        seen.append((number, batch.number))
        del batch
    assert seen == [(1, 1), (2, 2), (3, 3)] and all(ref() is None for ref in alive)


def test_by_default_a_margin_of_the_budget_is_kept_back() -> None:
    """A peak that leaves room for the next batch only by eating into the margin reads in
    turn; one that leaves room beside the margin reads ahead."""
    size = 20  # the value of item 2, the one in hand when item 3 may be read ahead
    whole = MEMORY_BUDGET - HEADROOM * size  # room within the whole budget, not beside the margin
    for peak, early in ((whole, False), (whole - MARGIN + 1, False), (whole - MARGIN, True)):
        reads = Reads()
        _consume(reads, [1, 2, 3], early_from=2 if early else None, peak=lambda peak=peak: peak)
        threads = [thread for step, _, thread in reads.log if step == "read"]
        assert threads[2].startswith("read-ahead") is early
