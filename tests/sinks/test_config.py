"""`auditlake.toml`: the sinks it configures, and errors that say what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditlake.sinks.config import (
    ConfigError,
    JsonlConfig,
    StdoutConfig,
    WebhookConfig,
    config_path,
    load_config,
)

REPO = Path(__file__).resolve().parents[2]


def _load(tmp_path: Path, text: str) -> list[object]:
    path = tmp_path / "auditlake.toml"
    path.write_text(text)
    return list(load_config(path))


def test_every_sink_type_with_defaults_and_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    sinks = _load(tmp_path, """
[[sinks]]
type = "jsonl"
path = "out/alerts.jsonl"

[[sinks]]
type = "stdout"

[[sinks]]
type = "webhook"
name = "soc"
url = "https://soc.example.com/hook"
secret_env = "HOOK_SECRET"
max_attempts = 3
backoff_s = 0.01
timeout_s = 2
batch_size = 1
""")
    assert sinks[0] == JsonlConfig("jsonl", tmp_path / "out" / "alerts.jsonl", 500)
    assert sinks[1] == StdoutConfig("stdout")
    hook = sinks[2]
    assert isinstance(hook, WebhookConfig)
    assert (hook.name, hook.url, hook.secret, hook.max_attempts) == ("soc", "https://soc.example.com/hook", b"s3cret", 3)
    assert (hook.backoff_s, hook.backoff_max_s, hook.timeout_s, hook.batch_size) == (0.01, 30.0, 2.0, 1)
    assert "s3cret" not in repr(hook)


def test_the_example_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITLAKE_WEBHOOK_SECRET", "x")
    names = [s.name for s in load_config(REPO / "auditlake.example.toml")]
    assert names == ["archive", "soc"]


def test_no_sinks_is_fine(tmp_path: Path) -> None:
    assert _load(tmp_path, "") == []


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ('[[sink]]\ntype = "stdout"\n', "unknown key `sink` in the top level", "did you mean `sinks`?"),
        ('[[sinks]]\ntype = "jsonl"\npth = "a.jsonl"\n', "unknown key `pth` in a jsonl sink", "did you mean `path`?"),
        ('[[sinks]]\ntype = "jsonl"\n', "`path` is missing", 'write path = "alerts.jsonl"'),
        ('[[sinks]]\npath = "a.jsonl"\n', "sink type is missing", 'type = "jsonl"'),
        ('[[sinks]]\ntype = "kafka"\n', "sink type is 'kafka'", 'type = "webhook"'),
        ('[[sinks]]\ntype = "stdout"\n[[sinks]]\ntype = "stdout"\n', "two sinks are named 'stdout'", "name ="),
        ('[[sinks]]\ntype = "stdout"\nname = "Bad Name"\n', "sink name 'Bad Name' is not usable", "lowercase"),
        ('[[sinks]]\ntype = "webhook"\nurl = "https://x.example"\n', "needs a secret", "secret_env ="),
        ('[[sinks]]\ntype = "webhook"\nurl = "ftp://x"\nsecret = "s"\n', "is not an http(s) URL", "https://"),
        ('[[sinks]]\ntype = "webhook"\nurl = "https://x.example"\nsecret = "s"\nsecret_env = "S"\n',
         "both `secret` and `secret_env`", "keep one"),
        ('[[sinks]]\ntype = "webhook"\nurl = "https://x.example"\nsecret = "s"\nmax_attempts = 0\n',
         "`max_attempts` must be a whole number from 1 to 100", "max_attempts = 5"),
        ('[[sinks]]\ntype = "webhook"\nurl = "https://x.example"\nsecret = "s"\ntimeout_s = "10"\n',
         "`timeout_s` must be a number", "timeout_s = 10"),
        ('[[sinks]]\ntype = "webhook"\nurl = "https://x.example"\nsecret = "s"\nbackoff_s = 2\nbackoff_max_s = 1\n',
         "`backoff_max_s` must be a number >= 2", "backoff_max_s"),
        ("sinks = 3\n", "`sinks` must be an array of tables", "[[sinks]]"),
        ('[[sinks]\ntype = "stdout"\n', "not valid TOML", "auditlake.example.toml"),
    ],
)
def test_mistakes_name_the_key_and_the_fix(tmp_path: Path, text: str, message: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert message in caught.value.message
    assert hint in (caught.value.hint or "")
    assert str(tmp_path / "auditlake.toml") in str(caught.value)


def test_where_names_the_sink(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, '[[sinks]]\ntype = "stdout"\n[[sinks]]\ntype = "jsonl"\nname = "arch"\n')
    assert caught.value.where is not None and caught.value.where.endswith("[[sinks]] #2 ('arch')")


def test_secret_env_must_be_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE") as caught:
        _load(tmp_path, '[[sinks]]\ntype = "webhook"\nurl = "https://x.example"\nsecret_env = "NOT_SET_ANYWHERE"\n')
    assert "export NOT_SET_ANYWHERE=" in (caught.value.hint or "")


def test_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert config_path(None) is None
    (tmp_path / "auditlake.toml").write_text("")
    assert config_path(None) == Path("auditlake.toml")
    with pytest.raises(ConfigError, match="not found"):
        config_path(tmp_path / "missing.toml")
