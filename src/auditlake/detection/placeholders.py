"""Values for Sigma `|expand` placeholders, from the `[placeholders]` table of auditlake.toml.

```toml
[placeholders]
Admins = ["alice", "bob"]
DomainControllers = ["dc01", "dc02"]
```

A rule whose placeholder has no values here does not compile (it is reported, never run as a
rule that matches nothing).
"""

from __future__ import annotations

from pathlib import Path

from auditlake.config_file import read_config
from auditlake.errors import AuditlakeError


def load_placeholders(path: Path | None) -> dict[str, list[str]]:
    """Placeholder name → values from the configuration file (empty without one)."""
    if path is None:
        return {}
    document = read_config(path)  # ConfigError: "<path> is not valid TOML: ... (at line 1, column 8)"
    table = document.get("placeholders", {})
    if not isinstance(table, dict):
        raise AuditlakeError("`placeholders` must be a table", where=str(path),
                             hint='write [placeholders] then lines like Admins = ["alice", "bob"]')
    out: dict[str, list[str]] = {}
    for name, raw in table.items():
        values = [raw] if isinstance(raw, str) else raw
        if not isinstance(values, list) or not all(isinstance(v, str | int) for v in values):
            raise AuditlakeError(f"placeholder {name!r} must be a list of strings", where=str(path),
                                 hint=f'write {name} = ["value", ...]')
        out[str(name)] = [str(v) for v in values]
    return out
