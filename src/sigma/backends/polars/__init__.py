"""sigma-cli plugin: `sigma convert -t polars` (the backend lives in auditlake.detection)."""

from auditlake.detection.backend import PolarsBackend

__all__ = ["PolarsBackend"]
