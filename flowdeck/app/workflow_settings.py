"""A workflow's own settings as the Workflow settings dialog edits them (name, description, default model,
inputs, the domains its tools may reach): checked field by field in words that name the field, and applied as one
new workflow, with the prompt templates that read a renamed input following it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import TypeAdapter, ValidationError

from flowdeck.engine.agents import display_name
from flowdeck.engine.prompts import check_template, rename_inputs
from flowdeck.engine.tool_config import MAX_ALLOWED_DOMAINS, AllowedDomains
from flowdeck.engine.workflow import MAX_INPUTS, MAX_PROMPT_CHARS, Workflow, WorkflowInput
from flowdeck.errors import EditRefused

_INPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_INPUT_NAME_RULE = (
    "Input name must start with a letter or underscore, then letters, digits or underscores "
    "(at most 64 characters), e.g. task or source_text"
)
DOMAIN_RULE = "A host name like example.org, or *.example.org for its subdomains; no scheme, path or port"
_DOMAINS: TypeAdapter[list[str]] = TypeAdapter(AllowedDomains)  # the engine's own check of the list


@dataclass(frozen=True, kw_only=True, slots=True)
class InputDraft:
    """One input as the dialog holds it. `was`: its name when the dialog opened (None: added since), so that a
    rename is told from a removal and an addition."""

    name: str
    was: str | None = None
    label: str = ""
    description: str = ""
    default: str = ""  # "": no default (the input must be given)
    had_empty_default: bool = False  # a default of "" kept as it was, not turned into "no default"


@dataclass(frozen=True, kw_only=True, slots=True)
class SettingsDraft:
    name: str
    description: str = ""
    default_model: str = ""  # "": the app's default model
    inputs: tuple[InputDraft, ...] = ()
    allowed_domains: tuple[str, ...] = ()  # where the workflow's tools may connect; empty: no network

    @classmethod
    def of(cls, workflow: Workflow) -> SettingsDraft:
        """The dialog's starting point: the workflow's settings as they are."""
        return cls(
            name=workflow.name,
            description=workflow.description,
            default_model=workflow.default_model or "",
            inputs=tuple(
                InputDraft(
                    name=item.name,
                    was=item.name,
                    label=item.label,
                    description=item.description,
                    default=item.default or "",
                    had_empty_default=item.default == "",
                )
                for item in workflow.inputs
            ),
            allowed_domains=tuple(workflow.allowed_domains),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Applied:
    """What applying the settings did beyond the fields themselves, to tell the person."""

    renamed: dict[str, str] = field(default_factory=dict)  # old input name -> new
    rewritten: tuple[str, ...] = ()  # agents whose prompt templates now read the new names
    dangling: dict[str, tuple[str, ...]] = field(default_factory=dict)  # removed input -> agents still reading it


def problems(draft: SettingsDraft) -> dict[str, str]:
    """Every problem of the draft, by field ("name", "default_model", "inputs.2.name", ...); {} if none."""
    found: dict[str, str] = {}
    name = draft.name.strip()
    if not name:
        found["name"] = "Name must not be empty"
    elif len(name) > 200:
        found["name"] = "Name must be at most 200 characters"
    if len(draft.description) > 5_000:
        found["description"] = "Description must be at most 5,000 characters"
    model = draft.default_model.strip()
    if any(ch.isspace() for ch in model):
        found["default_model"] = f"“{model}” is not a model name: model names have no spaces"
    elif len(model) > 200:
        found["default_model"] = "Default model must be a model name of at most 200 characters"
    if len(draft.inputs) > MAX_INPUTS:
        found["inputs"] = f"A workflow can have at most {MAX_INPUTS} inputs"
    seen: set[str] = set()
    for index, item in enumerate(draft.inputs):
        where = f"inputs.{index}"
        if not item.name:
            found[f"{where}.name"] = "Input name must not be empty"
        elif not _INPUT_NAME.fullmatch(item.name):
            found[f"{where}.name"] = _INPUT_NAME_RULE
        elif item.name in seen:
            found[f"{where}.name"] = f"Input name “{item.name}” is taken by another input; each needs its own"
        seen.add(item.name)
        if len(item.label) > 200:
            found[f"{where}.label"] = "Input label must be at most 200 characters"
        if len(item.description) > 2_000:
            found[f"{where}.description"] = "Input description must be at most 2,000 characters"
        if len(item.default) > MAX_PROMPT_CHARS:
            found[f"{where}.default"] = "Default value must be at most 100,000 characters"
    found.update(domain_problems(draft.allowed_domains))
    return found


def domain_problems(domains: tuple[str, ...]) -> dict[str, str]:
    """Each allowed domain checked as the engine checks it ("allowed_domains.2": what is wrong and the fix)."""
    found: dict[str, str] = {}
    if len(domains) > MAX_ALLOWED_DOMAINS:
        found["allowed_domains"] = f"A workflow can allow at most {MAX_ALLOWED_DOMAINS} domains"
    seen: set[str] = set()
    for index, entry in enumerate(domains):
        where = f"allowed_domains.{index}"
        entry = entry.strip()
        try:
            _DOMAINS.validate_python([entry])
        except ValidationError as exc:
            message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            found[where] = f"Allowed domain {message}" if message.startswith("'") else f"Allowed domain: {message}"
            continue
        if entry in seen:
            found[where] = f"Allowed domain '{entry}' is listed twice; list each domain once"
        seen.add(entry)
    return found


def apply(workflow: Workflow, draft: SettingsDraft) -> tuple[Workflow, Applied]:
    """The workflow with these settings; EditRefused naming the first bad field (see problems())."""
    found = problems(draft)
    if found:
        where, message = next(iter(found.items()))
        raise EditRefused(message, where)
    inputs = [
        WorkflowInput(
            name=item.name,
            label=item.label.strip(),
            description=item.description.strip(),
            default=item.default if item.default or item.had_empty_default else None,
        )
        for item in draft.inputs
    ]
    renamed = {item.was: item.name for item in draft.inputs if item.was is not None and item.was != item.name}
    nodes = []
    rewritten = []
    for node in workflow.nodes:
        template = node.config.prompt_template
        new = rename_inputs(template, renamed) if template else template
        if new != template:
            node = node.model_copy(update={"config": node.config.model_copy(update={"prompt_template": new})})
            rewritten.append(display_name(node))
        nodes.append(node)
    updated = workflow.model_copy(
        update={
            "name": draft.name.strip(),
            "description": draft.description.strip(),
            "default_model": draft.default_model.strip() or None,
            "inputs": inputs,
            "nodes": nodes,
            "allowed_domains": [entry.strip() for entry in draft.allowed_domains],
        }
    )
    # A removed name given to another input is not dangling: its references read that input now.
    removed = {item.name for item in workflow.inputs} - {item.was for item in draft.inputs} - {i.name for i in inputs}
    return updated, Applied(renamed=renamed, rewritten=tuple(rewritten), dangling=readers(updated, removed))


def readers(workflow: Workflow, names: set[str]) -> dict[str, tuple[str, ...]]:
    """For each of these input names that a prompt template reads, the agents whose templates read it."""
    found: dict[str, list[str]] = {}
    if not names:
        return {}  # asked as each key is typed: no template parsed for nothing
    for node in workflow.nodes:
        if node.config.prompt_template:
            for name in sorted(check_template(node.config.prompt_template).inputs & names):
                found.setdefault(name, []).append(display_name(node))
    return {name: tuple(agents) for name, agents in found.items()}
