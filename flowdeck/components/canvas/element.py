"""FlowCanvas: a NiceGUI element around the bundled React Flow canvas (dist/index.js, built from src/)."""

from __future__ import annotations

import html
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from nicegui import __version__ as nicegui_version
from nicegui import context, dependencies, ui
from nicegui.client import Client
from nicegui.element import Element
from nicegui.events import GenericEventArguments

from flowdeck.components.canvas.payload import CanvasEdge, CanvasNode, Patch
from flowdeck.components.wire import send_packed

Intent = Callable[[dict[str, Any]], None]


BUNDLE = "flowdeck-canvas"
_PRELOADED: weakref.WeakSet[Client] = weakref.WeakSet()


class FlowCanvas(Element, component="canvas.js", esm={BUNDLE: "dist"}):
    """Renders nodes and edges; reports intents (node_added, edge_connected, nodes_moved, deleted,
    selection_change) and takes patches (replace, add_node, update_node, remove_nodes, add_edge,
    remove_edges, select, status, handoffs, clear_status, reveal, fit, theme). `readonly`: view and select only."""

    def __init__(
        self, nodes: list[CanvasNode], edges: list[CanvasEdge], *, dark: bool = False, readonly: bool = False
    ) -> None:
        super().__init__()
        # Stored as it is: only the first render reads it (later changes travel as patches), and NiceGUI's props
        # dict would wrap every node and edge in an observable collection, slowing large pages (bench/README.md).
        self._initial: dict[str, Any] = {"nodes": nodes, "edges": edges, "dark": dark, "readonly": readonly}
        dict.__setitem__(self._props, "initial", self._initial)
        self._preloaded: list[Patch] | None = None
        _fetch_bundle_early()

    @contextmanager
    def preloading(self) -> Iterator[None]:
        """While the page is being built: patches go into the page itself and are applied before the canvas
        first draws, instead of arriving in a message once the browser has connected (a page coming back to a
        run shows its agents' states at once)."""
        self._preloaded = []
        try:
            yield
        finally:
            self._initial["patches"] = self._preloaded
            self._preloaded = None

    def on_intent(self, name: str, handler: Intent) -> FlowCanvas:
        self.on(name, lambda event: handler(_args(event)))
        return self

    def patch(self, *ops: Patch) -> None:
        """Send patches (made by components.canvas.payload) to the browser, in one message."""
        if not ops:
            return
        if self._preloaded is not None:
            self._preloaded.extend(ops)
        else:
            send_packed(self, "patch", ops)


def _fetch_bundle_early() -> None:
    """Have the browser fetch the canvas bundle with the page's first requests. Without this it is found only
    once canvas.js has arrived and run: the largest file of the page fetched last (bench/README.md)."""
    client = context.client
    if client in _PRELOADED or client.has_socket_connection:
        return  # already asked for, or the page is already there
    key = next(k for k, m in dependencies.esm_modules.items() if m.name == BUNDLE)
    request = client.request
    # The same prefix as NiceGUI's import map (the header is the client's to set: quoted, then escaped).
    prefix = quote(request.headers.get("X-Forwarded-Prefix", ""), safe="/") + request.scope.get("root_path", "")
    url = html.escape(f"{prefix}/_nicegui/{nicegui_version}/esm/{key}/index.js")
    ui.add_head_html(f'<link rel="modulepreload" href="{url}">')
    _PRELOADED.add(client)


def _args(event: GenericEventArguments) -> dict[str, Any]:
    return event.args if isinstance(event.args, dict) else {}
