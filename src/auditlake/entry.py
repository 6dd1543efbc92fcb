"""The `auditlake` command's entry point: settings for the whole process, made before Polars
loads, then the command line.

Polars allocates through its own jemalloc, built to give freed pages back to the system after
half a second. Ingest and detection free a batch's buffers and allocate the next batch's a
second or two later, so every batch faulted its memory in again from zeroed pages: a quarter
of a detection run's CPU time went to the kernel. Keeping freed pages for three seconds lets
the next batch reuse them. Measured alternately against half a second: cloud detection
5.62-5.93 s -> 5.03-5.26 s, CloudTrail ingest 60-61k -> 64-65k records/s, Windows detection
8.6-9.3 s -> 7.8-8.3 s end to end. Ten seconds was no faster and let the Windows run's peak
memory reach 2.02 GiB; three seconds kept it at 1.40-1.74 GiB, as half a second does (1.55-1.85).

It also keeps one arena for all threads, where jemalloc makes four per core: pages a thread
frees are kept in its own arena, and a batch's buffers are freed by one thread and allocated
anew by others, so each arena held its own three seconds of freed pages. Over a dozen
alternated runs of each, peak RSS: the Windows detection benchmark's run 1.49-1.68 GiB with
one arena, 1.47-1.99 GiB with the default (within 2 GiB by a hair); the cloud run 0.90-0.98
against 1.02-1.21 GiB; CloudTrail ingest 0.82-0.92 against 0.95-0.98 GiB; times the same
within the machine's noise. It narrows the spread, it does not bound it: later Windows runs
with one arena still reached 1.87 GiB now and then.

Only the command sets this: a notebook that imports auditlake keeps its own allocator
settings. An `_RJEM_MALLOC_CONF` already in the environment wins.
"""

from __future__ import annotations

import os

ALLOCATOR_VARIABLE = "_RJEM_MALLOC_CONF"
ALLOCATOR_SETTINGS = "dirty_decay_ms:3000,narenas:1"


def configure_process() -> None:
    """Process-wide settings; they only take effect before Polars is first imported."""
    os.environ.setdefault(ALLOCATOR_VARIABLE, ALLOCATOR_SETTINGS)


def main() -> None:
    configure_process()
    from auditlake.cli import main as command  # Polars loads here, after the settings

    command()
