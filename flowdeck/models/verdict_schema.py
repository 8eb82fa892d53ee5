"""The response format that asks a model for a deciding agent's verdict as structured output, where it can give it."""

from __future__ import annotations

from typing import Any


def verdict_schema(verdicts: tuple[str, ...]) -> dict[str, Any]:
    """The response format that holds a deciding agent to {"feedback": ..., "verdict": one of its verdicts}: the
    feedback first, so that the model reasons before it decides."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "verdict",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {
                    "feedback": {"type": "string"},
                    "verdict": {"type": "string", "enum": list(verdicts)},
                },
                "required": ["feedback", "verdict"],
                "additionalProperties": False,
            },
        },
    }


def supports_schema(litellm: Any, model: str) -> bool:
    """Whether litellm says the model can be held to a JSON schema."""
    try:
        return bool(litellm.supports_response_schema(model=model))
    except Exception:  # litellm raises plain Exception for models it does not know
        return False
