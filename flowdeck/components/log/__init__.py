"""The run log: events as readable lines, and the virtualized view that shows them."""

from flowdeck.components.log.element import LogView, add_styles
from flowdeck.components.log.lines import as_text, log_line

__all__ = ["LogView", "add_styles", "as_text", "log_line"]
