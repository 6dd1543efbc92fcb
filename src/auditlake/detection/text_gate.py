"""A cheap first pass over a long text column: the rows where some literal may occur.

The candidate search extracts every literal a row holds with Aho-Corasick; on a long column
(the raw JSON of every event) most rows hold none, so a gate first keeps the rows that may.
A case-insensitive regex alternation of the literals runs at about 500 MB/s whatever their
number: case folding leaves the regex engine no literal prefilter. One short literal on its
own does get one (so do up to about four), and runs ten to twenty times faster, as does a
literal search for a piece with no letters. So a gate tests a few *pieces*, short strings one
of which every literal contains (`sekurlsa::` and `lsadump::` share `::`), a few at a time,
and falls back on the alternation when too many pieces would be needed.

A JSON text spells any character as `\\u` and four hex digits; keyword searches look for the
sixteen `\\u<digit>` that may hide a value (`raw_json.hiding_escapes`). Two characters with a
letter make no piece (`\\u` alone holds in every Windows path, `C:\\\\Users`), and sixteen
needles leave too few pieces for the others; so a needle holding such an escape is vouched
for by one regex test of the escape's shape instead, far faster than the alternation.

>>> pieces(["sekurlsa::", "lsadump::", "kerberos::ptt", "misc::skeleton", "event::drop",
...         "gentilkiwi.com", "eo.oe.kiwi", "mimidrv.sys", "mimilib.dll", "x"])
['::', 'mimi', 'kiwi', 'x']
>>> pieces([f"{name}.dll" for name in ("evil", "rev", "mimilib", "a", "b", "c", "d", "e", "f")])
['.dll']
"""

from __future__ import annotations

import re
from collections import Counter

import polars as pl

GATE_NEEDLES = 1000
"""Most literals a gate is built from (beyond, the alternation grows too big)."""
MOST_PIECES = 8
"""Most pieces tested; more cost as much as the alternation."""
PIECES_PER_REGEX = 4
PIECE_LENGTHS = range(2, 9)
MOST_PASSED = 0.1
"""Share of sampled rows above which pieces are judged too common to gate with."""
MIN_WORDLIKE_PIECE = 4
"""Shortest piece holding a letter or digit: shorter ones (`.d`, `exe`) hold in most rows of
a log. A piece of punctuation alone (`::`) is rare in text from two characters on."""
UNICODE_ESCAPE = r"\\[uU][0-9a-fA-F]"
"""A JSON `\\u` escape's first three characters, in any case (as the needles are searched)."""
_ESCAPE = re.compile(UNICODE_ESCAPE)


def gate(column: str, needles: list[str], sample: pl.DataFrame | None = None) -> pl.Expr | None:
    """Rows of `column` where one of the lowercased `needles` may occur, ignoring case; None
    when no gate can vouch for them. Pieces that hold in more than `MOST_PASSED` of the rows
    of `sample` (when given) would keep too many: the alternation is used instead. Needles
    holding a `\\u` escape are vouched for by `UNICODE_ESCAPE`.

    Unicode case folding (the regex `(?i)`) matches at least what ASCII folding and
    lowercasing do for ASCII literals, and a piece without letters matches itself whatever
    the case, so no row is lost; a non-ASCII literal (matched on lowercased text) turns the
    gate off.
    """
    if not needles or len(needles) > GATE_NEEDLES or not all(n.isascii() for n in needles):
        return None
    others = [n for n in needles if not _ESCAPE.search(n)]
    escape = len(others) < len(needles)
    if not others:
        return pl.col(column).str.contains(UNICODE_ESCAPE)
    shapes = [*map(regex_literal, others), *([UNICODE_ESCAPE] if escape else [])]
    alternation = pl.col(column).str.contains("(?i)" + "|".join(shapes))
    chosen = pieces(others)
    if chosen is None:
        return alternation
    shared = chosen != sorted(set(others))  # pieces, not the needles themselves: may hold often
    if shared and sample is not None and _share_passed(sample, _any_piece(column, chosen, escape=False)) > MOST_PASSED:
        return alternation
    return _any_piece(column, chosen, escape=escape)


def _share_passed(sample: pl.DataFrame, test: pl.Expr) -> float:
    return float(sample.select(test.mean()).item()) if sample.height else 0.0


def pieces(needles: list[str]) -> list[str] | None:
    """Up to `MOST_PIECES` strings, one of which every needle contains: a needle itself when
    there are few, else the piece shared by the most needles not yet covered (the longest of
    those), with any needle sharing no piece taken whole; None when more would be needed."""
    left = sorted(set(needles))
    if len(left) <= MOST_PIECES:
        return left
    chosen: list[str] = []
    while left:
        shared = Counter(piece for needle in left for piece in _pieces_of(needle))
        best = max(shared.items(), key=lambda item: (item[1], len(item[0]), item[0]), default=None)
        if best is None or best[1] < 2:
            break
        chosen.append(best[0])
        left = [n for n in left if best[0] not in n]
    chosen += left
    return chosen if len(chosen) <= MOST_PIECES else None


def _pieces_of(needle: str) -> set[str]:
    every = {needle[i:i + n] for n in PIECE_LENGTHS for i in range(len(needle) - n + 1)}
    return {p for p in every if len(p) >= MIN_WORDLIKE_PIECE or not any(c.isalnum() for c in p)}


def _any_piece(column: str, chosen: list[str], *, escape: bool) -> pl.Expr:
    """Pieces without letters by literal search (with `escape`, in one regex with
    `UNICODE_ESCAPE`, which shares its pass); the others, a few at a time, by a regex that
    ignores case (up to `PIECES_PER_REGEX` keep the regex engine's prefilter)."""
    caseless = [p for p in chosen if not any(c.isalpha() for c in p)]
    cased = [p for p in chosen if p not in caseless]
    if escape:
        tests = [pl.col(column).str.contains("|".join([*map(regex_literal, caseless), UNICODE_ESCAPE]))]
    else:
        tests = [pl.col(column).str.contains(piece, literal=True) for piece in caseless]
    for start in range(0, len(cased), PIECES_PER_REGEX):
        group = cased[start:start + PIECES_PER_REGEX]
        tests.append(pl.col(column).str.contains("(?i)" + "|".join(map(regex_literal, group))))
    return pl.any_horizontal(tests)


def regex_literal(text: str) -> str:
    """`text` as a regex matching itself: every character but letters and digits hex-escaped,
    a spelling every regex dialect reads alike.

    >>> regex_literal("a.b c")
    'a\\\\x{2E}b\\\\x{20}c'
    """
    return "".join(c if c.isascii() and c.isalnum() else f"\\x{{{ord(c):X}}}" for c in text)
