"""`python -m devtools ...` (see devtools/cli.py)."""

from devtools.cli import main

main()
