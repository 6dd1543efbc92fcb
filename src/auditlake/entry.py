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

Only the command sets this: a notebook that imports auditlake keeps its own allocator
settings. An `_RJEM_MALLOC_CONF` already in the environment wins.
"""

from __future__ import annotations

import os

ALLOCATOR_VARIABLE = "_RJEM_MALLOC_CONF"
ALLOCATOR_SETTINGS = "dirty_decay_ms:3000"


def configure_process() -> None:
    """Process-wide settings; they only take effect before Polars is first imported."""
    os.environ.setdefault(ALLOCATOR_VARIABLE, ALLOCATOR_SETTINGS)


def main() -> None:
    configure_process()
    from auditlake.cli import main as command  # Polars loads here, after the settings

    command()
