"""One agent's model call within a run: its prompt, the call with retries and the output cache, and, for an agent
that decides, its verdict (read, asked for once more, or the agent fails)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from flowdeck.engine.agents import ResolvedAgent
from flowdeck.engine.dag import Dag
from flowdeck.engine.events import Message, NodeRetrying, Usage
from flowdeck.engine.llm_types import Completion, ModelCaller, ModelRequest, OutputCache, cache_key
from flowdeck.engine.outbox import Outbox
from flowdeck.engine.prompt_process import render_isolated
from flowdeck.engine.prompts import UpstreamOutput, join_prompt
from flowdeck.engine.retry import retry_after
from flowdeck.engine.routing import Router
from flowdeck.engine.tokens import TokenBuffer, TokenFlusher
from flowdeck.engine.tool_loop import ToolLoop
from flowdeck.engine.verdicts import Output, Verdict, correction, join_verdict, missing_verdict, read_verdict
from flowdeck.engine.workflow import Edge
from flowdeck.errors import ModelError, PromptError

CORRECTION_TOKENS = 32  # a verdict line, asked for again


class ModelCalls(ToolLoop):
    """The model-call half of Run (engine/run.py), which sets every attribute declared here."""

    dag: Dag
    inputs: dict[str, str]
    _agents: dict[str, ResolvedAgent]
    _labels: dict[str, str]
    _headings: dict[str, str]
    _inputs_text: str
    _outputs: dict[str, str]
    _history: dict[str, list[tuple[str, Verdict | None, int]]]
    _router: Router | None
    _cache: OutputCache | None
    _caller: ModelCaller
    _outbox: Outbox
    _flusher: TokenFlusher
    _max_retry_wait: float

    async def _call_model(self, node_id: str, execution: int, via: Edge | None = None) -> bool:
        agent = self._agents[node_id]
        preds: tuple[str, ...] = self.dag.predecessors[node_id]
        if self._router is not None:
            preds = (*self._router.received_from(node_id), *((via.source,) if via is not None else ()))
        if agent.prompt_template is None and via is None:  # the common case, inline (bench/README.md)
            headings, outputs = self._headings, self._outputs
            user = join_prompt(self._inputs_text, [headings[p] + outputs[p] for p in preds])
        else:
            try:
                user = await self._user_message(node_id, agent, preds, via)
            except PromptError as exc:
                self._fail(node_id, execution, exc.kind, str(exc), False, 0)
                return False
        messages = [Message(role="system", content=agent.system_prompt), Message(role="user", content=user)]
        if agent.tools:
            return await self._call_with_tools(node_id, execution, agent, messages, preds)
        if execution == 1 and not agent.decides:  # the fields a plain agent's request leaves at their defaults
            request = ModelRequest(
                model=agent.model,
                messages=messages,
                temperature=agent.temperature,
                max_tokens=agent.max_tokens,
                timeout=agent.timeout,
                verdicts=agent.verdicts,
            )
        else:
            request = ModelRequest(
                model=agent.model,
                messages=messages,
                temperature=agent.temperature,
                max_tokens=agent.max_tokens,
                timeout=agent.timeout,
                verdicts=agent.verdicts,
                structured=agent.decides,
                round=execution,
            )
        key = ""
        cache = self._cache
        if cache is not None:
            key = cache_key(request)
            hit = await asyncio.to_thread(cache.get, key)
            if hit is not None:
                self._outbox.node_started(node_id, execution, 1, request, preds)
                found = read_verdict(hit.text, agent.verdicts) if agent.decides else None
                self._finish_node(node_id, execution, hit, duration=0.0, cached=True, attempts=1, verdict=found)
                return True

        tokens = TokenBuffer(self._outbox, node_id, execution)
        t0 = time.monotonic()
        try:
            try:  # the first attempt inline, not through _call: a coroutine less for every agent (bench/README.md)
                completion = await self._attempt(request, preds, tokens)
            except ModelError as exc:
                if not exc.retryable or agent.retries == 0:
                    raise
                completion = await self._retry(exc, request, preds, tokens, agent.retries + 1)
            if agent.decides:
                return await self._decided(node_id, request, completion, preds, tokens, key, t0)
        except ModelError as exc:
            self._fail(node_id, execution, exc.kind, str(exc), exc.retryable, tokens.attempt)
            return False
        if cache is not None:
            await asyncio.to_thread(cache.set, key, completion)
        duration = time.monotonic() - t0
        self._finish_node(node_id, execution, completion, duration=duration, cached=False, attempts=tokens.attempt)
        return True

    async def _decided(
        self,
        node_id: str,
        request: ModelRequest,
        completion: Completion,
        preds: tuple[str, ...],
        tokens: TokenBuffer,
        key: str,
        t0: float,
    ) -> bool:
        """The rest of a deciding agent's call: its verdict, asked for once more if it gave none, or it fails."""
        execution = tokens.execution
        verdict = read_verdict(completion.text, request.verdicts)
        if verdict is None:
            completion, verdict = await self._ask_verdict(node_id, request, completion, preds, tokens)
        if verdict is None:
            self._fail(
                node_id, execution, "no_verdict", missing_verdict(self._labels[node_id], request.verdicts), False, 2
            )
            return False
        if verdict.text != completion.text:
            completion = Completion(text=verdict.text, usage=completion.usage, cost=completion.cost, cut=completion.cut)
        if self._cache is not None and key:  # no key: not to be cached (an agent with tools)
            await asyncio.to_thread(self._cache.set, key, completion)
        duration = time.monotonic() - t0
        self._finish_node(
            node_id, execution, completion, duration=duration, cached=False, attempts=tokens.attempt, verdict=verdict
        )
        return True

    async def _user_message(self, node_id: str, agent: ResolvedAgent, preds: tuple[str, ...], via: Edge | None) -> str:
        """The agent's user message: its template rendered, or the inputs and what it received. A round that a loop
        sent back also shows the agent its previous answer, then the feedback (the loop source's output)."""
        outputs, labels = self._outputs, self._labels
        if agent.prompt_template is None:
            headings = self._headings
            received = [headings[p] + outputs[p] for p in preds]
            if via is not None:
                received.insert(-1, f"## Your previous answer\n{outputs[node_id]}")
            return join_prompt(self._inputs_text, received)
        readable: Mapping[str, str]
        if self._router is None:
            readable = {a: outputs[a] for a in self.dag.ancestors[node_id]}
        else:
            history = self._history
            readable = {a: _output(history[a]) for a in self.dag.readable[node_id] if a in history}
        return await render_isolated(
            agent.prompt_template,
            self.inputs,
            [UpstreamOutput(id=p, label=labels[p], output=outputs[p]) for p in preds],
            readable,
            agent=labels[node_id],
        )

    async def _ask_verdict(
        self, node_id: str, request: ModelRequest, answer: Completion, preds: tuple[str, ...], tokens: TokenBuffer
    ) -> tuple[Completion, Verdict | None]:
        """The answer had no verdict: ask once more, for the verdict line alone."""
        asked = ModelRequest(
            model=request.model,
            messages=[
                *request.messages,
                Message(role="assistant", content=answer.text),
                Message(role="user", content=correction(self._labels[node_id], request.verdicts)),
            ],
            temperature=request.temperature,
            max_tokens=CORRECTION_TOKENS,
            timeout=request.timeout,
            verdicts=request.verdicts,
            structured=request.structured,
            round=request.round,
        )
        tokens.attempt += 1
        again = await self._call(asked, preds, tokens, 0)
        found = read_verdict(again.text, request.verdicts)
        usage = Usage(
            prompt_tokens=answer.usage.prompt_tokens + again.usage.prompt_tokens,
            completion_tokens=answer.usage.completion_tokens + again.usage.completion_tokens,
        )
        feedback = answer.text.strip()
        text = join_verdict(feedback, found.verdict) if found is not None else answer.text
        both = Completion(text=text, usage=usage, cost=answer.cost + again.cost, cut=answer.cut)
        return both, Verdict(found.verdict, feedback, text) if found is not None else None

    async def _call(
        self, request: ModelRequest, preds: tuple[str, ...], tokens: TokenBuffer, retries: int
    ) -> Completion:
        try:
            return await self._attempt(request, preds, tokens)
        except ModelError as exc:
            if not exc.retryable or retries == 0:
                raise
            return await self._retry(exc, request, preds, tokens, retries + 1)

    async def _attempt(self, request: ModelRequest, preds: tuple[str, ...], tokens: TokenBuffer) -> Completion:
        """One call of the model: node_started with the attempt's number, then the text it streams."""
        self._outbox.node_started(tokens.node_id, tokens.execution, tokens.attempt, request, preds)
        flusher = self._flusher
        flusher.attach(tokens)
        try:
            return await self._caller.call(request, tokens.add)
        finally:
            tokens.flush()
            flusher.detach(tokens)

    async def _retry(
        self, error: ModelError, request: ModelRequest, preds: tuple[str, ...], tokens: TokenBuffer, max_attempts: int
    ) -> Completion:
        """The attempts after a first one that failed with a transient error (tokens.attempt counts them). Kept
        out of the first attempt's way: a call that succeeds at once, as nearly all do, pays for none of this."""
        node_id, execution = tokens.node_id, tokens.execution
        first = tokens.attempt

        async def attempt() -> Completion:
            tokens.attempt += 1
            return await self._attempt(request, preds, tokens)

        def on_retry(error: ModelError, next_attempt: int, wait: float) -> None:
            self._outbox.put(
                NodeRetrying,
                node_id=node_id,
                execution=execution,
                attempt=first - 1 + next_attempt,
                max_attempts=first - 1 + max_attempts,
                error_kind=error.kind,
                message=str(error),
                wait=wait,
            )

        return await retry_after(
            error, attempt, max_attempts=max_attempts, max_wait=self._max_retry_wait, on_retry=on_retry
        )


def _output(rounds: list[tuple[str, Verdict | None, int]]) -> Output:
    """An agent's latest output as templates read it, with the rounds before it."""
    made: tuple[Output, ...] = ()
    for text, verdict, index in rounds:
        made = (*made, Output(text, verdict, index, made))
    return made[-1]
