"""The ipywidgets editor: controls -> an operation list -> gif_editor's processor.

    from gif_editor.ui import Editor
    Editor()                       # upload a GIF, or type a path for large files
    Editor("clip.gif")             # start from a file

Works without a kernel too (papermill, scripts): `ed.set(width=200, text="hi")`,
`ed.preview()` returns GIF bytes and `ed.save("out.gif")` writes the edit; errors land in
`ed.status` and `ed.last_error` rather than in a swallowed callback traceback.
"""
from __future__ import annotations

import base64
import html
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import ipywidgets as w

from .clip import Clip
from .errors import GifEditorError
from .io import load, save
from .ops import DELAY_RANGE, FACTOR_RANGE, FONT_RANGE, SIZE_RANGE, SPEED_RANGE, apply, predict_size
from .optimize import BACKENDS, COLORS_RANGE, LOSSY_RANGE, gifsicle_path, size_note
from .panels import Panel, PanelFactory
from .settings import History, Settings, delays_text, downscale, linked_size, render_preview, uploaded_files
from .status import StatusLine
from .watermark import POSITIONS

_WIDE = {"description_width": "110px"}
_ORIGINAL_MAX_SIDE = 360


class Editor(StatusLine):
    """Upload or open a GIF, edit it with the controls, Preview, Download; Reset restores defaults."""

    def __init__(self, source=None, *, preview_max_side: int = 480, output_path: str | os.PathLike = "edited.gif",
                 panels: Sequence[PanelFactory] = ()):
        """``panels``: factories of extra tabs, each called with this editor as its host
        (gif_editor.panels.EditorHost); the built panels are in ``self.panels`` by title."""
        self.preview_max_side = preview_max_side
        self.clip: Clip | None = None  # the decoded source, cached so Preview does not re-decode
        self.edited: Clip | None = None
        self.source_name = ""
        self.last_error: str | None = None
        self._linking = False
        self._restoring = False
        self._initial_size = (0, 0)
        self._delay_all, self._frame_delays = 0, {}
        self.panels: dict[str, Panel] = {}
        self._build(str(output_path), panels)
        self.history = History(self.settings())
        if source is not None:
            self.load(source)

    # ------------------------------------------------------------ layout
    def _build(self, output_path: str, panels: Sequence[PanelFactory]) -> None:
        lo, hi = SIZE_RANGE
        self.upload = w.FileUpload(accept=".gif,.png,.jpg,.jpeg,.webp", multiple=False, description="Upload GIF")
        self.path = w.Text(placeholder="or a path on this machine (large files)", layout=w.Layout(width="340px"))
        self.open_button = w.Button(description="Open path")
        self.original = w.Image(format="gif", layout=w.Layout(max_width="360px"))
        self.original_info = w.HTML("No GIF loaded yet.")

        self.width = w.IntSlider(value=lo, min=lo, max=hi, description="Width px", style=_WIDE, continuous_update=False)
        self.height = w.IntSlider(value=lo, min=lo, max=hi, description="Height px", style=_WIDE, continuous_update=False)
        self.keep_aspect = w.Checkbox(value=True, description="Keep aspect ratio")
        self.crop = {side: w.FloatSlider(value=0, min=0, max=95, step=1, description=f"Crop {side} %", style=_WIDE,
                                         continuous_update=False) for side in ("left", "right", "top", "bottom")}
        self.rotate = w.ToggleButtons(options=[("0°", 0), ("90° ↻", 90), ("180°", 180), ("270° ↻", 270)], value=0,
                                      description="Rotate (clockwise)", style=_WIDE)
        self.flip_horizontal = w.Checkbox(description="Flip left-right")
        self.flip_vertical = w.Checkbox(description="Flip top-bottom")
        self.trim = w.IntRangeSlider(value=(0, 0), min=0, max=0, description="Frames", style=_WIDE, continuous_update=False)
        self.reverse = w.Checkbox(description="Reverse")
        self.boomerang = w.Checkbox(description="Boomerang")
        self.grayscale = w.Checkbox(description="Grayscale")

        self.text = w.Text(placeholder="watermark text (any language)", description="Text", style=_WIDE)
        self.font_size = w.IntSlider(value=20, min=FONT_RANGE[0], max=FONT_RANGE[1], description="Font size", style=_WIDE)
        self.opacity = w.IntSlider(value=200, min=0, max=255, description="Text opacity", style=_WIDE)
        self.position = w.Dropdown(options=list(POSITIONS), value="bottom-right", description="Position", style=_WIDE)
        self.color = w.ColorPicker(value="#ffffff", description="Colour", style=_WIDE)
        self.logo_path = w.Text(placeholder="logo image path (optional)", description="Logo", style=_WIDE)
        self.logo_opacity = w.IntSlider(value=128, min=0, max=255, description="Logo opacity", style=_WIDE)

        def factor(name: str, rng: tuple[float, float]) -> w.FloatSlider:
            return w.FloatSlider(value=1.0, min=rng[0], max=rng[1], step=0.05, description=name, style=_WIDE,
                                 continuous_update=False)
        self.brightness = factor("Brightness", FACTOR_RANGE)
        self.contrast = factor("Contrast", FACTOR_RANGE)
        self.speed = factor("Speed ×", SPEED_RANGE)
        self.delay_frame = w.BoundedIntText(value=0, min=0, max=0, description="Frame", style=_WIDE)
        self.delay_ms = w.BoundedIntText(value=100, min=DELAY_RANGE[0], max=DELAY_RANGE[1], description="Delay ms")
        self.set_frame_delay, self.set_all_delays = w.Button(description="Set this frame"), w.Button(description="Set all")
        self.delays_info = w.HTML("Delays: each frame's own.")

        self.optimize = w.Checkbox(description="Optimize (smaller file)")
        self.colors = w.IntSlider(value=Settings.colors, min=COLORS_RANGE[0], max=COLORS_RANGE[1], description="Colours",
                                  style=_WIDE, continuous_update=False)
        self.lossy = w.IntSlider(value=Settings.lossy, min=LOSSY_RANGE[0], max=LOSSY_RANGE[1], description="Lossy",
                                 style=_WIDE, continuous_update=False)
        self.drop_duplicates = w.Checkbox(value=True, description="Drop near-duplicate frames")
        self.duplicates = w.FloatSlider(value=Settings.duplicates, min=0, max=16, step=0.5, description="Within levels",
                                        style=_WIDE, continuous_update=False)
        self.encoder = w.Dropdown(options=list(BACKENDS), value="auto", description="Encoder", style=_WIDE)
        self.encoder_info = w.HTML("gifsicle " + ("installed: auto uses it." if gifsicle_path() else
                                                  "not installed: auto uses Pillow (apt-get install gifsicle)."))

        self.preview_button = w.Button(description="Preview", button_style="primary", icon="eye")
        self.download_button = w.Button(description="Download", button_style="success", icon="download")
        self.reset_button = w.Button(description="Reset", icon="undo")
        self.undo_button, self.redo_button = (w.Button(description=d, icon=i, disabled=True)
                                              for d, i in (("Undo", "rotate-left"), ("Redo", "rotate-right")))
        self.output_path = w.Text(value=output_path, description="Save as", style=_WIDE)
        self.result = w.Image(format="gif", layout=w.Layout(max_width="480px"))
        self.result_info = w.HTML()
        self.status = w.HTML()
        self.link = w.HTML()
        for widget, css in ((self.result, "gif-editor-result"), (self.original, "gif-editor-original"),
                            (self.status, "gif-editor-status"), (self.preview_button, "gif-editor-preview"),
                            (self.width, "gif-editor-width"), (self.height, "gif-editor-height"),
                            (self.upload, "gif-editor-upload")):
            widget.add_class(css)

        self.upload.observe(self._on_upload, names="value")
        self.open_button.on_click(lambda _: self.load(self.path.value.strip()))
        self.width.observe(lambda ch: self._on_size("width", ch["new"]), names="value")
        self.height.observe(lambda ch: self._on_size("height", ch["new"]), names="value")
        for control in (*self.crop.values(), self.rotate):
            control.observe(lambda _: self._relink(), names="value")
        self.preview_button.on_click(lambda _: self.preview())
        self.download_button.on_click(lambda _: self.download())
        self.reset_button.on_click(lambda _: self.reset())
        self.undo_button.on_click(lambda _: self.undo())
        self.redo_button.on_click(lambda _: self.redo())
        self.set_frame_delay.on_click(lambda _: self.set_delay(self.delay_ms.value, self.delay_frame.value))
        self.set_all_delays.on_click(lambda _: self.set_delay(self.delay_ms.value))
        for control in self._value_controls():
            control.observe(lambda _: self._record(), names="value")
        for control in (self.trim, self.boomerang):
            control.observe(lambda _: self._fit_delay_frame(), names="value")

        for factory in panels:  # e.g. vdiff's Model tab: its result is loaded like any GIF
            panel = factory(self)
            self.panels[panel.title] = panel
        tabs = w.Tab(children=[
            w.VBox([self.width, self.height, self.keep_aspect, *self.crop.values(), self.rotate,
                    w.HBox([self.flip_horizontal, self.flip_vertical])]),
            w.VBox([self.trim, w.HBox([self.reverse, self.boomerang]), self.speed,
                    w.HBox([self.delay_frame, self.delay_ms]), w.HBox([self.set_frame_delay, self.set_all_delays]),
                    self.delays_info]),
            w.VBox([self.brightness, self.contrast, self.grayscale]),
            w.VBox([self.text, self.font_size, self.opacity, self.color, self.position, self.logo_path, self.logo_opacity]),
            w.VBox([self.optimize, self.colors, self.lossy, self.drop_duplicates, self.duplicates, self.encoder,
                    self.encoder_info]),
            *(panel.widget for panel in self.panels.values()),
        ])
        for i, title in enumerate(("Size", "Time", "Colour", "Watermark", "Optimize", *self.panels)):
            tabs.set_title(i, title)
        self.widget = w.VBox([
            w.HBox([self.upload, self.path, self.open_button]),
            w.HBox([w.VBox([w.HTML("<b>Original</b>"), self.original, self.original_info]),
                    w.VBox([w.HTML("<b>Edited</b>"), self.result, self.result_info])]),
            tabs,
            w.HBox([self.preview_button, self.download_button, self.undo_button, self.redo_button,
                    self.reset_button, self.output_path]),
            self.status, self.link,
        ])

    def _ipython_display_(self) -> None:
        # display() shows the widget with ipywidgets 8 and with Colab's 7.7.1, whose widgets have no
        # _repr_mimebundle_ (measured: the formatter failed and the cell showed only a repr).
        from IPython.display import display

        display(self.widget)

    # ------------------------------------------------------------ loading
    def _on_upload(self, change) -> None:
        try:
            files = uploaded_files(change["new"])
        except (KeyError, TypeError) as exc:
            self._fail(f"could not read the upload: {exc}")
            return
        if files:
            name, data = files[0]
            self.load(data, name=name)

    def load(self, source, name: str | None = None) -> Clip | None:
        """Decode a GIF (bytes or path) once, show it, and fit the controls to it."""
        if isinstance(source, str) and not source:
            self._fail("type a path first")
            return None
        try:
            clip = source if isinstance(source, Clip) else load(source)
        except GifEditorError as exc:
            self._fail(str(exc))
            return None
        self.clip, self.edited = clip, None
        self.source_name = name or (Path(source).name if isinstance(source, (str, os.PathLike)) else "upload.gif")
        self.original.value = save(downscale(clip, _ORIGINAL_MAX_SIDE))
        self.original_info.value = html.escape(f"{self.source_name}: {clip.describe()}")
        self.result.value = b""
        self.result_info.value = self.link.value = ""
        self._fit_controls()
        self._delay_all, self._frame_delays = 0, {}
        self._show_delays()
        self.history = History(self.settings())  # a new GIF starts a new history
        self._buttons()
        self._ok(f"loaded {self.source_name}: {clip.describe()}")
        return clip

    def _fit_controls(self) -> None:
        assert self.clip is not None
        lo, hi = SIZE_RANGE
        self._linking = True
        try:
            self.width.value = min(hi, max(lo, self.clip.size[0]))
            self.height.value = min(hi, max(lo, self.clip.size[1]))
            last = self.clip.n_frames - 1
            self.trim.max = max(last, 0)
            self.trim.value = (0, last)
        finally:
            self._linking = False
        self._initial_size = (self.width.value, self.height.value)

    # ------------------------------------------------------------ keep aspect
    def _base_size(self) -> tuple[int, int]:
        """Frame size that resize starts from: the source after crop and rotation."""
        assert self.clip is not None
        s = self.settings()
        geometry = Settings(crop_left=s.crop_left, crop_right=s.crop_right, crop_top=s.crop_top,
                            crop_bottom=s.crop_bottom, rotate=s.rotate).to_ops()
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
        if self.clip is not None and self.keep_aspect.value:
            self._on_size("width", self.width.value)

    # ------------------------------------------------------------ settings <-> widgets
    def settings(self) -> Settings:
        size = (self.width.value, self.height.value)
        resized = size != self._initial_size
        start, end = self.trim.value
        n = self.clip.n_frames if self.clip is not None else 0
        return Settings(
            width=size[0] if resized else 0, height=size[1] if resized else 0, keep_aspect=self.keep_aspect.value,
            crop_left=self.crop["left"].value, crop_right=self.crop["right"].value,
            crop_top=self.crop["top"].value, crop_bottom=self.crop["bottom"].value,
            rotate=self.rotate.value, flip_horizontal=self.flip_horizontal.value, flip_vertical=self.flip_vertical.value,
            trim_start=start, trim_end=(end + 1) if n and (start, end) != (0, n - 1) else 0,
            reverse=self.reverse.value, boomerang=self.boomerang.value, grayscale=self.grayscale.value,
            text=self.text.value, font_size=self.font_size.value, opacity=self.opacity.value, color=self.color.value,
            position=self.position.value, logo_path=self.logo_path.value, logo_opacity=self.logo_opacity.value,
            brightness=self.brightness.value, contrast=self.contrast.value, speed=self.speed.value,
            delay_all=self._delay_all, frame_delays=dict(self._frame_delays), optimize=self.optimize.value,
            colors=self.colors.value, lossy=self.lossy.value, drop_duplicates=self.drop_duplicates.value,
            duplicates=self.duplicates.value, encoder=self.encoder.value,
        )

    def ops(self) -> list[dict]:
        """The operation list the controls describe (what Preview and Download apply)."""
        n = self.clip.n_frames if self.clip is not None else None
        return self.settings().to_ops(n_frames=n)

    def set(self, **values) -> Editor:
        """Set controls by Settings field name, e.g. set(width=200, text="hi", speed=2.0)."""
        unknown = set(values) - set(Settings.names())
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}; known: {', '.join(Settings.names())}")
        recording, self._restoring = self._restoring, True  # one set() call is one undo step
        try:
            for name, value in values.items():
                if name.startswith("crop_"):
                    self.crop[name[5:]].value = value
                elif name in ("trim_start", "trim_end"):
                    start, end = self.trim.value
                    self.trim.value = (value, end) if name == "trim_start" else (start, value - 1)
                elif name == "delay_all":
                    self._delay_all = int(value)
                elif name == "frame_delays":
                    self._frame_delays = {int(k): int(v) for k, v in dict(value).items()}
                else:
                    getattr(self, name).value = value
        finally:
            self._restoring = recording
        self._show_delays()
        self._record()
        return self

    # ------------------------------------------------------------ delays, undo and redo
    def _value_controls(self) -> list:
        return [self.width, self.height, self.keep_aspect, *self.crop.values(), self.rotate, self.flip_horizontal,
                self.flip_vertical, self.trim, self.reverse, self.boomerang, self.grayscale, self.text, self.font_size,
                self.opacity, self.position, self.color, self.logo_path, self.logo_opacity, self.brightness,
                self.contrast, self.speed, self.optimize, self.colors, self.lossy, self.drop_duplicates,
                self.duplicates, self.encoder]

    def _fit_delay_frame(self) -> None:
        """The frame box counts the frames the delay op sees: after trim and boomerang."""
        n = self.trim.value[1] - self.trim.value[0] + 1
        self.delay_frame.max = max(0, (n + max(0, n - 2) if self.boomerang.value else n) - 1)

    def _show_delays(self) -> None:
        self.delays_info.value = html.escape(delays_text(self._delay_all, self._frame_delays))

    def set_delay(self, ms: int, frame: int | None = None) -> Editor:
        """Set one frame's delay (frame numbers after trim/reverse/boomerang), or every frame's when frame is None."""
        if frame is None:
            return self.set(delay_all=ms, frame_delays={})
        return self.set(frame_delays={**self._frame_delays, int(frame): int(ms)})

    def _record(self) -> None:
        if self._restoring or self._linking:
            return
        self.history.record(self.settings())
        self._buttons()

    def _buttons(self) -> None:
        self.undo_button.disabled, self.redo_button.disabled = len(self.history.done) < 2, not self.history.undone

    def _restore(self, settings: Settings | None) -> None:
        if settings is None:
            return
        values = settings.control_values(self._initial_size, self.clip.n_frames if self.clip is not None else None)
        self._linking = True  # restore both sides as recorded, without keep-aspect re-linking them
        try:
            self.set(**values)
        finally:
            self._linking = False
        self._buttons()

    def undo(self) -> list[dict]:
        """Back to the controls before the last edit; returns the operation list now in effect."""
        self._restore(self.history.undo())
        return self.ops()

    def redo(self) -> list[dict]:
        self._restore(self.history.redo())
        return self.ops()

    # ------------------------------------------------------------ actions
    def preview(self) -> bytes | None:
        """Render the edit (downscaled when large) into the result image and return its GIF bytes."""
        if self.clip is None:
            self._fail("load a GIF first (upload or path)")
            return None
        try:
            data, self.edited = render_preview(self.clip, self.ops(), self.preview_max_side)
        except GifEditorError as exc:
            self._fail(str(exc))
            return None
        self.result.value = data
        note = ""
        if "optimize" in self.edited.info:  # sizes at full size: the file Download writes
            note = "; " + size_note(self.edited, len(save(self.edited)))
        self.result_info.value = html.escape(self.edited.describe() + note)
        self._ok(f"preview: {self.edited.describe()}{note}")
        return data

    def save(self, path: str | os.PathLike | None = None, palette: str = "octree") -> Path | None:
        """Write the full-size edit (.gif or .mp4) to `path` (default: the Save-as box)."""
        if self.clip is None:
            self._fail("load a GIF first (upload or path)")
            return None
        target = Path(path if path is not None else self.output_path.value.strip() or "edited.gif")
        try:
            if target.suffix.lower() not in (".gif", ".mp4"):
                raise GifEditorError(f"save as .gif or .mp4, not {target.name!r}")
            self.edited = edited = apply(self.clip, self.ops())
            save(edited, target, palette=palette)
        except GifEditorError as exc:
            self._fail(str(exc))
            return None
        except OSError as exc:
            self._fail(f"could not write {target}: {exc.strerror or exc}")
            return None
        self._ok(f"saved {target.resolve()} ({edited.describe()})")
        return target

    def download(self, path: str | os.PathLike | None = None) -> Path | None:
        """Save, then offer the file: Colab's download, elsewhere a data-URL link; the path is always shown."""
        target = self.save(path)
        if target is None:
            return None
        where = html.escape(str(target.resolve()))
        if "google.colab" in sys.modules:
            try:
                from google.colab import files  # type: ignore[import-not-found]

                files.download(str(target))
            except Exception as exc:  # the file is saved either way; say where
                self._fail(f"saved to {target.resolve()} but the browser download failed: {exc}")
        mime = "video/mp4" if target.suffix.lower() == ".mp4" else "image/gif"
        payload = base64.b64encode(target.read_bytes()).decode("ascii")
        self.link.value = (f"<a download='{html.escape(target.name)}' href='data:{mime};base64,{payload}'>"
                           f"⬇ download {html.escape(target.name)}</a> &nbsp; saved at <code>{where}</code>")
        return target

    def reset(self) -> None:
        """Every control back to its default (the no-op edit); the loaded GIF stays, and Undo brings the edit back."""
        self._restore(Settings())
        self._record()
        self.result.value = b""
        self.result_info.value = self.link.value = ""
        self.edited = None
        self._ok("reset: no edits")
