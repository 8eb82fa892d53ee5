"""PromptEditor: a NiceGUI element around the bundled CodeMirror editor (dist/index.js, built from src/)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nicegui.element import Element
from nicegui.events import GenericEventArguments

from flowdeck.components.css import STATIC, shared_css
from flowdeck.components.prompt_editor.diagnostics import Diagnostic

OnChange = Callable[[str, int], None]  # the text as typed, and its version (counted by the browser)


class PromptEditor(Element, component="prompt_editor.js", esm={"flowdeck-prompt-editor": "dist"}):
    """A template's raw text, edited with its references shown as chips (labels from `context`: inputs,
    upstream and agents, each name -> the name shown; filters: the filter names). Every change reaches the
    server as it is typed; the server answers with the diagnostics of a version of the text."""

    def __init__(
        self,
        *,
        value: str,
        label: str,
        placeholder: str,
        context: Mapping[str, Any],
        diagnostics: Sequence[Diagnostic] = (),
    ) -> None:
        super().__init__()
        shared_css(STATIC / "prompt_editor.css")
        self.value = value
        self._props.update(
            value=value,
            label=label,
            placeholder=placeholder,
            context=dict(context),
            diagnostics=[d.to_dict() for d in diagnostics],
        )

    def on_change(self, handler: OnChange) -> PromptEditor:
        """Call `handler(text, version)` with each new text, as typed."""

        def changed(event: GenericEventArguments) -> None:
            args = event.args if isinstance(event.args, dict) else {}
            text, version = args.get("text"), args.get("version")
            if not isinstance(text, str) or not isinstance(version, int):
                return
            self.value = text
            self._props["value"] = text  # kept current without sending: the browser has it
            handler(text, version)

        self.on("change", changed)
        return self

    def diagnose(self, version: int, diagnostics: Sequence[Diagnostic]) -> None:
        """Underline the problems of the text of `version` (stale ones are dropped in the browser)."""
        found = [d.to_dict() for d in diagnostics]
        self._props["diagnostics"] = found
        self.run_method("diagnose", version, found)

    def insert_js(self, text: str) -> str:
        """A browser-side handler inserting `text` at the editor's cursor (for a button: no round trip)."""
        return f"() => getElement({self.id})?.insert({json.dumps(text)})"
