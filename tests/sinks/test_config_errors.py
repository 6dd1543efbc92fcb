"""Values that could never work are refused when `auditlake.toml` is read, with the key and the
fix, and the commands exit 1 (bad configuration) instead of failing every delivery."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from auditlake.cli import main
from auditlake.sinks.config import ConfigError, load_config

WEBHOOK = '[[sinks]]\ntype = "webhook"\nsecret = "s"\n'


@pytest.mark.parametrize(
    ("setting", "message", "hint"),
    [
        ('url = "http://exa mple.com/x"', "contains a space", "%20"),
        ('url = "http://example.com/a\\tb"', "contains the character '\\t'", "percent-encoded"),
        ('url = "http://example.com/\\u0000"', "contains the character '\\x00'", "percent-encoded"),
        ('url = "http://127.0.0.1:99999/x"', "has port '99999', not a port from 1 to 65535", "leave the port out"),
        ('url = "http://127.0.0.1:0/x"', "has port '0'", "leave the port out"),
        ('url = "http://example.com:http/x"', "has port 'http'", "leave the port out"),
        ('url = "http:///x"', "is not an http(s) URL with a host", "https://host"),
        ('url = "https://user:hunter2@example.com/x"', "holds a user name or password", "signature"),
        ('url = "https://example.com/alertes/reçues"', "other than ASCII after its host", "percent-encode"),
        ('url = "https://x.example"\ntimeout_s = nan', "`timeout_s` must be a number >= 0.001, not nan",
         "timeout_s = 10"),
        ('url = "https://x.example"\ntimeout_s = inf', "`timeout_s` must be a number", "timeout_s = 10"),
        ('url = "https://x.example"\nbackoff_s = nan', "`backoff_s` must be a number >= 0, not nan", "backoff_s = 0.5"),
        ('url = "https://x.example"\nbackoff_max_s = inf', "`backoff_max_s` must be a number", "backoff_max_s"),
    ],
)
def test_a_webhook_that_could_never_deliver_is_refused(tmp_path: Path, setting: str, message: str, hint: str) -> None:
    path = tmp_path / "auditlake.toml"
    path.write_text(WEBHOOK + setting + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in caught.value.message
    assert hint in (caught.value.hint or "")
    assert "hunter2" not in str(caught.value)  # a password in a URL is not echoed into logs


@pytest.mark.parametrize(
    "url",
    ["https://soc.example.com/hooks/auditlake", "http://127.0.0.1:8080/x", "http://[::1]:8443/x?a=b%20c",
     "https://bücher.example/x", "http://localhost:65535/"],
)
def test_usable_urls_pass(tmp_path: Path, url: str) -> None:
    path = tmp_path / "auditlake.toml"
    path.write_text(WEBHOOK + f'url = "{url}"\n')
    assert [s.url for s in load_config(path)] == [url]  # type: ignore[union-attr]


def test_a_file_that_is_not_toml_names_itself_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[sinks]\ntype = "jsonl"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path} is not valid TOML: Expected ']]' at the end of an array "
                                        "declaration (at line 1, column 8)")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('[[sinks]\ntype = "jsonl"\n', "c.toml is not valid TOML: Expected ']]'"),
        (WEBHOOK + 'url = "http://exa mple.com/x"\n', "url 'http://exa mple.com/x' contains a space"),
        (WEBHOOK + 'url = "http://127.0.0.1:99999/x"\n', "not a port from 1 to 65535"),
        (WEBHOOK + 'url = "https://x.example"\ntimeout_s = nan\n', "`timeout_s` must be a number"),
        ('[placeholders]\nAdmins = [1.5]\n', "placeholder 'Admins' must be a list of strings"),
    ],
)
def test_watch_exits_1_on_a_bad_configuration_with_one_line(tmp_path: Path, text: str, said: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text("title: t\nlogsource: {product: okta}\ndetection: {sel: {a: b}, condition: sel}\n")
    result = CliRunner().invoke(main, ["watch", "--inbox", str(tmp_path / "inbox"), "--lake", str(tmp_path / "lake"),
                                       "--rules", str(rules), "--config", str(config), "--once"])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and said in result.stderr
    assert not (tmp_path / "inbox").exists()  # refused before anything was done


def test_detect_exits_1_on_a_webhook_that_could_never_deliver(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(WEBHOOK + 'url = "http://127.0.0.1:99999/x"\n')
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text("title: t\nlogsource: {product: okta}\ndetection: {sel: {a: b}, condition: sel}\n")
    (tmp_path / "lake").mkdir()
    result = CliRunner().invoke(main, ["detect", "--lake", str(tmp_path / "lake"), "--rules", str(rules),
                                       "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert "not a port from 1 to 65535" in result.stderr and "not delivered" not in result.stderr
