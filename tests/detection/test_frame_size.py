"""A frame's size from a sample of its rows: close to Polars' own measure, never following
the cheaper end of a batch, exact for small frames."""

from __future__ import annotations

import random

import polars as pl

from auditlake.detection.frame_size import SAMPLE_ROWS, estimated_bytes


def _events(rows: int, seed: int = 7) -> pl.DataFrame:
    """A batch-like frame: texts of varied length, mostly-null texts, numbers, lists."""
    rng = random.Random(seed)
    return pl.DataFrame({
        "CommandLine": [f"cmd.exe /c {'x' * rng.randrange(5, 400)}" for _ in range(rows)],
        "Image": [rng.choice([r"C:\\Windows\\System32\\cmd.exe", None, "powershell"]) for _ in range(rows)],
        "rare": [("y" * 60 if rng.random() < 0.02 else None) for _ in range(rows)],
        "EventID": [rng.randrange(1, 5000) for _ in range(rows)],
        "tags": [["a", "b"][: rng.randrange(3)] for _ in range(rows)],
    })


def test_the_estimate_of_a_batch_is_close_to_polars_own_measure() -> None:
    frame = _events(20 * SAMPLE_ROWS)
    exact = frame.estimated_size()
    assert 0.9 * exact <= estimated_bytes(frame) <= 1.1 * exact


def test_a_small_frame_is_measured_whole() -> None:
    frame = _events(2 * SAMPLE_ROWS)
    assert estimated_bytes(frame) == frame.estimated_size()


def test_a_batch_whose_ends_differ_is_estimated_by_the_larger_end() -> None:
    """Files of one batch can differ (a day of long records after a day of short ones): the
    estimate must not follow the cheaper end."""
    short = pl.DataFrame({"text": ["a"] * (5 * SAMPLE_ROWS)})
    long = pl.DataFrame({"text": ["b" * 200] * (5 * SAMPLE_ROWS)})
    for frame in (pl.concat([short, long]), pl.concat([long, short])):
        assert estimated_bytes(frame) >= frame.estimated_size()
        assert estimated_bytes(frame["text"]) >= frame["text"].estimated_size()
