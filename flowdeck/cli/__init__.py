"""The command line (`flowdeck`): the editor, runs, history, templates, and the admin commands."""

from flowdeck.cli.main import main

__all__ = ["main"]
