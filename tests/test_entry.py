"""The command's entry point: Polars' allocator is set up before Polars loads, a user's own
setting wins, and the console script and `python -m auditlake` both go through it."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from auditlake.entry import ALLOCATOR_SETTINGS, ALLOCATOR_VARIABLE

REPO = Path(__file__).resolve().parents[1]


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != ALLOCATOR_VARIABLE}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**clean, **env}, check=True)


def _allocator_options(setup: str, **env: str) -> dict[str, str]:
    """jemalloc's options as Polars' allocator reports them, after `setup` runs first."""
    code = (
        f"import os\n{setup}\n"
        f"os.environ['{ALLOCATOR_VARIABLE}'] = ','.join(filter(None, [os.environ.get('{ALLOCATOR_VARIABLE}'), "
        "'stats_print:true']))\n"
        "import polars as pl\npl.DataFrame({'a': [1]}).sum()\n"
    )
    options = {}
    for line in _python(code, **env).stderr.splitlines():
        name, _, value = line.strip().partition(":")
        if name.startswith("opt."):
            options[name.removeprefix("opt.")] = value.split("(")[0].strip()
    return options


def _settings(text: str) -> dict[str, str]:
    return dict(item.split(":", 1) for item in text.split(","))


def test_the_entry_sets_polars_allocator_before_polars_loads() -> None:
    assert _python("import sys, auditlake.entry; print('polars' in sys.modules)").stdout.strip() == "False"
    configured = "from auditlake.entry import configure_process\nconfigure_process()"
    options, default = _allocator_options(configured), _allocator_options("")
    for name, value in _settings(ALLOCATOR_SETTINGS).items():
        assert options[name] == value
        assert default[name] != value  # without it, Polars' own setting: the test can fail


def test_a_users_own_setting_wins() -> None:
    configured = "from auditlake.entry import configure_process\nconfigure_process()"
    options = _allocator_options(configured, **{ALLOCATOR_VARIABLE: "dirty_decay_ms:2500"})
    assert options["dirty_decay_ms"] == "2500"
    assert options["narenas"] != _settings(ALLOCATOR_SETTINGS)["narenas"]


def test_the_command_and_python_m_go_through_the_entry() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["auditlake"] == "auditlake.entry:main"
    main_module = (REPO / "src" / "auditlake" / "__main__.py").read_text()
    assert "from auditlake.entry import main" in main_module
    done = _python("import runpy, sys; sys.argv = ['auditlake', '--help']; runpy.run_module('auditlake', run_name='__main__')")
    assert "Usage: auditlake" in done.stdout
