"""The Artifacts tab (issue 22): the files a run's agents wrote into its workspace, with their size, the agent that
wrote each (from the ToolFinished events) and a link that downloads it. The run's folder adds only what the events
lack: the files' sizes, and files the run started with (a resumed run's, copied from the run it continues)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from nicegui import ui

from flowdeck.components.rounds import round_name
from flowdeck.engine.state import RunState

EMPTY = "Files the run's agents write (with the write_file tool) appear here, each with a link to download it."


class StoredFile(Protocol):
    """A file in the run's workspace as this tab reads it (flowdeck/tools' Artifact)."""

    @property
    def path(self) -> str: ...
    @property
    def size(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ArtifactRow:
    path: str
    size: int | None  # None: not in the run's folder (removed since, or its listing could not be read)
    written_by: tuple[str, ...]  # agents (with their round) whose calls wrote it; () a file the run started with


def artifact_rows(state: RunState, labels: Mapping[str, str], stored: Iterable[StoredFile] = ()) -> list[ArtifactRow]:
    """Every file the run's events say was written, and every file in its folder, sorted by path."""
    writers: dict[str, list[str]] = {}
    for node_id, node in state.nodes.items():
        several = len(node.executions) > 1
        for ex in node.executions:
            for made in ex.tool_calls:
                if made.finished is None or not made.finished.ok:
                    continue
                for path in made.finished.artifacts:
                    name = round_name(labels.get(node_id, node_id), ex.index, several)
                    if name not in writers.setdefault(path, []):
                        writers[path].append(name)
    sizes = {item.path: item.size for item in stored}
    return [
        ArtifactRow(path, sizes.get(path), tuple(writers.get(path, ()))) for path in sorted(set(writers) | set(sizes))
    ]


class ArtifactsTab:
    """Drawn again when shown, and when the run writes a file while it is in view. `link(path)`: where the file
    downloads from."""

    def __init__(self) -> None:
        self.root = ui.column().classes("w-full gap-1")
        self.show([], lambda path: "")

    def show(self, rows: list[ArtifactRow], link: Callable[[str], str]) -> None:
        self.root.clear()
        with self.root:
            if not rows:
                ui.label(EMPTY).classes("text-sm text-gray-500")
                return
            with ui.element("table").classes("w-full text-sm").props('aria-label="Artifacts"'):
                with ui.element("thead"), ui.element("tr"):
                    for heading in ("File", "Size", "Written by", "Download"):
                        with ui.element("th").props('scope="col"').style(_CELL + "text-align: left"):
                            ui.label(heading)
                with ui.element("tbody"):
                    for row in rows:
                        _row(row, link)


def _row(row: ArtifactRow, link: Callable[[str], str]) -> None:
    with ui.element("tr"):
        with ui.element("td").style(_CELL):
            ui.label(row.path).classes("font-mono")
        with ui.element("td").style(_CELL):
            ui.label(size_text(row.size))
        with ui.element("td").style(_CELL):
            ui.label(", ".join(row.written_by) or "the run it continues")
        with ui.element("td").style(_CELL):
            if row.size is not None:
                # download: the browser saves it, never shows it (a written .html must not run as the app's page)
                anchor = ui.link("Download", link(row.path)).props("download")
                anchor.props["aria-label"] = f"Download {row.path}"  # as a value: a path is never parsed as props


def size_text(size: int | None) -> str:
    """E.g. "812 bytes", "4.2 KB", "1.3 MB"; "not in the run's folder" for a file gone."""
    if size is None:
        return "not in the run's folder"
    if size < 1000:
        return f"{size} byte" if size == 1 else f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1_000_000:.1f} MB"


_CELL = "padding: 2px 8px; vertical-align: top; border-bottom: 1px solid rgba(127, 127, 127, 0.25); "
