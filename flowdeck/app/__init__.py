"""The NiceGUI app: the editor page and the server that hosts it."""
