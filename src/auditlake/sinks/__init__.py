"""Alert sinks: where new alerts go after detection stored them (JSON Lines, stdout, webhook).

`config.py` reads `auditlake.toml`; `deliver.py` explains the delivery guarantees.
"""

from __future__ import annotations

from pathlib import Path

from auditlake.lake.paths import LakePaths
from auditlake.sinks.base import Batch, Sink, SinkError
from auditlake.sinks.config import ConfigError, SinkConfig, config_path, load_config
from auditlake.sinks.deliver import Delivery, DeliveryReport, SinkStatus, build_sinks

__all__ = [
    "Batch",
    "ConfigError",
    "Delivery",
    "DeliveryReport",
    "Sink",
    "SinkConfig",
    "SinkError",
    "SinkStatus",
    "build_sinks",
    "config_path",
    "describe",
    "load_config",
    "open_delivery",
]


def open_delivery(lake: LakePaths, config: Path | None) -> Delivery:
    """Delivery to the sinks `config` names (none without a file); call before detection."""
    sinks = build_sinks(load_config(config)) if config is not None else []
    return Delivery(lake, sinks)


def describe(report: DeliveryReport) -> list[str]:
    """One line per sink that did something or owes something, for the terminal."""
    if report.skipped is not None:
        return [f"delivery deferred ({report.skipped}); the new alerts stay in the alert store "
                "and go out with the next delivery"]
    lines = []
    for status in report.sinks:
        if status.error is not None:
            retry = f"; next try in {status.retry_in_s:.0f} s" if status.retry_in_s else ""
            lines.append(f"sink {status.sink}: not delivered ({status.error}); {status.pending:,} alerts "
                         f"wait in its spool and go out with the next delivery{retry}")
        elif status.pending:
            lines.append(f"sink {status.sink}: {status.pending:,} alerts wait in its spool")
        elif status.delivered:
            lines.append(f"sink {status.sink}: {status.delivered:,} alerts delivered")
    return lines
