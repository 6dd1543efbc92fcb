"""A rule file's documents: the rule under test is the last one, and keys keep their lines."""

from __future__ import annotations

import pytest

from auditlake.rulepack.documents import RuleFileError, parse_documents, target_of

CORRELATION_FILE = """\
title: Failed sign-in
id: 0E6B3F0A-6F55-4E0A-9A43-3F6C3C1F0A01
name: failed
detection:
  selection:
    eventType: user.session.start
  condition: selection
---
title: Spray
id: 0e6b3f0a-6f55-4e0a-9a43-3f6c3c1f0a02
correlation:
  type: event_count
"""


def test_the_last_document_is_under_test() -> None:
    docs = parse_documents(CORRELATION_FILE, "okta_spray.yml")
    target = target_of(docs)
    assert (target.kind, target.title, target.id) == (
        "correlation",
        "Spray",
        "0e6b3f0a-6f55-4e0a-9a43-3f6c3c1f0a02",
    )
    assert docs.starts == (1, 9)
    assert (docs.line_of(0, "name"), docs.line_of(1, "correlation"), docs.line_of(1, "level")) == (
        3,
        11,
        9,
    )
    assert docs.line_containing("eventType") == 6
    assert docs.line_containing("eventType", 1) is None


def test_ids_are_read_as_pysigma_prints_them() -> None:
    docs = parse_documents(CORRELATION_FILE.split("---", maxsplit=1)[0], "x.yml")
    assert target_of(docs).id == "0e6b3f0a-6f55-4e0a-9a43-3f6c3c1f0a01"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: [unclosed\n", "not valid YAML"),
        ("", "holds no rule"),
        ("- a\n- b\n", "not a mapping"),
        ("title: only metadata\n", "neither a detection nor a correlation"),
    ],
)
def test_files_that_are_not_rules(text: str, message: str) -> None:
    with pytest.raises(RuleFileError, match=message):
        target_of(parse_documents(text, "x.yml"))
    with pytest.raises(RuleFileError) as raised:
        target_of(parse_documents(text, "x.yml"))
    assert raised.value.hint  # every such error says how to fix it


def test_a_file_that_is_not_text_says_how_to_fix_it(tmp_path) -> None:
    from auditlake.rulepack.documents import read_documents

    path = tmp_path / "aws_x.yml"
    path.write_bytes(b"\xff\xfe title: x\n")
    with pytest.raises(RuleFileError, match="cannot read the rule file") as raised:
        read_documents(path)
    assert "UTF-8" in str(raised.value.hint)
    with pytest.raises(RuleFileError, match="No such file") as missing:
        read_documents(tmp_path / "gone.yml")
    assert missing.value.hint
