"""Which workflow a run belongs to: its identity, recorded in run_started (and the runs table's workflow_id).

A name says nothing about identity: two files, a template and a saved workflow may all be called "Research, code,
review". So runs are tied to one of these, and the editor shows the last run of the identity it has open:

- a saved workflow: its id (storage.workflows). The editor gives a workflow it opens unsaved (a new one from a
  template, an import, a blank one) the id it will be saved under, so its runs stay with it when it is saved;
- a built-in template run by name (the command line, the HTTP API, Python): "template:<name>";
- a file (the command line, Python): "file:<absolute path>", or "file:sha256:<hash of the path>" when that is too
  long to store;
- a workflow handed over as JSON text or as an object (Python): "sha256:<hash of its JSON>".
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flowdeck.engine.strict_json import printable
from flowdeck.engine.workflow import Workflow

IDENTITY_LIMIT = 300  # characters the runs table keeps (storage.tables); PostgreSQL enforces it


def template_identity(name: str) -> str:
    """A built-in template's."""
    return f"template:{name}"


def file_identity(path: Path | str) -> str:
    """A workflow file's: the same file, however it was named on the command line, is the same workflow."""
    resolved = printable(str(Path(path).resolve()))  # a name that is not UTF-8 (bytes kept as surrogates) is stored
    identity = f"file:{resolved}"
    return identity if len(identity) <= IDENTITY_LIMIT else f"file:sha256:{_digest(resolved)}"


def content_identity(workflow: Workflow) -> str:
    """A workflow's that has no other: its content, so that running the same workflow again is the same workflow."""
    return f"sha256:{_digest(workflow.to_json())}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
