"""Reading `auditlake.toml`: one parse, and one way to say that a file is not usable TOML.

Its sections are read by the parts that use them (`[[sinks]]` by `sinks/config.py`,
`[placeholders]` by `detection/placeholders.py`); both start from `read_config`, so a broken
file is told the same way by every command, as bad configuration (exit 1), with the parser's
line and column.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from auditlake.errors import AuditlakeError


class ConfigError(AuditlakeError):
    """`auditlake.toml` cannot be used as written."""


def read_config(path: Path) -> dict[str, Any]:
    """The parsed document at `path`.

    >>> import tempfile
    >>> broken = Path(tempfile.mkdtemp(), "c.toml")
    >>> _ = broken.write_text('[[sinks]\\ntype = "jsonl"\\n')
    >>> try:
    ...     read_config(broken)
    ... except ConfigError as exc:
    ...     print(exc.message.replace(str(broken.parent), "DIR"))
    DIR/c.toml is not valid TOML: Expected ']]' at the end of an array declaration (at line 1, column 8)
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}",
                          hint="check the path given to --config (or $AUDITLAKE_CONFIG) and its permissions") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: it is not UTF-8 text ({exc.reason} at byte {exc.start})",
                          hint="save it as UTF-8; see auditlake.example.toml for the format") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}",
                          hint="see auditlake.example.toml for the format") from exc
