"""sigma-cli smoke tests: the plugins are discovered and `sigma convert -t polars` prints Python.

Each command runs in a subprocess with the virtualenv's `sigma` executable, as a user would run
it (SIGMA.md §2.4, §4.2 point 7). sigma-cli spends most of its time importing plugins, so all
commands start together and each test reads its own result.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import polars as pl
import pytest

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


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """Every command's completed process, by name."""
    folder = tmp_path_factory.mktemp("rules")
    windows = folder / "windows.yml"
    windows.write_text(WINDOWS_RULE)
    unknown = folder / "unknown.yml"
    unknown.write_text(UNKNOWN_LOGSOURCE_RULE)
    commands = {
        "targets": ["list", "targets"],
        "pipelines": ["list", "pipelines"],
        "routed": ["convert", "-t", "polars", "-p", "auditlake", str(windows)],
        "plain": ["convert", "-t", "polars", "--without-pipeline", str(windows)],
        "module": ["convert", "-t", "polars", "--without-pipeline", "-f", "module", str(windows)],
        "unknown": ["convert", "-t", "polars", "-p", "auditlake", str(unknown)],
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
