"""Where the rules and their cases are: the layout of `rules/README.md`, read from disk.

A rule file is `<source-folder>/<rule>.yml`; its cases sit in the folder named after it,
`<source-folder>/<rule>/match_<label>.<ext>` (must fire) and `miss_<label>.<ext>` (must not).
`discover` accepts the rules root, one source folder or one rule file, and reports what does
not fit the layout (case folders without a rule, files in a case folder that are not cases)
instead of skipping it silently.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> (root / "aws" / "aws_x").mkdir(parents=True)
>>> _ = (root / "aws" / "aws_x.yml").write_text("title: x")
>>> _ = (root / "aws" / "aws_x" / "match_a.jsonl").write_text("{}")
>>> [(c.expect, c.label) for c in discover(root).rules[0].cases]
[('match', 'a')]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from auditlake.detection.compile import RULE_SUFFIXES
from auditlake.errors import AuditlakeError
from auditlake.folder_walk import files_under, walk

Expectation = Literal["match", "miss"]

SOURCE_FOLDERS: Mapping[str, str] = MappingProxyType(
    {
        "aws": "aws.cloudtrail",
        "gcp": "gcp.audit",
        "okta": "okta.system",
        "github": "github.audit",
        "kubernetes": "k8s.audit",
        "gateway": "gateway.teleport",
        "linux": "linux.auditd",
        "windows": "windows.eventlog",
    }
)
"""Source folder under `rules/` → the lake source whose events its rules read."""

CASE_PREFIXES: Mapping[str, Expectation] = MappingProxyType({"match_": "match", "miss_": "miss"})


class LayoutError(AuditlakeError):
    """A path given to `discover` that is neither a rules folder nor a rule file."""


@dataclass(frozen=True, slots=True)
class Case:
    """One labeled case file: events that must (`match`) or must not (`miss`) fire the rule."""

    path: Path
    expect: Expectation
    label: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def must_fire(self) -> bool:
        return self.expect == "match"


@dataclass(frozen=True, slots=True)
class RuleFile:
    """A rule file, its cases, and the files in its case folder that are not cases."""

    path: Path
    cases: tuple[Case, ...]
    strays: tuple[Path, ...] = ()

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def folder(self) -> str:
        """The source folder the file sits in (`aws`, `okta`, ...)."""
        return self.path.parent.name

    @property
    def case_dir(self) -> Path:
        return case_dir(self.path)

    @property
    def case_dir_is_a_file(self) -> bool:
        """True when a file, not a folder, has the case folder's name: no case can go there."""
        return self.case_dir.exists() and not self.case_dir.is_dir()


@dataclass(frozen=True, slots=True)
class Pack:
    """Everything under one path: rule files in order, and what fits no rule."""

    root: Path
    rules: tuple[RuleFile, ...]
    orphans: tuple[Path, ...] = ()
    """Case folders (they hold match_/miss_ files) with no rule file beside them."""


def case_dir(rule_path: Path) -> Path:
    """The folder holding the cases of `rule_path`: beside it, named after its stem."""
    return rule_path.parent / rule_path.stem


def discover(path: Path) -> Pack:
    """The rule files under `path` (a rules folder or one rule file) with their cases."""
    if path.is_file():
        if path.suffix not in RULE_SUFFIXES:
            raise LayoutError(
                "not a rule file", where=str(path), hint="pass a .yml rule or a folder"
            )
        return Pack(path.parent.parent, (_rule_file(path),))
    if not path.is_dir():
        raise LayoutError(
            "no such file or folder",
            where=str(path),
            hint="pass the rules folder (rules/), a source folder or one rule file",
        )
    rules = sorted(_rule_paths(path))
    case_dirs = {case_dir(p) for p in rules}
    orphans = sorted(d for d in _dirs_with_cases(path) if d not in case_dirs)
    return Pack(path, tuple(_rule_file(p) for p in rules), tuple(orphans))


def rule_of_case(path: Path) -> Path | None:
    """The rule file whose case folder `path` is, or whose case file it is; else None.

    Lets a command given a case where it wants a rule say which rule file to pass. A folder
    that holds rule files is a rules folder, whatever sits beside it.
    """
    if path.is_file():
        folder = path.parent
        if _case(path) is None:
            return None
    else:
        folder = path
        if not path.is_dir() or any(p.suffix in RULE_SUFFIXES for p in files_under(path)):
            return None
    for suffix in RULE_SUFFIXES:
        rule = folder.parent / f"{folder.name}{suffix}"
        if rule.is_file():
            return rule
    return None


def _rule_file(path: Path) -> RuleFile:
    folder = case_dir(path)
    cases: list[Case] = []
    strays: list[Path] = []
    for child in sorted(folder.iterdir()) if folder.is_dir() else ():
        if child.name.startswith("."):
            continue
        case = _case(child)
        if case is None:
            strays.append(child)
        else:
            cases.append(case)
    return RuleFile(path, tuple(cases), tuple(strays))


def _case(path: Path) -> Case | None:
    if not path.is_file():
        return None
    for prefix, expect in CASE_PREFIXES.items():
        if path.name.startswith(prefix) and len(path.stem) > len(prefix):
            return Case(path, expect, path.stem[len(prefix) :])
    return None


def _rule_paths(root: Path) -> Iterator[Path]:
    """YAML files under `root` that are not inside another rule's case folder, found as
    `auditlake detect` finds them (`folder_walk`: linked folders followed, hidden ones not)."""
    for path in files_under(root):
        if path.suffix not in RULE_SUFFIXES or not path.is_file():
            continue
        folders = [root / rel for rel in path.parent.relative_to(root).parents][:-1]
        if not any(_is_case_dir(d) for d in [path.parent, *folders] if d != root):
            yield path


def _is_case_dir(folder: Path) -> bool:
    """True when a rule file beside `folder` has its stem: the folder holds that rule's cases."""
    return any((folder.parent / f"{folder.name}{suffix}").is_file() for suffix in RULE_SUFFIXES)


def _dirs_with_cases(root: Path) -> Iterator[Path]:
    for path, folder in walk(root):
        if folder and path != root and any(_case(child) is not None for child in path.iterdir()):
            yield path
