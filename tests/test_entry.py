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


def _decay_after(setup: str, **env: str) -> str:
    """jemalloc's dirty decay as Polars' allocator reports it, after `setup` runs first."""
    code = (
        f"import os\n{setup}\n"
        f"os.environ['{ALLOCATOR_VARIABLE}'] = ','.join(filter(None, [os.environ.get('{ALLOCATOR_VARIABLE}'), "
        "'stats_print:true']))\n"
        "import polars as pl\npl.DataFrame({'a': [1]}).sum()\n"
    )
    lines = _python(code, **env).stderr.splitlines()
    return next(line.split(":", 1)[1].split("(")[0].strip() for line in lines if "opt.dirty_decay_ms" in line)


def test_the_entry_sets_polars_allocator_before_polars_loads() -> None:
    assert _python("import sys, auditlake.entry; print('polars' in sys.modules)").stdout.strip() == "False"
    configured = "from auditlake.entry import configure_process\nconfigure_process()"
    expected = ALLOCATOR_SETTINGS.split("dirty_decay_ms:")[1]
    assert _decay_after(configured) == expected
    assert _decay_after("") != expected  # without it, Polars' own setting: the test can fail


def test_a_users_own_setting_wins() -> None:
    configured = "from auditlake.entry import configure_process\nconfigure_process()"
    assert _decay_after(configured, **{ALLOCATOR_VARIABLE: "dirty_decay_ms:2500"}) == "2500"


def test_the_command_and_python_m_go_through_the_entry() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["auditlake"] == "auditlake.entry:main"
    main_module = (REPO / "src" / "auditlake" / "__main__.py").read_text()
    assert "from auditlake.entry import main" in main_module
    done = _python("import runpy, sys; sys.argv = ['auditlake', '--help']; runpy.run_module('auditlake', run_name='__main__')")
    assert "Usage: auditlake" in done.stdout
