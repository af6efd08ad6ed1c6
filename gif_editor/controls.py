"""The editor's edit controls: the widgets of its tabs, read into a Settings and written back from one.

A mixin of gif_editor.ui.Editor, kept apart so the Editor holds only behaviour (loading, previews,
history, saving). Every control that changes the edit is listed in ``_value_controls``; the Editor
records an undo step and schedules a live preview when any of them changes.
"""
from __future__ import annotations

import ipywidgets as w

from .errors import GifEditorError
from .geometry import ASPECTS, SIZE_RANGE
from .ops import FACTOR_RANGE, FONT_RANGE, predict_size
from .optimize import BACKENDS, COLORS_RANGE, LOSSY_RANGE, gifsicle_path
from .settings import Settings, linked_size
from .timing import DELAY_RANGE, HOLD_RANGE, NTH_RANGE, SPEED_RANGE
from .watermark import ALIGNS, POSITIONS

WIDE = {"description_width": "110px"}
# Settings fields that are not a control's value: the delays and holds are set with buttons.
_BY_BUTTON = ("delay_all", "frame_delays", "holds")
# Settings fields held by a frame-range slider (start, end inclusive) or the crop sliders.
_RANGES = {"trim_start": ("trim", 0), "trim_end": ("trim", 1), "delete_start": ("delete_range", 0),
           "delete_end": ("delete_range", 1), "text_start": ("text_frames", 0), "text_end": ("text_frames", 1)}


def _slider(kind, description: str, **kwargs):
    return kind(description=description, style=WIDE, continuous_update=False, **kwargs)


