"""One error family for the whole tool: each says where it happened and what to do next."""

from __future__ import annotations


class AuditlakeError(Exception):
    """Base error. `where` names the place (file and line, source, partition); `hint` the fix."""

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text} ({self.hint})" if self.hint else text


class SourceParseError(AuditlakeError):
    """A record (or a whole input) could not be read as the source it claims to be."""


class RecordError(SourceParseError):
    """One record is bad; it goes to quarantine with this message as the reason."""


class RecordSkipped(SourceParseError):
    """A record the source deliberately leaves out (e.g. a non-final Kubernetes stage).

    Counted as skipped in the ingest summary, not quarantined: it is not damaged, just not an
    event of its own.
    """


class UnknownSourceError(AuditlakeError):
    """A source name that is not in the registry, or an input no source recognises."""


class LakeError(AuditlakeError):
    """The lake cannot be written or read as asked (locked, unsafe path, corrupt commit)."""
