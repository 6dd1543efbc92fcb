"""Sigma rules compiled to Polars: pySigma backend, rule IR, binding to schemas, correlations."""
