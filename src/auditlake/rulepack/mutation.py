"""Mutants of a rule: the rule with one piece of its detection taken out.

A rule's cases are sharp when every piece of its detection is needed to pass them: take any one
out and some case changes its verdict. Each mutant is the whole rule file with one change:

| operator | what changes | applied to |
|---|---|---|
| `drop-item` | one `field|modifiers: value` entry leaves a selection map | selections that are one map with two or more entries |
| `drop-alternative` | one map leaves a list of maps (an OR of maps) | selections that are a list of two or more maps |
| `drop-selection` | one selection leaves the condition (`condition.drop`) | every selection the condition uses |

Not mutated, because the result would not be a valid rule or not a smaller one: the only entry
of a one-entry selection (the map would be empty; `drop-selection` covers it), the only
selection of a condition (nothing would be left), keyword lists and single values (values, not
items), and selections the condition never uses (`rules check` reports them). A selection is
dropped with any `not` directly around it; quantifiers (`1 of`, `all of`, `them`) are expanded
first, so dropping one of the selections they name leaves the others in place. For a
correlation the detection rules it references are mutated, one at a time; the correlation's own
settings are not.

Each mutant knows whether it makes the rule fire on more events (`broader`: a `miss_` case must
catch it) or fewer (`narrower`: a `match_` case must), which turns a surviving mutant into a
concrete request for the case that is missing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from auditlake.rulepack import condition as cond
from auditlake.rulepack.documents import kind_of

MutationOperator = Literal["drop-item", "drop-alternative", "drop-selection"]
Effect = Literal["broader", "narrower", "mixed"]
NOT_SELECTIONS = frozenset({"condition", "timeframe"})
"""Keys of a `detection:` section that are not selections."""


@dataclass(frozen=True)
class Mutant:
    """The rule file with one change, described for people."""

    operator: MutationOperator
    document: int
    """Index of the mutated document in the file."""
    rule: str
    """Name (or title) of the mutated rule."""
    selection: str
    part: str | None
    """The entry key (`drop-item`) or `alternative N` (`drop-alternative`)."""
    effect: Effect
    correlation_input: bool
    """True when the mutated rule feeds a correlation rather than being the rule under test."""
    documents: tuple[Mapping[str, Any], ...]
    negated: bool = False
    """For `drop-selection`: the selection sits under a `not` (a filter)."""

    def describe(self) -> str:
        where = f" of {self.rule}" if self.correlation_input else ""
        if self.operator == "drop-item":
            return f"drop `{self.part}` from `{self.selection}`{where}"
        if self.operator == "drop-alternative":
            return f"drop {self.part} from `{self.selection}`{where}"
        return f"drop `{self.selection}` from the condition{where}"

    def hint(self) -> str:
        """The case that would tell the rule from this mutant."""
        key: tuple[str, Effect] = (self.operator, self.effect)
        if self.negated and key == ("drop-selection", "broader"):
            key = ("drop-filter", "broader")
        text = _HINTS.get(key, _MIXED).format(sel=self.selection, part=self.part or "")
        if self.correlation_input:
            text += (
                f" (events of `{self.rule}`, enough of them to reach the correlation's threshold)"
            )
        return text


_MIXED = "add a case that the rule and this mutant judge differently"
_HINTS: Mapping[tuple[str, Effect], str] = {
    (
        "drop-item",
        "broader",
    ): "add a miss_ case whose events match `{sel}` in everything but `{part}`",
    (
        "drop-item",
        "narrower",
    ): "add a match_ case whose events match the filter `{sel}` in everything "
    "but `{part}`, so only `{part}` keeps them from being filtered out",
    ("drop-alternative", "narrower"): "add a match_ case that fires only through {part} of `{sel}`",
    (
        "drop-alternative",
        "broader",
    ): "add a miss_ case that only {part} of the filter `{sel}` keeps quiet",
    (
        "drop-selection",
        "broader",
    ): "add a miss_ case whose events fail `{sel}` but satisfy the rest of the condition",
    (
        "drop-filter",
        "broader",
    ): "add a miss_ case whose events the filter `{sel}` excludes (and that "
    "satisfy the rest of the condition)",
    ("drop-selection", "narrower"): "add a match_ case that fires only through `{sel}`",
}


def mutants(documents: Sequence[Mapping[str, Any]]) -> list[Mutant]:
    """Every mutant of a rule file (its documents in order; the last is the rule under test)."""
    if not documents:
        return []
    last = len(documents) - 1
    if kind_of(documents[last]) == "detection":
        targets = [last]
    else:
        targets = [i for i in range(last) if kind_of(documents[i]) == "detection"]
    found: list[Mutant] = []
    for index in targets:
        found += _document_mutants(documents, index, correlation_input=index != last)
    return found


def _document_mutants(
    documents: Sequence[Mapping[str, Any]], index: int, *, correlation_input: bool
) -> list[Mutant]:
    document = documents[index]
    detection = document["detection"]
    names = [str(k) for k in detection if k not in NOT_SELECTIONS]
    texts = _conditions(detection.get("condition"))
    trees = [cond.parse_condition(text, names) for text in texts]
    # a name the condition uses but nothing defines is pySigma's error to report, not a mutant
    used = [
        n for n in dict.fromkeys(n for tree in trees for n in cond.names_in(tree)) if n in detection
    ]
    label = str(
        document.get("name")
        or document.get("title")
        or document.get("id")
        or f"document {index + 1}"
    )

    def make(
        operator: MutationOperator,
        selection: str,
        part: str | None,
        effect: Effect,
        new_detection: dict[str, Any],
    ) -> Mutant:
        changed = [copy.deepcopy(dict(d)) for d in documents]
        changed[index]["detection"] = new_detection
        negated = any(o.wrapping % 2 for t in trees for o in cond.occurrences(t, selection))
        return Mutant(
            operator,
            index,
            label,
            selection,
            part,
            effect,
            correlation_input,
            tuple(changed),
            negated,
        )

    found: list[Mutant] = []
    for name in used:
        polarity = _polarity(trees, name)
        for operator, part, effect, value in _item_drops(detection[name]):
            found.append(
                make(
                    operator,
                    name,
                    part,
                    _under(polarity, effect),
                    {**copy.deepcopy(dict(detection)), name: value},
                )
            )
        kept = [t for t in (cond.drop(tree, name) for tree in trees) if t is not None]
        if kept:
            new = copy.deepcopy(dict(detection))
            new["condition"] = (
                cond.render(kept[0])
                if isinstance(detection.get("condition"), str)
                else [cond.render(t) for t in kept]
            )
            found.append(make("drop-selection", name, None, _drop_effect(trees, name), new))
    return found


def _conditions(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def _item_drops(value: Any) -> Iterator[tuple[MutationOperator, str, Effect, Any]]:
    """(operator, part dropped, effect on the selection itself, the selection without it)."""
    maps = [value] if isinstance(value, Mapping) else value if isinstance(value, list) else []
    if not maps or not all(isinstance(m, Mapping) for m in maps):
        return  # keywords or a single value: values, not items
    if len(maps) == 1:
        only = maps[0]
        if len(only) < 2:
            return
        for key in only:
            rest = {k: copy.deepcopy(v) for k, v in only.items() if k != key}
            # entries of a map are ANDed: one fewer lets the selection match more
            yield "drop-item", str(key), "broader", rest if isinstance(value, Mapping) else [rest]
        return
    for position in range(len(maps)):
        rest_maps = [copy.deepcopy(dict(m)) for j, m in enumerate(maps) if j != position]
        # maps of a list are ORed: one fewer lets the selection match less
        yield "drop-alternative", f"alternative {position + 1}", "narrower", rest_maps


def _polarity(trees: Sequence[cond.Node], name: str) -> int | None:
    """0 when `name` appears only un-negated, 1 only negated, None when both."""
    parities = {o.negations % 2 for tree in trees for o in cond.occurrences(tree, name)}
    return parities.pop() if len(parities) == 1 else None


def _under(polarity: int | None, effect: Effect) -> Effect:
    """The effect on the rule of `effect` on a selection seen with `polarity`."""
    if polarity is None or effect == "mixed":
        return "mixed"
    return effect if polarity == 0 else _FLIP[effect]


_FLIP: Mapping[Effect, Effect] = {"broader": "narrower", "narrower": "broader", "mixed": "mixed"}


def _drop_effect(trees: Sequence[cond.Node], name: str) -> Effect:
    """What dropping `name` does to the rule.

    The removed node counts as true inside an AND (the AND matches more) and as false inside an
    OR or as one of several conditions (the OR matches less); `not`s above it flip that.
    """
    effects: set[Effect] = set()
    for tree in trees:
        for found in cond.occurrences(tree, name):
            local: Effect = "broader" if found.parent == "and" else "narrower"
            effects.add(_under(found.outer_negations % 2, local))
    return effects.pop() if len(effects) == 1 else "mixed"
