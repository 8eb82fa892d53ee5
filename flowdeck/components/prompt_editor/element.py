"""PromptEditor: a NiceGUI element around the bundled CodeMirror editor (dist/index.js, built from src/)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nicegui.element import Element
from nicegui.events import GenericEventArguments

from flowdeck.components.css import STATIC, shared_css
from flowdeck.components.prompt_editor.diagnostics import Diagnostic

OnText = Callable[[str], Sequence[Diagnostic]]  # the text as typed -> its problems, to underline


class PromptEditor(Element, component="prompt_editor.js", esm={"flowdeck-prompt-editor": "dist"}):
    """A template's raw text, edited with its references shown as chips (labels from `context`: inputs,
    upstream and agents, each name -> the name shown; filters: the filter names). Every change reaches the
    server as it is typed; the server answers with the diagnostics of exactly that text."""

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

    def on_text(self, handler: OnText) -> PromptEditor:
        """Call `handler` with each new text; underline what it returns."""

        def changed(event: GenericEventArguments) -> None:
            args = event.args if isinstance(event.args, dict) else {}
            text, version = args.get("text"), args.get("version")
            if not isinstance(text, str) or not isinstance(version, int):
                return
            self.value = text
            # Kept current without sending: the browser holds it already, and a page sent again shows it.
            self._props["value"] = text
            diagnostics = [d.to_dict() for d in handler(text)]
            self._props["diagnostics"] = diagnostics
            self.run_method("diagnose", version, diagnostics)

        self.on("change", changed)
        return self

    def insert_js(self, text: str) -> str:
        """A browser-side handler inserting `text` at the editor's cursor (for a button: no round trip)."""
        return f"() => getElement({self.id})?.insert({json.dumps(text)})"
