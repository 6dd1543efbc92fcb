"""sigma-cli smoke tests: the plugins are discovered and `sigma convert -t polars` prints Python.

Each command runs in a subprocess with the virtualenv's `sigma` executable, as a user would run
it (SIGMA.md §2.4, §4.2 point 7). sigma-cli spends most of its time importing plugins, so all
commands start together and each test reads its own result.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditlake.detection import correlation_plan
from auditlake.detection.compile import compile_rules
from auditlake.detection.correlation_plan import Comparison, CorrelationPlan, Operator
from auditlake.detection.rendering import PLAN_NAMES

SIGMA = Path(sys.executable).parent / "sigma"
Runs = Mapping[str, subprocess.CompletedProcess[str]]

WINDOWS_RULE = r"""title: cmd launched
id: 5e0f5a1e-0000-4000-8000-00000000c001
status: test
logsource:
  product: windows
  category: process_creation
detection:
  sel:
    Image|endswith: '\cmd.exe'
    CommandLine|contains: whoami
  condition: sel
"""

UNKNOWN_LOGSOURCE_RULE = WINDOWS_RULE.replace("product: windows", "product: nosuchproduct").replace(
    "c001", "c002"
)


CONDITION_LIST_RULE = """title: Condition list
id: 5e0f5a1e-0000-4000-8000-00000000c003
status: test
logsource: {product: teleport, service: audit}
detection:
  a: {cmd: Foo}
  b: {tag: x}
  condition:
    - a
    - b
"""

CORRELATED_BASE = """title: base
id: 5e0f5a1e-0000-4000-8000-00000000c004
name: cli_base
status: test
logsource: {product: teleport, service: audit}
detection:
  sel: {act: x}
  condition: sel
"""

FLOAT_THRESHOLD = CORRELATED_BASE + """---
title: average above a fraction
id: 5e0f5a1e-0000-4000-8000-00000000c005
name: cli_float
status: test
correlation:
  type: value_avg
  rules: [cli_base]
  group-by: [user]
  timespan: 10m
  condition: {field: num, gt: 500.7}
"""

RANGE_THRESHOLD = CORRELATED_BASE + """---
title: a count in a range
id: 5e0f5a1e-0000-4000-8000-00000000c006
name: cli_range
status: test
correlation:
  type: event_count
  rules: [cli_base]
  group-by: [user]
  timespan: 10m
  condition: {gte: 3, lte: 4}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rules")


