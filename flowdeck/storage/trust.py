"""Approvals kept on the server, by content hash: a compensation handler (engine/handlers.py Handler.content_hash) or
an MCP server's command that an editor allowed to run. A changed handler has another hash: it needs approving again.
Revoking removes the approval: the handler is untrusted again."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError

from flowdeck.engine.handlers import Handler
from flowdeck.errors import FlowdeckError
from flowdeck.storage.db import writing
from flowdeck.storage.tables import TrustRow

TrustKind = Literal["handler", "mcp_server"]
KINDS: tuple[TrustKind, ...] = ("handler", "mcp_server")
_HASH = re.compile(r"^[0-9a-f]{64}$")
_TABLE = TrustRow.__table__  # type: ignore[attr-defined]


class TrustError(FlowdeckError):
    """An approval that cannot be stored as given (the message names the field and the fix)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Approval:
    content_hash: str
    kind: TrustKind
    summary: dict[str, Any]  # what it can reach, as the person approving saw it
    approved_by: str
    approved_at: float


class TrustStore:
    """The server's approvals. Blocking: call it from a worker thread inside a coroutine."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    def approved(self, content_hash: str) -> bool:
        with self._db.connect() as conn:
            found = conn.execute(select(_TABLE.c.content_hash).where(_TABLE.c.content_hash == content_hash)).first()
        return found is not None

    def approve(self, content_hash: str, kind: TrustKind, summary: dict[str, Any], by: str) -> Approval:
        """Record an approval (approving one already approved keeps the first approval and returns it)."""
        if not _HASH.match(content_hash):
            raise TrustError(f"content_hash: give the 64 lowercase hex digits of a SHA-256, not {content_hash[:80]!r}")
        if kind not in KINDS:
            raise TrustError(f"kind: give one of {', '.join(KINDS)}, not {str(kind)[:40]!r}")
        if not by.strip() or len(by) > 200:
            raise TrustError("by: say who approves it (1 to 200 characters)")
        approval = Approval(
            content_hash=content_hash, kind=kind, summary=summary, approved_by=by, approved_at=time.time()
        )
        try:
            with writing(self._db) as conn:
                if self._get(conn, content_hash) is None:
                    conn.execute(
                        _TABLE.insert().values(
                            content_hash=content_hash,
                            kind=kind,
                            summary=json.dumps(summary, sort_keys=True, ensure_ascii=False),
                            approved_by=by,
                            approved_at=approval.approved_at,
                        )
                    )
                    return approval
        except IntegrityError:
            pass  # approved at the same moment by someone else: theirs stands
        with self._db.connect() as conn:
            found = self._get(conn, content_hash)
        return found or approval

    def revoke(self, content_hash: str) -> bool:
        """Remove an approval; False if there was none."""
        with writing(self._db) as conn:
            done = conn.execute(delete(_TABLE).where(_TABLE.c.content_hash == content_hash))
        return bool(done.rowcount)

    def entries(self) -> list[Approval]:
        """Every approval, newest first."""
        with self._db.connect() as conn:
            rows = conn.execute(select(_TABLE).order_by(_TABLE.c.approved_at.desc())).all()
        return [_approval(row) for row in rows]

    @staticmethod
    def _get(conn: Any, content_hash: str) -> Approval | None:
        row = conn.execute(select(_TABLE).where(_TABLE.c.content_hash == content_hash)).first()
        return _approval(row) if row is not None else None


def _approval(row: Any) -> Approval:
    try:
        summary = json.loads(row.summary)
    except ValueError:
        summary = {}
    return Approval(
        content_hash=row.content_hash,
        kind=row.kind,
        summary=summary if isinstance(summary, dict) else {},
        approved_by=row.approved_by,
        approved_at=row.approved_at,
    )


def approval_summary(handler: Handler) -> dict[str, Any]:
    """What an approval records about a handler: what the person approving was shown."""
    return {"id": handler.id, "label": handler.label, "action": handler.action.kind, **handler.reach()}


def approve_handler(trust: TrustStore, handler: Handler, by: str) -> Approval:
    """Approve this exact handler (a changed one has another hash and needs approving again). Blocking."""
    return trust.approve(handler.content_hash(), "handler", approval_summary(handler), by)


def reach_text(handler: Handler) -> str:
    """What a handler can call, in one line: "domains api.example.org; methods DELETE; secrets TOKEN"."""
    said = [f"{what} {', '.join(items)}" for what, items in handler.reach().items() if items]
    return "; ".join(said) or "nothing outside this app"
