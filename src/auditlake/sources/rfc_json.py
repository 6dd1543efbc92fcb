r"""Reading the valid JSON that simdjson refuses: numbers beyond 64 bits and lone surrogates.

RFC 8259 puts no bound on a number's digits and lets a string hold `\udc80`, a UTF-16
surrogate with no partner. simdjson refuses both, and a record holding one would go to
quarantine whole. Such values are often written by whoever the log is about (a user agent, a
request parameter), so refusing them would let that party hide an event. `load` reads them
for the rare records simdjson refused; every other record never comes here.

How such values read, in columns as in the text of an object holding them (`raw` keeps the
record verbatim):

- an integer beyond 64 bits is a Python `int`, so its text is its decimal digits;
- a number too wide for a float (`1e400`), or with more digits than Python converts, is a
  `WideNumber`, whose text is the number as written;
- a lone surrogate, which UTF-8 (and so an Arrow string) cannot hold, is kept as the six
  characters of its escape (`\udc80`, spelled as in the record), so the column still shows
  which code unit was sent. U+FFFD would read as well but would make every lone surrogate,
  and a genuine U+FFFD, the same text.

>>> doc = load(rb'{"n": 18446744073709551616, "ua": "curl/8 \udc80", "f": 1e400}')
>>> doc["n"], doc["f"]
(18446744073709551616, 1e400)
>>> print(doc["ua"])
curl/8 \udc80
>>> load(b'{"n": NaN}') is None, load(b'{"n": 1') is None
(True, True)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

LONE_SURROGATE = re.compile(
    rb"\\(?:\\"  # an escaped backslash
    rb"|u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"  # a surrogate pair
    rb"|(u[dD][89a-fA-F][0-9a-fA-F]{2}))"  # a lone surrogate
)
r"""A `\\` escape, a surrogate pair, or (group 1) a lone surrogate escape. Matching escaped
backslashes and pairs too keeps the scan in step: `\\udc80` is a backslash and text."""


def escape_lone_surrogates(raw: bytes) -> bytes:
    r"""`raw` with each lone surrogate escape turned into the text of that escape (its backslash
    escaped), which any JSON parser reads; other bytes unchanged.

    >>> print(escape_lone_surrogates(rb'"a\udc80 \\udc80 \ud83d\ude00"').decode())
    "a\\udc80 \\udc80 \ud83d\ude00"
    """
    if b"\\" not in raw:
        return raw
    return LONE_SURROGATE.sub(_escaped, raw)


def _escaped(match: re.Match[bytes]) -> bytes:
    return match[0] if match[1] is None else b"\\" + match[0]


class WideNumber(float):
    """A JSON number no float holds (`1e400`) nor Python converts to `int` (over 4300 digits),
    kept as written: its value is infinite, its `repr` (and so its column text) the number's
    own spelling. A float, so it reads as a number, and never as a string."""

    spelling: str

    def __new__(cls, spelling: str) -> WideNumber:
        number = super().__new__(cls, spelling)
        number.spelling = spelling
        return number

    def __repr__(self) -> str:
        return self.spelling


def load(raw: bytes) -> Any | None:
    """The record parsed by Python's decoder held to RFC 8259, or None when it is not JSON.

    As in simdjson, the first of a repeated key counts, and `NaN` or `Infinity` (which Python
    reads by default) is not JSON. A document nested too deep for Python is refused as well.
    """
    try:
        text = escape_lone_surrogates(raw).decode("utf-8")
        return json.loads(
            text,
            object_pairs_hook=_first_of_each_key,
            parse_constant=_not_json,
            parse_float=_float,
            parse_int=_int,
        )
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError among them
        return None


def _first_of_each_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        found.setdefault(key, value)
    return found


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _float(spelling: str) -> float:
    number = float(spelling)
    return number if math.isfinite(number) else WideNumber(spelling)


def _int(spelling: str) -> int | float:
    try:
        return int(spelling)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        return WideNumber(spelling)


def dumps(value: Any, scalar_text: Callable[[Any], str | None]) -> str:
    """Compact JSON text of a value `load` made, which orjson cannot write (an integer beyond
    64 bits, a `WideNumber`). Scalars other than strings are written by `scalar_text`, the
    text their own columns get, so the two agree.

    >>> dumps({"n": 2**64, "f": WideNumber("1e400"), "s": ["é"]}, repr)
    '{"n":18446744073709551616,"f":1e400,"s":["é"]}'
    """
    if isinstance(value, dict):  # loops, not generators: one frame per level of nesting
        members = []
        for key, member in value.items():
            members.append(json.dumps(key, ensure_ascii=False) + ":" + dumps(member, scalar_text))
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        items = []
        for item in value:
            items.append(dumps(item, scalar_text))
        return "[" + ",".join(items) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return scalar_text(value) or "null"
