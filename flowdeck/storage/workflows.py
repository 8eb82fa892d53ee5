"""Saved workflows and user templates."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, or_, select, update

from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.errors import NotFoundError
from flowdeck.storage.db import writing
from flowdeck.storage.tables import WorkflowRow

_TABLE = WorkflowRow.__table__  # type: ignore[attr-defined]


def new_workflow_id() -> str:
    """An id for a workflow to be saved (one can be given before it is saved: save(workflow_id=...))."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, kw_only=True, slots=True)
class SavedWorkflow:
    id: str
    name: str
    is_template: bool
    workflow: Workflow
    created_at: float
    updated_at: float


class WorkflowStore:
    """Blocking: call from a worker thread inside coroutines."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, workflow: Workflow, *, workflow_id: str | None = None, is_template: bool = False) -> str:
        """Insert a new workflow (no id) or replace an existing one; return its id."""
        now = time.time()
        data = workflow.to_json()
        with writing(self._engine) as conn:
            if workflow_id is not None:
                result = conn.execute(
                    update(_TABLE)
                    .where(_TABLE.c.id == workflow_id)
                    .values(name=workflow.name, data=data, updated_at=now, is_template=is_template)
                )
                if result.rowcount:
                    return workflow_id
            new_id = workflow_id or new_workflow_id()
            conn.execute(
                insert(_TABLE).values(
                    id=new_id,
                    name=workflow.name,
                    is_template=is_template,
                    data=data,
                    created_at=now,
                    updated_at=now,
                )
            )
        return new_id

    def get(self, workflow_id: str) -> SavedWorkflow:
        with self._engine.connect() as conn:
            row = conn.execute(select(_TABLE).where(_TABLE.c.id == workflow_id)).first()
        if row is None:
            raise NotFoundError(f"no saved workflow with id '{workflow_id}'")
        return _saved(row._asdict())

    def list(self, *, templates: bool = False, search: str = "") -> list[SavedWorkflow]:
        query = select(_TABLE).where(_TABLE.c.is_template == templates).order_by(_TABLE.c.updated_at.desc())
        if search:
            query = query.where(_TABLE.c.name.icontains(search, autoescape=True))
        with self._engine.connect() as conn:
            return [_saved(row._asdict()) for row in conn.execute(query).all()]

    def find(self, id_or_name: str) -> SavedWorkflow | None:
        """The saved workflow with this id or exact name: workflows before templates, the newest first."""
        query = (
            select(_TABLE)
            .where(or_(_TABLE.c.id == id_or_name, _TABLE.c.name == id_or_name))
            .order_by(_TABLE.c.is_template, _TABLE.c.updated_at.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _saved(row._asdict())

    def names(self) -> tuple[str, ...]:
        """The names of every saved workflow and template, sorted (without reading the workflows)."""
        with self._engine.connect() as conn:
            return tuple(conn.execute(select(_TABLE.c.name).distinct().order_by(_TABLE.c.name)).scalars())

    def delete(self, workflow_id: str) -> None:
        with writing(self._engine) as conn:
            if not conn.execute(delete(_TABLE).where(_TABLE.c.id == workflow_id)).rowcount:
                raise NotFoundError(f"no saved workflow with id '{workflow_id}'")


def _saved(row: dict[str, object]) -> SavedWorkflow:
    return SavedWorkflow(
        id=str(row["id"]),
        name=str(row["name"]),
        is_template=bool(row["is_template"]),
        workflow=parse_workflow(str(row["data"]), source=f"saved workflow {row['id']}"),
        created_at=float(row["created_at"]),  # type: ignore[arg-type]
        updated_at=float(row["updated_at"]),  # type: ignore[arg-type]
    )
