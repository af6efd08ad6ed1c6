"""The status line both widget panels share.

ipywidgets swallows exceptions raised in a Button's click handler, so a panel reports every
outcome here instead: a coloured line for the user and ``last_error`` for scripts and tests.
"""
from __future__ import annotations

import html


class StatusLine:
    """Mixin for a widget panel with a ``status`` HTML widget and a ``last_error`` attribute."""

    last_error: str | None = None

    def _ok(self, message: str) -> None:
        self.last_error = None
        self.status.value = f"<span style='color:#2a7a2a'>{html.escape(message)}</span>"

    def _fail(self, message: str) -> None:
        self.last_error = message
        self.status.value = f"<span style='color:#b00020'>⚠ {html.escape(message)}</span>"
