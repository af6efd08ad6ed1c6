"""The editor's plug-in point: extra tabs built by other packages, which see only a small host.

    def my_panel(host: EditorHost) -> Panel: ...      # builds a tab from the editor it joins
    Editor("clip.gif", panels=[my_panel])              # one tab per factory, titled panel.title

A panel reads the clip the editor holds, loads a new clip into it (its result then goes through
every GIF operation, Preview and Download like any loaded file) and refreshes the preview. It
never needs the editor's controls, so gif_editor stays free of whatever the panel runs (vdiff's
Model tab lives in vdiff.apps.model_panel and is composed there).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from .clip import Clip


@runtime_checkable
class EditorHost(Protocol):
    """What the editor offers a panel."""

    @property
    def clip(self) -> Clip | None:
        """The decoded source clip (before the editor's operations), or None before a load."""

    def load(self, source: Any, name: str | None = None) -> Clip | None:
        """Load a Clip, GIF bytes or a path as the editor's new source; None (and a status line) on failure."""

    def preview(self) -> bytes | None:
        """Render the current edit into the Edited pane; returns its GIF bytes."""


class Panel(Protocol):
    """A tab: its title and its ipywidgets box."""

    title: str
    widget: Any


PanelFactory = Callable[[EditorHost], Panel]
