"""A Sigma condition as a small tree that can lose a selection and be written back as text.

pySigma parses the condition; `1 of x*`, `all of x*` and `them` are expanded into explicit OR
and AND of the selections they name (pySigma's rules: `*` is any text, `them` is every
selection, and names starting with `_` are left out unless the pattern starts with `_`), so
removing one selection from a quantifier is the same operation as removing it elsewhere.

>>> tree = parse_condition("sel and not 1 of filter_*", ["sel", "filter_a", "filter_b"])
>>> render(tree)
'sel and not (filter_a or filter_b)'
>>> render(drop(tree, "filter_a"))
'sel and not filter_b'
>>> drop(parse_condition("sel", ["sel"]), "sel") is None
True
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from sigma.conditions import (
    ConditionAND,
    ConditionIdentifier,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
    SigmaCondition,
)
from sigma.rule import SigmaDetections

from auditlake.errors import AuditlakeError


class ConditionError(AuditlakeError):
    """A condition this module cannot take apart (pySigma rejects it, or a quantifier is empty)."""


@dataclass(frozen=True, slots=True)
class Ref:
    name: str


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


Node = Ref | Not | And | Or
Parent = Literal["and", "or", "root"]


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Where a selection appears: under how many `not`s, and inside what.

    `negations` counts every `not` above the selection, `wrapping` those directly around it
    (`not not sel`); dropping the selection removes it with its wrapping, and `parent` is the
    operator that removed node was an operand of.
    """

    negations: int
    wrapping: int
    parent: Parent

    @property
    def outer_negations(self) -> int:
        """The `not`s above the node that dropping the selection removes."""
        return self.negations - self.wrapping


def parse_condition(text: str, names: Sequence[str]) -> Node:
    """The tree of condition `text` over the detection `names`, quantifiers expanded."""
    detections = SigmaDetections.from_dict(
        {name: {"_": None} for name in names} | {"condition": text}
    )
    try:
        parsed = SigmaCondition(text, detections).parse(postprocess=False)
    except Exception as exc:  # pySigma raises several unrelated types for a bad condition
        raise ConditionError(f"cannot parse condition {text!r}: {exc}") from exc
    assert isinstance(parsed, ConditionItem)
    return _convert(parsed, names)


def _convert(item: ConditionItem, names: Sequence[str]) -> Node:
    if isinstance(item, ConditionIdentifier):
        return Ref(item.identifier)
    if isinstance(item, ConditionSelector):
        chosen = tuple(Ref(n) for n in selected(item.pattern, names))
        if not chosen:
            raise ConditionError(f"`of {item.pattern}` names no selection")
        return And(chosen) if item.cond_class is ConditionAND else Or(chosen)
    operands = tuple(_convert(a, names) for a in item.args if isinstance(a, ConditionItem))
    if isinstance(item, ConditionNOT):
        return Not(operands[0])
    if isinstance(item, ConditionAND):
        return And(operands)
    if isinstance(item, ConditionOR):
        return Or(operands)
    raise ConditionError(f"unexpected condition element {type(item).__name__}")


def selected(pattern: str, names: Sequence[str]) -> list[str]:
    """The detection names a quantifier pattern (`filter_*`, `them`) stands for."""
    regex = re.compile(".*" if pattern == "them" else pattern.replace("*", ".*"))
    return [
        n
        for n in names
        if regex.fullmatch(n) and (pattern.startswith("_") or not n.startswith("_"))
    ]


def render(node: Node) -> str:
    """Condition text for `node`; nested AND/OR are parenthesised."""
    if isinstance(node, Ref):
        return node.name
    if isinstance(node, Not):
        return f"not {_operand(node.operand)}"
    word = " and " if isinstance(node, And) else " or "
    return word.join(_operand(o) for o in node.operands)


def _operand(node: Node) -> str:
    return f"({render(node)})" if isinstance(node, And | Or) else render(node)


def drop(node: Node, name: str) -> Node | None:
    """`node` without selection `name`; None when nothing is left.

    The selection, with any `not` directly around it, leaves its AND or OR; an AND or OR left
    with one operand becomes that operand, and one left with none disappears in turn.
    """
    if isinstance(node, Ref):
        return None if node.name == name else node
    if isinstance(node, Not):
        inner = drop(node.operand, name)
        return None if inner is None else Not(inner)
    kept = tuple(k for k in (drop(o, name) for o in node.operands) if k is not None)
    if not kept:
        return None
    if len(kept) == 1:
        return kept[0]
    return And(kept) if isinstance(node, And) else Or(kept)


def names_in(node: Node) -> list[str]:
    """Selections the condition uses, in order of first appearance."""
    return list(dict.fromkeys(_refs(node)))


def _refs(node: Node) -> Iterator[str]:
    if isinstance(node, Ref):
        yield node.name
    elif isinstance(node, Not):
        yield from _refs(node.operand)
    else:
        for operand in node.operands:
            yield from _refs(operand)


def occurrences(node: Node, name: str) -> list[Occurrence]:
    """Every place selection `name` appears in `node`."""
    return list(_walk(node, name, Occurrence(0, 0, "root")))


def _walk(node: Node, name: str, here: Occurrence) -> Iterator[Occurrence]:
    """Occurrences below `node`, `here` being the position of `node` itself."""
    if isinstance(node, Ref):
        if node.name == name:
            yield here
    elif isinstance(node, Not):
        yield from _walk(
            node.operand, name, Occurrence(here.negations + 1, here.wrapping + 1, here.parent)
        )
    else:
        kind: Parent = "and" if isinstance(node, And) else "or"
        for operand in node.operands:
            yield from _walk(operand, name, Occurrence(here.negations, 0, kind))
