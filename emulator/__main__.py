"""`python -m emulator --port 8080`: run the local MediaPost server."""

from emulator.cli import main

main()
