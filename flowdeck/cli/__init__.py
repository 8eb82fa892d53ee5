"""The command line (`flowdeck`): the editor, runs, history, templates, and the admin commands."""

try:
    from flowdeck.cli.main import main
except KeyboardInterrupt:  # Ctrl+C while the command line still loads (sqlalchemy, pydantic): no traceback
    import os
    import sys

    sys.stderr.write("Stopped.\n")
    sys.stderr.flush()
    # Not SystemExit: an interrupt seen inside some imports makes Python end by the signal anyway (status -2).
    os._exit(130)

__all__ = ["main"]
