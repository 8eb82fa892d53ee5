"""flowdeck's exception tree: setup errors (found before anything runs) and runtime errors."""

from __future__ import annotations

from dataclasses import dataclass


class FlowdeckError(Exception):
    """Base class of every error flowdeck raises on purpose."""


class ConfigError(FlowdeckError):
    """A FLOWDECK_* setting has a value that cannot be used."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a workflow: where it is and what to do about it."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class WorkflowError(FlowdeckError):
    """A workflow cannot be loaded or run as it is; `problems` lists every reason."""

    head = "the workflow is not valid"

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = problems
        self.source = source
        head = f"{source} is not a valid workflow" if source else self.head
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{head} ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n{lines}")


class ModelsNotReady(WorkflowError):
    """Models the run needs cannot be called as things are set up (a missing key, a server that is down)."""

    head = "the run cannot start"


class UnknownEffects(WorkflowError):
    """A stopped run has tool calls whose outcome is unknown: a resume needs to be told to retry or skip them."""

    head = "the run cannot be resumed without a choice"


class EditRefused(FlowdeckError):
    """An edit in the editor that would make the workflow invalid; the message says why, `field` which setting."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(FlowdeckError):
    """A workflow, template or run that was asked for does not exist."""


class PromptError(FlowdeckError):
    """A prompt template failed to render (sandbox violation, size or time limit)."""

    kind = "prompt"
    retryable = False


class RoutingError(FlowdeckError):
    """An edge's condition could not be decided at run time (its expression failed)."""

    kind = "condition"
    retryable = False


class NotWaitingError(FlowdeckError):
    """A decision for an approval that is not waiting (the run goes on, ended, or it was decided already)."""


# What to do about each kind of model failure, whichever path found it (litellm, the embedded or scripted model).
ADVICE = {
    "transient": "usually temporary: try again later, or pick another model",
    "rate_limit": "wait, lower parallelism, or raise your provider quota",
    "timeout": "raise the node's timeout, or try again later",
    "context_length": "shorten the prompt or upstream outputs, lower max tokens, or use a model with a larger context",
    "bad_request": "check the node's parameters for this model",
    "not_found": "check the model string's spelling",
    "auth": "check the provider's API key (in the environment, .env, or ⋮ → API keys…)",
}


class ModelError(FlowdeckError):
    """A model call failed; `kind` classifies it and `retryable` says whether trying again can help."""

    kind = "model"
    retryable = False

    def __init__(self, message: str, *, model: str = "", hint: str = "") -> None:
        self.model = model
        self.hint = hint
        self.detail = message
        text = f"{model}: {message}" if model else message
        super().__init__(f"{text} — {hint}" if hint else text)


class RateLimited(ModelError):
    """The provider refused the call for now (HTTP 429); `retry_after` is its advice in seconds."""

    kind = "rate_limit"
    retryable = True

    def __init__(self, message: str, *, model: str = "", hint: str = "", retry_after: float | None = None):
        super().__init__(message, model=model, hint=hint)
        self.retry_after = retry_after


class ModelTimeout(ModelError):
    """The call took longer than the node's timeout."""

    kind = "timeout"
    retryable = True


class ProviderUnavailable(ModelError):
    """The provider answered with a server error or could not be reached."""

    kind = "unavailable"
    retryable = True


class StreamInterrupted(ModelError):
    """The response stream ended before the model finished."""

    kind = "stream_cut"
    retryable = True


class AuthenticationFailed(ModelError):
    """The provider rejected the API key, or none was configured."""

    kind = "auth"


class BadRequest(ModelError):
    """The provider refused the request's parameters."""

    kind = "bad_request"


class ContextTooLong(ModelError):
    """The messages do not fit the model's context window."""

    kind = "context_length"


class ModelNotFound(ModelError):
    """The model string names no model the provider knows."""

    kind = "not_found"


class ToolsUnsupported(ModelError):
    """An agent with tools uses a model that cannot call tools (found before calling it)."""

    kind = "tools_unsupported"


class StorageError(FlowdeckError):
    """The database cannot be opened, read or written; `kind` says why (locked, read_only, full, io, corrupt, ...)."""

    def __init__(self, message: str, *, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind
