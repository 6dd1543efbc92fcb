"""`python -m auditlake` is the `auditlake` command."""

from auditlake.cli import main

main()
