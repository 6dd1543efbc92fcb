"""What compiled Sigma rules match, on tiny frames: one test per semantic rule or pitfall.

Each test compiles real Sigma YAML with the auditlake backend, binds the rule to the frame's
schema and asserts which rows it keeps (SIGMA.md §1, §3.2, §3.3, §4.1). Every bound expression
is also rendered to source and checked to be the same expression, so the text `sigma convert`
prints is held to the same semantics.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import textwrap

import polars as pl
import pytest
from sigma.collection import SigmaCollection

from auditlake.detection import ir
from auditlake.detection.compile import compile_collection
from auditlake.detection.ir import Node
from auditlake.detection.lower import BindOptions, bind, render

RULE_TEMPLATE = """\
title: semantics probe
id: 5e0f5a1e-0000-4000-8000-00000000a001
status: test
logsource:
  category: test
detection:
{detection}
"""


def condition(detection: str) -> Node:
    """The IR of a rule whose `detection:` block is `detection` (YAML, any indentation)."""
    body = textwrap.indent(textwrap.dedent(detection).strip(), "  ")
    ruleset = compile_collection(SigmaCollection.from_yaml(RULE_TEMPLATE.format(detection=body)))
    assert not ruleset.failures, ruleset.failures
    return ruleset.rules[0].condition


def matches(detection: str, frame: pl.DataFrame, options: BindOptions | None = None) -> list[int]:
    """Row numbers of `frame` the rule keeps."""
    node = condition(detection)
    expr = bind(node, frame.schema, options)
    # The rendered source is the rule artifact; it must be the expression the engine runs.
    rendered = eval(render(node, frame.schema, options), {"pl": pl})
    assert rendered.meta.eq(expr), render(node, frame.schema, options)
    return frame.with_row_index("_row").filter(expr)["_row"].to_list()


def sel(line: str, cond: str = "sel") -> str:
    """A one-item selection `sel` and a condition over it."""
    return f"sel:\n  {line}\ncondition: {cond}"


# -- case sensitivity ----------------------------------------------------------------------

CASES = pl.DataFrame({"a": ["cmd.exe", "CMD.EXE", "Cmd.Exe", "xcmd.exey", None]})


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a: cmd.exe", [0, 1, 2]),
        ("a: CMD.exe", [0, 1, 2]),
        ("a|contains: MD.E", [0, 1, 2, 3]),
        ("a|startswith: CMD", [0, 1, 2]),
        ("a|endswith: EXE", [0, 1, 2]),
        ("a: 'C?D.*'", [0, 1, 2]),
        ("a: ['CMD.EXE', 'nothing']", [0, 1, 2]),
        ("a|contains: ['XCMD', 'nothing']", [3]),
        ("a|cased: cmd.exe", [0]),
        ("a|cased|contains: MD", [1]),
        ("a|cased: 'C*'", [1, 2]),
        ("a|cased|endswith: Exe", [2]),
    ],
)
def test_strings_fold_case_unless_cased(line: str, expected: list[int]) -> None:
    assert matches(sel(line), CASES) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (r"a|re: 'cmd\.exe'", [0, 3]),  # unanchored search, case as written
        (r"a|re: '^CMD'", [1]),
        (r"a|re|i: '^cmd\.exe$'", [0, 1, 2]),
        (r"a|re|i: 'C.D\.E'", [0, 1, 2, 3]),
    ],
)
def test_regex_is_case_sensitive_unless_i(line: str, expected: list[int]) -> None:
    assert matches(sel(line), CASES) == expected


MULTILINE = pl.DataFrame({"a": ["first\nsecond", "first second", "second"]})


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a|re: '^second'", [2]),
        ("a|re|m: '^second'", [0, 2]),
        ("a|re: 'first.second'", [1]),  # `.` skips a newline by default
        ("a|re|s: 'first.second'", [0, 1]),
        ("a|re|i|m: '^SECOND$'", [0, 2]),
        ("a|re|m|s: '^first.^second$'", [0]),
    ],
)
def test_regex_flags_m_and_s(line: str, expected: list[int]) -> None:
    assert matches(sel(line), MULTILINE) == expected


# -- wildcards and escaping ------------------------------------------------------------------

WILD = pl.DataFrame(
    {
        "a": [
            "a*b",  # 0
            "axxb",  # 1
            "a\\b",  # 2: a, backslash, b
            "a\\xb",  # 3
            "ab",  # 4
            "a?b",  # 5
            "acb",  # 6
            "C:\\Windows\\",  # 7
            "C:\\Windows\\x",  # 8
            "line one\nline two",  # 9
        ]
    }
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a: 'a*b'", [0, 1, 2, 3, 4, 5, 6]),
        ("a: 'a?b'", [0, 2, 5, 6]),
        (r"a: 'a\*b'", [0]),  # escaped star is a literal star
        (r"a: 'a\?b'", [5]),
        (r"a: 'a\\*b'", [2, 3]),  # escaped backslash, then a wildcard
        (r"a: 'a\\b'", [2]),
        (r"a: 'a\b'", [2]),  # a lone backslash before a letter is literal
        (r"a|endswith: 'C:\Windows\'", [7]),  # the trailing backslash must not eat the `*`
        (r"a|contains: 'Windows\'", [7, 8]),
        (r"a|startswith: 'C:\Windows\'", [7, 8]),
        ("a: 'line*two'", [9]),  # `*` spans the newline
        ("a: '*one?line*'", [9]),  # `?` matches the newline itself
        ("a: 'line one'", []),
    ],
)
def test_wildcards_and_escapes(line: str, expected: list[int]) -> None:
    assert matches(sel(line), WILD) == expected


@pytest.mark.parametrize("meta", list(".+()[]{}$^|#&-~"))
def test_regex_metacharacters_in_values_are_literal(meta: str) -> None:
    frame = pl.DataFrame({"a": [f"x{meta}y", "xzy", f"x{meta}{meta}y", f"xz{meta}y"]})
    assert matches(sel(f"a: 'x{meta}y'"), frame) == [0]
    assert matches(sel(f"a|contains: '{meta}y'"), frame) == [0, 2, 3]
    # Inner wildcards take the regex path, where an unescaped `.` would also match `xzy`.
    assert matches(sel(f"a: 'x{meta}*y'"), frame) == [0, 2]
    assert matches(sel(f"a: 'x?{meta}y'"), frame) == [2, 3]
    # Several prefixes or suffixes become one alternation.
    assert matches(sel(f"a|startswith: ['x{meta}', 'q']"), frame) == [0, 2]
    assert matches(sel(f"a|endswith: ['z{meta}y', 'q']"), frame) == [3]


# -- value lists and |all --------------------------------------------------------------------

WORDS = pl.DataFrame({"a": ["alpha beta", "alpha", "beta", "gamma", None]})


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a: [alpha, beta]", [1, 2]),
        ("a|contains: [alpha, beta]", [0, 1, 2]),
        ("a|contains|all: [alpha, beta]", [0]),
        ("a|contains|all: [alpha, delta]", []),
        ("a|all: ['alpha*', '*beta']", [0]),
        ("a: [gamma, 'al*a', '*et?']", [0, 1, 2, 3]),
        ("a|startswith: [al, ga]", [0, 1, 3]),
        ("a|endswith: [ta, ma]", [0, 2, 3]),
        ("a|contains: [ALPHA, zzz]", [0, 1]),
    ],
)
def test_value_lists_or_and_all(line: str, expected: list[int]) -> None:
    assert matches(sel(line), WORDS) == expected


# -- Kleene NOT and the condition grammar ------------------------------------------------------

EVENTS = pl.DataFrame(
    {
        "a": ["x", "x", "x", "y"],
        "f": ["bad", None, "ok", "bad"],
        "g": ["1", "2", None, "1"],
    }
)


def test_not_filter_keeps_rows_whose_filter_field_is_null() -> None:
    # Polars would make `not (null == 'bad')` null and drop row 1.
    rule = "sel:\n  a: x\nfilter:\n  f: bad\ncondition: sel and not filter"
    assert matches(rule, EVENTS) == [1, 2]


def test_not_filter_on_an_absent_column_is_true() -> None:
    rule = "sel:\n  a: x\nfilter:\n  missing: bad\ncondition: sel and not filter"
    assert matches(rule, EVENTS) == [0, 1, 2]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("sel:\n  a: x\nfilter:\n  f: bad\ncondition: not (sel and not filter)", [0, 3]),
        ("sel:\n  a: x\nfilter:\n  f|contains: ba\ncondition: sel and not filter", [1, 2]),
        ("sel:\n  f|neq: bad\ncondition: sel", [1, 2]),
        ("sel:\n  f: bad\ncondition: not not sel", [0, 3]),
        (
            "sel:\n  a: x\nf1:\n  f: bad\nf2:\n  g: '1'\ncondition: sel and not (f1 and not f2)",
            [0, 1, 2],
        ),
        ("f1:\n  f: ok\nf2:\n  g: '2'\ncondition: not f1 and not f2", [0, 3]),
    ],
)
def test_nested_negation_is_two_valued(rule: str, expected: list[int]) -> None:
    assert matches(rule, EVENTS) == expected


def test_a_list_of_conditions_is_their_or() -> None:
    rule = "sel1:\n  a: y\nsel2:\n  f: ok\ncondition:\n  - sel1\n  - sel2"
    assert matches(rule, EVENTS) == [2, 3]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("sel1:\n  a: y\nsel2:\n  f: ok\nother:\n  g: '2'\ncondition: 1 of sel*", [2, 3]),
        ("sel1:\n  a: x\nsel2:\n  g: '1'\nother:\n  f: ok\ncondition: all of sel*", [0]),
        # `_helper` cannot match together with sel1; `them` must leave it out.
        ("sel1:\n  a: x\n_helper:\n  a: y\ncondition: all of them", [0, 1, 2]),
        ("sel1:\n  f: ok\n_helper:\n  a: y\ncondition: 1 of them", [2]),
        ("sel1:\n  f: ok\n_helper:\n  a: y\ncondition: 1 of them or _helper", [2, 3]),
    ],
)
def test_x_of_patterns_and_them(rule: str, expected: list[int]) -> None:
    assert matches(rule, EVENTS) == expected


# -- null, empty, missing, exists (SIGMA.md §1.4) -----------------------------------------------

PRESENCE = pl.DataFrame({"e": ["", None, "v"]})


@pytest.mark.parametrize(
    ("line", "cond", "expected"),
    [
        ("e: null", "sel", [1]),
        ("e: ''", "sel", [0]),
        ("e|exists: true", "sel", [0, 2]),  # present column: not null
        ("e|exists: false", "sel", [1]),
        ("e: null", "not sel", [0, 2]),
        ("e: ''", "not sel", [1, 2]),
        ("missing: null", "sel", [0, 1, 2]),  # absent counts as null
        ("missing: ''", "sel", []),  # but is not an empty value
        ("missing|exists: true", "sel", []),
        ("missing|exists: false", "sel", [0, 1, 2]),
        ("missing: v", "not sel", [0, 1, 2]),
    ],
)
def test_null_empty_missing_and_exists(line: str, cond: str, expected: list[int]) -> None:
    assert matches(sel(line, cond), PRESENCE) == expected


# -- numbers ---------------------------------------------------------------------------------

INT_IDS = pl.DataFrame({"E": [4688, 1, None, 16]}, schema={"E": pl.Int64})
TEXT_IDS = pl.DataFrame(
    {"E": ["4688", "04688", "0x10", "16", "abc", None, "4688.0", "1e3", "nan", "NaN"]}
)
FLOAT_IDS = pl.DataFrame({"E": [4688.0, 1.5, None, 16.0, float("nan")]})


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("E: 4688", [0]),
        ("E: '4688'", [0]),  # numeric text against an Int column
        ("E: '0x10'", []),  # no hex coercion: 0x10 is not 16
        ("E: 'abc'", []),
        ("E: [4688, 16]", [0, 3]),
        ("E: [1.5, 4688]", [0]),
        ("E|gt: 100", [0]),
        ("E|gte: 16", [0, 3]),
        ("E|lt: 16", [1]),
        ("E|lte: 16", [1, 3]),
    ],
)
def test_numbers_on_an_int_column(line: str, expected: list[int]) -> None:
    assert matches(sel(line), INT_IDS) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("E: 4688", [0]),  # exact spelling: not 04688, not 4688.0
        ("E: 16", [3]),  # 0x10 is not 16
        ("E: '0x10'", [2]),
        ("E: [4688, 16]", [0, 3]),
        ("E|gt: 100", [0, 1, 6, 7]),  # numeric text compares as a number
        ("E|lt: 20", [3]),  # non-numeric text ('0x10', 'abc', 'nan') is never less
        ("E|gte: 4688", [0, 1, 6]),
        ("E|lte: 1000", [3, 7]),
    ],
)
def test_numbers_on_a_text_column(line: str, expected: list[int]) -> None:
    assert matches(sel(line), TEXT_IDS) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("E: 4688", [0]),
        ("E: 1.5", [1]),
        ("E: [4688, 16]", [0, 3]),  # an Int value list against a Float column
        ("E: ['4688', '1.5']", [0, 1]),
        ("E|gt: 100", [0]),  # NaN is not greater than anything
        ("E|lt: 2", [1]),
    ],
)
def test_numbers_on_a_float_column(line: str, expected: list[int]) -> None:
    assert matches(sel(line), FLOAT_IDS) == expected


# -- booleans ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "line", "expected"),
    [
        (pl.DataFrame({"B": [True, False, None]}), "B: true", [0]),
        (pl.DataFrame({"B": [True, False, None]}), "B: false", [1]),
        (pl.DataFrame({"B": ["true", "True", "false", "FALSE", "yes", None]}), "B: true", [0, 1]),
        (pl.DataFrame({"B": ["true", "True", "false", "FALSE", "yes", None]}), "B: false", [2, 3]),
        (pl.DataFrame({"B": ["true", "True", "false", "FALSE", "yes", None]}), "B: 'TRUE'", [0, 1]),
    ],
)
def test_booleans_on_boolean_and_text_columns(
    frame: pl.DataFrame, line: str, expected: list[int]
) -> None:
    assert matches(sel(line), frame) == expected


def test_not_boolean_keeps_null() -> None:
    frame = pl.DataFrame({"B": [True, False, None]})
    assert matches(sel("B: true", "not sel"), frame) == [1, 2]


# -- cidr --------------------------------------------------------------------------------------

IPV4 = [
    "10.0.0.1", "10.255.255.255", "10.0.0.256", "110.0.0.1", "9.255.255.255", "11.0.0.0",
    "10.0.0", "10.0.0.1.5", " 10.0.0.1", "192.168.1.1", "192.169.0.1", "0.0.0.0",
    "255.255.255.255", "fe80::1", "", "host.example",
]  # fmt: skip
V6_SEEDS = [
    "fe80::1", "fe80::abcd:1", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fec0::1",
    "fc00::", "fd12:3456:789a::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe00::1",
    "fb00::1", "::1", "::2", "::", "1::", "2001:db8::8a2e:370:7334", "1:2:3:4:5:6:7:8",
]  # fmt: skip
MALFORMED_V6 = [
    "fe80:::1", "fe80::1:", ":fe80::1", "fe80:0:0:0:0:0:0:", "fe80:0:0:0:0:0::0:1",
    "fe80::1:2:3:4:5:6:7", "fe80::1::2", "fe80::12345", "gggg::1", "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7", "fe80",
]  # fmt: skip


def ipv6_spellings() -> list[str]:
    """Each seed compressed, exploded, upper case and with a zone id."""
    out: list[str] = []
    for seed in V6_SEEDS:
        address = ipaddress.IPv6Address(seed)
        out += [address.compressed, address.exploded, address.compressed.upper(), f"{address}%eth0"]
    return out


ADDRESSES = IPV4 + ipv6_spellings() + MALFORMED_V6 + [None]


def in_network(text: str | None, network: str) -> bool:
    """Python's reading of `text in network`, zone ids ignored."""
    if text is None:
        return False
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    net = ipaddress.ip_network(network)
    return address.version == net.version and address in net


