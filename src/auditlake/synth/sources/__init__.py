"""Synthetic sources, one module per lake source, and the table that lists them."""
