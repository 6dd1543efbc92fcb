"""Files that sit beside audit logs and hold no events, recognised so that ingesting a whole
delivery folder reads the logs and passes these over, instead of failing on them (exit 3 on
every run of a scheduled sync) or quarantining each as one bad record.

- CloudTrail digest files (`AWSLogs/<account>/CloudTrail-Digest/...`): every hour, the hashes
  and signature of the log files delivered, which `aws cloudtrail validate-logs` checks. An
  S3 sync of a trail's bucket brings them along with the logs.

>>> digest = b'{"awsAccountId":"111122223333","digestStartTime":"2026-03-02T00:00:00Z",'
>>> digest += b'"digestSignatureAlgorithm":"SHA256withRSA","logFiles":[{"s3Object":"x"}]}'
>>> companion_kind(digest)
'CloudTrail digest file (hashes of the delivered log files)'
>>> companion_kind(b'{"Records":[{"awsAccountId":"1","digestStartTime":"x"}]}') is None
True
"""

from __future__ import annotations

from pathlib import Path

from auditlake.sources.input_head import read_head

CLOUDTRAIL_DIGEST = "CloudTrail digest file (hashes of the delivered log files)"
_DIGEST_KEYS = (b'"awsAccountId"', b'"digestStartTime"', b'"digestSignatureAlgorithm"')
HEAD_BYTES = 4096
"""A digest's own keys all come before its list of log files, within its first few hundred bytes."""


def companion_kind(head: bytes) -> str | None:
    """What companion file the content starting with `head` is, or None for anything else."""
    if head.lstrip()[:1] != b"{":
        return None
    bracket = head.find(b"[")
    top = head[: bracket if bracket >= 0 else HEAD_BYTES]  # the keys before any array opens
    if all(key in top for key in _DIGEST_KEYS):
        return CLOUDTRAIL_DIGEST
    return None


def companion_of(path: Path) -> str | None:
    """`companion_kind` of a file's (decompressed) first bytes; None when it cannot be read
    (the reading that follows reports that)."""
    try:
        return companion_kind(read_head(path, HEAD_BYTES))
    except (OSError, EOFError):
        return None
