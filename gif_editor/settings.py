"""Pure helpers behind the editor widget: settings -> operation list, uploads -> bytes, previews.

Kept free of ipywidgets so they are tested (and usable) without a kernel.
"""
from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from PIL import Image

from .clip import Clip
from .io import save
from .ops import apply, keep_aspect_size
from .optimize import DEFAULTS


@dataclass
class Settings:
    """Everything the editor's controls hold; the defaults are the no-op edit."""

    width: int = 0  # 0 = the source width (no resize)
    height: int = 0
    keep_aspect: bool = True
    crop_left: float = 0.0
    crop_right: float = 0.0
    crop_top: float = 0.0
    crop_bottom: float = 0.0
    aspect: str = "free"  # or "1:1", "4:5", "16:9", "9:16": the crop's shape inside the margins
    aspect_x: float = 50.0  # where the shape sits, percent (50 = centred)
    aspect_y: float = 50.0
    rotate: int = 0  # clockwise
    flip_horizontal: bool = False
    flip_vertical: bool = False
    trim_start: int = 0
    trim_end: int = 0  # 0 = through the last frame
    delete_start: int = 0  # delete frames delete_start..delete_end-1 (after trim); equal = none
    delete_end: int = 0
    every_nth: int = 1
    reverse: bool = False
    boomerang: bool = False
    grayscale: bool = False
    text: str = ""
    font_size: int = 20
    opacity: int = 200
    color: str = "#ffffff"
    position: str = "bottom-right"
    stroke_width: int = 0
    stroke_color: str = "#000000"
    shadow: int = 0
    box: bool = False
    box_color: str = "#000000"
    box_opacity: int = 160
    align: str = "left"
    text_start: int = 0  # the text shows on frames text_start..text_end-1; text_end 0 = through the last
    text_end: int = 0
    logo_path: str = ""
    logo_opacity: int = 128
    brightness: float = 1.0
    contrast: float = 1.0
    speed: float = 1.0
    delay_all: int = 0  # ms for every frame; 0 = keep each frame's own delay
    frame_delays: dict = field(default_factory=dict)  # {frame number: ms}, applied after delay_all
    holds: dict = field(default_factory=dict)  # {frame number: extra ms}
    keep_fast_delays: bool = False  # a save option, not an operation: delays under 20 ms stay as they are
    optimize: bool = False
    colors: int = DEFAULTS["colors"]
    lossy: int = DEFAULTS["lossy"]
    drop_duplicates: bool = True
    duplicates: float = DEFAULTS["duplicates"]
    encoder: str = DEFAULTS["backend"]
    max_mb: float = 0.0  # 0 = no size limit

    def to_ops(self, source_size: tuple[int, int] | None = None, n_frames: int | None = None) -> list[dict]:
        """The operation list these settings mean, leaving out everything that is a no-op."""
        ops: list[dict] = []
        if self.trim_start or (self.trim_end and (n_frames is None or self.trim_end < n_frames)):
            ops.append({"op": "trim", "start": self.trim_start, "end": self.trim_end or n_frames})
        if self.delete_end > self.delete_start:
            ops.append({"op": "delete_frames", "start": self.delete_start, "end": self.delete_end})
        if self.every_nth > 1:
            ops.append({"op": "every_nth", "n": self.every_nth})
        for flag in ("reverse", "boomerang"):
            if getattr(self, flag):
                ops.append({"op": flag})
        crop = {"left": self.crop_left, "right": self.crop_right, "top": self.crop_top, "bottom": self.crop_bottom}
        if self.aspect not in ("", "free"):
            crop.update(aspect=self.aspect, x=self.aspect_x, y=self.aspect_y)
        if any(crop.values()):
            ops.append({"op": "crop", **crop})
        if self.rotate:
            ops.append({"op": "rotate", "degrees": self.rotate})
        for flag in ("flip_horizontal", "flip_vertical"):
            if getattr(self, flag):
                ops.append({"op": flag})
        if self.width or self.height:
            resize = {"op": "resize", "width": self.width or None, "height": self.height or None,
                      "keep_aspect": self.keep_aspect}
            if self.keep_aspect and self.width and self.height:
                resize["height"] = None  # width wins; the height slider only mirrors it
            ops.append(resize)
        if self.grayscale:
            ops.append({"op": "grayscale"})
        for name in ("brightness", "contrast"):
            if getattr(self, name) != 1.0:
                ops.append({"op": name, "factor": getattr(self, name)})
        if self.text.strip() and self.opacity > 0:
            text = {"op": "text", "text": self.text, "font_size": self.font_size, "opacity": self.opacity,
                    "color": self.color, "position": self.position}
            text.update({k: getattr(self, k) for k in ("stroke_width", "shadow", "box", "align") if getattr(self, k)
                         != getattr(Settings, k)})
            if self.stroke_width:
                text["stroke_color"] = self.stroke_color
            if self.shadow:
                text["shadow_color"] = self.stroke_color  # one "outline / shadow" colour in the editor
            if self.box:
                text.update(box_color=self.box_color, box_opacity=self.box_opacity)
            if self.text_start or self.text_end:
                text.update(start=self.text_start, end=self.text_end or None)
            ops.append(text)
        if self.logo_path.strip() and self.logo_opacity > 0:
            ops.append({"op": "image_watermark", "path": self.logo_path.strip(), "opacity": self.logo_opacity,
                        "position": self.position})
        if self.speed != 1.0:
            ops.append({"op": "speed", "factor": self.speed})
        if self.delay_all or self.frame_delays:
            ops.append({"op": "delay", "all": self.delay_all or None,
                        "frames": {str(k): v for k, v in sorted(self.frame_delays.items())}})
        if self.holds:
            ops.append({"op": "hold", "frames": {str(k): v for k, v in sorted(self.holds.items())}})
        if self.optimize:
            ops.append({"op": "optimize", "colors": self.colors, "lossy": self.lossy, "backend": self.encoder,
                        "duplicates": self.duplicates if self.drop_duplicates else None})
        if self.max_mb > 0:
            ops.append({"op": "max_size", "bytes": round(self.max_mb * 1e6)})
        return ops

    def control_values(self, source_size: tuple[int, int], n_frames: int | None) -> dict:
        """These settings as the editor's control values: 0 width/height = the source size, trim_end 0 =
        the last frame; without a source (n_frames None) the size and frame range are left out."""
        values = {name: getattr(self, name) for name in self.names()}
        if n_frames is None:
            for name in ("width", "height", "trim_start", "trim_end", "text_start", "text_end"):
                values.pop(name)
            return values
        values["width"], values["height"] = self.width or source_size[0], self.height or source_size[1]
        values["trim_end"] = self.trim_end or n_frames
        values["text_end"] = self.text_end or n_frames
        return values

    def frame_count(self, n_frames: int) -> int:
        """How many frames the clip has after these settings' frame operations (what the delay,
        hold and text frame numbers count)."""
        n = (self.trim_end or n_frames) - self.trim_start
        if self.delete_end > self.delete_start:
            n -= min(n - 1, self.delete_end - self.delete_start)
        n = -(-n // self.every_nth) if self.every_nth > 1 else n
        return n + max(0, n - 2) if self.boomerang else n

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


class History:
    """Undo/redo over snapshots of the editor's settings (each one an operation list)."""

    def __init__(self, first: Settings, limit: int = 50) -> None:
        self.done, self.undone, self.limit = [first], [], limit

    def record(self, settings: Settings) -> bool:
        """Add a snapshot unless it equals the current one; a new edit clears the redo list."""
        if settings == self.done[-1]:
            return False
        self.done = (self.done + [settings])[-self.limit:]
        self.undone = []
        return True

    def undo(self) -> Settings | None:
        """The settings before the last edit, or None when there is nothing to undo."""
        if len(self.done) < 2:
            return None
        self.undone.append(self.done.pop())
        return self.done[-1]

    def redo(self) -> Settings | None:
        if not self.undone:
            return None
        self.done.append(self.undone.pop())
        return self.done[-1]


def delays_text(delay_all: int, frame_delays: dict, holds: dict | None = None) -> str:
    parts = [f"all {delay_all} ms"] if delay_all else []
    parts += [f"frame {k}: {v} ms" for k, v in sorted(frame_delays.items())]
    parts += [f"frame {k} held +{v} ms" for k, v in sorted((holds or {}).items())]
    return "Delays: " + ("; ".join(parts) or "each frame's own") + "."


def linked_size(base: tuple[int, int], changed: str, value: int) -> int:
    """Keep-aspect: the other slider's value after `changed` ("width"/"height") moved to `value`."""
    if changed == "width":
        return keep_aspect_size(base, width=value)[1]
    return keep_aspect_size(base, height=value)[0]


def uploaded_files(value) -> list[tuple[str, bytes]]:
    """(name, bytes) from a FileUpload value in the ipywidgets 8 format (a tuple of dicts with
    'name' and a memoryview 'content') or the ipywidgets 7 one (a dict keyed by file name)."""
    if not value:
        return []
    if isinstance(value, dict):  # ipywidgets 7: {name: {"metadata": {...}, "content": bytes}}
        return [(str(name), bytes(item["content"])) for name, item in value.items()]
    return [(str(item["name"]), bytes(item["content"])) for item in value]


def downscale(clip: Clip, max_side: int) -> Clip:
    """The clip shrunk so its longer side is at most `max_side` (previews stay fast and small)."""
    w, h = clip.size
    if max(w, h) <= max_side:
        return clip
    scale = max_side / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return replace(clip, frames=[f.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0) for f in clip.frames])


