"""Read a rule's tags: ATT&CK techniques and tactics, and compliance controls.

Compliance tags are `compliance.<framework>.<control>`, all lower-case, with the control as
the framework writes it, spaces dropped and each parenthesised part turned into a dot-separated
part (rules/README.md "Compliance tags"). Each framework's control syntax is one row of
`FRAMEWORKS`, so a new framework is one row.

>>> tags = read_tags(["attack.t1562.008", "attack.defense-evasion", "compliance.pci_dss.10.2.1.6"])
>>> tags.techniques, tags.tactics, [c.tag for c in tags.controls]
(('t1562.008',), ('defense-evasion',), ['compliance.pci_dss.10.2.1.6'])
>>> read_tags(["compliance.iso27001.a.9.1"]).problems[0].message
"compliance tag 'compliance.iso27001.a.9.1': 'a.9.1' is not a control of ISO/IEC 27001:2022 Annex A"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from auditlake.tables import unique_table

TECHNIQUE = re.compile(r"t\d{4}(\.\d{3})?")
ATTACK_OTHER = re.compile(r"(g|s|m|ds|c|a|da)\d{4}")
"""Other ATT&CK object ids a tag may name (groups, software, mitigations, ...)."""


@dataclass(frozen=True, slots=True)
class Framework:
    """One compliance framework: its tag prefix, name, and what a control id looks like."""

    key: str
    name: str
    example: str
    valid: Callable[[str], bool]


def _matches(pattern: str) -> Callable[[str], bool]:
    regex = re.compile(pattern)
    return lambda control: regex.fullmatch(control) is not None


ISO27001_ANNEX_A = {"5": 37, "6": 8, "7": 14, "8": 34}
"""ISO/IEC 27001:2022 Annex A: theme → number of controls (A.5.1 .. A.5.37, ...)."""

NIST_800_53_FAMILIES = frozenset(
    [
        "ac",
        "at",
        "au",
        "ca",
        "cm",
        "cp",
        "ia",
        "ir",
        "ma",
        "mp",
        "pe",
        "pl",
        "pm",
        "ps",
        "pt",
        "ra",
        "sa",
        "sc",
        "si",
        "sr",
    ]
)


def _iso27001(control: str) -> bool:
    match = re.fullmatch(r"a\.([5-8])\.(\d{1,2})", control)
    return match is not None and 1 <= int(match[2]) <= ISO27001_ANNEX_A[match[1]]


def _nist(control: str) -> bool:
    match = re.fullmatch(r"([a-z]{2})-\d{1,2}(\.\d{1,2})?", control)
    return match is not None and match[1] in NIST_800_53_FAMILIES


FRAMEWORKS: Mapping[str, Framework] = unique_table(
    (
        (f.key, f)
        for f in [
            Framework(
                "pci_dss", "PCI DSS 4.0.1", "10.2.1.6", _matches(r"(a\d|\d{1,2})(\.\d{1,2}){1,4}")
            ),
            Framework("soc2", "SOC 2 (TSC 2017)", "cc7.2", _matches(r"(cc|pi|a|c|p)\d\.\d{1,2}")),
            Framework(
                "hipaa",
                "HIPAA (45 CFR 164)",
                "164.312.b",
                _matches(r"164\.\d{3}(\.[a-z0-9]{1,4})*"),
            ),
            Framework("gdpr", "GDPR", "art32", _matches(r"art\d{1,2}(\.[a-z0-9]{1,3})*")),
            Framework("iso27001", "ISO/IEC 27001:2022 Annex A", "a.8.15", _iso27001),
            Framework("nist_800_53", "NIST SP 800-53 Rev. 5", "au-9", _nist),
        ]
    ),
    what="compliance framework",
)


@dataclass(frozen=True, slots=True, order=True)
class Control:
    framework: str
    control: str

    @property
    def tag(self) -> str:
        return f"compliance.{self.framework}.{self.control}"


@dataclass(frozen=True, slots=True)
class TagProblem:
    message: str
    hint: str


@dataclass(frozen=True, slots=True)
class RuleTags:
    """A rule's tags sorted by kind; `problems` lists tags that are malformed."""

    techniques: tuple[str, ...]
    tactics: tuple[str, ...]
    controls: tuple[Control, ...]
    problems: tuple[TagProblem, ...]


def read_tags(tags: Iterable[str]) -> RuleTags:
    """Sort `tags` into techniques, tactics and controls; report malformed compliance tags."""
    techniques: list[str] = []
    tactics: list[str] = []
    controls: list[Control] = []
    problems: list[TagProblem] = []
    for tag in (str(t) for t in tags):
        namespace, _, name = tag.partition(".")
        if namespace == "attack":
            if TECHNIQUE.fullmatch(name):
                techniques.append(name)
            elif not ATTACK_OTHER.fullmatch(name):
                tactics.append(name)
        elif namespace == "compliance":
            control, problem = _control(tag, name)
            if control is not None:
                controls.append(control)
            if problem is not None:
                problems.append(problem)
    return RuleTags(tuple(techniques), tuple(tactics), tuple(controls), tuple(problems))


def _control(tag: str, name: str) -> tuple[Control | None, TagProblem | None]:
    key, _, control = name.partition(".")
    framework = FRAMEWORKS.get(key)
    known = ", ".join(f"compliance.{k}." for k in FRAMEWORKS)
    if tag != tag.lower():
        return None, TagProblem(
            f"compliance tag {tag!r} is not lower-case", f"write {tag.lower()!r}"
        )
    if framework is None:
        return None, TagProblem(
            f"compliance tag {tag!r} names no known framework",
            f"use one of {known} (rules/README.md)",
        )
    if not framework.valid(control):
        return None, TagProblem(
            f"compliance tag {tag!r}: {control!r} is not a control of {framework.name}",
            f"write the control as the framework does, lower-case, parentheses as dots, "
            f"e.g. compliance.{framework.key}.{framework.example}",
        )
    return Control(framework.key, control), None
