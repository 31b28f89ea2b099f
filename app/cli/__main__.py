"""`python -m app.cli` runs the `routegraph` command."""

from app.cli import main

main()
