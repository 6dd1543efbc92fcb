"""The gate in front of a long column's search keeps every row that holds a literal."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlake.detection import text_gate

ALPHABET = "abAB:.\\ -kKuU0"
needle_lists = st.lists(st.text(ALPHABET, min_size=1, max_size=6).map(str.lower), min_size=1, max_size=14, unique=True)
MIMIKATZ = ["sekurlsa::", "lsadump::", "kerberos::ptt", "misc::skeleton", "event::drop",
            "gentilkiwi.com", "eo.oe.kiwi", "mimidrv.sys", "\\mimilib.dll"]
texts = st.lists(st.text(ALPHABET, max_size=30), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(needle_lists)
def test_every_needle_holds_one_of_the_pieces(needles: list[str]) -> None:
    chosen = text_gate.pieces(needles)
    if chosen is not None:
        assert len(chosen) <= text_gate.MOST_PIECES
        assert all(any(piece in needle for piece in chosen) for needle in needles)


@settings(max_examples=300, deadline=None)
@given(needle_lists, texts, st.booleans())
def test_the_gate_keeps_every_row_holding_a_needle_in_any_case(needles: list[str], rows: list[str], sampled: bool) -> None:
    frame = pl.DataFrame({"raw": rows})
    test = text_gate.gate("raw", needles, frame if sampled else None)
    assert test is not None
    kept = frame.select(test).to_series().to_list()
    for text, passed in zip(rows, kept, strict=True):
        if any(needle in text.lower() for needle in needles):
            assert passed


def test_few_needles_are_their_own_pieces_and_many_share_them() -> None:
    assert text_gate.pieces(["b", "a::"]) == ["a::", "b"]
    assert text_gate.pieces(MIMIKATZ) == ["::", "mimi", "kiwi"]
    assert text_gate.pieces([f"word{n}" for n in range(10)]) == ["word"]  # shared from four characters
    assert text_gate.pieces([f"{c}{d}q" for c in "abcdefg" for d in "hijk"]) is None  # nothing shared: too many


def test_pieces_that_hold_in_most_sampled_rows_give_way_to_the_alternation() -> None:
    needles = [f"{name}.dll" for name in ("evil", "rev", "mimilib", "aa", "bb", "cc", "dd", "ee", "ff")]
    assert text_gate.pieces(needles) == [".dll"]
    frame = pl.DataFrame({"raw": ["c:\\windows\\ntdll.dll"] * 9 + ["c:\\x\\EVIL.DLL"]})
    assert frame.select(text_gate.gate("raw", needles)).to_series().sum() == 10  # by pieces: every row
    assert frame.select(text_gate.gate("raw", needles, frame)).to_series().to_list() == [False] * 9 + [True]


def test_no_gate_for_a_non_ascii_needle() -> None:
    assert text_gate.gate("raw", ["é", "ab"]) is None


ESCAPES = [f"\\u{digit}" for digit in "0123456789abcdef"]


def test_escape_needles_are_vouched_for_by_their_shape_not_the_alternation() -> None:
    test = text_gate.gate("raw", [*MIMIKATZ, *ESCAPES])
    assert test is not None
    assert "mimilib" not in str(test)  # the pieces (`::`, `mimi`, `kiwi`), not every needle
    rows = ['{"p":"C:\\\\Users\\\\x"}', '{"a":"caf\\u00e9"}', '{"a":"x\\U00E9"}', '{"c":"sekurlsa::x"}', '{"u":"\\u"}']
    kept = pl.DataFrame({"raw": rows}).select(test).to_series().to_list()
    assert kept == [False, True, True, True, False]


def test_escape_needles_alone_need_no_pieces() -> None:
    test = text_gate.gate("raw", ESCAPES)
    assert test is not None
    kept = pl.DataFrame({"raw": ["\\users", "\\u0026", "\\UF"]}).select(test).to_series().to_list()
    assert kept == [False, True, True]
