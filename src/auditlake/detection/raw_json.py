"""Reading the raw JSON record: fields by path (JSONPaths from dotted names, the text column
holding a field), and its text with JSON's escapes decoded, for keywords."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from auditlake.detection.code import Code, pl_

RAW_COLUMN = "raw"


def array_prefix(field: str, arrays: frozenset[str]) -> str | None:
    """The array path `field` reads a member field of, unless it names a member by index.

    >>> array_prefix("target.displayName", frozenset({"target"}))
    'target'
    >>> array_prefix("target.0.displayName", frozenset({"target"})) is None
    True
    """
    for array in arrays:
        rest = field[len(array) + 1 :] if field.startswith(array + ".") else ""
        if rest and not rest.split(".", 1)[0].isdigit():
            return array
    return None


def json_text_column(
    field: str, schema: Mapping[str, pl.DataType], arrays: frozenset[str], objects: frozenset[str] = frozenset()
) -> str | None:
    """The JSON text column a field the schema lacks is read from by path: the column of the
    array it names a member field of, or of the JSON object it lies in (`objects`: columns
    holding a field of the record as JSON text), when the lake has one, else `raw`; None
    without either. An object's own text holds the same values as the record, in a fraction
    of the text."""
    array = array_prefix(field, arrays)
    if array is not None and schema.get(array) == pl.String:
        return array
    head = object_prefix(array or field, objects)
    if head is not None and schema.get(head) == pl.String:
        return head
    return RAW_COLUMN if schema.get(RAW_COLUMN) == pl.String else None


def object_prefix(field: str, objects: frozenset[str]) -> str | None:
    """The object column `field` lies inside (`responseElements.ConsoleLogin`), if any."""
    return next((o for o in sorted(objects) if field.startswith(o + ".")), None)


def json_path(field: str) -> str:
    """A JSONPath for a dotted field name: a numeric part indexes an array (`target.0.id` →
    `$.target[0].id`), keys with other characters use bracket notation.

    >>> json_path("target.0.alternateId")
    '$.target[0].alternateId'
    """
    parts = field.split(".")
    out = "$"
    for part in parts:
        if part.isdigit():
            out += f"[{int(part)}]"
        elif part.replace("_", "").isalnum():
            out += "." + part
        else:
            out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


UNICODE_ESCAPES = tuple(f"\\u{digit}" for digit in "0123456789abcdef")
"""`\\u` and a hex digit: JSON's spelling of any character by its code point (Go's encoder
writes `&`, `<` and `>` so, Python's every non-ASCII character), searched ignoring case; the
digit keeps Windows paths (`\\\\Users`) out."""
CONTROL_ESCAPES = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def hiding_escapes(texts: Sequence[str], *, pattern: bool) -> list[str]:
    """The JSON escapes that may spell part of one of `texts` in a record's text, so that the
    record holds it only once the escapes are decoded: a `\\u` escape (any character), `\\/`
    for a text with a slash (or a pattern, which may match one), a control character's own.
    A backslash or a quote has one spelling (`\\\\`, `\\"`), which a search can use as it is.

    >>> hiding_escapes(["http://x"], pattern=False)[-1]
    '\\\\/'
    """
    escapes = list(UNICODE_ESCAPES)
    if pattern or any("/" in text for text in texts):
        escapes.append("\\/")
    escapes += [escape for char, escape in CONTROL_ESCAPES.items() if any(char in text for text in texts)]
    return escapes


_STRUCTURE = ["\\\\", '\\"', '"', "\n", "\r", "\t"]
_AS_STRING = ["\\\\", '\\"', '\\"', "\\n", "\\r", "\\t"]


def json_unescaped(text: Code) -> Code:
    """A JSON text with the escapes of its strings decoded (`{"c":"caf\\u00e9"}` reads
    `{"c":"café"}`; surrogate pairs too), null where it is not JSON whose escapes decode.

    The text is made the body of one JSON string, which Polars' JSON reader then decodes: its
    quotes are escaped and the whitespace between its tokens spelled as escapes; a scan from
    the left takes an escaped backslash or quote as the pair it is, so the quote in `\\\\"` (an
    escaped backslash, then the string's end) is still escaped.
    """
    body = text.str.replace_many(_STRUCTURE, _AS_STRING)
    return pl_.concat_str(pl_.lit('["'), body, pl_.lit('"]')).str.json_path_match("$[0]")
