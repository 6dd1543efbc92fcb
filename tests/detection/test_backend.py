"""The pySigma backend: golden IR per condition type, rejections, output formats, render == bind.

Golden tests pin what each Sigma construct becomes in the data-independent IR (SIGMA.md §3.1);
rejection tests pin that rules the engine cannot honour fail loudly with a reason code
(§1.7, §3.3, §4.1 pitfall 12); the render tests hold the printed source to the bound
expression for every golden rule and several partition schemas (§4.2 point 2).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import polars as pl
import pytest
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations.placeholder import QueryExpressionPlaceholderTransformation

from auditlake.detection import ir
from auditlake.detection.backend import PolarsBackend, RuleRejected
from auditlake.detection.compile import compile_collection
from auditlake.detection.ir import FALSE, TRUE, And, Keyword, Leaf, Node, Not, Or
from auditlake.detection.lower import BindOptions, bind, render
from auditlake.detection.pipeline import auditlake_pipeline
from auditlake.detection.rendering import AllStrings

RULE_ID = "5e0f5a1e-0000-4000-8000-00000000b001"


def rule_yaml(detection: str, logsource: str = "category: test", rule_id: str = RULE_ID) -> str:
    body = textwrap.indent(textwrap.dedent(detection).strip(), "  ")
    return (
        f"title: backend probe\nid: {rule_id}\nstatus: test\nlogsource:\n  {logsource}\n"
        f"detection:\n{body}\n"
    )


def collection(detection: str, logsource: str = "category: test") -> SigmaCollection:
    return SigmaCollection.from_yaml(rule_yaml(detection, logsource))


def convert_ir(detection: str) -> list[Node]:
    queries = PolarsBackend().convert(collection(detection), "ir")
    assert all(isinstance(q, ir.NODE_TYPES) for q in queries)
    return queries


def sel(line: str) -> str:
    return f"sel:\n  {line}\ncondition: sel"


# -- golden IR ----------------------------------------------------------------------------------

GOLDEN: list[tuple[str, str, Node]] = [
    # strings: operands are lowercased unless cased, and built from pySigma's parts
    ("eq", sel(r"Image: 'C:\Windows\System32\CMD.exe'"),
     Leaf("Image", "eq", ("c:\\windows\\system32\\cmd.exe",))),
    ("contains", sel("CommandLine|contains: WhoAmI"), Leaf("CommandLine", "contains", ("whoami",))),
    ("startswith", sel(r"Image|startswith: 'C:\Temp\'"), Leaf("Image", "startswith", ("c:\\temp\\",))),
    ("endswith", sel(r"Image|endswith: '\CMD.EXE'"), Leaf("Image", "endswith", ("\\cmd.exe",))),
    ("trailing-backslash", sel(r"a|endswith: 'C:\Windows\'"), Leaf("a", "endswith", ("c:\\windows\\",))),
    ("wildcards", sel(r"Image: 'C:\\Users\\*\\App?ata\\*.EXE'"),
     Leaf("Image", "match", ("c:\\\\users\\\\.*\\\\app.ata\\\\.*\\.exe",))),
    ("escaped-star", sel(r"a: 'a\*b'"), Leaf("a", "eq", ("a*b",))),
    ("escaped-question", sel(r"a: 'a\?b'"), Leaf("a", "eq", ("a?b",))),
    ("backslash-then-wildcard", sel(r"a: 'a\\*b'"), Leaf("a", "match", ("a\\\\.*b",))),
    ("metacharacters", sel("a: 'x.(Y)[z]*'"), Leaf("a", "startswith", ("x.(y)[z]",))),
    ("metacharacters-regex", sel("a: 'x.(y)*[z]+$'"), Leaf("a", "match", ("x\\.\\(y\\).*\\[z\\]\\+\\$",))),
    ("empty", sel("a: ''"), Leaf("a", "eq", ("",))),
    ("star-only", sel("a: '*'"), Leaf("a", "contains", ("",))),
    ("cased", sel("User|cased: Admin"), Leaf("User", "eq", ("Admin",), cased=True)),
    ("cased-wildcard", sel("User|cased: 'Adm*N'"), Leaf("User", "match", ("Adm.*N",), cased=True)),
    ("dotted", sel("a.b.c: X"), Leaf("a.b.c", "eq", ("x",))),
    # value lists: one leaf per field and op, duplicates after lowercasing dropped
    ("list-merged", sel("CommandLine|contains: [Whoami, IPCONFIG, whoami]"),
     Leaf("CommandLine", "contains", ("whoami", "ipconfig"))),
    ("list-mixed", sel("a: [x, 'Y*', 'z?z', W]"),
     Or((Leaf("a", "eq", ("x", "w")), Leaf("a", "startswith", ("y",)), Leaf("a", "match", ("z.z",))))),
    ("all", sel("CommandLine|contains|all: [a, b]"),
     And((Leaf("CommandLine", "contains", ("a",)), Leaf("CommandLine", "contains", ("b",))))),
    ("or-of-selections-merged", "sel1:\n  a: x\nsel2:\n  a: 'Y'\ncondition: sel1 or sel2",
     Leaf("a", "eq", ("x", "y"))),
    ("cased-not-merged", "sel1:\n  a: x\nsel2:\n  a|cased: 'Y'\ncondition: sel1 or sel2",
     Or((Leaf("a", "eq", ("x",)), Leaf("a", "eq", ("Y",), cased=True)))),
    ("list-of-maps", "sel:\n  - a: x\n  - b: y\ncondition: sel",
     Or((Leaf("a", "eq", ("x",)), Leaf("b", "eq", ("y",))))),
    ("map-is-and", "sel:\n  a: x\n  b: y\ncondition: sel",
     And((Leaf("a", "eq", ("x",)), Leaf("b", "eq", ("y",))))),
    ("windash", sel("CommandLine|windash|contains: ' -enc '"),
     Leaf("CommandLine", "contains", (" -enc ", " /enc ", " \u2013enc ", " \u2014enc ", " \u2015enc "))),
    ("base64offset", sel("CommandLine|base64offset|contains: 'http'"),
     Leaf("CommandLine", "contains", ("ahr0c", "h0dh", "odhrw"))),
    # other value types
    ("num", sel("EventID: 4688"), Leaf("EventID", "num", (4688,))),
    ("num-list", sel("EventID: [4688, 4624]"), Leaf("EventID", "num", (4688, 4624))),
    ("num-as-text", sel("EventID: '4688'"), Leaf("EventID", "eq", ("4688",))),
    ("float", sel("Score: 1.5"), Leaf("Score", "num", (1.5,))),
    ("bool", sel("Enabled: true"), Leaf("Enabled", "bool", (True,))),
    ("bool-false", sel("Enabled: false"), Leaf("Enabled", "bool", (False,))),
    ("null", sel("Parent: null"), Leaf("Parent", "null", ())),
    ("exists", sel("Parent|exists: true"), Leaf("Parent", "exists", (True,))),
    # pySigma negates the exists test (the backend sets no explicit_not_exists_expression).
    ("not-exists", sel("Parent|exists: false"), Not(Leaf("Parent", "exists", (True,)))),
    ("regex", sel(r"CommandLine|re: '\s-e(nc)?\s'"), Leaf("CommandLine", "regex", ("\\s-e(nc)?\\s",))),
    ("regex-flags", sel("a|re|s|i|m: 'x.y'"), Leaf("a", "regex", ("(?ims)x.y",))),
    ("regex-class-with-plus", sel("a|re: '[*+]+x'"), Leaf("a", "regex", ("[*+]+x",))),
    ("cidr", sel("SourceIp|cidr: 10.0.0.0/8"), Leaf("SourceIp", "cidr", ("10.0.0.0/8",))),
    ("cidr-list", sel("SourceIp|cidr: ['10.0.0.0/8', 'fe80::/10']"),
     Leaf("SourceIp", "cidr", ("10.0.0.0/8", "fe80::/10"))),
    ("gt", sel("Size|gt: 5"), Leaf("Size", "cmp", (("gt", 5),))),
    ("gte", sel("Size|gte: 1.5"), Leaf("Size", "cmp", (("gte", 1.5),))),
    ("lt", sel("Size|lt: 5"), Leaf("Size", "cmp", (("lt", 5),))),
    ("lte", sel("Size|lte: 5"), Leaf("Size", "cmp", (("lte", 5),))),
    ("hour", sel("Time|hour: 3"), Leaf("Time", "tspart", (("hour", "eq", 3),))),
    ("week-gt", sel("Time|week|gt: 50"), Leaf("Time", "tspart", (("week", "gt", 50),))),
    ("year-lte", sel("Time|year|lte: 2020"), Leaf("Time", "tspart", (("year", "lte", 2020),))),
    ("fieldref", sel("a|fieldref: b"), Leaf("a", "fieldref", (("b", "eq"),))),
    ("fieldref-contains", sel("a|fieldref|contains: b"), Leaf("a", "fieldref", (("b", "contains"),))),
    ("fieldref-startswith", sel("a|fieldref|startswith: b"), Leaf("a", "fieldref", (("b", "startswith"),))),
    ("fieldref-endswith", sel("a|fieldref|endswith: b"), Leaf("a", "fieldref", (("b", "endswith"),))),
    # negation
    ("neq", sel("a|neq: x"), Not(Leaf("a", "eq", ("x",)))),
    ("neq-list", sel("a|neq: [x, y]"), Not(Leaf("a", "eq", ("x", "y")))),
    ("not", "sel:\n  a: x\ncondition: not sel", Not(Leaf("a", "eq", ("x",)))),
    ("double-not", "sel:\n  a: x\ncondition: not not sel", Leaf("a", "eq", ("x",))),
    ("nested-not", "sel:\n  a: x\nf1:\n  b: y\nf2:\n  c: z\ncondition: not (sel and not f1) or f2",
     Or((Not(And((Leaf("a", "eq", ("x",)), Not(Leaf("b", "eq", ("y",)))))), Leaf("c", "eq", ("z",))))),
    ("one-of", "sel1:\n  a: x\nsel2:\n  b: y\nother:\n  c: z\ncondition: 1 of sel*",
     Or((Leaf("a", "eq", ("x",)), Leaf("b", "eq", ("y",))))),
    ("all-of-them", "sel:\n  a: x\n_hidden:\n  b: y\ncondition: all of them", Leaf("a", "eq", ("x",))),
    # keywords
    ("keywords", "keywords:\n  - Mimikatz\n  - 'sekur*lsa'\n  - 'lsadump*'\ncondition: keywords",
     Or((Keyword("contains", ("mimikatz", "lsadump")), Keyword("match", ("sekur.*lsa",))))),
    ("keywords-all", "keywords:\n  '|all':\n    - a\n    - B\ncondition: keywords",
     And((Keyword("contains", ("a",)), Keyword("contains", ("b",))))),
    ("keyword-regex", "keywords:\n  '|re': 'Mimi[a-z]+'\ncondition: keywords",
     Keyword("regex", ("Mimi[a-z]+",))),
    ("keyword-number", "keywords:\n  - 4688\ncondition: keywords", Keyword("num", (4688,))),
]  # fmt: skip


@pytest.mark.parametrize(("name", "detection", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_ir(name: str, detection: str, expected: Node) -> None:
    assert convert_ir(detection) == [expected]


def test_a_condition_list_converts_to_one_query_per_condition() -> None:
    detection = "sel1:\n  a: x\nsel2:\n  b: y\ncondition:\n  - sel1\n  - sel2"
    assert convert_ir(detection) == [Leaf("a", "eq", ("x",)), Leaf("b", "eq", ("y",))]
    # The compiled rule keeps them as one condition: their OR.
    compiled = compile_collection(collection(detection)).rules[0]
    assert compiled.condition == Or((Leaf("a", "eq", ("x",)), Leaf("b", "eq", ("y",))))


# -- constant folding ---------------------------------------------------------------------------

A = Leaf("a", "eq", ("x",))
B = Leaf("b", "eq", ("y",))
C = Leaf("c", "contains", ("z",))


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (ir.all_of([TRUE, A]), A),
        (ir.all_of([A, FALSE, B]), FALSE),
        (ir.all_of([]), TRUE),
        (ir.all_of([TRUE, TRUE]), TRUE),
        (ir.all_of([And((A, B)), C]), And((A, B, C))),
        (ir.any_of([FALSE, A]), A),
        (ir.any_of([A, TRUE]), TRUE),
        (ir.any_of([]), FALSE),
        (ir.any_of([Or((A, B)), C]), Or((A, B, C))),
        (ir.any_of([A, Leaf("a", "eq", ("w", "x"))]), Leaf("a", "eq", ("x", "w"))),
        (ir.any_of([A, Leaf("a", "contains", ("x",))]), Or((A, Leaf("a", "contains", ("x",))))),
        (ir.any_of([Leaf("a", "regex", ("x",)), Leaf("a", "regex", ("y",))]),
         Or((Leaf("a", "regex", ("x",)), Leaf("a", "regex", ("y",))))),
        (ir.negate(TRUE), FALSE),
        (ir.negate(ir.negate(A)), A),
        (ir.transform(And((A, B)), lambda leaf: TRUE if leaf.field == "a" else leaf), B),
        (ir.transform(Or((A, B)), lambda leaf: TRUE if leaf.field == "a" else leaf), TRUE),
        (ir.transform(Not(A), lambda leaf: FALSE), TRUE),
    ],
)  # fmt: skip
def test_constant_folding_and_merging(built: Node, expected: Node) -> None:
    assert built == expected


def test_routing_to_an_unrelated_source_folds_to_false() -> None:
    compiled = compile_collection(
        collection(
            sel(r"Image|endswith: '\cmd.exe'"), "product: windows\n  category: process_creation"
        )
    ).rules[0]
    assert compiled.routed("aws.cloudtrail") == FALSE
    assert compiled.routed("windows.eventlog") != FALSE


# -- rejections ---------------------------------------------------------------------------------

UNSUPPORTED_REGEXES = [
    ("foo(?=bar)", "lookaround"),
    ("foo(?!bar)", "lookaround"),
    ("(?<=a)b", "lookaround"),
    ("(?<!a)b", "lookaround"),
    (r"(a)\1", "backreference"),
    ("a++", "possessive quantifier"),
    ("a*+b", "possessive quantifier"),
    ("a{2}+", "possessive quantifier"),
    ("(?>ab)", "atomic group"),
    (r"end\Z", "Polars' regex engine"),  # valid for Python's re, not for Rust's
]


def rejection(detection: str, pipeline: ProcessingPipeline | None = None) -> RuleRejected:
    with pytest.raises(RuleRejected) as caught:
        PolarsBackend(pipeline).convert(collection(detection), "ir")
    assert isinstance(caught.value, SigmaFeatureNotSupportedByBackendError)
    return caught.value


@pytest.mark.parametrize(("pattern", "construct"), UNSUPPORTED_REGEXES)
def test_regexes_polars_cannot_run_are_rejected(pattern: str, construct: str) -> None:
    error = rejection(sel(f"CommandLine|re: '{pattern}'"))
    assert error.reason == "regex"
    assert "'CommandLine'" in str(error)
    assert construct in str(error)


@pytest.mark.parametrize("pattern", ["a\\+\\+", "[a++]", "[(?=x)]", r"\(?=x", "x{2}"])
def test_lookalikes_of_unsupported_constructs_are_accepted(pattern: str) -> None:
    assert convert_ir(sel(f"a|re: '{pattern}'")) == [Leaf("a", "regex", (pattern,))]


def test_keyword_regex_is_rejected_as_keyword() -> None:
    error = rejection("keywords:\n  '|re': 'a(?=b)'\ncondition: keywords")
    assert error.reason == "regex"
    assert str(error).startswith("keyword: ")


def test_unresolved_placeholder_is_rejected() -> None:
    error = rejection(sel("User|expand: '%Admins%'"))
    assert error.reason == "placeholder"
    assert "'User'" in str(error)
    assert "%Admins%" in str(error)


def test_unresolved_keyword_placeholder_is_rejected() -> None:
    error = rejection("keywords:\n  '|expand': 'x%Servers%'\ncondition: keywords")
    assert error.reason == "placeholder"
    assert "%Servers%" in str(error)


QUERY_EXPRESSIONS = ProcessingPipeline(
    items=[ProcessingItem(QueryExpressionPlaceholderTransformation(expression="{field} in {id}"))]
)


def test_query_expression_is_rejected() -> None:
    error = rejection(sel("User|expand: '%Admins%'"), QUERY_EXPRESSIONS)
    assert error.reason == "query-expression"
    assert "'User'" in str(error)
    assert "query expression" in str(error)


def test_keyword_query_expression_is_rejected() -> None:
    error = rejection("keywords:\n  '|expand': '%Admins%'\ncondition: keywords", QUERY_EXPRESSIONS)
    assert error.reason == "query-expression"
    assert "keyword query expression" in str(error)


def test_collected_errors_keep_the_reason() -> None:
    backend = PolarsBackend(QUERY_EXPRESSIONS, collect_errors=True)
    assert backend.convert(collection(sel("User|expand: '%Admins%'")), "ir") == []
    [(_rule, error)] = backend.errors
    assert getattr(error, "reason", None) == "query-expression"


@pytest.mark.parametrize(
    ("detection", "reason", "fragment"),
    [
        (sel("User|expand: '%Admins%'"), "placeholder", "%Admins%"),
        (sel("CommandLine|re: 'a(?=b)'"), "regex", "lookaround"),
        (sel(r"CommandLine|re: '(x)\1'"), "regex", "backreference"),
    ],
)
def test_compile_collection_reports_failures_not_rules(
    detection: str, reason: str, fragment: str
) -> None:
    good = rule_yaml(sel("a: x"), rule_id="5e0f5a1e-0000-4000-8000-00000000b002")
    ruleset = compile_collection(SigmaCollection.from_yaml(rule_yaml(detection) + "---\n" + good))
    assert [r.id for r in ruleset.rules] == ["5e0f5a1e-0000-4000-8000-00000000b002"]
    [failure] = ruleset.failures
    assert (failure.rule_id, failure.reason) == (RULE_ID, reason)
    assert fragment in failure.message
    assert RULE_ID not in ruleset.by_id


def test_configured_placeholder_values_compile_and_match() -> None:
    rule = sel("User|expand: '%Admins%'")
    frame = pl.DataFrame({"User": ["Alice", "carol", "bob", None]})
    [node] = PolarsBackend(auditlake_pipeline({"Admins": ["alice", "bob"]})).convert(
        collection(rule), "ir"
    )
    assert node == Leaf("User", "eq", ("alice", "bob"))
    assert frame.filter(bind(node, frame.schema))["User"].to_list() == ["Alice", "bob"]
    compiled = compile_collection(collection(rule), placeholders={"Admins": ["alice"]})
    assert not compiled.failures
    assert frame.filter(bind(compiled.rules[0].condition, frame.schema))["User"].to_list() == [
        "Alice"
    ]


# -- output formats -----------------------------------------------------------------------------

FORMAT_RULE = sel(r"Image|endswith: '\CMD.exe'")


def test_default_format_is_one_python_expression_per_rule() -> None:
    output = PolarsBackend().convert(collection(FORMAT_RULE))
    assert isinstance(output, list)
    assert all(isinstance(text, str) for text in output)
    [text] = output
    expected = bind(Leaf("Image", "endswith", ("\\cmd.exe",)), AllStrings())
    assert eval(text, {"pl": pl}).meta.eq(expected)


def test_default_format_under_the_auditlake_pipeline_is_routed() -> None:
    windows = collection(FORMAT_RULE, "product: windows\n  category: process_creation")
    [text] = PolarsBackend(auditlake_pipeline()).convert(windows)
    assert '"windows.eventlog"' in text
    assert '"NewProcessName"' in text  # the Security 4688 alternative renames Image
    assert isinstance(eval(text, {"pl": pl}), pl.Expr)


def test_module_format_is_an_executable_module_of_rules() -> None:
    second = rule_yaml(
        "keywords:\n  - mimikatz\ncondition: keywords",
        rule_id="5e0f5a1e-0000-4000-8000-00000000b003",
    )
    both = SigmaCollection.from_yaml(rule_yaml(FORMAT_RULE) + "---\n" + second)
    module = PolarsBackend().convert(both, "module")
    assert isinstance(module, str)
    namespace: dict[str, object] = {}
    exec(compile(module, "<rules>", "exec"), namespace)
    rules = namespace["RULES"]
    assert isinstance(rules, dict)
    assert sorted(rules) == [RULE_ID, "5e0f5a1e-0000-4000-8000-00000000b003"]
    assert all(isinstance(expr, pl.Expr) for expr in rules.values())
    assert rules[RULE_ID].meta.eq(bind(Leaf("Image", "endswith", ("\\cmd.exe",)), AllStrings()))
    assert namespace["CORRELATIONS"] == {}


CONDITION_LIST = "sel1:\n  a: x\nsel2:\n  b: y\ncondition:\n  - sel1\n  - sel2"


def test_a_condition_list_is_one_expression_in_the_default_format() -> None:
    [text] = PolarsBackend().convert(collection(CONDITION_LIST))
    expected = bind(Or((Leaf("a", "eq", ("x",)), Leaf("b", "eq", ("y",)))), AllStrings())
    assert eval(text, {"pl": pl}).meta.eq(expected)


def test_a_condition_list_is_one_rule_in_the_module_format() -> None:
    module = PolarsBackend().convert(collection(CONDITION_LIST), "module")
    assert module.count(f'"{RULE_ID}"') == 1  # a dict literal keeps the last of repeated keys
    namespace: dict[str, object] = {}
    exec(compile(module, "<rules>", "exec"), namespace)
    rules = namespace["RULES"]
    assert isinstance(rules, dict)
    frame = pl.DataFrame({"a": ["X", None, "z"], "b": [None, "Y", "z"]})
    assert frame.select(rules[RULE_ID]).to_series().to_list() == [True, True, False]


def test_ir_format_returns_nodes() -> None:
    assert PolarsBackend().convert(collection(FORMAT_RULE), "ir") == [
        Leaf("Image", "endswith", ("\\cmd.exe",))
    ]


# -- render == bind -----------------------------------------------------------------------------

TYPED = {
    "EventID": pl.Int64(),
    "Size": pl.Int64(),
    "Score": pl.Float64(),
    "Enabled": pl.Boolean(),
    "Time": pl.Datetime("us", "UTC"),
    "SourceIp": pl.String(),
}


def nested(path: list[str]) -> pl.DataType:
    """A struct holding `path` down to a String leaf."""
    return pl.String() if not path else pl.Struct({path[0]: nested(path[1:])})


def schemas(node: Node) -> dict[str, tuple[Mapping[str, pl.DataType], BindOptions]]:
    """Partition shapes one rule meets: all text, typed, lists, structs, nothing, raw JSON."""
    names = sorted(ir.fields(node))
    structs: dict[str, pl.DataType] = {}
    for name in names:
        head, *rest = name.split(".")
        structs[head] = nested(rest or ["inner"])
    return {
        "strings": ({**dict.fromkeys(names, pl.String()), "raw": pl.String()}, BindOptions()),
        "typed": ({**dict.fromkeys(names, pl.String()), **TYPED}, BindOptions()),
        "lists": (dict.fromkeys(names, pl.List(pl.String())), BindOptions()),
        "structs": (structs, BindOptions()),
        "missing": ({}, BindOptions()),
        "raw-json": ({"raw": pl.String()}, BindOptions(json_fallback=True)),
        "json-lists": (
            {**dict.fromkeys(names, pl.String()), "raw": pl.String()},
            BindOptions(json_list_columns=frozenset(names), keyword_columns=("raw", *names)),
        ),
        "routed": (
            {**dict.fromkeys(names, pl.String()), "source": pl.String()},
            BindOptions(source="windows.eventlog"),
        ),
    }


@pytest.mark.parametrize(("name", "detection", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_rendered_source_is_the_bound_expression(name: str, detection: str, expected: Node) -> None:
    for shape, (schema, options) in schemas(expected).items():
        source = render(expected, schema, options)
        assert eval(source, {"pl": pl}).meta.eq(bind(expected, schema, options)), (shape, source)


def test_rendered_negations_keep_their_grouping() -> None:
    # `~x.fill_null(False)` parses as `~(x.fill_null(False))`: an inverted operand that is
    # then called on must be parenthesised, or the text is a different expression.
    node = Not(And((A, Not(B))))
    schema = {"a": pl.String(), "b": pl.String()}
    assert eval(render(node, schema), {"pl": pl}).meta.eq(bind(node, schema))
    assert eval(render(Not(A), schema), {"pl": pl}).meta.eq(bind(Not(A), schema))
