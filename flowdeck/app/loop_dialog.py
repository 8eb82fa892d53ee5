"""The dialog a connection back to an earlier agent opens: "This makes a loop. Repeat while …, at most N rounds"."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from flowdeck.app.document import Document
from flowdeck.app.edge_rules import condition_from, loop_from, verdict_choices
from flowdeck.app.transient import transient_dialog
from flowdeck.components.condition_fields import ConditionFields
from flowdeck.engine.workflow import Edge
from flowdeck.errors import EditRefused


def loop_dialog(doc: Document, source: str, target: str, on_added: Callable[[Edge], None]) -> ui.dialog:
    """Ask how the loop from `source` back to `target` repeats; OK adds the loop edge, Cancel adds nothing."""
    source_node = doc.workflow.node(source)
    with transient_dialog() as dialog, ui.card().classes("w-full max-w-full gap-3").style("width: 34rem") as card:
        card.on("keydown", js_handler=_KEEP_TAB_INSIDE)
        title = ui.label("This makes a loop").classes("text-lg font-semibold").props('role=heading aria-level="2"')
        dialog.props(f"aria-labelledby={title.html_id}")
        ui.label(
            f"{doc.name(source)} sends work back to {doc.name(target)}, which runs again as the next round, "
            "until the condition no longer holds or the rounds run out."
        ).classes("text-sm text-gray-500")
        fields = ConditionFields(
            verdicts=verdict_choices(source_node),
            source_name=doc.name(source),
            condition=None,
            loop=None,
            is_loop=True,
        )
        fields.kind.props("autofocus")  # the dialog opens on its first field

        def add() -> None:
            try:
                condition, loop = fields.read(condition_from, loop_from)
                edge = doc.connect(source, target, condition=condition, loop=loop)
            except EditRefused as exc:
                fields.show_error(exc)
                return
            dialog.close()
            on_added(edge)

        assert fields.rounds is not None  # a loop's fields have rounds
        fields.rounds.on("keydown.enter", add)  # Enter adds the loop, as in any form

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            ui.button("Add loop", on_click=add).props("no-caps color=indigo")
    dialog.open()
    return dialog


# Tab from the last control goes to the first, Shift+Tab from the first to the last: the focus stays in the dialog.
_KEEP_TAB_INSIDE = """(e) => {
  if (e.key !== "Tab") return;
  const all = e.currentTarget.querySelectorAll("button, input, textarea, [tabindex]:not([tabindex='-1'])");
  const items = [...all].filter((el) => !el.disabled && el.offsetParent !== null);
  if (!items.length) return;
  const [first, last] = [items[0], items[items.length - 1]];
  const edge = e.shiftKey ? first : last;
  if (document.activeElement === edge || !e.currentTarget.contains(document.activeElement)) {
    e.preventDefault();
    (e.shiftKey ? last : first).focus();
  }
}"""
