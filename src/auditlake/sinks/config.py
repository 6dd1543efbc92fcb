"""Alert sinks configured in `auditlake.toml`.

The file holds an array of `[[sinks]]` tables; every new alert goes to every sink.

```toml
[[sinks]]
type = "jsonl"                  # append one JSON object per alert to a file
path = "alerts.jsonl"           # relative to this file's folder
# name = "jsonl"                # optional; default: the type. Names must be unique.
# batch_size = 500              # alerts per write

[[sinks]]
type = "stdout"                 # one JSON object per alert on standard output

[[sinks]]
type = "webhook"                # HTTP POST of JSON batches, signed with HMAC-SHA256
name = "soc"
url = "https://soc.example.com/hooks/auditlake"
secret_env = "AUDITLAKE_WEBHOOK_SECRET"   # or: secret = "..." (keeps the secret in the file)
# timeout_s = 10.0              # per request
# max_attempts = 5              # requests per delivery try (one while the receiver stays down)
# backoff_s = 0.5               # first retry delay; doubles per attempt, with jitter
# backoff_max_s = 30.0          # cap of one delay, and of the pause while the receiver is down
# batch_size = 100              # alerts per request (1: one alert per request)
```

A sink's `name` also names its spool folder (`<lake>/_state/spool/<name>/`), so renaming a
sink starts it afresh at the end of the alert store. Anything unknown or mistyped is refused
with the key, the sink it belongs to and what to write instead: a typo must never silently
turn a sink off.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from auditlake.config_file import ConfigError, read_config

DEFAULT_CONFIG = Path("auditlake.toml")
SINK_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
SINK_TYPES = ("jsonl", "stdout", "webhook")

_COMMON = ("type", "name")
_KEYS: dict[str, tuple[str, ...]] = {
    "jsonl": (*_COMMON, "path", "batch_size"),
    "stdout": _COMMON,
    "webhook": (*_COMMON, "url", "secret", "secret_env", "timeout_s", "max_attempts", "backoff_s",
                "backoff_max_s", "batch_size"),
}


@dataclass(frozen=True)
class JsonlConfig:
    name: str
    path: Path
    batch_size: int = 500


@dataclass(frozen=True)
class StdoutConfig:
    name: str


@dataclass(frozen=True)
class WebhookConfig:
    name: str
    url: str
    secret: bytes = field(repr=False)
    timeout_s: float = 10.0
    max_attempts: int = 5
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    batch_size: int = 100


SinkConfig = JsonlConfig | StdoutConfig | WebhookConfig


def config_path(explicit: Path | None) -> Path | None:
    """The file to read: `explicit` (which must exist), else `./auditlake.toml` if present."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError("configuration file not found", where=str(explicit),
                              hint="pass an existing file to --config, or leave it out")
        return explicit
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def load_config(path: Path) -> list[SinkConfig]:
    """The sinks `path` configures (an empty list when it has no `[[sinks]]`)."""
    return parse_config(read_config(path), base=path.parent, where=str(path))


