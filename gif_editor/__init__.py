"""GIF editing: pure Pillow operations on clips, an ipywidgets editor (gif_editor.ui) and a CLI.

    clip = gif_editor.load("in.gif")
    clip = gif_editor.apply(clip, [{"op": "resize", "width": 320, "keep_aspect": True}])
    gif_editor.save(clip, "out.gif")

The widget module is imported lazily (`gif_editor.ui`) so the processor needs no ipywidgets.
"""
from .clip import Clip
from .errors import GifEditorError
from .io import describe_gif, load, save
from .video import load_video, probe_video
from .ops import ORDER, apply, normalize, predict_size

__all__ = ["Clip", "GifEditorError", "load", "load_video", "probe_video", "apply", "save", "describe_gif", "ORDER",
           "normalize", "predict_size"]