@pytest.mark.parametrize(
    "network",
    ["10.0.0.0/8", "192.168.0.0/16", "0.0.0.0/0", "fe80::/10", "fc00::/7", "::1/128", "::/0",
     "2001:db8::/32", "fe80::/64"],
)  # fmt: skip
def test_cidr_agrees_with_ipaddress(network: str) -> None:
    frame = pl.DataFrame({"ip": ADDRESSES})
    expected = [i for i, text in enumerate(ADDRESSES) if in_network(text, network)]
    assert expected, "the generated list must exercise the network"
    assert matches(sel(f"ip|cidr: '{network}'"), frame) == expected


def test_cidr_rejects_out_of_range_octets_and_longer_prefixes() -> None:
    frame = pl.DataFrame({"ip": ["10.0.0.256", "110.0.0.1", "10.1.2.3", "210.0.0.1"]})
    assert matches(sel("ip|cidr: 10.0.0.0/8"), frame) == [2]
    assert matches(sel("ip|cidr: 10.0.0.0/8", "not sel"), frame) == [0, 1, 3]


def test_cidr_list_is_any_network() -> None:
    frame = pl.DataFrame({"ip": ["10.1.1.1", "172.16.0.1", "fd00::1", "8.8.8.8"]})
    assert matches(sel("ip|cidr: ['10.0.0.0/8', 'fc00::/7']"), frame) == [0, 2]