def render_preview(clip: Clip, ops: list[dict], max_side: int = 480, *,
                   keep_fast_delays: bool = False) -> tuple[bytes, Clip]:
    """GIF bytes of the edited clip, downscaled for display (with optimize's colours and lossy level,
    so the preview shows what they cost), and the edited clip at full size. A max_size limit is left
    out of the preview: its search runs on the full-size clip (the editor's Preview and Download)."""
    edited = apply(clip, ops)
    shown = downscale(edited, max_side)
    shown = replace(shown, info={k: v for k, v in shown.info.items() if k != "max_size"})
    data = save(shown, keep_fast_delays=keep_fast_delays)
    edited.info["timing"] = shown.info["timing"]  # what the delay floor changed, for the editor's notice
    return data, edited


def download_link(target: Path) -> str:
    """HTML: a link that downloads the saved file from a base64 data URL, and where it was saved."""
    mime = "video/mp4" if target.suffix.lower() == ".mp4" else "image/gif"
    payload = base64.b64encode(target.read_bytes()).decode("ascii")
    return (f"<a download='{html.escape(target.name)}' href='data:{mime};base64,{payload}'>"
            f"⬇ download {html.escape(target.name)}</a> &nbsp; saved at <code>{html.escape(str(target.resolve()))}</code>")
