"""`python -m auditlake` is the `auditlake` command."""

from auditlake.entry import main

main()
