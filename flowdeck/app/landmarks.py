"""What assistive technology finds its way around a page by: its level-one heading and its named landmarks."""

from __future__ import annotations

from nicegui import ui
from nicegui.elements.mixins.text_element import TextElement


def page_heading(text: str, classes: str) -> TextElement:
    """The page's h1, looking like the line of header text it is (`classes`, e.g. "text-lg font-bold"); Quasar's
    own h1 look (6rem, light) is undone."""
    heading = TextElement(tag="h1", text=text).classes(classes)
    return heading.style("margin: 0; letter-spacing: normal")


def name_drawers(*, left: str, right: str) -> None:
    """Name the page's two drawers (each an <aside>, a complementary landmark, told apart only by a name). Quasar
    gives a drawer's attributes to the content inside it, so the names are set on the <aside> in the browser."""
    ui.query(".q-drawer--left").props(f'aria-label="{left}"')
    ui.query(".q-drawer--right").props(f'aria-label="{right}"')
