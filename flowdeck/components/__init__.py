"""UI parts of the editor."""