# -- field references ---------------------------------------------------------------------------

PAIRS = pl.DataFrame(
    {
        "a": ["abc", "ABC", "xabcx", "ab", None, "abc"],
        "b": ["ABC", "b", "B", "ab", "x", None],
        "n": [1, 2, 3, 4, 5, 6],
        "m": [1, 0, 3, 0, 5, 6],
    }
)


@pytest.mark.parametrize(
    ("line", "cond", "expected"),
    [
        ("a|fieldref: b", "sel", [0, 3]),  # case-insensitive
        ("a|fieldref|contains: b", "sel", [0, 1, 2, 3]),
        ("a|fieldref|startswith: b", "sel", [0, 3]),
        ("a|fieldref|endswith: b", "sel", [0, 3]),
        ("n|fieldref: m", "sel", [0, 2, 4, 5]),  # numeric on both sides
        ("a|fieldref: missing", "sel", []),
        ("a|fieldref: missing", "not sel", [0, 1, 2, 3, 4, 5]),
        ("a|fieldref: b", "not sel", [1, 2, 4, 5]),  # a null side is "not equal"
    ],
)
def test_field_references(line: str, cond: str, expected: list[int]) -> None:
    assert matches(sel(line, cond), PAIRS) == expected


def test_field_reference_modes_read_the_other_column_not_its_name() -> None:
    frame = pl.DataFrame({"a": ["prefix-b", "b-suffix"], "b": ["prefix", "suffix"]})
    assert matches(sel("a|fieldref|startswith: b"), frame) == [0]
    assert matches(sel("a|fieldref|endswith: b"), frame) == [1]


