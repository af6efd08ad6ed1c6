"""The ipywidgets editor: controls -> an operation list -> gif_editor's processor.

    from gif_editor.ui import Editor
    Editor()                       # upload a GIF or a video, or type a path for large files
    Editor("clip.gif")             # start from a file
    Editor("talk.mp4")             # a video: shows its frames and size first, then Decode video

The Edited pane shows the clip as soon as it loads and follows the controls (a debounced live
preview; clips too large to render quickly wait for Preview). Without a kernel (papermill, scripts):
`ed.set(width=200, text="hi")`, `ed.preview()` (GIF bytes), `ed.save("out.gif")`; errors land in
`ed.status` and `ed.last_error`, not in a swallowed callback traceback.
"""
from __future__ import annotations

import base64
import html
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import ipywidgets as w

from .clip import Clip
from .controls import WIDE, EditorControls
from .errors import GifEditorError
from .geometry import SIZE_RANGE
from .io import describe_gif, load, save
from .live import Debouncer
from .ops import apply
from .optimize import size_note
from .panels import Panel, PanelFactory
from .settings import (History, Settings, delays_text, download_link, downscale, render_preview,
                       uploaded_files)
from .status import StatusLine
from .timing import timing_notice
from .video import VIDEO_SUFFIXES, is_video
from .video_box import VideoBox

_ORIGINAL_MAX_SIDE = 360
LIVE_PIXELS = 12_000_000  # preview frames x pixels rendered live (~1 s on a busy 2-core machine)
LIVE_SECONDS = 1.5        # a live render slower than this hands the preview back to the button
_BLANK_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")  # 1x1 see-through


