"""What ingest would make of an input, told without ingesting it (`auditlake sources PATH`):
the source that reads it, how it is framed and unwrapped, and why, when nothing takes it."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from auditlake.errors import UnknownSourceError
from auditlake.sources import registry
from auditlake.sources.base import SourceSpec
from auditlake.sources.companion_files import companion_of
from auditlake.sources.compression import compression_of, open_decompressed
from auditlake.sources.framing import framing_of
from auditlake.sources.input_head import read_head
from auditlake.sources.text_encoding import encoding_of

BINARY_FORMATS = {"evtx-json": "EVTX file", "auditd-kv": "audit.log records"}
"""How the sources that recognise their inputs by their bytes read them."""


@dataclass(frozen=True, slots=True)
class InputReport:
    """One input as ingest would see it; `source` None when no source would read it."""

    input: str
    source: str | None
    read_as: str
    note: str | None = None
    passed_over: bool = False
    """An input ingest knowingly leaves out (it holds no events), rather than one it cannot read."""


DEVICE_NOTE = "a device, not a file of logs; pipe what it holds into `auditlake ingest -`"
"""Why ingest reads no device (`/dev/zero` never ends, a terminal waits for a person)."""

TOO_DEEP_NOTE = "reading it stops at a JSON value nested too deeply to be split into records"


def describe_input(path: Path) -> InputReport:
    """The source and framing ingest would use for `path` (auto-detected, as by default)."""
    if _is_device(path):  # not opened: reading /dev/zero would never end
        return InputReport(str(path), None, "device", DEVICE_NOTE)
    try:
        compression = compression_of(path)
    except OSError as exc:
        return InputReport(str(path), None, "unreadable", exc.strerror or str(exc))
    stored = [name for name in (compression, _encoding(path)) if name]
    packed = f" ({', '.join(stored)})" if stored else ""
    companion = companion_of(path)
    if companion is not None:
        return InputReport(str(path), None, f"file holding no events{packed}", f"passed over: {companion}", True)
    spec = _detected(path, packed)
    if isinstance(spec, InputReport):
        return spec
    own = BINARY_FORMATS.get(spec.raw_format)
    if own is not None and spec.sniff is not None and spec.sniff(read_head(path)):
        return InputReport(str(path), spec.name, own + packed)
    return InputReport(str(path), spec.name, framing_of(path) + packed)


def _detected(path: Path, packed: str) -> SourceSpec | InputReport:
    """The source that recognises `path`, or the report of an input none reads (`packed`:
    how it is stored, for the report)."""
    try:
        spec = registry.detect_path(path)
    except UnknownSourceError as exc:
        return InputReport(str(path), None, framing_of(path) + packed, exc.message)
    except OSError as exc:  # as ingest reports it
        return InputReport(str(path), None, "unreadable" + packed, exc.strerror or str(exc))
    except RecursionError:  # its first records are JSON nested deeper than framing goes
        return InputReport(str(path), None, "JSON" + packed, TOO_DEEP_NOTE)
    if spec is registry.NO_RECORDS:
        return InputReport(str(path), None, f"no records{packed}", "passed over: empty, or blanks only", True)
    return spec


def _is_device(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False  # reading it is reported where it is read
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def _encoding(path: Path) -> str | None:
    """The (decompressed) text's encoding when it is not plain UTF-8."""
    try:
        with open_decompressed(path) as handle:
            found = encoding_of(handle.read(4))
            return None if found is None else found.name
    except (OSError, EOFError):
        return None  # reading it is reported where it is read