# -- time parts ---------------------------------------------------------------------------------

MOMENTS = [
    dt.datetime(2024, 3, 5, 14, 30),
    dt.datetime(2023, 12, 31, 23, 59),
    dt.datetime(2024, 1, 1, 0, 0),
    None,
]
TIME_CASES = [
    ("t|hour: 14", [0]),
    ("t|minute: 59", [1]),
    ("t|day: 31", [1]),
    ("t|week: 10", [0]),
    ("t|week: 1", [2]),  # ISO week: 2024-01-01 is week 1
    ("t|month: 12", [1]),
    ("t|year: 2024", [0, 2]),
    ("t|hour|gt: 12", [0, 1]),
    ("t|year|lt: 2024", [1]),
    ("t|minute|gte: 30", [0, 1]),
    ("t|month|lte: 3", [0, 2]),
]


@pytest.mark.parametrize(("line", "expected"), TIME_CASES)
@pytest.mark.parametrize("time_zone", [None, "UTC"])
def test_time_parts_on_a_datetime_column(
    line: str, expected: list[int], time_zone: str | None
) -> None:
    frame = pl.DataFrame({"t": MOMENTS}, schema={"t": pl.Datetime("us", time_zone)})
    assert matches(sel(line), frame) == expected


@pytest.mark.parametrize(("line", "expected"), TIME_CASES)
def test_time_parts_on_iso_text(line: str, expected: list[int]) -> None:
    text = [m.strftime("%Y-%m-%dT%H:%M:%SZ") if m else None for m in MOMENTS]
    assert matches(sel(line), pl.DataFrame({"t": text})) == expected


