"""What an agent's prompt template renders to, with the values of the workflow's last run: its inputs and the
outputs of the agents upstream (a pinned output where the run has none), placeholders for the rest."""

from __future__ import annotations

from dataclasses import dataclass

from flowdeck.engine.prompt_process import render_isolated
from flowdeck.engine.prompts import References, UpstreamOutput, check_template
from flowdeck.engine.state import RunState
from flowdeck.engine.workflow import Workflow
from flowdeck.errors import PromptError

MAX_SHOWN = 20_000  # characters of a preview sent to the page


@dataclass(frozen=True, kw_only=True, slots=True)
class Values:
    """What a template would read, taken from a run (or placeholders), and a note saying where they come from."""

    inputs: dict[str, str]
    upstream: list[UpstreamOutput]
    ancestors: dict[str, str]
    note: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Preview:
    text: str  # the rendered prompt, or "" if it failed
    note: str  # where its values come from
    error: str | None = None  # why it did not render


def preview_values(workflow: Workflow, node_id: str, run: RunState | None) -> Values:
    """The values of `run` (None: no run yet) for this agent's template: a copy, so that rendering can be done on
    another thread while the run goes on."""
    outputs = run.outputs() if run is not None else {}
    run_inputs = run.inputs if run is not None else {}
    missing: list[str] = []

    def output_of(source: str) -> str:
        node = workflow.node(source)
        name = node.label or source
        if source in outputs:
            return outputs[source]
        if node.pinned_output is not None:
            return node.pinned_output
        missing.append(name)
        return f"⟨Output of {name}⟩"

    inputs = {i.name: run_inputs.get(i.name, f"⟨Input: {i.label or i.name}⟩") for i in workflow.inputs}
    missing += [i.label or i.name for i in workflow.inputs if i.name not in run_inputs]
    ancestors = {source: output_of(source) for source in sorted(workflow.upstream(node_id))}
    direct = [e.source for e in workflow.edges if e.target == node_id]
    upstream = [UpstreamOutput(id=s, label=workflow.node(s).label or s, output=ancestors[s]) for s in direct]
    return Values(inputs=inputs, upstream=upstream, ancestors=ancestors, note=_note(run, missing))


async def render_preview(values: Values, template: str, refs: References | None = None) -> Preview:
    """The user message the agent would be sent (`refs`: check_template(template), if already made), rendered as a
    run renders it: a template that could take long or build much in the bounded child process, not the server's."""
    refs = refs or check_template(template)
    # References a run would refuse (the editor underlines them): stand-ins, so that the rest can be previewed.
    inputs = values.inputs | {name: f"⟨inputs.{name}: no such input⟩" for name in refs.inputs - values.inputs.keys()}
    ancestors = values.ancestors | {
        name: f"⟨outputs.{name}: not upstream⟩" for name in refs.outputs - values.ancestors.keys()
    }
    try:
        text = await render_isolated(template or None, inputs, values.upstream, ancestors)
    except PromptError as exc:
        return Preview(text="", note=values.note, error=str(exc))
    if len(text) > MAX_SHOWN:
        text = text[:MAX_SHOWN] + f"\n… (the first {MAX_SHOWN:,} of {len(text):,} characters)"
    return Preview(text=text, note=values.note)


def _note(run: RunState | None, missing: list[str]) -> str:
    if run is None:
        return "No run of this workflow yet: ⟨placeholders⟩ stand in for the inputs and the agents' outputs."
    note = f"With the values of the last run ({run.status})."
    if missing:
        note += f" It has no value for {', '.join(dict.fromkeys(missing))}: a ⟨placeholder⟩ stands in."
    return note
