"""The Model box: any model string typed, or one picked from suggestions (see model_box.js)."""

from __future__ import annotations

from nicegui import ui


class ModelBox(ui.input, component="model_box.js"):
    """A combobox whose value is the model string as typed; empty means the workflow's default model, which the
    placeholder names. Its value reaches the server on every keystroke, like any ui.input."""

    def __init__(self, label: str, *, value: str, suggestions: dict[str, str], default: str) -> None:
        super().__init__(label, value=value, placeholder=default)
        self.props("stack-label")
        self.set_suggestions(suggestions)

    def set_suggestions(self, suggestions: dict[str, str]) -> None:
        """Model string -> what the list shows for it ("" picks the default)."""
        self._props["options"] = [{"value": model, "label": label} for model, label in suggestions.items()]
        self.update()
