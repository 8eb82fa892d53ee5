"""`python -m flowdeck.cli`: the same as the `flowdeck` command."""

from flowdeck.cli.main import main

main()
