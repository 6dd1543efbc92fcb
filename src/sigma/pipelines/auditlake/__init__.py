"""sigma-cli plugin: `sigma convert -t polars -p auditlake` (lake routing and placeholders)."""

from auditlake.detection.pipeline import auditlake_pipeline

__all__ = ["auditlake_pipeline"]
