"""A small MCP server over stdio for the tests, written with the official SDK: a notes store in a folder.

Run as `python -m tests.mcpserver.notes FOLDER [--hang-on NAME] [--flood BYTES]`. Tools: `list_notes` (read-only),
`add_note` (changes the folder: a side effect), `delete_note` (destructive), `shout` (no annotations: unknown,
so a side effect), `slow` (sleeps the given seconds). `--hang` makes startup hang; `--flood N` makes `list_notes`
answer with N bytes."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations


def serve(folder: Path, flood: int) -> None:
    server = MCPServer("notes")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True), description="List the notes' names.")
    def list_notes() -> str:
        if flood:
            return "x" * flood
        return "\n".join(sorted(p.name for p in folder.iterdir())) or "(no notes)"

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False), description="Add a note.")
    def add_note(name: str, text: str) -> str:
        (folder / name).write_text(text)
        return f"added {name}"

    @server.tool(annotations=ToolAnnotations(destructive_hint=True), description="Delete a note.")
    def delete_note(name: str) -> str:
        (folder / name).unlink()
        return f"deleted {name}"

    @server.tool(description="Say it loudly.")
    def shout(text: str) -> str:
        return text.upper()

    @server.tool(annotations=ToolAnnotations(read_only_hint=True), description="Wait, then answer.")
    def slow(seconds: float) -> str:
        time.sleep(seconds)
        return "done"

    @server.tool(annotations=ToolAnnotations(read_only_hint=True), description="An environment variable's value.")
    def env_var(name: str) -> str:
        return os.environ.get(name, "(not set)")

    server.run("stdio")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--flood", type=int, default=0)
    parser.add_argument("--tag", default="")  # lets a test find this process (pgrep -f)
    args = parser.parse_args()
    if args.hang:
        time.sleep(3600)
    serve(args.folder, args.flood)


if __name__ == "__main__":
    main()