def test_time_parts_on_text_read_offsets_as_utc_and_skip_garbage() -> None:
    frame = pl.DataFrame({"t": ["2024-03-05T16:30:00+02:00", "not a time", "2024-03-05T14:30:00Z"]})
    assert matches(sel("t|hour: 14"), frame) == [0, 2]


def test_time_parts_on_text_read_each_row_in_its_own_spelling() -> None:
    spellings = [
        "2024-03-05T14:30:00Z",
        "2024-03-05 14:30:00",
        "2024-03-05T14:30:00.1234567Z",
        "2024-03-05T16:30:00+02:00",
        "2024-03-05 15:30:00.5+0100",
        "2024-03-05T14:30:00",
    ]
    # A row's verdict is its own, whichever spelling comes first in the frame.
    for first in range(len(spellings)):
        frame = pl.DataFrame({"t": [*spellings[first:], *spellings[:first], "2024-03-06", "14:30"]})
        assert matches(sel("t|hour: 14"), frame) == list(range(len(spellings)))
        assert matches(sel("t|day: 6"), frame) == [len(spellings)]  # a date alone is its midnight


def test_time_parts_on_a_date_column() -> None:
    frame = pl.DataFrame({"t": [dt.date(2024, 3, 5), dt.date(2023, 12, 31)]})
    assert matches(sel("t|day: 31"), frame) == [1]
    assert matches(sel("t|year: 2024"), frame) == [0]
    # A date is its midnight, the same reading as date-only text.
    assert matches(sel("t|hour: 0"), frame) == [0, 1]
    assert matches(sel("t|minute|gt: 0"), frame) == []


