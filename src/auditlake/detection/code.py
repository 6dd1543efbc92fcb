"""Polars expressions kept as call trees, so one builder yields both a `pl.Expr` and its source.

Lowering a rule builds a `Code` tree (`pl.col("a").str.to_lowercase() == "x"`), never a
`pl.Expr` directly. The same tree is then evaluated against the real `polars` module
(`to_expr`) or printed as Python source (`to_source`). Because both come from one tree, the
rendered source of a rule is the expression the engine runs, not a second implementation that
could drift from it. `str(pl.Expr)` is not valid Python and `Expr.meta.serialize` is not stable
across Polars versions, which is why neither is used as the rule artifact.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

Literal = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class _Name:
    name: str


@dataclass(frozen=True, slots=True)
class _Attr:
    obj: Code
    name: str


@dataclass(frozen=True, slots=True)
class _Call:
    func: Code
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class _BinOp:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class _Invert:
    operand: Code


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "&": operator.and_,
    "|": operator.or_,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}

_Node = _Name | _Attr | _Call | _BinOp | _Invert


class Code:
    """One node of a call tree; attribute access and calls build further nodes.

    >>> c = pl_.col("Image").str.to_lowercase().str.ends_with("\\\\cmd.exe")
    >>> c.to_source()
    'pl.col("Image").str.to_lowercase().str.ends_with("\\\\\\\\cmd.exe")'
    >>> c.to_expr().meta.eq(pl.col("Image").str.to_lowercase().str.ends_with("\\\\cmd.exe"))
    True
    """

    __slots__ = ("_node",)

    def __init__(self, node: _Node) -> None:
        self._node = node

    def __getattr__(self, name: str) -> Code:
        if name.startswith("__"):
            raise AttributeError(name)
        return Code(_Attr(self, name))

    def __call__(self, *args: Any, **kwargs: Any) -> Code:
        return Code(_Call(self, args, tuple(kwargs.items())))

    def __and__(self, other: Any) -> Code:
        return Code(_BinOp("&", self, other))

    def __or__(self, other: Any) -> Code:
        return Code(_BinOp("|", self, other))

    def __invert__(self) -> Code:
        return Code(_Invert(self))

    def __repr__(self) -> str:
        return f"Code({self.to_source()})"

    def to_source(self) -> str:
        """Python source that evaluates to the same expression, given `pl` = polars."""
        return _source(self)

    def to_expr(self, env: Mapping[str, Any] | None = None) -> Any:
        """Evaluate the tree; names resolve in `env` (default: `pl` only)."""
        return _evaluate(self, env or _DEFAULT_ENV)


def binop(op: str, left: Any, right: Any) -> Code:
    """A binary operator node (`==`, `>`, `+`, ...); Python's own `==` stays identity-based."""
    if op not in _BINARY:
        raise ValueError(f"unsupported operator {op!r}")
    return Code(_BinOp(op, left, right))


def rewrite(value: Any, replace: Callable[[Code], Code | None]) -> Any:
    """`value` with each node that `replace` gives a substitute for replaced by it; the nodes
    below a replaced one are not visited. Lists and tuples are rewritten member by member."""
    if isinstance(value, list | tuple):
        if not any(isinstance(v, Code | list | tuple) for v in value):
            return value  # a list of literals (a rule's thousands of hashes): nothing to visit
        return type(value)(rewrite(v, replace) for v in value)
    if not isinstance(value, Code):
        return value
    substitute = replace(value)
    if substitute is not None:
        return substitute
    return Code(_REWRITE[type(value._node)](value._node, replace))


_REWRITE: dict[type, Callable[[Any, Callable[[Code], Code | None]], _Node]] = {
    _Name: lambda node, _: node,
    _Attr: lambda node, replace: _Attr(rewrite(node.obj, replace), node.name),
    _Call: lambda node, replace: _Call(
        rewrite(node.func, replace),
        rewrite(node.args, replace),
        tuple((k, rewrite(v, replace)) for k, v in node.kwargs),
    ),
    _BinOp: lambda node, replace: _BinOp(node.op, rewrite(node.left, replace), rewrite(node.right, replace)),
    _Invert: lambda node, replace: _Invert(rewrite(node.operand, replace)),
}


