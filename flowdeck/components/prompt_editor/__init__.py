"""The prompt template editor: CodeMirror with reference chips, suggestions, underlined problems and a preview."""

from flowdeck.components.prompt_editor.element import PromptEditor

__all__ = ["PromptEditor"]
