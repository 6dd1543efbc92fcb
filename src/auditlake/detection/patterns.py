"""Sigma string values and regexes turned into what Polars' matchers take.

Every match is built from pySigma's parsed `SigmaString.s` parts, never from the rule's text:
the parts already carry Sigma's escaping rules (`\\*` literal star, `\\\\*` backslash then
wildcard), and re-reading text is the classic source of "trailing backslash swallows the
wildcard" bugs.
"""

from __future__ import annotations

import functools
import re

import polars as pl
from sigma.types import (
    Placeholder,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from auditlake.detection.ir import StringOp

_REGEX_META = frozenset("\\.+*?()|[]{}^$#&-~")

_FLAG_LETTERS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


class PatternError(ValueError):
    """A value the Polars engine cannot honour; the message names the construct."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def escape_regex(text: str) -> str:
    """Escape `text` so the Rust regex engine matches it literally.

    >>> escape_regex("C:\\\\Windows\\\\*.exe")
    'C:\\\\\\\\Windows\\\\\\\\\\\\*\\\\.exe'
    """
    return "".join("\\" + c if c in _REGEX_META else c for c in text)


def string_match(value: SigmaString, *, cased: bool) -> tuple[StringOp, str]:
    """Classify a Sigma string into one matcher and its operand.

    Plain text is equality; `*x*`, `x*` and `*x` are substring, prefix and suffix (cheap
    literal matchers); anything else becomes an anchored regex body where `*` is `.*` and `?`
    is `.`. Case-insensitive operands are lowercased here because the column side is lowercased
    when the rule is bound.
    """
    parts = value.s
    if any(isinstance(p, Placeholder) for p in parts):
        names = ", ".join(f"%{p.name}%" for p in parts if isinstance(p, Placeholder))
        raise PatternError(
            "placeholder",
            f"unresolved placeholder {names}: configure its values in the pipeline "
            "(vars) or drop the rule"
        )
    texts = [p for p in parts if isinstance(p, str)]
    fold = (lambda s: s) if cased else str.lower
    multi = SpecialChars.WILDCARD_MULTI
    if not value.contains_special():
        return "eq", fold("".join(texts))
    if all(p == multi for p in parts):
        return "contains", ""
    inner = parts[1:-1]
    plain_inner = all(isinstance(p, str) for p in inner)
    if len(parts) == 3 and parts[0] == multi and parts[-1] == multi and plain_inner:
        return "contains", fold(texts[0])
    if len(parts) == 2 and parts[-1] == multi and isinstance(parts[0], str):
        return "startswith", fold(parts[0])
    if len(parts) == 2 and parts[0] == multi and isinstance(parts[1], str):
        return "endswith", fold(parts[1])
    return "match", wildcard_regex(value, cased=cased)


def wildcard_regex(value: SigmaString, *, cased: bool) -> str:
    """The regex body (no anchors, no flags) of a wildcard string."""
    out: list[str] = []
    for part in value.s:
        if isinstance(part, str):
            out.append(escape_regex(part if cased else part.lower()))
        elif part == SpecialChars.WILDCARD_MULTI:
            out.append(".*")
        elif part == SpecialChars.WILDCARD_SINGLE:
            out.append(".")
        else:  # pragma: no cover - placeholders are rejected by string_match
            raise PatternError("value", f"unexpected string part {part!r}")
    return "".join(out)


def sigma_regex(value: SigmaRegularExpression) -> str:
    """The rule's regex with its `i`/`m`/`s` flags as one inline prefix, checked by Polars."""
    letters = "".join(sorted(_FLAG_LETTERS[f] for f in value.flags))
    text = str(value.regexp)
    pattern = f"(?{letters}){text}" if letters else text
    check_regex(pattern)
    return pattern


_UNSUPPORTED = (
    (re.compile(r"(?<!\\)\(\?<?[=!]"), "lookaround (?=, (?!, (?<=, (?<!)"),
    (re.compile(r"(?<!\\)(?:\\\\)*\\[1-9]"), "backreference (\\1 ...)"),
    (re.compile(r"(?<!\\)(?:\\\\)*\\[QE]"), "quoting (\\Q...\\E)"),
    (re.compile(r"(?<!\\)\(\?>"), "atomic group (?>...)"),
    (re.compile(r"(?<!\\)[+*?}]\+"), "possessive quantifier (a++)"),
)


_CHARACTER_CLASS = re.compile(r"\\.|\[\^?\]?(?:\\.|[^\]\\])*\]")
"""An escape, or a bracket class (`[+*]`, `[^]x]`): inside a class `a++` or `(?=` is literal."""


def _blank_class(match: re.Match[str]) -> str:
    text = match.group(0)
    return text if text.startswith("\\") else "[]"


@functools.lru_cache(maxsize=8192)
def check_regex(pattern: str) -> None:
    """Raise `PatternError` if Polars' regex engine cannot run `pattern`.

    Possessive quantifiers parse in Rust's engine as nested repetition with a different meaning,
    so they are rejected rather than run with the wrong one.
    """
    outside_classes = _CHARACTER_CLASS.sub(_blank_class, pattern)
    for probe, construct in _UNSUPPORTED:
        if probe.search(outside_classes):
            raise PatternError("regex", f"regex uses {construct}, which Polars' regex engine does not support")
    try:
        pl.select(pl.lit("").str.contains(pattern))
    except pl.exceptions.PolarsError as error:
        first = str(error).strip().splitlines()
        reason = next((line for line in first if "error:" in line), first[0] if first else "")
        raise PatternError("regex", f"regex rejected by Polars' regex engine: {reason.strip()}") from None