def walk(value: Any) -> Iterator[Code]:
    """Every node of `value` (a node, or lists and tuples of them), each before those below it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(v for v in reversed(item) if isinstance(v, Code | list | tuple))
        elif isinstance(item, Code):
            yield item
            stack.extend(reversed(_CHILDREN[type(item._node)](item._node)))


_CHILDREN: dict[type, Callable[[Any], tuple[Any, ...]]] = {
    _Name: lambda node: (),
    _Attr: lambda node: (node.obj,),
    _Call: lambda node: (node.func, node.args, tuple(v for _, v in node.kwargs)),
    _BinOp: lambda node: (node.left, node.right),
    _Invert: lambda node: (node.operand,),
}


def method_call(code: Code) -> tuple[Code, str, tuple[Any, ...]] | None:
    """(receiver, method, arguments) of a call without keywords, `x.name(args)`; else None."""
    node = code._node
    if isinstance(node, _Call) and not node.kwargs and isinstance(node.func._node, _Attr):
        return node.func._node.obj, node.func._node.name, node.args
    return None


def _pl_call(code: Code, function: str) -> tuple[Any, ...] | None:
    """The arguments of `pl.<function>(...)`; None for any other node."""
    call = method_call(code)
    if call is None:
        return None
    receiver, method, args = call
    plain = isinstance(receiver._node, _Name) and receiver._node.name == "pl"
    return args if plain and method == function else None


def column_name(code: Code) -> str | None:
    """`x` of `pl.col("x")`; None for any other node."""
    args = _pl_call(code, "col")
    return args[0] if args is not None and len(args) == 1 and isinstance(args[0], str) else None


def columns_read(value: Any) -> list[str]:
    """The names `value` reads with `pl.col("name")`, in order of first appearance."""
    return list(dict.fromkeys(n for node in walk(value) if (n := column_name(node)) is not None))


def constant(code: Code) -> bool | None:
    """`b` of `pl.lit(b)` for a bool `b` (a condition folded to a constant); else None."""
    args = _pl_call(code, "lit")
    return args[0] if args is not None and len(args) == 1 and isinstance(args[0], bool) else None


def namespace_of(code: Code, namespace: str) -> Code | None:
    """`x` of `x.<namespace>` (`x.str`); else None."""
    node = code._node
    return node.obj if isinstance(node, _Attr) and node.name == namespace else None


def name(identifier: str) -> Code:
    """A free name, resolved in the evaluation environment (`pl`, helper functions)."""
    return Code(_Name(identifier))


pl_ = name("pl")
_DEFAULT_ENV: Mapping[str, Any] = {"pl": pl}


def _evaluate(value: Any, env: Mapping[str, Any]) -> Any:
    if isinstance(value, Code):
        return _EVALUATE[type(value._node)](value._node, env)
    if isinstance(value, list | tuple):
        return type(value)(_evaluate(v, env) for v in value)
    return value


def _evaluate_call(node: _Call, env: Mapping[str, Any]) -> Any:
    func = _evaluate(node.func, env)
    kwargs = {k: _evaluate(v, env) for k, v in node.kwargs}
    return func(*(_evaluate(a, env) for a in node.args), **kwargs)


_EVALUATE: dict[type, Callable[[Any, Mapping[str, Any]], Any]] = {
    _Name: lambda node, env: env[node.name],
    _Attr: lambda node, env: getattr(_evaluate(node.obj, env), node.name),
    _Call: _evaluate_call,
    _BinOp: lambda node, env: _BINARY[node.op](_evaluate(node.left, env), _evaluate(node.right, env)),
    _Invert: lambda node, env: ~_evaluate(node.operand, env),
}


def _source(value: Any) -> str:
    if isinstance(value, Code):
        return _SOURCE[type(value._node)](value._node)
    if isinstance(value, str):
        return _string_literal(value)
    if isinstance(value, list):
        return "[" + ", ".join(_source(v) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(_source(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    raise TypeError(f"cannot render {type(value).__name__} as source")


def _receiver_source(value: Any) -> str:
    """`~x` as the object of `.attr` needs parentheses: `~x.attr` reads as `~(x.attr)`."""
    text = _source(value)
    return f"({text})" if isinstance(value, Code) and isinstance(value._node, _Invert) else text


def _call_source(node: _Call) -> str:
    parts = [_source(a) for a in node.args] + [f"{k}={_source(v)}" for k, v in node.kwargs]
    return f"{_source(node.func)}({', '.join(parts)})"


_SOURCE: dict[type, Callable[[Any], str]] = {
    _Name: lambda node: node.name,
    _Attr: lambda node: f"{_receiver_source(node.obj)}.{node.name}",
    _Call: _call_source,
    _BinOp: lambda node: f"({_source(node.left)} {node.op} {_source(node.right)})",
    _Invert: lambda node: f"~{_source(node.operand)}",
}


def _string_literal(text: str) -> str:
    """A double-quoted Python literal; `repr` switches quote styles, which hurts readability."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    return '"' + "".join(out) + '"'


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