# -- keywords -----------------------------------------------------------------------------------

RAW = pl.DataFrame(
    {
        "raw": [
            json.dumps({"cmd": "C:\\Windows\\System32\\cmd.exe /c whoami"}),
            json.dumps({"msg": "Mimikatz sekurlsa"}),
            "plain text with MIMIKATZ",
            json.dumps({"x": "a*b"}),
            None,
        ],
        "other": ["mimikatz", None, None, None, "whoami"],
    }
)


@pytest.mark.parametrize(
    ("keywords", "expected"),
    [
        ("- mimikatz", [1, 2]),  # raw only: `other` is not searched when raw exists
        ("- MIMIKATZ", [1, 2]),
        ("- mimikatz\n  - whoami", [0, 1, 2]),
        ("'|all':\n    - mimikatz\n    - sekurlsa", [1]),
        # The raw record is JSON: the backslash is stored escaped and still found.
        (r"- 'C:\Windows\System32'", [0]),
        (r"- 'C:\\Windows\\*\\cmd.exe'", [0]),
        (r"- 'a\*b'", [3]),
        ("- 'who?mi'", [0]),
        ("'|re': 'Mimi[a-z]+'", [1]),  # regex keywords stay case-sensitive
        ("'|re|i': 'mimi[a-z]+ SEKURLSA'", [1]),
    ],
)
def test_keywords_search_raw(keywords: str, expected: list[int]) -> None:
    assert matches(f"keywords:\n  {keywords}\ncondition: keywords", RAW) == expected


def test_keywords_without_raw_search_every_text_column() -> None:
    frame = pl.DataFrame(
        {"a": ["x Mimikatz", None, "y"], "b": [None, "MIMIKATZ!", "z"], "n": [1, 2, 3]}
    )
    assert matches("keywords:\n  - mimikatz\ncondition: keywords", frame) == [0, 1]
    assert matches("keywords:\n  - mimikatz\ncondition: not keywords", frame) == [2]
    all_of = "keywords:\n  '|all':\n    - 'x '\n    - mimikatz\ncondition: keywords"
    assert matches(all_of, frame) == [0]


def test_keywords_with_explicit_columns() -> None:
    options = BindOptions(keyword_columns=("other",))
    assert matches("keywords:\n  - whoami\ncondition: keywords", RAW, options) == [4]


# -- list columns ---------------------------------------------------------------------------------

GROUPS = pl.DataFrame(
    {
        "g": [["Admins", "users"], [], None, ["x"], ["ADMINS"], [None, "admins"]],
        "n": [[1, 2], [], None, [3], [4688], [None]],
    }
)


