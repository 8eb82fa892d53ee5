"""A run's inputs checked against the ones its workflow declares, before anything is acknowledged."""

from __future__ import annotations

from collections.abc import Mapping

from flowdeck.engine.strict_json import printable, text_problem
from flowdeck.engine.workflow import MAX_INPUT_CHARS, Workflow
from flowdeck.errors import Problem, WorkflowError


def check_inputs(workflow: Workflow, given: Mapping[str, str]) -> dict[str, str]:
    """The run's inputs with defaults filled in; WorkflowError naming unknown or missing inputs."""
    declared = {item.name: item for item in workflow.inputs}
    problems = [
        Problem(
            f"input {printable(name)}", f"the workflow has no such input (declared: {', '.join(declared) or 'none'})"
        )
        for name in given
        if name not in declared
    ]
    values: dict[str, str] = {}
    for name, item in declared.items():
        if name in given:
            value = values[name] = str(given[name])
            if len(value) > MAX_INPUT_CHARS:
                problems.append(
                    Problem(f"input {name}", f"{len(value):,} characters; the limit is {MAX_INPUT_CHARS:,}: shorten it")
                )
            elif (problem := text_problem(value)) is not None:
                problems.append(Problem(f"input {name}", problem))
        elif item.default is not None:
            values[name] = item.default
        else:
            problems.append(Problem(f"input {name}", "required; give it a value"))
    if problems:
        raise WorkflowError(problems)
    return values
