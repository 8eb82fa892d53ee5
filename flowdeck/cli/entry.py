"""How every `flowdeck` command starts and ends: errors flowdeck reports on purpose as one line, Ctrl+C as "Stopped."
and exit code 130 at any moment, flowdeck's own warnings as lines on stderr."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

import click

from flowdeck.errors import FlowdeckError


class Main(click.Group):
    """Every command: what flowdeck reports on purpose (a storage fault, a bad setting) reaches the person as one
    line saying what to do, never as a traceback; Ctrl+C ends any command at once with exit code 130."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The process's own entry (the `flowdeck` script, `python -m flowdeck.cli`; CliRunner calls main()): Ctrl+C
        outside a command's own work (parsing, exiting) stops at once too, never "Aborted!" or a silent death."""
        if threading.current_thread() is not threading.main_thread():
            return super().__call__(*args, **kwargs)
        global _ENTRY
        _ENTRY = True
        # Registered first, so run last: Python then resets its own handlers to the default (death by the signal).
        atexit.register(signal.signal, signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGINT, stop_at_once)
        sys.unraisablehook = _unraisable
        _watch_for_interrupts()
        return super().__call__(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> object:
        if _ENTRY:
            signal.signal(signal.SIGINT, _interrupt)  # a command may clean up on KeyboardInterrupt
        try:
            return super().invoke(ctx)
        except FlowdeckError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except PermissionError as exc:  # a data folder or a file in it of another user's, or made read-only
            click.echo(f"error: {_denied(exc)}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:  # click's own handler says "Aborted!" and exits 1
            if _ENTRY:
                stop_at_once()
            click.echo("Stopped.", err=True)
            sys.exit(130)
        finally:
            if _ENTRY:
                signal.signal(signal.SIGINT, stop_at_once)
                if _INTERRUPTED:  # something swallowed the KeyboardInterrupt (an `except BaseException`)
                    stop_at_once()


_ENTRY = False  # main() was called as the process's entry: it may set signal handlers and exit at once
WATCHED = True  # not the server's: it ends its runs and connections on Ctrl+C itself, and may take longer
_INTERRUPTED = False


def _denied(exc: PermissionError) -> str:
    """What this user may not do to which file, whose it is, and what to do."""
    from pathlib import Path

    from flowdeck.storage.faults import ownership

    path = Path(str(exc.filename)) if exc.filename else None
    if path is None:
        return f"{exc}; run `flowdeck doctor` to check the data folder"
    try:
        where = (
            f"{path} ({ownership(path)})"
            if path.exists()
            else f"a new file in {path.parent} ({ownership(path.parent)})"
        )
    except OSError:
        where = str(path)
    return (
        f"permission denied: {where}: run flowdeck as the user the data folder belongs to, "
        "make it readable and writable by this user, or set FLOWDECK_HOME to a folder of this user's "
        "(see `flowdeck doctor`)"
    )


def _interrupt(signum: int, frame: object) -> None:
    global _INTERRUPTED
    _INTERRUPTED = True
    raise KeyboardInterrupt


def _unraisable(info: sys.UnraisableHookArgs) -> None:
    """An interrupt that landed in code which cannot raise it (pydantic-core building a validator) stops here, rather
    than printing "Exception ignored ... KeyboardInterrupt" and carrying on."""
    if info.exc_type is KeyboardInterrupt:
        stop_at_once()
    sys.__unraisablehook__(info)


STUCK_SECONDS = 1.0  # after Ctrl+C, how long the main thread has to stop by itself before the watcher stops it


def _watch_for_interrupts() -> None:
    """Ctrl+C while the main thread waits in C (SQLite waiting for another program's lock, for up to its busy timeout)
    or for a worker thread that does: Python runs signal handlers only between bytecodes, so the handler would wait
    too. The signal's byte reaches this pipe at once; a thread gives the main thread STUCK_SECONDS, then stops it.
    A run's own Ctrl+C (its cancel) is asyncio's: it takes the wake-up pipe while it follows a run."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    try:
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    except ValueError:  # not the main thread of the main interpreter
        return

    def watch() -> None:
        while True:
            got = os.read(read, 64)
            if signal.SIGINT in got and WATCHED:
                time.sleep(STUCK_SECONDS)
                stop_at_once()

    threading.Thread(target=watch, name="flowdeck-interrupt-watch", daemon=True).start()


def stop_at_once(signum: int = signal.SIGINT, frame: object = None) -> None:
    """Ctrl+C: say so, and exit 130 now. Not SystemExit: after an interrupt seen inside some imports Python ends by
    the signal anyway (status -2), and exiting runs code that a second Ctrl+C would interrupt again."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os.write(2, b"Stopped.\n")
    os._exit(130)


class _Notes(logging.Handler):
    """flowdeck's own warnings (a database opened read-only, runs not yet marked), as lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


NOTES = _Notes(logging.WARNING)
