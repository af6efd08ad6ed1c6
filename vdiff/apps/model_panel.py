"""The GIF editor's Model tab ("Regenerate with a model"): re-prompt, regenerate a box/frames, or extend
the loaded GIF with a trained vdiff run, in a background thread, with a progress bar, a live preview
of the model's predicted x0 and a Cancel button.

    from vdiff.apps.model_panel import editor_with_model
    editor = editor_with_model("clip.gif", run_dir="runs/digits")    # gif_editor's Editor + this tab

gif_editor knows nothing of vdiff: the panel plugs into ``Editor(panels=[...])`` and sees the editor
only as a ``gif_editor.panels.EditorHost`` (its clip, load, preview). The result replaces the
editor's loaded GIF, so Preview, Download and every Pillow operation apply to it; "Back" returns to
the GIF from before. Headless use (tests, scripts): ``panel.set(...)``, ``panel.start()``,
``panel.wait()``; errors land in ``panel.status`` and ``panel.last_error`` (a button handler's
exception would be swallowed by ipywidgets).

Importing this module loads neither torch nor the model: the editing functions are torch-free until an
edit runs, and the pipeline loads on the first Run.
"""
from __future__ import annotations

import os
import threading

import ipywidgets as w
import numpy as np
from PIL import Image

from clipkit.gif import encode_gif
from gif_editor.clip import Clip
from gif_editor.panels import EditorHost
from gif_editor.status import StatusLine
from gif_editor.ui import Editor

from ..core.errors import EditCancelled
from ..pipelines.clips import check_box, result_durations
from ..pipelines.edit import DEFAULT_STRENGTH, default_strength, extend, regenerate

_WIDE = {"description_width": "110px"}
MODES = (("Re-prompt", "reprompt"), ("Regenerate box / frames", "regenerate"), ("Extend", "extend"))
_PREVIEW_SIDE = 160  # the x0 preview is enlarged (nearest) to about this many pixels


def _load_pipeline(run: str):
    from ..pipelines.loading import load_pipeline  # loads torch: only when an edit first runs
    return load_pipeline(run)


