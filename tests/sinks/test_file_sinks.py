"""The JSON Lines and stdout sinks."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from auditlake.sinks.base import Batch, SinkError
from auditlake.sinks.jsonl import JsonlSink
from auditlake.sinks.stdout import StdoutSink

ALERTS = [{"alert_id": "a1", "level": "high", "tags": ["x"]}, {"alert_id": "a2", "level": None, "tags": []}]


def test_jsonl_appends_one_object_per_line(tmp_path: Path) -> None:
    sink = JsonlSink("archive", tmp_path / "new" / "alerts.jsonl")
    sink.send(Batch("b1", ALERTS[:1]), threading.Event())
    sink.send(Batch("b2", ALERTS[1:]), threading.Event())
    lines = (tmp_path / "new" / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == ALERTS


def test_jsonl_keeps_a_torn_line_apart(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"alert_id": "a0"}\n{"alert_id": "to')  # a crash mid-write
    JsonlSink("archive", path).send(Batch("b1", ALERTS), threading.Event())
    lines = path.read_text().splitlines()
    assert lines[1] == '{"alert_id": "to'
    assert [json.loads(line)["alert_id"] for line in lines[2:]] == ["a1", "a2"]


def test_jsonl_failure_is_a_sink_error(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where a folder should be")
    with pytest.raises(SinkError, match="cannot append"):
        JsonlSink("archive", tmp_path / "blocked" / "alerts.jsonl").send(Batch("b", ALERTS), threading.Event())


def test_stdout_prints_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    StdoutSink().send(Batch("b1", ALERTS), threading.Event())
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == ALERTS


def test_jsonl_a_write_the_disk_cuts_short_leaves_nothing_to_read_twice(tmp_path: Path) -> None:
    from tests.lake.helpers import file_size_limit

    path = tmp_path / "alerts.jsonl"
    path.write_text('{"alert_id": "a0"}\n')
    sink = JsonlSink("archive", path)
    many = [{"alert_id": f"a{n}", "level": "high", "text": "x" * 100} for n in range(1, 101)]
    with file_size_limit(4096), pytest.raises(SinkError, match=r"cannot append .*File too large"):
        sink.send(Batch("b1", many), threading.Event())  # a full disk fails the same way
    assert path.read_text() == '{"alert_id": "a0"}\n'
    sink.send(Batch("b1", many), threading.Event())  # the retry, once there is room
    assert [json.loads(line)["alert_id"] for line in path.read_text().splitlines()] == [
        "a0", *(a["alert_id"] for a in many)]


def test_stdout_closed_is_a_sink_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdout", None)  # what Python makes of a standard output closed at start
    with pytest.raises(SinkError, match="cannot write to standard output: it is closed"):
        StdoutSink().send(Batch("b1", ALERTS), threading.Event())
