"""Storage: the database (SQLite or PostgreSQL), the run log, saved workflows and the output cache."""

from flowdeck.storage.cache import OutputCache
from flowdeck.storage.db import migrate, open_database
from flowdeck.storage.runs import RunLog, RunSummary
from flowdeck.storage.workflows import SavedWorkflow, WorkflowStore

__all__ = [
    "OutputCache",
    "RunLog",
    "RunSummary",
    "SavedWorkflow",
    "WorkflowStore",
    "migrate",
    "open_database",
]
