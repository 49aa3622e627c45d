"""`python -m speck` runs the command-line interface."""

from speck.entry import main

main()