class ModelPanel(StatusLine):
    """Run folder, prompt, mode, strength, box, frames, extend N, seed; Run / Cancel / Back."""

    title = "Model"

    def __init__(self, editor: EditorHost, run: str = "") -> None:
        self.editor = editor
        self.last_error: str | None = None
        self.result: np.ndarray | None = None  # the last edit, uint8 [F, H, W, 3]
        self.previous: Clip | None = None       # the loaded GIF before the last model edit ("Back")
        self.cancel_event = threading.Event()
        self.thread: threading.Thread | None = None
        self._pipes: dict[str, object] = {}      # run folder -> loaded pipeline (loading takes seconds)

        self.run = w.Text(value=run, placeholder="run folder (python -m vdiff.train's --out)", description="Run folder",
                          style=_WIDE, layout=w.Layout(width="440px"))
        self.prompt = w.Text(placeholder="e.g. digit 3 moving left", description="Prompt", style=_WIDE,
                             layout=w.Layout(width="440px"))
        self.mode = w.ToggleButtons(options=MODES, value="reprompt", description="Mode", style=_WIDE)
        self.strength = w.FloatSlider(value=DEFAULT_STRENGTH, min=0.05, max=1.0, step=0.05, description="Strength",
                                      style=_WIDE, continuous_update=False)
        self.box = w.Text(placeholder="L T R B in pixels (blank: whole frames)", description="Box", style=_WIDE)
        self.frames = w.Text(placeholder="e.g. 0-3,6 (blank: all frames)", description="Frames", style=_WIDE)
        self.extend = w.BoundedIntText(value=8, min=1, max=256, description="New frames", style=_WIDE)
        self.steps = w.BoundedIntText(value=20, min=1, max=1000, description="Steps", style=_WIDE)
        self.seed = w.IntText(value=0, description="Seed", style=_WIDE)
        self.run_button = w.Button(description="Run model", button_style="primary", icon="magic")
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True)
        self.back_button = w.Button(description="Back", icon="undo", disabled=True)
        self.progress = w.IntProgress(value=0, min=0, max=1, description="Progress", style=_WIDE)
        self.preview = w.Image(format="gif", layout=w.Layout(max_width=f"{_PREVIEW_SIDE}px"))
        self.status = w.HTML("Give a run folder and a prompt, then Run model.")
        for widget, css in ((self.run, "model-panel-run"), (self.prompt, "model-panel-prompt"),
                            (self.run_button, "model-panel-start"), (self.status, "model-panel-status"),
                            (self.preview, "model-panel-preview"), (self.progress, "model-panel-progress")):
            widget.add_class(css)

        self.mode.observe(self._on_mode, names="value")
        self.run_button.on_click(lambda _: self.start())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.back_button.on_click(lambda _: self.back())
        self.widget = w.VBox([
            w.HTML("<b>Regenerate with a model</b> (a run trained with vdiff)"),
            self.run, self.prompt, self.mode, self.strength, w.HBox([self.box, self.frames]), self.extend,
            w.HBox([self.steps, self.seed]), w.HBox([self.run_button, self.cancel_button, self.back_button]),
            w.HBox([self.progress, w.VBox([w.HTML("predicted x0"), self.preview])]), self.status,
        ])
        self._on_mode({"new": self.mode.value})

    # ------------------------------------------------------------ state
    def _on_mode(self, change) -> None:
        mode = change["new"]
        self.strength.value = default_strength(keeps_pixels=mode != "reprompt")
        self.strength.disabled = mode == "extend"
        self.box.disabled = self.frames.disabled = mode != "regenerate"
        self.extend.disabled = mode != "extend"

    def set(self, **values) -> "ModelPanel":
        """Set controls by name: run, prompt, mode, strength, box, frames, extend, steps, seed."""
        for name, value in values.items():
            if name not in ("run", "prompt", "mode", "strength", "box", "frames", "extend", "steps", "seed"):
                raise TypeError(f"unknown panel setting {name!r}")
            getattr(self, name).value = value
        return self

    @property
    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    # ------------------------------------------------------------ running
    def _request(self) -> dict:
        """The edit the controls describe; ValueError (shown in the status) when one is not usable."""
        clip = self.editor.clip
        if clip is None:
            raise ValueError("load a GIF first (upload or path)")
        if not self.run.value.strip():
            raise ValueError("give the run folder of a trained model")
        if not self.prompt.value.strip():
            raise ValueError("give a prompt")
        kwargs: dict = {"seed": int(self.seed.value), "steps": int(self.steps.value)}
        if self.mode.value == "extend":
            return {"mode": "extend", "num": int(self.extend.value), **kwargs}
        kwargs["strength"] = float(self.strength.value)
        if self.mode.value == "regenerate":
            text = self.box.value.replace(",", " ").split()
            if text:
                try:
                    box = tuple(int(v) for v in text)
                except ValueError:
                    raise ValueError(f"the box is 4 whole numbers L T R B, got {self.box.value!r}") from None
                kwargs["box"] = check_box(box, *clip.size)
            if self.frames.value.strip():
                kwargs["frames"] = self.frames.value.strip()
            if "box" not in kwargs and "frames" not in kwargs:
                raise ValueError("give a box and/or frames to regenerate (or choose Re-prompt)")
        return {"mode": self.mode.value, **kwargs}

    def start(self) -> threading.Thread | None:
        """Check the controls, then run the edit in a background thread (None when it cannot start)."""
        if self.busy:
            self._fail("a model edit is already running: wait, or Cancel it")
            return None
        try:
            request = self._request()
        except ValueError as exc:
            self._fail(str(exc))
            return None
        self.cancel_event.clear()
        self.progress.value, self.progress.max = 0, 1
        self.run_button.disabled, self.cancel_button.disabled = True, False
        self._ok("loading the model…" if self.run.value.strip() not in self._pipes else "running…")
        self.thread = threading.Thread(target=self._work, args=(self.run.value.strip(), self.prompt.value.strip(),
                                                                 self.editor.clip, request), daemon=True)
        self.thread.start()
        return self.thread

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running edit ends; True when none is running any more."""
        if self.thread is not None:
            self.thread.join(timeout)
        return not self.busy

    def cancel(self) -> None:
        """Ask the running edit to stop after its current step."""
        self.cancel_event.set()

    def back(self) -> None:
        """Load the GIF from before the last model edit again."""
        if self.previous is not None:
            self.editor.load(self.previous, name="before the model edit")
            self.previous, self.back_button.disabled = None, True

    def _on_step(self, done: int, total: int, x0: np.ndarray) -> None:
        self.progress.max, self.progress.value = total, done
        scale = max(1, _PREVIEW_SIDE // max(x0.shape[1:3]))
        frames = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.Resampling.NEAREST)
                  for f in x0]
        self.preview.value = encode_gif(frames, 100)

    def _work(self, run: str, prompt: str, clip: Clip, request: dict) -> None:
        try:
            if run not in self._pipes:
                self._pipes[run] = _load_pipeline(run)
            pipe = self._pipes[run]
            self._ok("running…")
            frames = np.stack([np.asarray(f.convert("RGB")) for f in clip.frames])
            mode = request.pop("mode")
            common = {"callback": self._on_step, "cancel": self.cancel_event, "progress": False}
            if mode == "extend":
                out = extend(pipe, frames, prompt, request.pop("num"), **request, **common)
            else:
                out = regenerate(pipe, frames, prompt, **request, **common)
            durations = result_durations(clip.durations, len(frames), len(out), extended=mode == "extend")
            result = Clip([Image.fromarray(f).convert("RGBA") for f in out], durations, loop=clip.loop)
        except EditCancelled:
            self._fail("cancelled: the loaded GIF is unchanged")
            return
        except Exception as exc:  # noqa: BLE001 - a thread's exception would vanish; show it instead
            self._fail(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            return
        finally:
            self.run_button.disabled, self.cancel_button.disabled = False, True
        self.result, self.previous = out, clip
        self.back_button.disabled = False
        self.editor.load(result, name=f"{mode}: {prompt}")
        self.editor.preview()
        self._ok(f"{mode} done: {result.describe()}; Preview and Download now use it (Back undoes it)")


def model_panel(run: str | os.PathLike | None = None, prompt: str = ""):
    """A panel factory for ``Editor(panels=[...])``: the Model tab, its run folder and prompt filled in."""
    def build(host: EditorHost) -> ModelPanel:
        panel = ModelPanel(host, run="" if run is None else str(run))
        panel.prompt.value = prompt
        return panel
    return build


def editor_with_model(source=None, run_dir: str | os.PathLike | None = None, *, prompt: str = "", **kwargs) -> Editor:
    """gif_editor's Editor (``source`` and ``kwargs`` as ``Editor`` takes them) with the Model tab;
    the panel is ``editor.panels["Model"]``."""
    panels = [*kwargs.pop("panels", ()), model_panel(run_dir, prompt)]
    return Editor(source, panels=panels, **kwargs)
