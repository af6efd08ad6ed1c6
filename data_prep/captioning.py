"""Caption clips with an image captioning model (BLIP) on a few frames, keeping the most common caption.

Used only on request (``--caption model``): it downloads Salesforce/blip-image-captioning-base
on first use. transformers 5 removed the "image-to-text" pipeline task (it is not in
``transformers.pipelines.SUPPORTED_TASKS`` of 5.x), so the processor and the model are used directly.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from .pairs import clean_caption


def sample_frame_indices(num_frames: int, k: int = 3) -> list[int]:
    """``k`` evenly spaced frame indices (first, middle, last for k=3), no duplicates."""
    if num_frames < 1:
        raise ValueError("a clip needs at least one frame to caption")
    k = max(1, min(k, num_frames))
    return sorted({int(round(i)) for i in np.linspace(0, num_frames - 1, k)})


def most_common_caption(captions: Sequence[str]) -> str:
    """The caption the frames agree on most (case and spacing ignored); ties go to the earliest."""
    cleaned = [clean_caption(c).lower() for c in captions if clean_caption(c)]
    if not cleaned:
        raise ValueError("no caption: the model returned only empty captions")
    counts = Counter(cleaned)
    best = max(counts.values())
    return next(c for c in cleaned if counts[c] == best)


class BlipCaptioner:
    """Callable frames [F, H, W, 3] uint8 -> caption. ``processor``/``model`` can be injected (tests)."""

    DEFAULT_MODEL = "Salesforce/blip-image-captioning-base"

    def __init__(self, model_name: str = DEFAULT_MODEL, *, device: str | None = None, frames_per_clip: int = 3,
                 max_new_tokens: int = 30, processor: Any = None, model: Any = None):
        if processor is None or model is None:
            import torch
            from transformers import BlipForConditionalGeneration, BlipProcessor

            device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            try:
                processor = BlipProcessor.from_pretrained(model_name)
                model = BlipForConditionalGeneration.from_pretrained(model_name).to(device).eval()
            except OSError as exc:
                from .pairs import UserError
                raise UserError(f"could not load the captioning model {model_name} ({exc.__class__.__name__}); "
                                f"it downloads from the Hugging Face Hub on first use, or pass a local folder "
                                f"with --caption-model PATH") from None
        self.processor, self.model = processor, model
        self.device = device or "cpu"
        self.frames_per_clip, self.max_new_tokens = frames_per_clip, max_new_tokens

    def __call__(self, frames: np.ndarray) -> str:
        from PIL import Image

        picks = [Image.fromarray(np.asarray(frames[i])) for i in sample_frame_indices(len(frames), self.frames_per_clip)]
        inputs = self.processor(images=picks, return_tensors="pt")
        if hasattr(inputs, "to"):
            inputs = inputs.to(self.device)
        try:
            import torch
            no_grad = torch.inference_mode()
        except ImportError:  # an injected fake model may run without torch
            from contextlib import nullcontext
            no_grad = nullcontext()
        with no_grad:
            ids = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens)
        return most_common_caption(self.processor.batch_decode(ids, skip_special_tokens=True))
