"""Off a terminal (a log file, journald, a pipe), a message is one line, however long."""

from __future__ import annotations

from collections import Counter

import pytest

from auditlake.detection.engine import DetectSummary
from auditlake.terminal import print_detect_summary


def _summary() -> DetectSummary:
    summary = DetectSummary(mode="incremental", rules=154, correlations=12, events_scanned=412_345_678,
                            commits=(1_234, 5_678), elapsed_s=918.6)
    summary.record(Counter({("high", "A rule whose title is [long] enough to matter in a table"): 47}))
    return summary


@pytest.mark.parametrize("err", [True, False], ids=["stderr", "stdout"])
def test_the_detect_summary_line_is_not_wrapped(err: bool, capsys: pytest.CaptureFixture[str]) -> None:
    print_detect_summary(_summary(), err=err)
    captured = capsys.readouterr()
    text, other = (captured.err, captured.out) if err else (captured.out, captured.err)
    assert other == ""
    first = text.splitlines()[0]
    assert first == ("154 rules and 12 correlations over 412,345,678 events (commits 1235..5678) in 918.6 s "
                     "(448,885 events/s): 47 new alerts")
    assert len(first) > 80
    assert "[long]" in text  # a title is text, not markup
