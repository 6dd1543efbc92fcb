"""MITRE ATT&CK for `rules check`, without the network.

pySigma's ATT&CK tag validator downloads the ATT&CK data set on first use; `rules check` must
run offline (CI, air-gapped machines), so it never calls it. Instead an `AttackCatalog` checks
the tags:

- `AttackCatalog.builtin()` knows the Enterprise tactics by their tag names. ATT&CK v19 split
  `defense-evasion` into `stealth` and `defense-impairment` (and renumbered Impair Defenses);
  rules written against either release are accepted, so both sets of names are known. Which
  tactics a technique belongs to is release data this module does not carry: the built-in
  catalog checks technique syntax and that a tactic comes with it, not the pairing.
- `AttackCatalog.from_stix(path)` reads a local copy of MITRE's STIX bundle
  (`enterprise-attack.json`, from the mitre-attack/attack-stix-data repository) and also
  checks that each technique exists and that the rule names one of its tactics. Nothing is
  fetched: the file is whatever the caller passes (`rules check --attack-data FILE`).

>>> AttackCatalog.builtin().problems(["t1562.008"], ["defense-evasion"])
[]
>>> AttackCatalog.builtin().problems(["t1562.008"], ["defence-evasion"])[0].message
"unknown ATT&CK tactic 'attack.defence-evasion'"
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditlake.errors import AuditlakeError
from auditlake.rulepack.tags import TagProblem

ENTERPRISE_TACTICS = frozenset(
    {
        "reconnaissance",
        "resource-development",
        "initial-access",
        "execution",
        "persistence",
        "privilege-escalation",
        "defense-evasion",
        "credential-access",
        "discovery",
        "lateral-movement",
        "collection",
        "command-and-control",
        "exfiltration",
        "impact",
        # ATT&CK v19: defense-evasion became these two
        "stealth",
        "defense-impairment",
    }
)


class AttackDataError(AuditlakeError):
    """A local ATT&CK data file that cannot be read as a STIX bundle."""


@dataclass(frozen=True)
class AttackCatalog:
    """ATT&CK tactic names, and (when loaded from data) technique → tactics."""

    tactics: frozenset[str]
    techniques: Mapping[str, frozenset[str]] | None = None
    """None: techniques are not known, only their syntax is checked."""
    release: str = "built-in tactic names"
    names: Mapping[str, str] = field(default_factory=dict)
    """Technique id → name, when known."""

    @classmethod
    def builtin(cls) -> AttackCatalog:
        return cls(ENTERPRISE_TACTICS)

    @classmethod
    def from_stix(cls, path: Path) -> AttackCatalog:
        """Read tactics and techniques (with their tactics) from a STIX 2.x bundle on disk."""
        try:
            bundle = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AttackDataError(
                f"cannot read ATT&CK data: {exc}",
                where=str(path),
                hint="pass MITRE's enterprise-attack.json STIX bundle",
            ) from exc
        objects = bundle.get("objects") if isinstance(bundle, dict) else None
        if not isinstance(objects, list):
            raise AttackDataError("not a STIX bundle (no `objects` list)", where=str(path))
        return _catalog(objects, path)

    def problems(self, techniques: Sequence[str], tactics: Sequence[str]) -> list[TagProblem]:
        """What is wrong with a rule's ATT&CK tags (ids and names without `attack.`)."""
        found = [self._unknown_tactic(t) for t in tactics if t not in self.tactics]
        if self.techniques is not None:
            for technique in techniques:
                found += self._technique(technique, tactics)
        return found

    def _unknown_tactic(self, tactic: str) -> TagProblem:
        close = difflib.get_close_matches(tactic, sorted(self.tactics), n=1)
        hint = (
            f"did you mean 'attack.{close[0]}'?"
            if close
            else f"use one of: {', '.join(sorted(self.tactics))}"
        )
        return TagProblem(f"unknown ATT&CK tactic 'attack.{tactic}'", hint)

    def _technique(self, technique: str, tactics: Sequence[str]) -> list[TagProblem]:
        assert self.techniques is not None
        known = self.techniques.get(technique)
        if known is None:
            return [
                TagProblem(
                    f"ATT&CK technique 'attack.{technique}' is not in {self.release}",
                    "check the id on attack.mitre.org",
                )
            ]
        if known and not known & set(tactics):
            wanted = " or ".join(f"attack.{t}" for t in sorted(known))
            return [
                TagProblem(
                    f"'attack.{technique}' comes without one of its tactics", f"add {wanted}"
                )
            ]
        return []


def _catalog(objects: list[Any], path: Path) -> AttackCatalog:
    tactics: set[str] = set()
    techniques: dict[str, frozenset[str]] = {}
    names: dict[str, str] = {}
    release = f"ATT&CK data {path.name}"
    for obj in objects:
        if not isinstance(obj, dict) or obj.get("revoked") or obj.get("x_mitre_deprecated"):
            continue
        kind = obj.get("type")
        if kind == "x-mitre-collection" and obj.get("x_mitre_version"):
            release = f"ATT&CK {obj['x_mitre_version']}"
        elif kind == "x-mitre-tactic" and obj.get("x_mitre_shortname"):
            tactics.add(str(obj["x_mitre_shortname"]).lower())
        elif kind == "attack-pattern":
            technique = _external_id(obj)
            if technique:
                techniques[technique.lower()] = frozenset(
                    str(p["phase_name"]).lower()
                    for p in obj.get("kill_chain_phases", [])
                    if isinstance(p, dict) and p.get("kill_chain_name") == "mitre-attack"
                )
                names[technique.lower()] = str(obj.get("name", ""))
    if not tactics or not techniques:
        raise AttackDataError("the bundle holds no ATT&CK tactics or techniques", where=str(path))
    return AttackCatalog(frozenset(tactics), techniques, release, names)


def _external_id(obj: Mapping[str, Any]) -> str | None:
    for ref in obj.get("external_references", []):
        if (
            isinstance(ref, dict)
            and ref.get("source_name") == "mitre-attack"
            and ref.get("external_id")
        ):
            return str(ref["external_id"])
    return None