class EditorControls:
    """Builds the edit widgets as attributes (``self.width``, ``self.crop["left"]``, ...)."""

    def _build_controls(self) -> None:
        lo, hi = SIZE_RANGE
        # Size: resize, crop (percentages, then a shape inside them), rotate, flips.
        self.width = _slider(w.IntSlider, "Width px", value=lo, min=lo, max=hi)
        self.height = _slider(w.IntSlider, "Height px", value=lo, min=lo, max=hi)
        self.keep_aspect = w.Checkbox(value=True, description="Keep aspect ratio")
        self.crop = {side: _slider(w.FloatSlider, f"Crop {side} %", value=0, min=0, max=95, step=1)
                     for side in ("left", "right", "top", "bottom")}
        self.aspect = w.Dropdown(options=[("free", "free"), *((a, a) for a in ASPECTS)], value="free",
                                 description="Crop to shape", style=WIDE)
        self.aspect_x = _slider(w.FloatSlider, "Shape at x %", value=50, min=0, max=100, step=5)
        self.aspect_y = _slider(w.FloatSlider, "Shape at y %", value=50, min=0, max=100, step=5)
        self.rotate = w.ToggleButtons(options=[("0°", 0), ("90° ↻", 90), ("180°", 180), ("270° ↻", 270)], value=0,
                                      description="Rotate (clockwise)", style=WIDE)
        self.flip_horizontal = w.Checkbox(description="Flip left-right")
        self.flip_vertical = w.Checkbox(description="Flip top-bottom")
        # Time: frame range, deleting, thinning, direction, speed, delays and holds.
        self.trim = _slider(w.IntRangeSlider, "Frames", value=(0, 0), min=0, max=0)
        self.delete = w.Checkbox(description="Delete frames")
        self.delete_range = _slider(w.IntRangeSlider, "Delete", value=(0, 0), min=0, max=0)
        self.every_nth = _slider(w.IntSlider, "Keep every n-th", value=1, min=NTH_RANGE[0], max=10)
        self.reverse = w.Checkbox(description="Reverse")
        self.boomerang = w.Checkbox(description="Boomerang")
        self.speed = _slider(w.FloatSlider, "Speed ×", value=1.0, min=SPEED_RANGE[0], max=SPEED_RANGE[1], step=0.05)
        self.delay_frame = w.BoundedIntText(value=0, min=-1, max=0, description="Frame", style=WIDE)
        self.delay_ms = w.BoundedIntText(value=100, min=DELAY_RANGE[0], max=HOLD_RANGE[1], description="ms")
        self.set_frame_delay, self.set_all_delays = w.Button(description="Set this frame"), w.Button(description="Set all")
        self.hold_button = w.Button(description="Hold this frame +ms")
        self.delays_info = w.HTML("Delays: each frame's own.")
        self.keep_fast_delays = w.Checkbox(description="Keep delays under 20 ms (browsers play them as 100 ms)")
        # Colour.
        self.brightness = _slider(w.FloatSlider, "Brightness", value=1.0, min=FACTOR_RANGE[0], max=FACTOR_RANGE[1],
                                  step=0.05)
        self.contrast = _slider(w.FloatSlider, "Contrast", value=1.0, min=FACTOR_RANGE[0], max=FACTOR_RANGE[1], step=0.05)
        self.grayscale = w.Checkbox(description="Grayscale")
        # Text and logo.
        self.text = w.Textarea(placeholder="text (any language; Enter starts a new line)", description="Text",
                               style=WIDE, rows=2, continuous_update=False)
        self.font_size = _slider(w.IntSlider, "Font size", value=20, min=FONT_RANGE[0], max=FONT_RANGE[1])
        self.opacity = _slider(w.IntSlider, "Text opacity", value=200, min=0, max=255)
        self.position = w.Dropdown(options=list(POSITIONS), value="bottom-right", description="Position", style=WIDE)
        self.align = w.Dropdown(options=list(ALIGNS), value="left", description="Lines align", style=WIDE)
        self.color = w.ColorPicker(value="#ffffff", description="Colour", style=WIDE)
        self.stroke_width = _slider(w.IntSlider, "Outline px", value=0, min=0, max=10)
        self.shadow = _slider(w.IntSlider, "Shadow px", value=0, min=0, max=10)
        self.stroke_color = w.ColorPicker(value="#000000", description="Outline colour", style=WIDE)
        self.box = w.Checkbox(description="Background box")
        self.box_color = w.ColorPicker(value="#000000", description="Box colour", style=WIDE)
        self.box_opacity = _slider(w.IntSlider, "Box opacity", value=160, min=0, max=255)
        self.text_frames = _slider(w.IntRangeSlider, "On frames", value=(0, 0), min=0, max=0)
        self.logo_path = w.Text(placeholder="logo image path (optional)", description="Logo", style=WIDE)
        self.logo_opacity = _slider(w.IntSlider, "Logo opacity", value=128, min=0, max=255)
        # Optimize and the size limit.
        self.optimize = w.Checkbox(description="Optimize (smaller file)")
        self.colors = _slider(w.IntSlider, "Colours", value=Settings.colors, min=COLORS_RANGE[0], max=COLORS_RANGE[1])
        self.lossy = _slider(w.IntSlider, "Lossy", value=Settings.lossy, min=LOSSY_RANGE[0], max=LOSSY_RANGE[1])
        self.drop_duplicates = w.Checkbox(value=True, description="Drop near-duplicate frames")
        self.duplicates = _slider(w.FloatSlider, "Within levels", value=Settings.duplicates, min=0, max=16, step=0.5)
        self.encoder = w.Dropdown(options=list(BACKENDS), value="auto", description="Encoder", style=WIDE)
        self.encoder_info = w.HTML("gifsicle " + ("installed: auto uses it." if gifsicle_path() else
                                                  "not installed: auto uses Pillow (apt-get install gifsicle)."))
        self.max_mb = w.BoundedFloatText(value=0, min=0, max=10_000, step=0.5, description="At most MB",
                                         style=WIDE)
        self.max_mb_info = w.HTML("0 = no limit. With a limit, Preview and Download search colours, lossy level, "
                                  "frames and scale for the best-looking GIF that fits.")
        for widget, css in ((self.width, "gif-editor-width"), (self.height, "gif-editor-height"),
                            (self.aspect, "gif-editor-aspect"), (self.text, "gif-editor-text"),
                            (self.stroke_width, "gif-editor-outline"), (self.box, "gif-editor-box"),
                            (self.every_nth, "gif-editor-every-nth"), (self.max_mb, "gif-editor-max-mb")):
            widget.add_class(css)

    def _edit_tabs(self) -> list[tuple[str, w.Widget]]:
        return [
            ("Size", w.VBox([self.width, self.height, self.keep_aspect, *self.crop.values(), self.aspect,
                             w.HBox([self.aspect_x, self.aspect_y]), self.rotate,
                             w.HBox([self.flip_horizontal, self.flip_vertical])])),
            ("Time", w.VBox([self.trim, w.HBox([self.delete, self.delete_range]), self.every_nth,
                             w.HBox([self.reverse, self.boomerang]), self.speed,
                             w.HBox([self.delay_frame, self.delay_ms]),
                             w.HBox([self.set_frame_delay, self.set_all_delays, self.hold_button]),
                             self.delays_info, self.keep_fast_delays])),
            ("Colour", w.VBox([self.brightness, self.contrast, self.grayscale])),
            ("Text", w.VBox([self.text, self.font_size, self.opacity, self.color, self.position, self.align,
                             self.stroke_width, self.shadow, self.stroke_color,
                             w.HBox([self.box, self.box_color]), self.box_opacity, self.text_frames,
                             self.logo_path, self.logo_opacity])),
            ("Optimize", w.VBox([self.optimize, self.colors, self.lossy, self.drop_duplicates, self.duplicates,
                                 self.encoder, self.encoder_info, self.max_mb, self.max_mb_info])),
        ]

    def _value_controls(self) -> list:
        return [self.width, self.height, self.keep_aspect, *self.crop.values(), self.aspect, self.aspect_x,
                self.aspect_y, self.rotate, self.flip_horizontal, self.flip_vertical, self.trim, self.delete,
                self.delete_range, self.every_nth, self.reverse, self.boomerang, self.speed, self.keep_fast_delays,
                self.grayscale, self.text, self.font_size, self.opacity, self.position, self.align, self.color,
                self.stroke_width, self.shadow, self.stroke_color, self.box, self.box_color, self.box_opacity,
                self.text_frames, self.logo_path, self.logo_opacity, self.brightness, self.contrast,
                self.optimize, self.colors, self.lossy, self.drop_duplicates, self.duplicates, self.encoder,
                self.max_mb]

    # ------------------------------------------------------------ settings <-> widgets
    def _range(self, slider, full_last: int) -> tuple[int, int]:
        """(start, end exclusive) of a frame-range slider; (0, 0) when it covers every frame."""
        start, end = slider.value
        return (0, 0) if (start, end) == (0, full_last) else (start, end + 1)

    def settings(self) -> Settings:
        """The edit the controls describe (width/height 0 = unchanged, frame ranges 0 = all)."""
        size = (self.width.value, self.height.value)
        resized = size != self._initial_size
        values = {name: getattr(self, name).value for name in Settings.names()
                  if hasattr(self, name) and name not in ("width", "height") and not isinstance(getattr(self, name), dict)}
        for side, slider in self.crop.items():
            values[f"crop_{side}"] = slider.value
        n = self.clip.n_frames if self.clip is not None else 0
        values["trim_start"], values["trim_end"] = self._range(self.trim, n - 1) if n else (0, 0)
        start, end = self.delete_range.value
        values["delete_start"], values["delete_end"] = (start, end + 1) if self.delete.value and n else (0, 0)
        values["text_start"], values["text_end"] = self._range(self.text_frames, self.text_frames.max) if n else (0, 0)
        return Settings(width=size[0] if resized else 0, height=size[1] if resized else 0, delay_all=self._delay_all,
                        frame_delays=dict(self._frame_delays), holds=dict(self._holds),
                        **{k: v for k, v in values.items() if k not in _BY_BUTTON})

    def _set_control(self, name: str, value) -> None:
        """One Settings field into its control (frame-range ends are exclusive in Settings)."""
        if name.startswith("crop_"):
            self.crop[name[5:]].value = value
        elif name in _RANGES:
            slider, end = _RANGES[name]
            slider = getattr(self, slider)
            start, last = slider.value
            if name == "delete_end":
                self.delete.value = value > start
            value = min(max(0, value - 1 if end else value), slider.max)
            slider.value = (min(start, value), value) if end else (value, max(value, last))
        elif name == "delay_all":
            self._delay_all = int(value)
        elif name in ("frame_delays", "holds"):
            setattr(self, f"_{name}", {int(k): int(v) for k, v in dict(value).items()})
        else:
            getattr(self, name).value = value

    # ------------------------------------------------------------ keep aspect
    def _base_size(self) -> tuple[int, int]:
        """Frame size that resize starts from: the source after crop and rotation."""
        assert self.clip is not None
        s = self.settings()
        geometry = Settings(crop_left=s.crop_left, crop_right=s.crop_right, crop_top=s.crop_top,
                            crop_bottom=s.crop_bottom, aspect=s.aspect, aspect_x=s.aspect_x, aspect_y=s.aspect_y,
                            rotate=s.rotate).to_ops()
        try:
            return predict_size(self.clip.size, geometry)
        except GifEditorError:
            return self.clip.size

    def _on_size(self, changed: str, value: int) -> None:
        if self._linking or not self.keep_aspect.value or self.clip is None:
            return
        other = self.height if changed == "width" else self.width
        self._linking = True
        try:
            other.value = min(other.max, max(other.min, linked_size(self._base_size(), changed, value)))
        finally:
            self._linking = False

    def _relink(self) -> None:
        """Crop or rotation changed: unresized, the size sliders follow the new frame (a crop is not
        scaled back up); resized with keep-aspect, the height follows the width."""
        if self.clip is None or self._linking:
            return
        if (self.width.value, self.height.value) == self._initial_size:
            lo, hi = SIZE_RANGE
            self._linking = True
            try:
                self.width.value, self.height.value = (min(hi, max(lo, v)) for v in self._base_size())
            finally:
                self._linking = False
            self._initial_size = (self.width.value, self.height.value)
        elif self.keep_aspect.value:
            self._on_size("width", self.width.value)
