"""Agent types: presets (system prompt, temperature, icon) of the one agent node kind."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from flowdeck.engine.events import Record
from flowdeck.engine.workflow import APPROVAL, AgentConfig, Node, Workflow

APPROVAL_VERDICTS = ("approved", "rejected")  # what a person's decision on an approval node is


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentPreset:
    type: str
    title: str
    icon: str
    description: str
    system_prompt: str
    temperature: float
    verdicts: tuple[str, ...] = ()  # the answer ends with "Verdict: <one of these>"
    # Format 2: the verdicts an agent of this type chooses from when an edge routes on them, and its system prompt
    # then (the engine appends how to give the verdict).
    decisions: tuple[str, ...] = ()
    decision_prompt: str | None = None


PRESETS: dict[str, AgentPreset] = {
    preset.type: preset
    for preset in (
        AgentPreset(
            type="researcher",
            title="Researcher",
            icon="travel_explore",
            description="Gathers the facts, constraints and approaches a task needs.",
            system_prompt=(
                "You are a meticulous researcher. Study the task, list the key facts, constraints, edge "
                "cases and candidate approaches, and recommend one. Be concise and concrete; use bullet points."
            ),
            temperature=0.3,
        ),
        AgentPreset(
            type="coder",
            title="Coder",
            icon="code",
            description="Writes working code from a task and the research handed to it.",
            system_prompt=(
                "You are an expert software engineer. Write correct, readable, tested code for the task, "
                "following the research you are given. Answer with the code in a fenced block and a short "
                "explanation."
            ),
            temperature=0.2,
        ),
        AgentPreset(
            type="reviewer",
            title="Reviewer",
            icon="rate_review",
            description="Reviews the work handed to it and gives a verdict with reasons.",
            system_prompt=(
                "You are a demanding code reviewer. Check the work for bugs, missed edge cases and unclear "
                "code. List concrete problems with fixes, then end with a verdict: APPROVE or REQUEST CHANGES."
            ),
            temperature=0.1,
            verdicts=("APPROVE", "REQUEST CHANGES"),
            decisions=("approve", "revise"),
            decision_prompt=(
                "You are a demanding code reviewer. Check the work for bugs, missed edge cases and unclear "
                "code. List concrete problems with fixes. Approve the work only when it has none left."
            ),
        ),
        AgentPreset(
            type="custom",
            title="Custom agent",
            icon="smart_toy",
            description="An agent you define with your own system prompt.",
            system_prompt="You are a helpful assistant. Do the task you are given, carefully and concisely.",
            temperature=0.7,
        ),
    )
}


class ResolvedAgent(Record, frozen=True):
    """A node's effective settings: its config with the preset and workflow defaults filled in."""

    model: str
    temperature: float
    system_prompt: str
    prompt_template: str | None
    max_tokens: int
    timeout: float
    retries: int
    verdicts: tuple[str, ...] = ()
    decides: bool = False  # the agent must give one of `verdicts` (format 2): asked for, checked, retried once
    tools: tuple[str, ...] = ()  # the tools its model may call (engine/tool_loop.py)
    max_tool_calls: int = 10


def resolve(
    node: Node, default_model: str, override: str | None = None, *, routes_by_verdict: bool = False
) -> ResolvedAgent:
    """Fill a node's unset config values from its preset and the default model; `override` beats both.

    An agent decides (gives a verdict that the engine checks) when it declares verdicts, or when an edge out of it
    routes on a verdict (`routes_by_verdict`) and its type has verdicts to offer. Otherwise it is what it was in
    format 1: the preset's verdicts only shape the embedded model's answer."""
    preset = PRESETS[node.type]
    config: AgentConfig = node.config
    if not routes_by_verdict and config.verdicts is None:  # as in format 1 (a run resolves every agent: kept short)
        agent = ResolvedAgent(
            model=override or config.model or default_model,
            temperature=preset.temperature if config.temperature is None else config.temperature,
            system_prompt=preset.system_prompt if config.system_prompt is None else config.system_prompt,
            prompt_template=config.prompt_template,
            max_tokens=config.max_tokens,
            timeout=config.timeout,
            retries=config.retries,
            verdicts=preset.verdicts,
        )
        return _with_tools(agent, config) if config.tools else agent
    decisions = decisions_of(node)
    system = config.system_prompt
    if system is None:
        system = (preset.decision_prompt or preset.system_prompt) if decisions else preset.system_prompt
    if decisions:
        system = f"{system}\n\n{verdict_instruction(decisions)}"
    agent = ResolvedAgent(
        model=override or config.model or default_model,
        temperature=preset.temperature if config.temperature is None else config.temperature,
        system_prompt=system,
        prompt_template=config.prompt_template,
        max_tokens=config.max_tokens,
        timeout=config.timeout,
        retries=config.retries,
        verdicts=decisions or (() if config.verdicts is not None else preset.verdicts),
        decides=bool(decisions),
    )
    return _with_tools(agent, config) if config.tools else agent


def _with_tools(agent: ResolvedAgent, config: AgentConfig) -> ResolvedAgent:
    """An agent's tools, set apart: the agents without any, nearly all, are resolved as fast as before."""
    return msgspec.structs.replace(agent, tools=tuple(config.tools), max_tool_calls=config.max_tool_calls)


def decisions_of(node: Node) -> tuple[str, ...]:
    """The verdicts a format-2 agent chooses from: its own, else its type's (an approval's: approved, rejected)."""
    if node.type == APPROVAL:
        return APPROVAL_VERDICTS
    if node.config.verdicts is not None:
        return tuple(node.config.verdicts)
    preset = PRESETS.get(node.type)
    return preset.decisions if preset else ()


def verdict_instruction(verdicts: tuple[str, ...]) -> str:
    """What a deciding agent is told about giving its verdict."""
    choices = " or ".join(f"`Verdict: {v}`" for v in verdicts)
    return f"End your answer with one line giving your verdict: {choices}."


def models_of(workflow: Workflow, default_model: str, override: str | None = None) -> set[str]:
    """The models a workflow's agents would call; `default_model` (the app's) yields to the workflow's own."""
    default = workflow.default_model or default_model
    return {override or node.config.model or default for node in workflow.nodes if node.type in PRESETS}


def display_name(node: Node) -> str:
    """The name shown for a node: its label, else its agent type's title, else its id."""
    if node.type == APPROVAL:
        return node.label or "Approval"
    preset = PRESETS.get(node.type)
    return node.label or (preset.title if preset else node.id)


def is_known_type(node_type: str) -> bool:
    """Whether a workflow may hold a node of this type: an agent preset or an approval."""
    return node_type in PRESETS or node_type == APPROVAL
