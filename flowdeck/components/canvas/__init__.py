"""The React Flow canvas as a NiceGUI element: it sends intents, Python answers with small patches."""

from flowdeck.components.canvas.element import FlowCanvas

__all__ = ["FlowCanvas"]
