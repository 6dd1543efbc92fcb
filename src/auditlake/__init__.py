"""auditlake: detection and analytics on zero-trust audit logs."""
