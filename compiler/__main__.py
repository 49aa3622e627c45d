"""`python -m speck` runs the command-line interface."""

from speck.cli import main

main()
