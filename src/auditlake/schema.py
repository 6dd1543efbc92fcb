"""The canonical audit-event columns: name, Arrow type and one line of meaning each.

Every source maps its records onto these columns (who, what, when, where, outcome) and keeps
its own native fields beside them, so a rule can use either. The table is the single place the
lake's column contract is written down; writers cast to it and readers rely on it.

>>> CANONICAL["time"].type
TimestampType(timestamp[us, tz=UTC])
>>> "source" in PARTITION_COLUMNS
True
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from auditlake.tables import unique_table

UTC_MICROS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True, slots=True)
class Column:
    """One canonical column: its Arrow type and what it means."""

    name: str
    type: pa.DataType
    meaning: str


CANONICAL: dict[str, Column] = unique_table(((c.name, c) for c in [
    # ids
    Column("event_uid", pa.string(), "identity of the event: the source's native id, else the hex SHA-256 of the record's canonical JSON (sources.record_identity)"),
    Column("event_hash", pa.binary(32), "SHA-256 of `raw`; dedup and integrity"),
    Column("source", pa.string(), "lake source name, e.g. aws.cloudtrail (hive partition, not stored in files)"),
    Column("source_tenant", pa.string(), "AWS account, GCP project, Okta org, GitHub org, cluster, host"),
    # when
    Column("time", UTC_MICROS, "when: occurrence time at the source, UTC"),
    Column("source_logged_at", UTC_MICROS, "when the source logged or received the event, if it says"),
    Column("ingested_at", UTC_MICROS, "when auditlake committed the event (lag metrics)"),
    Column("dt", pa.date32(), "UTC date of `time` (hive partition, not stored in files)"),
    # what
    Column("class_uid", pa.int32(), "OCSF class: 3001 account change, 3002 authentication, 6003 API activity, ..."),
    Column("activity_id", pa.int16(), "OCSF activity within the class"),
    Column("category", pa.string(), "authentication, iam, api, data_access, process, config, session, log_admin"),
    Column("action", pa.string(), "what: the native operation name"),
    # who
    Column("actor_id", pa.string(), "who: stable id (ARN, Okta id, auid, ...)"),
    Column("actor_name", pa.string(), "who: login, email or display name"),
    Column("actor_type", pa.string(), "user, service, role_session, system, anonymous, unknown"),
    Column("actor_original", pa.string(), "the human behind a role, impersonation, sudo or gateway login"),
    Column("actor_roles", pa.list_(pa.string()), "groups or roles of the actor"),
    Column("auth_mfa", pa.bool_(), "whether the session was MFA-authenticated, if known"),
    Column("session_id", pa.string(), "session identifier (Okta externalSessionId, gateway sid, auditd ses)"),
    Column("credential_id", pa.string(), "access key id, token id, SSH key fingerprint"),
    # where
    Column("src_ip", pa.string(), "where from: the trusted hop's IP address"),
    Column("src_ip_chain", pa.list_(pa.string()), "proxies and forwarded-for addresses"),
    Column("src_host", pa.string(), "source host name (or a service name standing in for an IP)"),
    Column("src_country", pa.string(), "source country, only when the source provides it"),
    Column("user_agent", pa.string(), "client user agent"),
    Column("service", pa.string(), "API service: eventSource, GCP serviceName, k8s apiGroup, database"),
    Column("target_type", pa.string(), "what resource: its type"),
    Column("target_id", pa.string(), "what resource: ARN, resourceName, namespace/resource/name, repo"),
    Column("target_name", pa.string(), "what resource: its name"),
    Column("region", pa.string(), "cloud region"),
    Column("host", pa.string(), "system that observed the event"),
    # outcome
    Column("outcome", pa.string(), "success, failure or unknown"),
    Column("outcome_reason", pa.string(), "errorCode, status message, outcome reason"),
    Column("status_code", pa.string(), "HTTP, gRPC, SQLSTATE or other status code"),
    Column("severity_id", pa.int8(), "source severity, if any"),
    Column("request_id", pa.string(), "request identifier"),
    Column("correlation_id", pa.string(), "transaction, correlation or trace id"),
    Column("labels", pa.list_(pa.string()), "labels such as drill:<run_id>"),
    # verbatim
    Column("raw", pa.large_string(), "the verbatim original record (JSON text or log line)"),
    Column("raw_format", pa.string(), "json, evtx-json, auditd-kv, ..."),
    Column("ext", pa.large_string(), "normalized but unmapped source fields, as JSON"),
    Column("parser_version", pa.string(), "version of the parser that produced the row"),
]), what="canonical column")

PARTITION_COLUMNS: tuple[str, ...] = ("source", "dt")
"""Columns that live in the partition path (`source=<src>/dt=<date>`), not inside the files."""

STORED_COLUMNS: tuple[str, ...] = tuple(n for n in CANONICAL if n not in PARTITION_COLUMNS)
"""Canonical columns written into every events file, in this order."""

OUTCOMES: tuple[str, ...] = ("success", "failure", "unknown")
ACTOR_TYPES: tuple[str, ...] = ("user", "service", "role_session", "system", "anonymous", "unknown")

NATIVE_TYPE = pa.string()
"""Type of a native (source-specific) column unless the source declares another."""


def stored_schema() -> pa.Schema:
    """The Arrow schema of the canonical part of an events file."""
    return pa.schema([pa.field(n, CANONICAL[n].type) for n in STORED_COLUMNS])


def is_canonical(name: str) -> bool:
    """True when `name` is a canonical column, which native fields may never shadow."""
    return name in CANONICAL
