"""The package's one error type: its message is meant to be shown to a user as is."""


class GifEditorError(ValueError):
    """A user-facing problem with an input file or an edit (one readable line)."""
