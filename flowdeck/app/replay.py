"""Replay of a recorded run: its events fed into a RunView in time order (play, pause, speed, scrub).

Scrubbing folds the events up to the chosen position from scratch: the same reducer as the live view. A run with
rounds (a loop) also steps round by round: each round starts at its first agent's event, so the canvas, folded to
there, shows that round's statuses.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from flowdeck.app.run_view import RunView
from flowdeck.engine.events import Event


def round_starts(events: list[Event]) -> list[int]:
    """Where each round of the run starts: the position after the first event of each new round (the first event
    with a higher execution than any before it), round 1 at the run's start. [0] for a run without rounds."""
    starts = [0]
    highest = 1
    for pos, event in enumerate(events):
        index = getattr(event, "execution", None)
        if getattr(event, "node_id", None) is not None and isinstance(index, int) and index > highest:
            highest = index
            starts.append(pos + 1)
    return starts


def round_at(starts: list[int], pos: int) -> int:
    """The round shown at a position: the number of rounds started by then (1 before any)."""
    return max(1, sum(1 for start in starts if start <= pos))


TICK = 0.05
MAX_IDLE = 1.0  # a quiet stretch (a retry wait, a slow model) replays as at most this many seconds
SPEEDS = {1: "1×", 2: "2×", 5: "5×", 20: "20×", 100: "100×"}


class Replay:
    def __init__(self, view: RunView, events: list[Event]) -> None:
        self.view = view
        view.recorded = True
        self.events = events
        self.pos = len(events)
        self.playing = False
        self.clock = events[-1].ts if events else 0.0
        self.rounds = round_starts(events)

    def controls(self) -> None:
        """Play/pause, speed and position controls (build inside a row)."""
        rewind = ui.button(icon="skip_previous", on_click=self.rewind).props("flat dense round")
        rewind.props["aria-label"] = "Back to the start"
        self.play = ui.button(icon="play_arrow", on_click=self.toggle).props("flat dense round")
        self.play.props["aria-label"] = "Play the replay"
        self.speed = ui.select(SPEEDS, value=5, label="Speed").props("dense options-dense").classes("w-24")
        # A native range input, not Quasar's slider: its focus went to an unnamed element inside the slider, and it
        # knew no Home or End. The browser gives it every key (arrows, Page Up/Down, Home, End) and its role.
        self.slider = ui.element("input").classes("w-72 q-mx-md").style("accent-color: var(--q-primary)")
        self.slider.props.update(type="range", min=0, max=max(len(self.events), 1), step=1)
        self.slider.props["aria-label"] = "Replay position"
        # change: when the mouse lets go, or on each key pressed; not on every pixel dragged.
        self.slider.on("change", self._scrubbed, js_handler="(e) => emit(Number(e.target.value))")
        if len(self.rounds) > 1:
            back = ui.button(icon="fast_rewind", on_click=self.previous_round).props("flat dense round")
            back.props["aria-label"] = "Previous round"
            back.tooltip("Back to the start of the previous round")
            ahead = ui.button(icon="fast_forward", on_click=self.next_round).props("flat dense round")
            ahead.props["aria-label"] = "Next round"
            ahead.tooltip("On to the start of the next round")
        self.where = ui.label("").classes("text-xs text-gray-500 whitespace-nowrap")
        self.seek(self.pos)
        ui.timer(TICK, self._tick)

    def seek(self, pos: int) -> None:
        pos = max(0, min(pos, len(self.events)))
        self.view.animate = False
        self.view.reset()
        self.view.feed(self.events[:pos])
        self.view.flush()
        self.pos = pos
        self.clock = self.events[pos - 1].ts if pos else (self.events[0].ts if self.events else 0.0)
        self._show()

    def rewind(self) -> None:
        self._pause()
        self.seek(0)

    def previous_round(self) -> None:
        """The start of the round shown, or of the one before when the replay is at its start."""
        self._pause()
        self.seek(max((start for start in self.rounds if start < self.pos), default=0))

    def next_round(self) -> None:
        self._pause()
        self.seek(min((start for start in self.rounds if start > self.pos), default=len(self.events)))

    def toggle(self) -> None:
        if self.playing:
            self._pause()
            return
        if self.pos >= len(self.events):
            self.seek(0)
        self.playing = True
        self.view.animate = True
        self.play.props(remove="icon").props("icon=pause")
        self.play.props["aria-label"] = "Pause the replay"

    def _pause(self) -> None:
        self.playing = False
        self.play.props(remove="icon").props("icon=play_arrow")
        self.play.props["aria-label"] = "Play the replay"

    def _tick(self) -> None:
        if not self.playing:
            return
        if self.pos >= len(self.events):
            self._pause()
            return
        self.clock += TICK * float(self.speed.value or 1)
        upcoming = self.events[self.pos].ts
        if upcoming - self.clock > MAX_IDLE:
            self.clock = upcoming - MAX_IDLE
        start = self.pos
        while self.pos < len(self.events) and self.events[self.pos].ts <= self.clock:
            self.pos += 1
        if self.pos > start:
            self.view.feed(self.events[start : self.pos])
            self.view.flush()
            self._show()

    def _scrubbed(self, event: Any) -> None:
        asked = event.args  # from the page: a number (seek() clamps it), else where the replay is
        value = asked if type(asked) in (int, float) else self.pos
        self._pause()
        self.seek(int(value))

    def _show(self) -> None:
        total = len(self.events)
        self.slider.props["value"] = self.pos
        self.slider.props["aria-valuetext"] = f"event {self.pos} of {total}"
        self.slider.update()
        offset = min(self.clock, self.events[-1].ts) - self.events[0].ts if self.events else 0.0
        rounds = f" · round {round_at(self.rounds, self.pos)} of {len(self.rounds)}" if len(self.rounds) > 1 else ""
        self.where.set_text(f"event {self.pos} of {total} · +{max(offset, 0):.1f} s{rounds}")
