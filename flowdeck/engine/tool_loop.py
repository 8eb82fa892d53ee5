"""An agent's tool-calling loop (issue 22): the model asks for tools, the run's toolbox runs them, their results go
back as "tool" messages, until the model answers or reaches its agent's limit of calls.

Every call is a ToolCalled then a ToolFinished event. A call whose tool changes the world ("write") is recorded in
the run's side-effect journal: an intent before it runs, an outcome after. Its key (ToolContext) is the same in a
retry or a resume, so a call whose outcome is recorded is never repeated: the model is given the recorded result.
An agent with tools is neither served from nor stored in the output cache: its answer depends on the world."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import msgspec

from flowdeck.engine.agents import ResolvedAgent
from flowdeck.engine.events import Message, ToolCall, ToolCalled, ToolFinished, Usage
from flowdeck.engine.llm_types import Completion, ModelCaller, ModelRequest
from flowdeck.engine.outbox import Outbox
from flowdeck.engine.tokens import TokenBuffer, TokenFlusher
from flowdeck.engine.tools import (
    MAX_RESULT_CHARS,
    MAX_TOOL_CALLS,
    EffectJournal,
    RecordedEffect,
    Toolbox,
    ToolContext,
    ToolResult,
    ToolSpec,
)
from flowdeck.engine.verdicts import Verdict
from flowdeck.errors import ModelError

UnknownEffect = Literal["fail", "retry", "skip"]  # what a resumed run does with a call whose outcome is unknown
SKIPPED_UNKNOWN = "the outcome of this call is unknown; it was not repeated"
TURN_BREAK = "\n\n"  # between the text of two model turns, as it streams


class ToolLoop:
    """The tool-calling half of ModelCalls (engine/calls.py); Run (engine/run.py) sets every attribute here."""

    run_id: str
    _labels: dict[str, str]
    _caller: ModelCaller
    _outbox: Outbox
    _flusher: TokenFlusher
    _toolbox: Toolbox | None
    _journal: EffectJournal | None
    _on_unknown_effect: UnknownEffect
    _effects_run_id: str

    if TYPE_CHECKING:  # defined by ModelCalls and Run

        def _fail(
            self, node_id: str, execution: int, kind: str, message: str, retryable: bool, attempts: int
        ) -> None: ...

        def _finish_node(
            self,
            node_id: str,
            execution: int,
            completion: Completion,
            *,
            duration: float,
            cached: bool,
            attempts: int,
            pinned: bool = False,
            verdict: Verdict | None = None,
        ) -> None: ...

        async def _attempt(self, request: ModelRequest, preds: tuple[str, ...], tokens: TokenBuffer) -> Completion: ...

        async def _retry(
            self,
            error: ModelError,
            request: ModelRequest,
            preds: tuple[str, ...],
            tokens: TokenBuffer,
            max_attempts: int,
        ) -> Completion: ...

        async def _decided(
            self,
            node_id: str,
            request: ModelRequest,
            completion: Completion,
            preds: tuple[str, ...],
            tokens: TokenBuffer,
            key: str,
            t0: float,
        ) -> bool: ...

    async def _call_with_tools(
        self, node_id: str, execution: int, agent: ResolvedAgent, messages: list[Message], preds: tuple[str, ...]
    ) -> bool:
        """Run the agent's model with its tools until it answers; False when the agent failed."""
        opener = getattr(self._toolbox, "open", None)  # a toolbox with MCP servers starts those this agent uses
        if opener is not None:
            await opener(agent.tools)
        specs = self._tool_specs(node_id, execution, agent)
        if specs is None:
            return False
        request = ModelRequest(
            model=agent.model,
            messages=messages,
            temperature=agent.temperature,
            max_tokens=agent.max_tokens,
            timeout=agent.timeout,
            verdicts=agent.verdicts,
            structured=agent.decides,
            round=execution,
            tools=specs,
        )
        tokens = TokenBuffer(self._outbox, node_id, execution)
        t0 = time.monotonic()
        by_name = {spec.name: spec for spec in specs}
        conversation = list(messages)
        usage, cost, made, told = Usage(), 0.0, 0, False
        limit = agent.max_tool_calls
        try:
            completion = await self._turn(request, preds, tokens, agent.retries, first=True)
            while True:
                usage, cost = usage + completion.usage, cost + completion.cost
                if not completion.tool_calls:
                    break
                if told:  # it was told it had no calls left, and asked again
                    self._fail(
                        node_id, execution, "tool_limit", self._over_limit(node_id, limit), False, tokens.attempt
                    )
                    return False
                conversation.append(
                    Message(role="assistant", content=completion.text, tool_calls=completion.tool_calls)
                )
                for call in completion.tool_calls:
                    if made >= limit:  # every call asked for gets an answer (providers require one per id)
                        content = f"not run: this agent's limit of {limit} tool calls was reached"
                    else:
                        made += 1
                        found = await self._run_tool(node_id, execution, made, call, by_name.get(call.name), specs)
                        if found is None:
                            return False
                        content = found
                    conversation.append(Message(role="tool", content=content, tool_call_id=call.id))
                if made >= limit:
                    told = True
                    conversation.append(Message(role="user", content=_limit_reached(limit)))
                if completion.text:
                    tokens.add(TURN_BREAK)
                request = msgspec.structs.replace(request, messages=list(conversation))
                completion = await self._turn(request, preds, tokens, agent.retries, first=False)
        except ModelError as exc:
            message = str(exc)
            if exc.kind == "tools_unsupported":  # said before any call: name the agent that needs tools
                message = f"'{self._labels[node_id]}' uses tools; {exc.detail}: {exc.hint}"
            self._fail(node_id, execution, exc.kind, message, exc.retryable, tokens.attempt)
            return False
        answer = Completion(text=completion.text, usage=usage, cost=cost, cut=completion.cut)
        if agent.decides:  # its verdict is read from the answer, asked for once more after the first exchange
            first = msgspec.structs.replace(request, messages=messages, tools=())
            return await self._decided(node_id, first, answer, preds, tokens, "", t0)
        duration = time.monotonic() - t0
        self._finish_node(node_id, execution, answer, duration=duration, cached=False, attempts=tokens.attempt)
        return True

    def _tool_specs(self, node_id: str, execution: int, agent: ResolvedAgent) -> tuple[ToolSpec, ...] | None:
        """The specs of the agent's tools from the run's toolbox; None (the agent failed) when it cannot have them."""
        label = self._labels[node_id]
        if self._toolbox is None:
            message = (
                f"'{label}' uses tools ({', '.join(agent.tools)}) but this run was started without a toolbox; "
                "run the workflow from the app, the CLI, the API or flowdeck.run(), which give a run its tools "
                "(in code: Run(..., toolbox=...))"
            )
            self._fail(node_id, execution, "tools_unavailable", message, False, 0)
            return None
        try:
            return tuple(self._toolbox.specs(agent.tools))
        except KeyError as exc:
            reason = exc.args[0] if exc.args else "a tool it lists is unknown"
            message = f"'{label}' cannot have its tools: {reason}; remove it from its tools or make it available"
            self._fail(node_id, execution, "tools_unavailable", message, False, 0)
            return None

    async def _turn(
        self, request: ModelRequest, preds: tuple[str, ...], tokens: TokenBuffer, retries: int, *, first: bool
    ) -> Completion:
        """One model turn. The first is the execution's attempt (node_started); a later turn (after tool results)
        streams on under the same attempt, and only a retry of it is a new attempt."""
        try:
            if first:
                return await self._attempt(request, preds, tokens)
            flusher = self._flusher
            flusher.attach(tokens)
            try:
                return await self._caller.call(request, tokens.add)
            finally:
                tokens.flush()
                flusher.detach(tokens)
        except ModelError as exc:
            if not exc.retryable or retries == 0:
                raise
            return await self._retry(exc, request, preds, tokens, retries + 1)

    async def _run_tool(
        self,
        node_id: str,
        execution: int,
        n: int,
        call: ToolCall,
        spec: ToolSpec | None,
        specs: Sequence[ToolSpec],
    ) -> str | None:
        """Run the n-th call of this execution (or reuse its recorded outcome); what the model is given, or None
        when the agent failed (an unknown outcome that the run was told not to guess about)."""
        key = f"{self._effects_run_id}:{node_id}:{execution}:{n}"
        context = ToolContext(run_id=self.run_id, node_id=node_id, execution=execution, key=key)
        if spec is None:  # the model made up a tool: it is told which there are
            known = ", ".join(s.name for s in specs)
            refusal = ToolResult(content=f"there is no tool named '{call.name[:64]}'; the tools are: {known}", ok=False)
            self._tool_called(context, call, "read")
            self._tool_finished(context, call, refusal, 0.0)
            return refusal.content
        journal = self._journal if spec.effect == "write" else None
        if journal is not None:
            run, given = await self._before_effect(journal, context, spec, call)
            if not run:
                return given
        self._tool_called(context, call, spec.effect)
        assert self._toolbox is not None  # _tool_specs saw to it
        t0 = time.monotonic()
        try:
            result = await self._toolbox.call(call, spec, context)
        except Exception as exc:  # a toolbox's bug: the model and the journal learn that the call failed
            result = ToolResult(content=f"the tool failed: {type(exc).__name__}: {exc}"[:MAX_RESULT_CHARS], ok=False)
        duration = time.monotonic() - t0
        result = _capped(result)
        if journal is not None:
            try:
                await asyncio.to_thread(journal.outcome, context, result)
            except Exception as exc:  # the world changed and the log cannot say how: stop here, do not guess
                self._tool_finished(context, call, result, duration)
                message = (
                    f"'{self._labels[node_id]}': its {call.name} call {key} ran, but its outcome could not be "
                    f"recorded ({type(exc).__name__}: {exc}); the side-effect log shows it as unknown, and a resume "
                    "asks what to do about it"
                )
                self._fail(node_id, execution, "effect_log", message, False, 0)
                return None
        self._tool_finished(context, call, result, duration)
        return result.content

    async def _before_effect(
        self, journal: EffectJournal, context: ToolContext, spec: ToolSpec, call: ToolCall
    ) -> tuple[bool, str | None]:
        """Before a side-effecting call: (True, None) when it is to run (its intent is written); else (False, what
        the model is given instead: a recorded outcome, or that it was skipped; None when the agent failed)."""
        node_id, execution, key = context.node_id, context.execution, context.key
        label = self._labels[node_id]
        try:
            recorded = await asyncio.to_thread(_recorded_or_intent, journal, context, spec, call)
            if recorded is not None and recorded.status == "unknown" and self._on_unknown_effect == "retry":
                await asyncio.to_thread(journal.intent, context, spec, call)  # told to: a new intent, then the call
                return True, None
        except Exception as exc:  # no intent, no call: a side effect is never made unrecorded
            message = (
                f"'{label}': the side-effect log could not be read or written before its {call.name} call {key} "
                f"({type(exc).__name__}: {exc}); the call was not made"
            )
            self._fail(node_id, execution, "effect_log", message, False, 0)
            return False, None
        if recorded is None:
            return True, None
        if recorded.status != "unknown":
            reused = ToolResult(content=recorded.content, ok=recorded.status == "ok")
            self._tool_called(context, call, spec.effect)
            self._tool_finished(context, call, reused, 0.0, True)
            return False, recorded.content
        if self._on_unknown_effect == "fail":
            self._fail(node_id, execution, "effect_unknown", _unknown_outcome(label, call.name, key), False, 0)
            return False, None
        self._tool_called(context, call, spec.effect)
        self._tool_finished(context, call, ToolResult(content=SKIPPED_UNKNOWN, ok=False), 0.0, True)
        return False, SKIPPED_UNKNOWN

    def _tool_called(self, context: ToolContext, call: ToolCall, effect: Literal["read", "write"]) -> None:
        self._outbox.put(
            ToolCalled,
            node_id=context.node_id,
            execution=context.execution,
            call_id=call.id,
            tool=call.name,
            arguments=_cut(call.arguments),
            effect=effect,
            key=context.key,
        )

    def _tool_finished(
        self, context: ToolContext, call: ToolCall, result: ToolResult, duration: float, reused: bool = False
    ) -> None:
        self._outbox.put(
            ToolFinished,
            node_id=context.node_id,
            execution=context.execution,
            call_id=call.id,
            tool=call.name,
            ok=result.ok,
            result=_cut(result.content),
            duration=duration,
            artifacts=list(result.artifacts),
            reused=reused,
        )

    def _over_limit(self, node_id: str, limit: int) -> str:
        return (
            f"'{self._labels[node_id]}' asked for more tools after using all {limit} tool calls it may make and "
            f'being told to answer without them; raise its "max_tool_calls" (at most {MAX_TOOL_CALLS}) or give it a '
            "narrower task"
        )