class Editor(StatusLine, EditorControls):
    """Upload or open a GIF or video, edit it with the controls, watch the preview, Download; Reset restores."""

    def __init__(self, source=None, *, preview_max_side: int = 480, output_path: str | os.PathLike = "edited.gif",
                 panels: Sequence[PanelFactory] = (), live_preview: bool = True):
        """``panels``: factories of extra tabs, each called with this editor as its host
        (gif_editor.panels.EditorHost); the built panels are in ``self.panels`` by title."""
        self.preview_max_side = preview_max_side
        self.clip: Clip | None = None  # the decoded source, cached so Preview does not re-decode
        self.edited: Clip | None = None
        self.source_name, self.last_error = "", None
        self._linking = self._restoring = False
        self._initial_size = (0, 0)
        self._delay_all, self._frame_delays, self._holds = 0, {}, {}
        self._live = Debouncer(lambda: self.preview(search=False))
        self.panels: dict[str, Panel] = {}
        self._build(str(output_path), panels, live_preview)
        self.history = History(self.settings())
        if source is not None:
            self.load(source)

    # ------------------------------------------------------------ layout
    def _build(self, output_path: str, panels: Sequence[PanelFactory], live_preview: bool) -> None:
        self.upload = w.FileUpload(accept=",".join((".gif", ".png", ".jpg", ".jpeg", ".webp", *VIDEO_SUFFIXES)),
                                   multiple=False, description="Upload")
        self.path = w.Text(placeholder="or a path on this machine (large files, videos)", layout=w.Layout(width="340px"))
        self.open_button = w.Button(description="Open path")
        self.video = VideoBox(on_clip=lambda clip, name: self.load(clip, name=name), on_error=self._fail)
        self.original = w.Image(value=_BLANK_GIF, format="gif", layout=w.Layout(max_width="360px"))
        self.original_info = w.HTML("No GIF loaded yet.")
        self._build_controls()
        self.preview_button = w.Button(description="Preview", button_style="primary", icon="eye")
        self.live = w.Checkbox(value=live_preview, description="Live preview")
        self.download_button = w.Button(description="Download", button_style="success", icon="download")
        self.reset_button = w.Button(description="Reset", icon="undo")
        self.undo_button, self.redo_button = (w.Button(description=d, icon=i, disabled=True)
                                              for d, i in (("Undo", "rotate-left"), ("Redo", "rotate-right")))
        self.output_path = w.Text(value=output_path, description="Save as", style=WIDE)
        self.result = w.Image(value=_BLANK_GIF, format="gif", layout=w.Layout(max_width="480px"))
        self.result_info = w.HTML()
        self.status = w.HTML()
        self.link = w.HTML()
        for widget, css in ((self.result, "gif-editor-result"), (self.original, "gif-editor-original"),
                            (self.status, "gif-editor-status"), (self.preview_button, "gif-editor-preview"),
                            (self.upload, "gif-editor-upload"), (self.result_info, "gif-editor-result-info"),
                            (self.live, "gif-editor-live")):
            widget.add_class(css)

        self.upload.observe(self._on_upload, names="value")
        self.open_button.on_click(lambda _: self.load(self.path.value.strip()))
        self.width.observe(lambda ch: self._on_size("width", ch["new"]), names="value")
        self.height.observe(lambda ch: self._on_size("height", ch["new"]), names="value")
        for control in (*self.crop.values(), self.rotate, self.aspect, self.aspect_x, self.aspect_y):
            control.observe(lambda _: self._relink(), names="value")
        self.preview_button.on_click(lambda _: self.preview())
        self.download_button.on_click(lambda _: self.download())
        self.reset_button.on_click(lambda _: self.reset())
        self.undo_button.on_click(lambda _: self.undo())
        self.redo_button.on_click(lambda _: self.redo())
        self.set_frame_delay.on_click(lambda _: self.set_delay(self.delay_ms.value, self.delay_frame.value))
        self.set_all_delays.on_click(lambda _: self.set_delay(self.delay_ms.value))
        self.hold_button.on_click(lambda _: self.hold(self.delay_frame.value, self.delay_ms.value))
        self.live.observe(lambda _: self._changed(), names="value")
        for control in self._value_controls():
            control.observe(lambda _: self._record(), names="value")
        for control in (self.trim, self.delete, self.delete_range, self.every_nth, self.boomerang):
            control.observe(lambda _: self._fit_frame_controls(), names="value")

        for factory in panels:  # e.g. vdiff's Model tab: its result is loaded like any GIF
            panel = factory(self)
            self.panels[panel.title] = panel
        tabs = [*self._edit_tabs(), *((title, panel.widget) for title, panel in self.panels.items())]
        self.tabs = w.Tab(children=[box for _, box in tabs])
        for i, (title, _) in enumerate(tabs):
            self.tabs.set_title(i, title)
        self.widget = w.VBox([
            w.HBox([self.upload, self.path, self.open_button]), self.video.widget,
            w.HBox([w.VBox([w.HTML("<b>Original</b>"), self.original, self.original_info]),
                    w.VBox([w.HTML("<b>Edited</b>"), self.result, self.result_info])]),
            self.tabs,
            w.HBox([self.preview_button, self.live, self.download_button, self.undo_button, self.redo_button,
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
        """Decode a GIF (bytes or path) once, show it, and fit the controls to it. A video is probed
        instead (size, rate, length: nothing decoded) and waits for ``decode_video``; None then."""
        if isinstance(source, str) and not source:
            self._fail("type a path first")
            return None
        name = name or (Path(source).name if isinstance(source, (str, os.PathLike)) else "upload.gif")
        try:
            if not isinstance(source, Clip) and is_video(source):  # decoded by the video row's Decode
                plan = self.video.open(source, name)
                self._ok(f"{plan.describe(**self.video.options())}: set the range, fps and size, then Decode video")
                return None
            clip = source if isinstance(source, Clip) else load(source, name=name)
        except GifEditorError as exc:
            self._fail(str(exc))
            return None
        self.clip, self.edited, self.source_name = clip, None, name
        self.original.value = save(downscale(clip, _ORIGINAL_MAX_SIDE))
        self.original_info.value = html.escape(f"{self.source_name}: {clip.describe()}")
        self.result_info.value = self.link.value = ""
        self._fit_controls()
        self._delay_all, self._frame_delays, self._holds = 0, {}, {}
        self._show_delays()
        self.history = History(self.settings())  # a new GIF starts a new history
        self._buttons()
        if self._quick():  # the Edited pane shows the clip from the start
            self.preview(search=False)
        else:
            self.result.value = self.original.value
            self.result_info.value = "Large clip: press Preview to see the edit."
        self._ok(f"loaded {self.source_name}: {clip.describe()}")
        return clip

    def decode_video(self, **options) -> Clip | None:
        """Decode the opened video (``options``: start, end, fps, max_side) and load it like a GIF."""
        return self.video.decode(**options)
    def _fit_controls(self) -> None:
        assert self.clip is not None
        lo, hi = SIZE_RANGE
        self._linking = True
        try:
            self.width.value = min(hi, max(lo, self.clip.size[0]))
            self.height.value = min(hi, max(lo, self.clip.size[1]))
            last = self.clip.n_frames - 1
            for slider in (self.trim, self.text_frames):
                slider.max = max(last, 0)
                slider.value = (0, last)
        finally:
            self._linking = False
        self._initial_size = (self.width.value, self.height.value)
        self._fit_frame_controls()

    def _fit_frame_controls(self) -> None:
        """Frame numbers count the clip each operation sees: delete after trim, delays, holds and
        text after every frame operation (trim, delete, every n-th, boomerang)."""
        if self.clip is None:
            return
        start, end = self.trim.value
        self.delete_range.max = max(0, end - start)
        last = max(0, self.settings().frame_count(self.clip.n_frames) - 1)
        full = self.text_frames.value == (0, self.text_frames.max)
        self.text_frames.max = last
        if full:
            self.text_frames.value = (0, last)
        self.delay_frame.max = last

    # ------------------------------------------------------------ settings, delays, undo and redo
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
                self._set_control(name, value)
        finally:
            self._restoring = recording
        self._show_delays()
        self._record()
        return self

    def _show_delays(self) -> None:
        self.delays_info.value = html.escape(delays_text(self._delay_all, self._frame_delays, self._holds))

    def set_delay(self, ms: int, frame: int | None = None) -> Editor:
        """Set one frame's delay (frame numbers after the frame operations), or every frame's when frame is None."""
        if frame is None:
            return self.set(delay_all=ms, frame_delays={})
        return self.set(frame_delays={**self._frame_delays, int(frame): int(ms)})

    def hold(self, frame: int, ms: int) -> Editor:
        """Hold a frame ``ms`` longer (-1 = the last frame); 0 ms removes its hold."""
        holds = {k: v for k, v in self._holds.items() if k != int(frame)}
        return self.set(holds={**holds, **({int(frame): int(ms)} if ms else {})})

    def _record(self) -> None:
        if self._restoring or self._linking:
            return
        self.history.record(self.settings())
        self._buttons()
        self._changed()

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
        self._changed()

    def undo(self) -> list[dict]:
        """Back to the controls before the last edit; returns the operation list now in effect."""
        self._restore(self.history.undo())
        return self.ops()

    def redo(self) -> list[dict]:
        self._restore(self.history.redo())
        return self.ops()

    # ------------------------------------------------------------ live preview
    def _quick(self) -> bool:
        """Whether the preview renders fast enough to follow the controls: frames x preview pixels
        under LIVE_PIXELS, and the last render under LIVE_SECONDS."""
        if self.clip is None:
            return False
        w_, h_ = downscale(Clip([self.clip.frames[0]], [0]), self.preview_max_side).size
        frames = self.settings().frame_count(self.clip.n_frames) if self.clip.n_frames else 0
        return frames * w_ * h_ <= LIVE_PIXELS and getattr(self, "_last_render_s", 0.0) <= LIVE_SECONDS

    def _changed(self) -> None:
        """A control moved: schedule a live preview when it is on and the clip renders quickly."""
        if self.clip is not None and self.live.value and not self._restoring and not self._linking:
            if self._quick():
                self._live.trigger()
            else:
                self.result_info.value = "Live preview paused for this large clip: press Preview."

    def wait_preview(self, timeout: float = 30.0) -> None:
        """Block until a scheduled live preview has rendered (scripts and tests)."""
        self._live.wait(timeout)

    # ------------------------------------------------------------ actions
    def preview(self, search: bool = True) -> bytes | None:
        """Render the edit (downscaled when large) into the result image and return its GIF bytes.
        ``search``: with a size limit (max_size), run its search on the full-size clip and say what it chose."""
        if self.clip is None:
            self._fail("load a GIF first (upload or path)")
            return None
        keep_fast, started = self.keep_fast_delays.value, time.perf_counter()
        try:
            data, edited = render_preview(self.clip, self.ops(), self.preview_max_side, keep_fast_delays=keep_fast)
            notes = []
            if search and ("optimize" in edited.info or "max_size" in edited.info):
                full = save(edited, keep_fast_delays=keep_fast)  # sizes at full size: the file Download writes
                notes.append(size_note(edited, len(full)) if "max_size" not in edited.info else edited.info["notes"][-1])
            elif "max_size" in edited.info:
                notes.append("size limit: searched when you press Preview or Download")
        except GifEditorError as exc:
            self._fail(str(exc))
            return None
        self._last_render_s = time.perf_counter() - started
        self.edited = edited
        self.result.value = data
        notice = timing_notice(*edited.info.get("timing", (0, 0)), "Keep delays under 20 ms")
        line = "; ".join([edited.describe(), *notes, *([notice] if notice else [])])
        self.result_info.value = html.escape(line)
        self._ok(f"preview: {line}")
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
            data = save(edited, target, palette=palette, keep_fast_delays=self.keep_fast_delays.value)
        except GifEditorError as exc:
            self._fail(str(exc))
            return None
        except OSError as exc:
            self._fail(f"could not write {target}: {exc.strerror or exc}")
            return None
        written = describe_gif(data) if target.suffix.lower() == ".gif" else edited.describe()
        self._ok("; ".join([f"saved {target.resolve()} ({written})", *edited.info.get("notes", [])]))
        return target

    def download(self, path: str | os.PathLike | None = None) -> Path | None:
        """Save, then offer the file: Colab's download, elsewhere a data-URL link; the path is always shown."""
        target = self.save(path)
        if target is None:
            return None
        if "google.colab" in sys.modules:
            try:
                from google.colab import files  # type: ignore[import-not-found]

                files.download(str(target))
            except Exception as exc:  # the file is saved either way; say where
                self._fail(f"saved to {target.resolve()} but the browser download failed: {exc}")
        self.link.value = download_link(target)
        return target

    def reset(self) -> None:
        """Every control back to its default (the no-op edit); the loaded GIF stays, and Undo brings the edit back."""
        self._restore(Settings())
        self._record()
        self.link.value = ""
        self._ok("reset: no edits")
