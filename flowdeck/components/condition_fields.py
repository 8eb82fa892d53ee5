"""The fields of an edge's condition (verdict, contains, expression, otherwise) and, for a loop edge, its rounds and
what happens when they run out. Shared by the loop dialog and the connection panel; the caller applies what they
read, and shows a refusal under the field it names."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nicegui import ui

from flowdeck.engine.workflow import MAX_ROUNDS, Condition, Contains, Expression, Loop, VerdictIs
from flowdeck.errors import EditRefused

Reader = Callable[[str, str | None], Condition | None]  # (kind, value) -> the condition (EditRefused if invalid)
LoopReader = Callable[[Any, str], Loop]  # (max rounds, exhausted) -> the loop (EditRefused if invalid)

KINDS = {
    "always": "always",
    "verdict": "verdict is",
    "contains": "output contains",
    "expression": "expression",
    "otherwise": "otherwise",
}
LOOP_KINDS = {key: KINDS[key] for key in ("verdict", "contains", "expression", "always")}
EXHAUSTED = {"otherwise": "go on", "fail": "fail the run"}


def kind_of(condition: Condition | None) -> tuple[str, str]:
    """A condition as (kind, value) for the fields."""
    if condition is None:
        return "always", ""
    if condition == "otherwise":
        return "otherwise", ""
    if isinstance(condition, VerdictIs):
        return "verdict", condition.verdict
    if isinstance(condition, Contains):
        return "contains", condition.contains
    assert isinstance(condition, Expression)
    return "expression", condition.expression


class ConditionFields:
    """The controls; `read()` gives (condition, loop) or raises EditRefused naming the field."""

    def __init__(
        self,
        *,
        verdicts: Sequence[str],
        source_name: str,
        condition: Condition | None,
        loop: Loop | None,
        is_loop: bool,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        kind, value = kind_of(condition)
        if is_loop and condition is None and loop is None and verdicts:
            kind, value = "verdict", _sends_back(verdicts)
        self.is_loop = is_loop
        self.verdicts = tuple(verdicts)
        self.source_name = source_name
        kinds = LOOP_KINDS if is_loop else KINDS
        word = "Repeat while" if is_loop else "Condition"
        with ui.row().classes("w-full items-center no-wrap gap-2"):
            self.kind = _select(kinds, kind, word, "w-40")
            choices = {v: v for v in verdicts} or {"": f"{source_name} gives no verdicts"}
            picked = value if kind == "verdict" and value in choices else next(iter(choices))
            self.verdict = _select(choices, picked, "Verdict", "grow")
            self.contains = _input("Output contains", value if kind == "contains" else "")
            self.expression = _input("Expression", value if kind == "expression" else "")
        self.rounds: ui.number | None = None
        self.exhausted: ui.select | None = None
        if is_loop:
            with ui.row().classes("w-full items-center no-wrap gap-2"):
                self.rounds = _Rounds("Max rounds", value=loop.max_rounds if loop else 3, step=1)
                # min/max tell assistive tech the range; w-28 keeps the label whole beside an error
                self.rounds.props(f"dense outlined color=indigo-8 min=1 max={MAX_ROUNDS}").classes(
                    "w-28"
                ).without_auto_validation()
                exhausted = loop.exhausted if loop else "otherwise"
                self.exhausted = _select(EXHAUSTED, exhausted, "When rounds run out", "grow")
        self._quiet = False
        self.error = ui.label().classes("text-xs text-negative").props("role=alert")
        self.error.set_visibility(False)
        self._show_kind()
        self.kind.on_value_change(lambda _: self._changed(on_change, kind_changed=True))
        controls: list[Any] = [self.verdict, self.contains, self.expression, self.rounds, self.exhausted]
        for control in controls:
            if control is not None:
                control.on_value_change(lambda _: self._changed(on_change))

    def read(self, condition_of: Reader, loop_of: LoopReader) -> tuple[Condition | None, Loop | None]:
        kind = str(self.kind.value)
        if kind == "verdict" and not self.verdicts:
            raise EditRefused(f"Verdict: {self.source_name} gives no verdicts; add some in its properties", "verdict")
        value = {"verdict": self.verdict.value, "contains": self.contains.value, "expression": self.expression.value}
        condition = condition_of(kind, value.get(kind))
        loop = None
        if self.rounds is not None and self.exhausted is not None:
            loop = loop_of(self.rounds.value, str(self.exhausted.value))
        return condition, loop

    def show_error(self, error: EditRefused | None) -> None:
        """The refusal under the fields, the field it names marked invalid (None: clear)."""
        fields = {
            "verdict": self.verdict,
            "contains": self.contains,
            "expression": self.expression,
            "max_rounds": self.rounds,
            "exhausted": self.exhausted,
            "condition": self.kind,
        }
        for name, control in fields.items():
            if control is None:
                continue
            invalid = error is not None and error.field == name
            if control.props.get("error", False) != invalid:
                control.props["error"] = invalid
                control.props["aria-invalid"] = "true" if invalid else "false"
                if invalid:  # the message is read with the field
                    control.props["aria-describedby"] = self.error.html_id
                else:
                    control.props.pop("aria-describedby", None)
                control.update()
        self.error.set_text(str(error) if error is not None else "")
        self.error.set_visibility(error is not None)

    def values(self) -> dict[str, Any]:
        """What the fields hold, applied or not (kept when refused, so nothing typed is lost)."""
        return {name: control.value for name, control in self._controls().items()}

    def restore(self, values: dict[str, Any]) -> None:
        """Put back what `values()` gave, without telling on_change of each field."""
        self._quiet = True
        try:
            for name, control in self._controls().items():
                if name in values:
                    control.set_value(values[name])
        finally:
            self._quiet = False
        self._show_kind()

    def _controls(self) -> dict[str, Any]:
        controls: dict[str, Any] = {"kind": self.kind, "verdict": self.verdict, "contains": self.contains}
        controls |= {"expression": self.expression, "rounds": self.rounds, "exhausted": self.exhausted}
        return {name: control for name, control in controls.items() if control is not None}

    def _changed(self, on_change: Callable[[], None] | None, *, kind_changed: bool = False) -> None:
        if kind_changed:
            self._show_kind()
        if on_change is not None and not self._quiet:
            on_change()

    def _show_kind(self) -> None:
        kind = self.kind.value
        self.verdict.set_visibility(kind == "verdict")
        self.contains.set_visibility(kind == "contains")
        self.expression.set_visibility(kind == "expression")


class _Rounds(ui.number):
    """Max rounds, never clamped on blur: a number out of range is refused naming the cap, not silently changed."""

    def sanitize(self) -> None:
        return


def _sends_back(verdicts: Sequence[str]) -> str:
    """The verdict a loop most likely repeats on: one that asks for changes, else the last."""
    for verdict in verdicts:
        if verdict.casefold() in ("revise", "reject", "rejected", "retry", "changes", "request_changes"):
            return verdict
    return verdicts[-1]


def _select(options: dict[str, str], value: str, label: str, width: str) -> ui.select:
    # indigo-8: a focused field's label keeps its contrast (the default primary is too light on white)
    select = ui.select(options, value=value, label=label).props("dense outlined options-dense color=indigo-8")
    return select.classes(width).without_auto_validation()


def _input(label: str, value: str) -> ui.input:
    return ui.input(label, value=value).props("dense outlined color=indigo-8").classes("grow").without_auto_validation()