def _recorded_or_intent(
    journal: EffectJournal, context: ToolContext, spec: ToolSpec, call: ToolCall
) -> RecordedEffect | None:
    """The call's recorded effect, or, when there is none, its intent written (one hop to a worker thread)."""
    recorded = journal.recorded(context.key)
    if recorded is None:
        journal.intent(context, spec, call)
    return recorded


def _limit_reached(limit: int) -> str:
    return (
        f"You have made all {limit} tool calls you may make for this task. Do not call any more tools: answer now, "
        "from what you have."
    )


def _unknown_outcome(label: str, tool: str, key: str) -> str:
    return (
        f"'{label}': its {tool} call {key} started before the run stopped, and whether it took effect is unknown; "
        "it was not repeated. Check it, then resume the run choosing retry (run the call again) or skip (go on "
        "without it)"
    )


def _capped(result: ToolResult) -> ToolResult:
    if len(result.content) <= MAX_RESULT_CHARS:
        return result
    return msgspec.structs.replace(result, content=_cut(result.content))


def _cut(text: str) -> str:
    """At most MAX_RESULT_CHARS, saying so when cut."""
    if len(text) <= MAX_RESULT_CHARS:
        return text
    note = f"\n[cut: {len(text):,} characters in all]"
    return text[: MAX_RESULT_CHARS - len(note)] + note
