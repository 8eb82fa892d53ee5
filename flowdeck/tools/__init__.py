"""The tools agents call (issue 22): the five built-ins, the egress guard every tool request goes through, and the
run's workspace the file tools are confined to. The runner builds one toolbox per run with make_toolbox and hands it
to the engine; listings of a run's files use artifacts()."""

from __future__ import annotations

from flowdeck.tools.egress import AllowedDomains, Egress, EgressError, EgressLimits, EgressRefused
from flowdeck.tools.toolbox import BuiltinToolbox, make_toolbox
from flowdeck.tools.web import SECRET_SYNTAX, SecretLookup
from flowdeck.tools.workspace import Artifact, Workspace, WorkspaceError, artifacts

__all__ = [
    "SECRET_SYNTAX",
    "AllowedDomains",
    "Artifact",
    "BuiltinToolbox",
    "Egress",
    "EgressError",
    "EgressLimits",
    "EgressRefused",
    "SecretLookup",
    "Workspace",
    "WorkspaceError",
    "artifacts",
    "make_toolbox",
]