@pytest.mark.parametrize(
    ("line", "cond", "expected"),
    [
        ("g: admins", "sel", [0, 4, 5]),  # any member matches
        ("g: admins", "not sel", [1, 2, 3]),  # empty and null lists match nothing
        ("g|cased: Admins", "sel", [0]),
        ("g|contains: dmi", "sel", [0, 4, 5]),
        ("g: 'a*s'", "sel", [0, 4, 5]),
        ("g|startswith: us", "sel", [0]),
        ("g: [x, users]", "sel", [0, 3]),
        ("g|re: '^A'", "sel", [0, 4]),
        ("g: null", "sel", [2]),
        ("g|exists: true", "sel", [0, 1, 3, 4, 5]),
        ("n: 4688", "sel", [4]),
        ("n|gt: 2", "sel", [3, 4]),
    ],
)
def test_list_columns_match_any_member(line: str, cond: str, expected: list[int]) -> None:
    assert matches(sel(line, cond), GROUPS) == expected


def test_json_array_text_columns_match_like_lists() -> None:
    frame = pl.DataFrame({"g": ['["Admins","users"]', "[]", None, '["x"]', '["a\\\\b"]']})
    options = BindOptions(json_list_columns=frozenset({"g"}))
    assert matches(sel("g: admins"), frame, options) == [0]
    assert matches(sel("g: admins", "not sel"), frame, options) == [1, 2, 3, 4]
    assert matches(sel(r"g: 'a\b'"), frame, options) == [4]  # JSON escapes are decoded
    # Without the option the column is plain text: equality with a member fails.
    assert matches(sel("g: admins"), frame) == []


# -- dotted field names -------------------------------------------------------------------------


def test_dotted_names_prefer_a_flat_column_then_a_struct_path() -> None:
    frame = pl.DataFrame(
        {
            "a.b": ["flat", "x"],
            "a": [{"b": "struct", "c": {"d": "deep"}}, {"b": "flat", "c": {"d": "x"}}],
        }
    )
    assert matches(sel("a.b: flat"), frame) == [0]
    assert matches(sel("a.b: struct"), frame) == []  # the flat column wins
    assert matches(sel("a.c.d: deep"), frame) == [0]
    assert matches(sel("a.c.e: x"), frame) == []
    assert matches(sel("a.c.e|exists: false"), frame) == [0, 1]


RAW_JSON = pl.DataFrame(
    {
        "raw": [
            json.dumps({"a": {"b": "Hello", "weird key": "W", "it's": "Q"}, "n": 5}),
            json.dumps({"a": {"b": "other"}}),
            "not json",
            None,
        ]
    }
)
FALLBACK = BindOptions(json_fallback=True)


@pytest.mark.parametrize(
    ("line", "cond", "expected"),
    [
        ("a.b: hello", "sel", [0]),
        ("a.b: hello", "not sel", [1, 2, 3]),
        ("a.b|contains: ELL", "sel", [0]),
        ("a.weird key: w", "sel", [0]),  # bracket notation for the space
        ("a.it's: q", "sel", [0]),  # and for the quote
        ("a.b|exists: true", "sel", [0, 1]),
        ("a.b: null", "sel", [2, 3]),
        ("n: 5", "sel", [0]),
        ("n|gt: 4", "sel", [0]),
    ],
)
def test_dotted_names_fall_back_to_raw_json(line: str, cond: str, expected: list[int]) -> None:
    assert matches(sel(line, cond), RAW_JSON, FALLBACK) == expected


def test_without_json_fallback_an_absent_field_is_missing() -> None:
    assert matches(sel("a.b: hello"), RAW_JSON) == []
    assert matches(sel("a.b: null"), RAW_JSON) == [0, 1, 2, 3]


# -- Unicode -------------------------------------------------------------------------------------

UNICODE_TEXT = ["ÄBC", "äbc", "ΣΟΦΊΑ", "σοφία", "Ünïcödé x", "STRASSE", "straße"]
UNICODE = pl.DataFrame({"a": [*UNICODE_TEXT, "İstanbul", "istanbul"]})


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a: äbc", [0, 1]),
        ("a: ÄBC", [0, 1]),
        ("a: 'σοφία'", [2, 3]),
        ("a|contains: 'ÏCÖ'", [4]),
        ("a: 'ü*x'", [4]),
        ("a|cased: äbc", [1]),
        ("a|re|i: '^äbc$'", [0, 1]),
        ("a: straße", [6]),  # no full case folding: ß is not ss
    ],
)
def test_non_ascii_values_fold_case(line: str, expected: list[int]) -> None:
    assert matches(sel(line), UNICODE) == expected


