"""Log sources: one module each, reading inputs into canonical rows (see `registry`)."""