def parse_config(document: dict[str, Any], *, base: Path, where: str) -> list[SinkConfig]:
    """The sinks of an already parsed document; relative paths are resolved against `base`."""
    _refuse_unknown(document, ("sinks", "placeholders"), where, "the top level")
    tables = document.get("sinks", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError("`sinks` must be an array of tables", where=where,
                          hint='write each sink as a [[sinks]] table with type = "jsonl", "stdout" or "webhook"')
    sinks = [_sink(table, base, f"{where}: [[sinks]] #{number}") for number, table in enumerate(tables, 1)]
    seen: set[str] = set()
    for sink in sinks:
        if sink.name in seen:
            raise ConfigError(f"two sinks are named {sink.name!r}", where=where,
                              hint='give each sink of the same type its own name = "..."')
        seen.add(sink.name)
    return sinks


def _sink(table: dict[str, Any], base: Path, where: str) -> SinkConfig:
    kind = table.get("type")
    if kind not in SINK_TYPES:
        shown = "missing" if kind is None else repr(kind)
        raise ConfigError(f"sink type is {shown}", where=where,
                          hint='write type = "jsonl", type = "stdout" or type = "webhook"')
    _refuse_unknown(table, _KEYS[kind], where, f"a {kind} sink")
    name = _text(table, "name", where, default=kind)
    if not SINK_NAME.fullmatch(name):
        raise ConfigError(f"sink name {name!r} is not usable", where=where,
                          hint="use lowercase letters, digits, '-' and '_' (it names the spool folder)")
    where = f"{where} ({name!r})"
    if kind == "stdout":
        return StdoutConfig(name)
    if kind == "jsonl":
        path = Path(_text(table, "path", where, example='path = "alerts.jsonl"')).expanduser()
        return JsonlConfig(name, path if path.is_absolute() else base / path,
                           _integer(table, "batch_size", where, 500, low=1, high=100_000))
    return _webhook(table, name, where)


def _webhook(table: dict[str, Any], name: str, where: str) -> WebhookConfig:
    url = _url(table, where)
    if "secret" in table and "secret_env" in table:
        raise ConfigError("both `secret` and `secret_env` are set", where=where, hint="keep one of them")
    if "secret_env" in table:
        variable = _text(table, "secret_env", where)
        secret = os.environ.get(variable, "")
        if not secret:
            raise ConfigError(f"environment variable {variable} (named by secret_env) is not set or empty",
                              where=where, hint=f"export {variable}=<the shared secret> before running")
    elif "secret" in table:
        secret = _text(table, "secret", where)
    else:
        raise ConfigError("a webhook needs a secret to sign its requests", where=where,
                          hint='write secret_env = "NAME_OF_AN_ENVIRONMENT_VARIABLE" (or secret = "...")')
    timeout = _number(table, "timeout_s", where, 10.0, low=0.001)
    backoff = _number(table, "backoff_s", where, 0.5, low=0.0)
    backoff_max = _number(table, "backoff_max_s", where, max(30.0, backoff), low=backoff)
    return WebhookConfig(
        name, url, secret.encode("utf-8"), timeout_s=timeout,
        max_attempts=_integer(table, "max_attempts", where, 5, low=1, high=100),
        backoff_s=backoff, backoff_max_s=backoff_max,
        batch_size=_integer(table, "batch_size", where, 100, low=1, high=10_000),
    )


def _url(table: dict[str, Any], where: str) -> str:
    """An http(s) URL every request could be sent to: refused here, not on every delivery."""
    url = _text(table, "url", where, example='url = "https://receiver.example.com/alerts"')
    fix = 'write url = "https://host[:port]/path"'
    odd = next((c for c in url if c.isspace() or not c.isprintable()), None)
    if odd is not None:
        raise ConfigError(f"url {url!r} contains {'a space' if odd == ' ' else f'the character {odd!r}'}",
                          where=where, hint=f"remove it, or write it percent-encoded (a space is %20); {fix}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"url {url!r} is not an http(s) URL with a host", where=where, hint=fix)
    if "@" in parts.netloc:
        # Not echoed: what stands before '@' may be a password.
        raise ConfigError("url holds a user name or password (before '@'), which is never sent", where=where,
                          hint="leave it out: receivers check each request's signature, made with the secret")
    if not (parts.path + parts.query + parts.fragment).isascii():
        raise ConfigError(f"url {url!r} has characters other than ASCII after its host", where=where,
                          hint="percent-encode them (as UTF-8 bytes, e.g. é is %C3%A9)")
    port = parts.netloc.rpartition("]")[2].partition(":")[2]  # after an IPv6 address's brackets
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ConfigError(f"url {url!r} has port {port!r}, not a port from 1 to 65535", where=where,
                          hint='write url = "https://host:8443/path", or leave the port out (443 for https, 80 for http)')
    return url


def _refuse_unknown(table: dict[str, Any], known: tuple[str, ...], where: str, what: str) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"{what} takes: {', '.join(known)}"
            raise ConfigError(f"unknown key `{key}` in {what}", where=where, hint=hint)


def _text(table: dict[str, Any], key: str, where: str, *, default: str | None = None,
          example: str | None = None) -> str:
    value = table.get(key, default)
    if value is None:
        raise ConfigError(f"`{key}` is missing", where=where, hint="write " + (example or f'{key} = "..."'))
    if not isinstance(value, str) or not value:
        raise ConfigError(f"`{key}` must be a non-empty string, not {value!r}", where=where,
                          hint=f'write {key} = "..."')
    return value


def _number(table: dict[str, Any], key: str, where: str, default: float, *, low: float) -> float:
    value = table.get(key, default)
    # TOML has nan and inf: `value < low` is false for nan, and neither is a usable time.
    if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            or value < low):
        raise ConfigError(f"`{key}` must be a number >= {low:g}, not {value!r}", where=where,
                          hint=f"write {key} = {default:g}")
    return float(value)


def _integer(table: dict[str, Any], key: str, where: str, default: int, *, low: int, high: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"`{key}` must be a whole number from {low} to {high}, not {value!r}",
                          where=where, hint=f"write {key} = {default}")
    return value