@pytest.fixture(scope="module")
def runs(folder: Path) -> Iterator[Runs]:
    """Every command's completed process, by name."""
    windows = folder / "windows.yml"
    windows.write_text(WINDOWS_RULE)
    unknown = folder / "unknown.yml"
    unknown.write_text(UNKNOWN_LOGSOURCE_RULE)
    listed = folder / "condition_list.yml"
    listed.write_text(CONDITION_LIST_RULE)
    fraction = folder / "float.yml"
    fraction.write_text(FLOAT_THRESHOLD)
    ranged = folder / "range.yml"
    ranged.write_text(RANGE_THRESHOLD)
    lake = ["convert", "-t", "polars", "-p", "auditlake"]
    commands = {
        "targets": ["list", "targets"],
        "pipelines": ["list", "pipelines"],
        "routed": ["convert", "-t", "polars", "-p", "auditlake", str(windows)],
        "plain": ["convert", "-t", "polars", "--without-pipeline", str(windows)],
        "module": ["convert", "-t", "polars", "--without-pipeline", "-f", "module", str(windows)],
        "unknown": ["convert", "-t", "polars", "-p", "auditlake", str(unknown)],
        "lake-default": [*lake, str(listed), str(fraction), str(ranged)],
        "lake-module": [*lake, "-f", "module", str(listed), str(ranged)],
        "files-default": [*lake, "-od", str(folder / "default"), str(windows), str(listed)],
        "files-module": [*lake, "-f", "module", "-od", str(folder / "module"), str(listed), str(ranged)],
    }
    started = {
        name: subprocess.Popen(
            [str(SIGMA), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for name, args in commands.items()
    }
    done: dict[str, subprocess.CompletedProcess[str]] = {}
    try:
        for name, process in started.items():
            stdout, stderr = process.communicate(timeout=120)
            done[name] = subprocess.CompletedProcess(
                process.args, process.returncode, stdout, stderr
            )
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
    yield done


def ok(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_sigma_executable_exists() -> None:
    assert SIGMA.is_file(), f"sigma-cli is not installed next to {sys.executable}"


def test_polars_is_a_target(runs: Runs) -> None:
    rows = [line for line in ok(runs["targets"]).splitlines() if "| polars " in line]
    assert len(rows) == 1
    assert "auditlake Polars backend" in rows[0]


def test_auditlake_is_a_pipeline_for_polars(runs: Runs) -> None:
    rows = [line for line in ok(runs["pipelines"]).splitlines() if "| auditlake " in line]
    assert len(rows) == 1
    assert "polars" in rows[0]


def test_convert_with_the_auditlake_pipeline_routes_to_windows(runs: Runs) -> None:
    text = ok(runs["routed"]).strip()
    assert '"windows.eventlog"' in text
    expr = eval(text, {"pl": pl})
    assert isinstance(expr, pl.Expr)
    # Routing reads the partition and the channel, and the 4688 view's renamed column.
    columns = set(expr.meta.root_names())
    assert {"source", "Channel", "EventID", "Image", "NewProcessName"} <= columns


def test_convert_without_pipeline_prints_a_plain_expression(runs: Runs) -> None:
    text = ok(runs["plain"]).strip()
    assert "windows.eventlog" not in text
    expr = eval(text, {"pl": pl})
    assert sorted(expr.meta.root_names()) == ["CommandLine", "Image"]
    frame = pl.DataFrame(
        {
            "Image": ["C:\\Windows\\System32\\CMD.EXE", "C:\\Windows\\System32\\cmd.exe", None],
            "CommandLine": ["cmd /c WHOAMI /all", "cmd /c dir", "whoami"],
        }
    )
    assert frame.select(expr).to_series().to_list() == [True, False, False]


def test_module_format_compiles(runs: Runs) -> None:
    module = ok(runs["module"])
    namespace: dict[str, object] = {}
    exec(compile(module, "windows_rules.py", "exec"), namespace)
    rules = namespace["RULES"]
    assert isinstance(rules, dict)
    assert list(rules) == ["5e0f5a1e-0000-4000-8000-00000000c001"]
    assert isinstance(rules["5e0f5a1e-0000-4000-8000-00000000c001"], pl.Expr)


def test_unknown_logsource_fails_naming_it(runs: Runs) -> None:
    run = runs["unknown"]
    assert run.returncode != 0
    assert "product=nosuchproduct" in run.stdout + run.stderr
    assert "no source in the lake" in run.stdout + run.stderr


# -- condition lists and correlation thresholds ---------------------------------------------------

TELEPORT = pl.DataFrame(
    {
        "source": ["gateway.teleport"] * 4,
        "raw": ['{"cmd": "FOO"}', '{"tag": "x"}', '{"cmd": "bar", "tag": "y"}', "{}"],
    }
)


def printed(runs: Runs) -> tuple[list[str], dict[str, CorrelationPlan]]:
    """The default format's expressions, and its plans by name."""
    texts = ok(runs["lake-default"]).strip().split("\n\n")
    env = {name: getattr(correlation_plan, name) for name in PLAN_NAMES} | {"datetime": datetime}
    plans = [eval(t, env) for t in texts if t.startswith("CorrelationPlan(")]
    return [t for t in texts if not t.startswith("CorrelationPlan(")], {p.name: p for p in plans}


def module(runs: Runs) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(ok(runs["lake-module"]), "rules.py", "exec"), namespace)
    return namespace


def engine_plan(folder: Path, name: str) -> CorrelationPlan:
    [plan] = compile_rules([folder / name]).correlations
    return plan


def test_a_condition_list_converts_to_one_expression(runs: Runs) -> None:
    [text], _ = printed(runs)
    assert TELEPORT.select(eval(text, {"pl": pl})).to_series().to_list() == [True, True, False, False]


def test_a_condition_list_is_one_module_rule(runs: Runs) -> None:
    namespace = module(runs)
    [(rule_id, expr)] = namespace["RULES"].items()
    assert rule_id == "5e0f5a1e-0000-4000-8000-00000000c003"
    events = namespace["with_rule_columns"](TELEPORT)
    assert events.select(expr).to_series().to_list() == [True, True, False, False]


def test_a_fractional_threshold_is_kept(runs: Runs, folder: Path) -> None:
    plan = printed(runs)[1]["cli_float"]
    assert plan.condition is not None
    assert plan.condition.comparisons == (Comparison(Operator.GT, 500.7),)
    assert plan == engine_plan(folder, "float.yml")


def test_a_threshold_range_converts_to_the_engines_range(runs: Runs, folder: Path) -> None:
    plan = printed(runs)[1]["cli_range"]
    assert plan.condition is not None
    assert plan.condition.comparisons == (Comparison(Operator.GTE, 3), Comparison(Operator.LTE, 4))
    assert plan == engine_plan(folder, "range.yml")


def test_a_threshold_range_module_holds_the_range_and_its_rule(runs: Runs, folder: Path) -> None:
    namespace = module(runs)
    [plan] = namespace["CORRELATIONS"].values()
    assert plan == engine_plan(folder, "range.yml")
    assert list(namespace["CORRELATION_RULES"]) == ["cli_base"]


# -- one file per rule (`--output-dir`) -------------------------------------------------------------


def test_output_dir_writes_each_rules_expression_a_condition_list_as_one(runs: Runs, folder: Path) -> None:
    assert "Wrote 2 file(s)" in ok(runs["files-default"]) + runs["files-default"].stderr
    files = {path.stem: path.read_text() for path in (folder / "default").iterdir()}
    assert sorted(files) == ["condition_list", "windows"]
    assert '"windows.eventlog"' in files["windows"]
    assert isinstance(eval(files["windows"], {"pl": pl}), pl.Expr)
    [text], _ = printed(runs)
    assert files["condition_list"].strip() == text


def test_output_dir_writes_each_rules_module(runs: Runs, folder: Path) -> None:
    ok(runs["files-module"])
    files = {path.stem: path.read_text() for path in (folder / "module").iterdir()}
    assert sorted(files) == ["condition_list", "range"]  # the range's base rule is not output
    listed: dict[str, Any] = {}
    exec(compile(files["condition_list"], "condition_list.py", "exec"), listed)
    [expr] = listed["RULES"].values()
    assert listed["with_rule_columns"](TELEPORT).select(expr).to_series().to_list() == [True, True, False, False]
    ranged: dict[str, Any] = {}
    exec(compile(files["range"], "range.py", "exec"), ranged)
    assert list(ranged["CORRELATIONS"].values()) == [engine_plan(folder, "range.yml")]
    assert list(ranged["CORRELATION_RULES"]) == ["cli_base"]
