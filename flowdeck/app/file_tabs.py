"""The run panel's Artifacts and Side effects tabs (issue 22): drawn from the run's events, with what the run's folder
and side-effect log add (sizes, redacted arguments), read in a thread when the tab is shown and again when the
events say something changed while it is in view."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from nicegui import background_tasks

from flowdeck.app.compensate import CompensationSection
from flowdeck.app.run_files import RunFiles
from flowdeck.components.artifacts import ArtifactsTab, artifact_rows
from flowdeck.components.effects import EffectsTab, effect_rows
from flowdeck.engine.events import Event, RunFinished, RunInterrupted, RunStarted, ToolCalled, ToolFinished
from flowdeck.engine.state import RunState

ARTIFACTS = "Artifacts"
EFFECTS = "Side effects"
Shown = Callable[[], tuple[RunState, Mapping[str, str]]]  # the run shown now, and its agents' names


class FileTabs:
    """Build it in the Artifacts tab's panel, then build_effects() in the Side effects tab's."""

    def __init__(self, files: RunFiles | None, shown: Shown) -> None:
        self.files = files
        self.shown = shown
        self.artifacts = ArtifactsTab()
        self.effects: EffectsTab | None = None
        self.undoing: CompensationSection | None = None  # under the side effects, when the run's log can be read
        self._due = {ARTIFACTS, EFFECTS}
        self._reading: set[str] = set()

    def build_effects(self) -> None:
        self.effects = EffectsTab()
        if self.files is not None:
            self.undoing = CompensationSection(self.files)

    def due(self, *tabs: str) -> None:
        """These tabs are read again the next time they are refreshed."""
        self._due.update(tabs)

    def saw(self, event: Event) -> None:
        """Note which tab an event changes: a file written, a call's progress, another run."""
        if (isinstance(event, ToolFinished) and event.artifacts) or isinstance(event, RunStarted):
            self._due.add(ARTIFACTS)
        if isinstance(event, ToolCalled | ToolFinished | RunStarted | RunFinished | RunInterrupted):
            self._due.add(EFFECTS)  # a run's end: its compensation (app/compensate.py) starts or can be asked for

    def refresh(self, tab: str, again: Callable[[], None]) -> None:
        """Bring the tab in view up to date if something changed; `again`: called after a reading, to draw what came
        in meanwhile."""
        if tab not in self._due or tab in self._reading:
            return
        self._due.discard(tab)
        self._reading.add(tab)
        background_tasks.create(self._read_and_draw(tab, again), name=f"read the run's {tab.lower()}")

    async def _read_and_draw(self, tab: str, again: Callable[[], None]) -> None:
        state, _ = self.shown()
        run_id = state.run_id
        files = self.files
        try:
            if tab == ARTIFACTS:
                stored = await asyncio.to_thread(files.artifacts, run_id) if files and run_id else []
                state, labels = self.shown()
                if self.artifacts.root.is_deleted or run_id != state.run_id:
                    return
                link = (lambda path: files.link(run_id, path)) if files else (lambda path: "")
                self.artifacts.show(artifact_rows(state, labels, stored), link)
            elif self.effects is not None:
                journal = await asyncio.to_thread(files.effects, run_id) if files and run_id else []
                state, labels = self.shown()
                if self.effects.root.is_deleted or run_id != state.run_id:
                    return
                going = state.status in ("pending", "running", "waiting")
                self.effects.show(effect_rows(state, labels, journal, going=going))
                if self.undoing is not None and run_id:
                    await self.undoing.show(run_id, state.status)
        finally:
            self._reading.discard(tab)
        again()
