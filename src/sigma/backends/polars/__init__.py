"""sigma-cli plugin: `sigma convert -t polars` (the backend lives in auditlake.detection).

Only the sigma-cli flavour of the backend is visible here: sigma-cli registers every backend
class this module holds.
"""

from auditlake.detection.backend import SigmaCliPolarsBackend as PolarsBackend

__all__ = ["PolarsBackend"]
