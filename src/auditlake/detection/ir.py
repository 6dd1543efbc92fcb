"""The rule IR: what a Sigma condition means, independent of any data.

The backend turns pySigma's condition tree into these frozen nodes; `lower.py` binds them to a
partition's schema. Nothing here knows Polars dtypes, so one compiled rule serves every
partition and every schema evolution of the lake.

String values are stored ready to match: case-insensitive ones already lowercased (the lowering
lowercases the column side), wildcard patterns already turned into regex bodies built from
pySigma's `SigmaString` parts, never from the rule's text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Literal, cast

StringOp = Literal["eq", "contains", "startswith", "endswith", "match"]
"""Ways a string value matches: whole value, substring, prefix, suffix, anchored regex body."""

LeafOp = Literal[
    "eq",
    "contains",
    "startswith",
    "endswith",
    "match",
    "regex",
    "num",
    "bool",
    "cidr",
    "cmp",
    "tspart",
    "fieldref",
    "null",
    "exists",
]

MERGEABLE_OPS: frozenset[str] = frozenset(
    {"eq", "contains", "startswith", "endswith", "match", "num", "cidr"}
)
"""Ops whose OR over one field is one leaf with several values (`is_in`, `contains_any`)."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One field compared with one or more values (several values are ORed).

    `values` by op: string ops hold str (regex bodies for `match`); `regex` holds one pattern
    with its inline flags; `num` numbers; `bool` one bool; `cidr` network strings; `cmp` one
    `(operator, number)`; `tspart` one `(part, operator, number)`; `fieldref` one
    `(other_field, mode)`; `null` nothing; `exists` one bool.
    """

    field: str
    op: LeafOp
    values: tuple[object, ...]
    cased: bool = False


@dataclass(frozen=True, slots=True)
class Keyword:
    """A value with no field: searched in the event's full text (Sigma keywords)."""

    op: LeafOp
    values: tuple[object, ...]
    cased: bool = False


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


Node = Leaf | Keyword | And | Or | Not | Const
NODE_TYPES = (Leaf, Keyword, And, Or, Not, Const)

TRUE = Const(True)
FALSE = Const(False)


def all_of(items: list[Node] | tuple[Node, ...]) -> Node:
    """AND with constants folded and nested ANDs flattened."""
    flat: list[Node] = []
    for item in items:
        if item == TRUE:
            continue
        if item == FALSE:
            return FALSE
        flat.extend(item.items if isinstance(item, And) else (item,))
    if not flat:
        return TRUE
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def any_of(items: list[Node] | tuple[Node, ...]) -> Node:
    """OR with constants folded, nested ORs flattened and same-field leaves merged.

    `a: [x, y]` arrives from pySigma as OR(a=x, a=y); one leaf with both values lowers to a
    single `is_in` / `contains_any` / alternation instead of an OR of scans, which is an order
    of magnitude faster on wide value lists.
    """
    flat: list[Node] = []
    for item in items:
        if item == FALSE:
            continue
        if item == TRUE:
            return TRUE
        flat.extend(item.items if isinstance(item, Or) else (item,))
    merged = _merge_leaves(flat)
    if not merged:
        return FALSE
    return merged[0] if len(merged) == 1 else Or(tuple(merged))


def negate(item: Node) -> Node:
    if isinstance(item, Const):
        return Const(not item.value)
    if isinstance(item, Not):
        return item.item
    return Not(item)


def _merge_leaves(items: list[Node]) -> list[Node]:
    slots: dict[tuple[object, ...], int] = {}
    out: list[Node] = []
    for item in items:
        key = _merge_key(item)
        if key is None:
            out.append(item)
            continue
        if key in slots:
            previous = out[slots[key]]
            assert isinstance(previous, Leaf | Keyword)
            values = previous.values + tuple(v for v in item.values if v not in previous.values)  # type: ignore[union-attr]
            out[slots[key]] = replace(previous, values=values)
        else:
            slots[key] = len(out)
            out.append(item)
    return out


def _merge_key(item: Node) -> tuple[object, ...] | None:
    if isinstance(item, Leaf) and item.op in MERGEABLE_OPS:
        return ("leaf", item.field, item.op, item.cased)
    if isinstance(item, Keyword) and item.op in MERGEABLE_OPS:
        return ("keyword", item.op, item.cased)
    return None


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    yield node
    if isinstance(node, And | Or):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, Not):
        yield from walk(node.item)


def fields(node: Node) -> frozenset[str]:
    """The field names the tree reads (both sides of field references)."""
    names: set[str] = set()
    for item in walk(node):
        if isinstance(item, Leaf):
            names.add(item.field)
            if item.op == "fieldref":
                other, _mode = cast(tuple[str, str], item.values[0])
                names.add(other)
    return frozenset(names)


def transform(node: Node, leaf: Callable[[Leaf], Node]) -> Node:
    """Rebuild the tree with every field leaf replaced by `leaf(...)`, folding constants."""
    if isinstance(node, Leaf):
        return leaf(node)
    if isinstance(node, And):
        return all_of([transform(i, leaf) for i in node.items])
    if isinstance(node, Or):
        return any_of([transform(i, leaf) for i in node.items])
    if isinstance(node, Not):
        return negate(transform(node.item, leaf))
    return node


def rename_fields(node: Node, mapping: Mapping[str, str]) -> Node:
    """The same tree reading `mapping[f]` wherever it read `f`."""
    if not mapping:
        return node

    def rename(item: Leaf) -> Node:
        values = item.values
        if item.op == "fieldref":
            other, mode = cast(tuple[str, str], item.values[0])
            values = ((mapping.get(other, other), mode),)
        return replace(item, field=mapping.get(item.field, item.field), values=values)

    return transform(node, rename)
