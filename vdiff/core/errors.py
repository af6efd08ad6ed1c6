"""Exceptions that cross vdiff's layers (torch-free, so the editor's widget can catch them without the model)."""


class EditCancelled(Exception):
    """Raised by a sampling run whose cancel event was set (checked once per sampler step)."""