def test_dotted_capital_i_does_not_fold_to_i() -> None:
    """Known limitation (SIGMA.md §1.3): 'İ' lowercases to 'i' + U+0307, never to plain 'i'."""
    assert matches(sel("a: istanbul"), UNICODE) == [8]
    assert matches(sel("a: İstanbul"), UNICODE) == [7]


# -- partition routing -----------------------------------------------------------------------------


def test_source_leaves_fold_to_constants_for_a_known_partition() -> None:
    node = condition("sel:\n  source: okta.system\n  x: 1\ncondition: sel")
    frame = pl.DataFrame({"x": [1, 2]})  # the partition column itself is not in the data
    okta = BindOptions(source="okta.system")
    other = BindOptions(source="aws.cloudtrail")
    assert "source" not in bind(node, frame.schema, okta).meta.root_names()
    assert matches("sel:\n  source: okta.system\n  x: 1\ncondition: sel", frame, okta) == [0]
    assert render(node, frame.schema, other) == "pl.lit(False)"
    negated = "sel:\n  source: okta.system\n  x: 1\ncondition: not sel"
    assert matches(negated, frame, other) == [0, 1]


def test_routed_rule_drops_other_sources() -> None:
    text = RULE_TEMPLATE.replace("category: test", "product: windows\n  category: process_creation")
    detection = "  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel"
    ruleset = compile_collection(SigmaCollection.from_yaml(text.format(detection=detection)))
    rule = ruleset.rules[0]
    frame = pl.DataFrame(
        {
            "Channel": ["Microsoft-Windows-Sysmon/Operational", "Security", "Security"],
            "EventID": [1, 4688, 4624],
            "Image": ["C:\\Windows\\System32\\CMD.EXE", None, None],
            "NewProcessName": [None, "C:\\Windows\\cmd.exe", "C:\\Windows\\cmd.exe"],
        }
    )
    windows = bind(rule.routed(), frame.schema, BindOptions(source="windows.eventlog"))
    assert "source" not in windows.meta.root_names()
    assert frame.with_row_index("_row").filter(windows)["_row"].to_list() == [0, 1]
    cloudtrail = bind(rule.routed(), frame.schema, BindOptions(source="aws.cloudtrail"))
    assert frame.filter(cloudtrail).height == 0


def test_routes_whose_field_names_agree_share_one_copy_of_the_condition() -> None:
    """Sysmon's and the Security log's process creations name `CommandLine` alike: the routed
    rule tests it once, each route's Channel and EventID still paired (a Sysmon event with the
    Security log's EventID matches neither); a rule on `Image` (`NewProcessName` in Security)
    keeps one copy per route."""
    text = RULE_TEMPLATE.replace("category: test", "product: windows\n  category: process_creation")
    shared = compile_collection(SigmaCollection.from_yaml(text.format(
        detection="  sel:\n    CommandLine|contains: 'whoami'\n  condition: sel"))).rules[0]
    renamed = compile_collection(SigmaCollection.from_yaml(text.format(
        detection="  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel"))).rules[0]

    def leaves(node: ir.Node, field: str) -> int:
        return sum(isinstance(n, ir.Leaf) and n.field == field for n in ir.walk(node))

    assert leaves(shared.routed("windows.eventlog"), "CommandLine") == 1
    assert leaves(renamed.routed("windows.eventlog"), "Image") == 1
    assert leaves(renamed.routed("windows.eventlog"), "NewProcessName") == 1
    sysmon, security = "Microsoft-Windows-Sysmon/Operational", "Security"
    frame = pl.DataFrame({
        "source": ["windows.eventlog"] * 5,
        "Channel": [sysmon, security, sysmon, security, security],
        "EventID": [1, 4688, 4688, 1, 4688],
        "CommandLine": ["whoami /all"] * 4 + ["ipconfig"],
    })
    options = BindOptions(source="windows.eventlog")
    expression = bind(shared.routed("windows.eventlog"), frame.schema, options)
    assert frame.with_row_index("_row").filter(expression)["_row"].to_list() == [0, 1]
