"""Source folders for an application's own log: a folder that holds the log's field mapping.

A folder under `rules/` that is not a built-in source folder (`layout.SOURCE_FOLDERS`) is the
source folder of an application when it holds `mapping.toml`, the generic JSON mapping of that
application's log (`auditlake.sources.generic`, the file `auditlake ingest --mapping` takes).
Its rules must read the lake source the mapping names (`name = "myapp.audit"`, reached by
`logsource: {product: myapp, service: audit}`), and its cases are read with the mapping, as
`auditlake ingest --mapping` reads them. A built-in folder's cases are told by their content,
so a mapping there is not used (`rules check` says so).

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp()) / "myapp"
>>> folder.mkdir()
>>> folder_mapping(folder) is None
True
>>> _ = (folder / MAPPING_FILE).write_text('name = "myapp.audit"\\n[fields]\\ntime = "ts"\\n')
>>> folder_mapping(folder).name
'myapp.audit'
"""

from __future__ import annotations

from pathlib import Path

from auditlake.rulepack.layout import SOURCE_FOLDERS
from auditlake.sources.base import SourceSpec
from auditlake.sources.generic import load_mapping

MAPPING_FILE = "mapping.toml"
"""The mapping file's name in its source folder: `rules/<folder>/mapping.toml`."""


def stray_mapping(folder: Path) -> Path | None:
    """A mapping file in a built-in source folder, where it is not used; else None."""
    path = folder / MAPPING_FILE
    return path if folder.name in SOURCE_FOLDERS and path.is_file() else None


def mapping_file(folder: Path) -> Path | None:
    """The mapping file that makes `folder` the source folder of an application, if any."""
    path = folder / MAPPING_FILE
    return path if folder.name not in SOURCE_FOLDERS and path.is_file() else None


def folder_mapping(folder: Path) -> SourceSpec | None:
    """The source `folder`'s cases are read as: its mapping's, or None to tell each case by
    its content (a built-in folder, or a folder without a mapping).

    `MappingError` (naming the file, with what to change) when the mapping is broken.
    """
    path = mapping_file(folder)
    return load_mapping(path) if path is not None else None
