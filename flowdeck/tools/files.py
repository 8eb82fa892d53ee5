"""The file tools: `read_file`, `write_file` and `list_files`, confined to the run's workspace (workspace.py says
how). A refused path is a result with ok=False that says why; nothing outside the workspace is read or touched."""

from __future__ import annotations

import asyncio
import hashlib

from flowdeck.engine.tools import MAX_RESULT_CHARS, ToolResult
from flowdeck.tools.arguments import ListFilesArgs, ReadFileArgs, WriteFileArgs
from flowdeck.tools.text import cut
from flowdeck.tools.workspace import Workspace, WorkspaceError

__all__ = ["Files"]

MAX_LISTED = 500


class Files:
    """The file tools of one run's workspace. Disk work runs in a thread, off the event loop."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    async def read_file(self, args: ReadFileArgs) -> ToolResult:
        try:
            path, data = await asyncio.to_thread(self.workspace.read, args.path)
        except WorkspaceError as e:
            return _refused(str(e), {"path": args.path})
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return _refused(f"{path} is not UTF-8 text (it may be binary): read_file reads text files", {"path": path})
        return ToolResult(content=cut(text, MAX_RESULT_CHARS), detail={"path": path, "bytes": len(data)})

    async def write_file(self, args: WriteFileArgs) -> ToolResult:
        try:
            data = args.content.encode("utf-8")
        except UnicodeEncodeError:
            return _refused("the content has characters that are not valid text (lone surrogates)", {"path": args.path})
        try:
            path = await asyncio.to_thread(self.workspace.write, args.path, data)
        except WorkspaceError as e:
            return _refused(str(e), {"path": args.path})
        digest = hashlib.sha256(data).hexdigest()
        return ToolResult(
            content=f"wrote {path} ({len(data):,} bytes)",
            artifacts=(path,),
            detail={"path": path, "bytes": len(data), "sha256": digest},
        )

    async def list_files(self, args: ListFilesArgs) -> ToolResult:
        try:
            found = await asyncio.to_thread(self.workspace.files, args.path)
        except WorkspaceError as e:
            return _refused(str(e), {"path": args.path})
        where = f"in {args.path.strip('/')}" if args.path.strip(" ./") else "in the workspace"
        if not found:
            return ToolResult(content=f"no files {where}", detail={"count": 0})
        lines = [f"{len(found)} file{'s' if len(found) != 1 else ''} {where}:"]
        lines += [f"{a.path}  ({a.size:,} bytes)" for a in found[:MAX_LISTED]]
        if len(found) > MAX_LISTED:
            lines.append(f"… and {len(found) - MAX_LISTED} more")
        return ToolResult(content=cut("\n".join(lines), MAX_RESULT_CHARS), detail={"count": len(found)})


def _refused(reason: str, detail: dict[str, object]) -> ToolResult:
    return ToolResult(content=reason, ok=False, detail={**detail, "error": reason})
