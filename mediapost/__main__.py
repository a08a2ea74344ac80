"""`python -m mediapost` is the `mediapost` command."""

from mediapost.cli import main

main()
