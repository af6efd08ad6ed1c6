"""The editor's video row: a video's header first (size, rate, length and the frames the options
would give), then Decode video, which hands the clip to the editor like any loaded GIF."""
from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as w

from .clip import Clip
from .errors import GifEditorError
from .io import load
from .video import DEFAULT_FPS, DEFAULT_MAX_SIDE, FPS_RANGE, SIDE_RANGE, VideoInfo, probe_video

_WIDE = {"description_width": "110px"}


class VideoBox:
    """Start, end, fps and longest side for a probed video, a plan line, and Decode video."""

    def __init__(self, on_clip: Callable[[Clip, str], object], on_error: Callable[[str], None]) -> None:
        self.on_clip, self.on_error = on_clip, on_error
        self.source, self.name, self.info = None, "", None  # the video waiting to be decoded
        self.start = w.BoundedFloatText(value=0, min=0, max=1e6, step=0.5, description="Start s", style=_WIDE)
        self.end = w.BoundedFloatText(value=0, min=0, max=1e6, step=0.5, description="End s (0 = end)", style=_WIDE)
        self.fps = w.BoundedFloatText(value=DEFAULT_FPS, min=FPS_RANGE[0], max=FPS_RANGE[1], description="fps",
                                      style=_WIDE)
        self.max_side = w.BoundedIntText(value=DEFAULT_MAX_SIDE, min=SIDE_RANGE[0], max=SIDE_RANGE[1],
                                         description="Longest side px", style=_WIDE)
        self.plan = w.HTML()
        self.decode_button = w.Button(description="Decode video", button_style="primary", icon="film")
        self.plan.add_class("gif-editor-video-info")
        self.decode_button.add_class("gif-editor-decode")
        self.widget = w.VBox([self.plan, w.HBox([self.start, self.end]), w.HBox([self.fps, self.max_side]),
                              self.decode_button], layout=w.Layout(display="none"))
        for control in (self.start, self.end, self.fps, self.max_side):
            control.observe(lambda _: self.show_plan(), names="value")
        self.decode_button.on_click(lambda _: self.decode())

    def options(self) -> dict:
        return {"start": self.start.value, "end": self.end.value or None, "fps": self.fps.value,
                "max_side": self.max_side.value}

    def open(self, source, name: str) -> VideoInfo:
        """Read the video's header (nothing is decoded) and show the row; GifEditorError if unreadable."""
        self.info = probe_video(source, name=name)
        self.source, self.name = source, name
        self.start.value = self.end.value = 0  # a new video starts at its start; fps and size stay as chosen
        self.widget.layout.display = "flex"
        self.show_plan()
        return self.info

    def show_plan(self) -> str:
        """The plan line for the current options (or why they do not work)."""
        if self.info is None:
            return ""
        try:
            text = self.info.describe(**self.options())
            self.plan.value = html.escape(text)
        except GifEditorError as exc:
            text = str(exc)
            self.plan.value = f"<span style='color:#b00020'>{html.escape(text)}</span>"
        return text

    def decode(self, **options) -> Clip | None:
        """Decode with the row's options (``options`` start, end, fps, max_side set them first)."""
        if self.info is None:
            self.on_error("open a video first (upload or path)")
            return None
        for key, value in options.items():
            getattr(self, key).value = value or 0
        try:
            clip = load(self.source, name=self.name, **self.options())
        except GifEditorError as exc:
            self.on_error(str(exc))
            return None
        self.on_clip(clip, self.name)
        return clip
