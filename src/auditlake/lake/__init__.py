"""The lake: partitioned Parquet with atomic, idempotent commits, and pruned scans."""

from auditlake.lake.paths import LakePaths
from auditlake.lake.scan import scan_events, scan_quarantine
from auditlake.lake.writer import CommitResult, LakeWriter

__all__ = ["CommitResult", "LakePaths", "LakeWriter", "scan_events", "scan_quarantine"]
