"""The judge: a small digit classifier on frames, and motion direction from the digit's centroid track.

It scores whether a generated clip shows the captioned digit moving the captioned way. The
classifier is trained on frames of real labeled moving-digit clips (``data_prep.moving_mnist``)
at 16, 32 and 64 px, each frame resized to 32 px grey, with mild shift/brightness/noise
augmentation so that imperfect generated frames are judged by their shape, not their polish.
Its weights live in ``vdiff/assets/judge.safetensors`` together with the accuracy it reached on
freshly generated held-out clips; ``load_judge`` refuses weights below ``MIN_ACCURACY``.

Retrain (reproducible: same seed, same data, same weights up to CPU float non-determinism), with the
``python -m vdiff.judge`` command:
    python -m vdiff.judge train [--out PATH] [--clips 3000] [--epochs 4] [--seed 0]
    python -m vdiff.judge check [--weights PATH]      # held-out accuracy of saved weights
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from clipkit.atomic import atomic_write
from clipkit.manifest import DIRECTIONS

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "assets" / "judge.safetensors"
JUDGE_SIZE = 32                  # every frame is resized to this before classification
MIN_ACCURACY = 0.95              # held-out clip accuracy the weights must reach before judging
NO_MOTION = "none"               # centroid moved less than min_shift: counts as a wrong direction
TRAIN_SIZES: tuple[int, ...] = (16, 32, 64)
HELDOUT_SEED_OFFSET = 10_000     # held-out clips come from seeds the training never used


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DigitJudge(nn.Module):
    """Grey 32x32 frame [N, 1, 32, 32] in [0, 1] -> logits over digits 0-9; ``features`` before the head."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.width = width
        self.body = nn.Sequential(
            _block(1, width), nn.MaxPool2d(2),
            _block(width, 2 * width), nn.MaxPool2d(2),
            _block(2 * width, 4 * width), _block(4 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # global pooling: where the digit is does not matter
        )
        self.head = nn.Linear(4 * width, 10)

    @property
    def feature_dim(self) -> int:
        return 4 * self.width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


# --- frames -> judge input ----------------------------------------------------------------------

def _as_clips(clips: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """uint8 clips [N, F, H, W, C] (C = 1 or 3) or [N, F, H, W]; a list must share one shape."""
    arr = np.stack(clips) if isinstance(clips, list) else np.asarray(clips)
    if arr.ndim == 4:
        arr = arr[..., None]
    if arr.ndim != 5 or arr.shape[-1] not in (1, 3) or arr.dtype != np.uint8:
        raise ValueError(f"clips must be uint8 [N, F, H, W, 3], got {arr.dtype} {arr.shape}")
    return arr


def grey_frames(clips: np.ndarray) -> np.ndarray:
    """uint8 clips [N, F, H, W, C] -> float32 grey [N, F, H, W] in [0, 1]."""
    return _as_clips(clips).astype(np.float32).mean(-1) / 255.0


def to_judge_input(clips: np.ndarray) -> torch.Tensor:
    """uint8 clips [N, F, H, W, C] -> frames [N*F, 1, 32, 32] in [0, 1], resized with antialiasing."""
    grey = torch.from_numpy(grey_frames(clips))
    n, f, h, w = grey.shape
    x = grey.reshape(n * f, 1, h, w)
    if (h, w) != (JUDGE_SIZE, JUDGE_SIZE):
        x = F.interpolate(x, size=(JUDGE_SIZE, JUDGE_SIZE), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(0.0, 1.0)


# --- motion direction from the centroid track --------------------------------------------------

def centroid_track(clip: np.ndarray, ink: float = 0.25) -> np.ndarray:
    """Intensity-weighted centroid (x, y) per frame of one clip [F, H, W, C]; NaN where a frame has no ink.

    Only brightness above ``ink`` (in [0, 1]) counts, so a dim noisy background does not pull the
    centroid towards the middle of the frame.
    """
    grey = grey_frames(clip[None])[0]
    weight = np.clip(grey - ink, 0.0, None)
    total = weight.sum(axis=(1, 2))
    ys, xs = np.mgrid[0:grey.shape[1], 0:grey.shape[2]]
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = (weight * xs).sum(axis=(1, 2)) / total
        cy = (weight * ys).sum(axis=(1, 2)) / total
    track = np.stack([cx, cy], axis=1)
    track[total < 1e-6] = np.nan
    return track


def direction_from_track(track: np.ndarray, size: int, min_shift: float = 0.1) -> tuple[str, tuple[float, float]]:
    """Direction of a centroid track [F, 2] and its displacement (dx, dy) in pixels over the clip.

    The displacement is the least-squares slope times the clip length (robust to one bad frame);
    the dominant axis and its sign give left/right/up/down (image y grows downwards). Moves shorter
    than ``min_shift`` of the frame ``size`` are ``NO_MOTION``.
    """
    ok = ~np.isnan(track).any(axis=1)
    t = np.arange(len(track), dtype=np.float64)[ok]
    if len(t) < 2:
        return NO_MOTION, (0.0, 0.0)
    pts = track[ok].astype(np.float64)
    tc = t - t.mean()
    slope = (tc[:, None] * (pts - pts.mean(axis=0))).sum(axis=0) / (tc ** 2).sum()
    dx, dy = (slope * (len(track) - 1)).tolist()
    if max(abs(dx), abs(dy)) < min_shift * size:
        return NO_MOTION, (dx, dy)
    if abs(dx) >= abs(dy):
        return ("right" if dx > 0 else "left"), (dx, dy)
    return ("down" if dy > 0 else "up"), (dx, dy)


def clip_direction(clip: np.ndarray, min_shift: float = 0.1) -> str:
    """Motion direction of one uint8 clip [F, H, W, C] from its digit's centroid track."""
    return direction_from_track(centroid_track(clip), clip.shape[2], min_shift)[0]


# --- judging clips --------------------------------------------------------------------------------

@dataclass
class Judgement:
    """What the judge says about N clips."""
    digits: np.ndarray          # [N] predicted digit (frames' log-probabilities summed)
    digit_probs: np.ndarray     # [N, 10] clip-level probabilities
    frame_digits: np.ndarray    # [N, F] the digit each frame shows on its own (a morphing digit varies here)
    directions: list[str]       # [N] left/right/up/down or "none"
    features: np.ndarray        # [N, F, D] per-frame features (for consistency and Fréchet distance)


@torch.no_grad()
def judge_clips(model: DigitJudge, clips: np.ndarray, batch_size: int = 512) -> Judgement:
    """Classify each clip's digit (all frames vote) and read its motion direction."""
    arr = _as_clips(clips)
    n, f = arr.shape[:2]
    device = next(model.parameters()).device
    x = to_judge_input(arr)
    feats, logps = [], []
    for i in range(0, len(x), batch_size):
        h = model.features(x[i:i + batch_size].to(device))
        feats.append(h.float().cpu())
        logps.append(F.log_softmax(model.head(h), dim=-1).float().cpu())
    feats_t = torch.cat(feats).reshape(n, f, -1) if n else torch.zeros(0, f, model.feature_dim)
    frame_logp = torch.cat(logps).reshape(n, f, 10) if n else torch.zeros(0, f, 10)
    probs = frame_logp.sum(1).softmax(-1)
    directions = [clip_direction(c) for c in arr]
    return Judgement(probs.argmax(-1).numpy(), probs.numpy(), frame_logp.argmax(-1).numpy(), directions,
                     feats_t.numpy())


# --- weights ---------------------------------------------------------------------------------------

def save_judge(model: DigitJudge, path: str | Path, metadata: dict[str, str]) -> Path:
    """Write weights + metadata as safetensors, atomically (temp file in the same folder, then rename)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return atomic_write(path, lambda tmp: save_file(state, tmp, metadata={**metadata, "width": str(model.width)}))


def read_judge(path: str | Path = DEFAULT_WEIGHTS) -> tuple[DigitJudge, dict[str, str]]:
    """Load judge weights (safetensors, no unpickling) and their metadata, without the accuracy gate."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"judge weights not found: {path} (train them with: python -m vdiff.judge train)")
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
        state = {k: f.get_tensor(k) for k in f.keys()}
    model = DigitJudge(int(meta.get("width", 32)))
    model.load_state_dict(state)
    return model.eval(), meta


@lru_cache(maxsize=4)
def _load_cached(path: str, device: str) -> DigitJudge:
    model, meta = read_judge(path)
    accuracy = float(meta.get("heldout_clip_accuracy", "nan"))
    if not accuracy >= MIN_ACCURACY:
        raise ValueError(f"judge {path} reached {accuracy:.3f} on held-out clips, below {MIN_ACCURACY}: "
                         f"retrain it (python -m vdiff.judge train) before judging")
    for p in model.parameters():
        p.requires_grad_(False)
    return model.to(device)


def load_judge(path: str | Path | None = None, device: str | torch.device | None = None) -> DigitJudge:
    """The judge in eval mode (cached); ValueError when its recorded held-out accuracy is below 95%."""
    return _load_cached(str(Path(path or DEFAULT_WEIGHTS).resolve()), str(device or "cpu"))


def judge_metadata(path: str | Path | None = None) -> dict:
    """The training settings and held-out accuracy stored with the weights."""
    meta = read_judge(path or DEFAULT_WEIGHTS)[1]
    out: dict = {"weights": str(path or DEFAULT_WEIGHTS)}
    for k, v in meta.items():
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


# --- training ---------------------------------------------------------------------------------------

def labeled_clips(num: int, *, sizes: tuple[int, ...] = TRAIN_SIZES, frames: int = 8, seed: int = 0,
                  source: str = "sklearn") -> tuple[list[np.ndarray], np.ndarray]:
    """``num`` single-digit labeled clips spread over ``sizes``: (clips as a list, digit labels [num])."""
    from data_prep.moving_mnist import generate_labeled

    clips, labels = [], []
    per_size = [num // len(sizes) + (i < num % len(sizes)) for i in range(len(sizes))]
    for i, (size, n) in enumerate(zip(sizes, per_size)):
        for clip in generate_labeled(n, size=size, frames=frames, seed=seed * 1000 + i, source=source):
            clips.append(clip.frames)
            labels.append(clip.digits[0])
    return clips, np.asarray(labels)


def _frames_and_labels(clips: list[np.ndarray], labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for clip, y in zip(clips, labels):
        x = to_judge_input(clip[None])
        xs.append(x)
        ys.append(torch.full((len(x),), int(y)))
    return torch.cat(xs), torch.cat(ys)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Shift/scale a little, dim, add noise: generated frames are never as clean as real ones."""
    n = len(x)
    scale = 1 + (torch.rand(n, generator=gen) - 0.5) * 0.2
    shift = (torch.rand(n, 2, generator=gen) - 0.5) * 0.25
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    x = x * (0.6 + 0.4 * torch.rand(n, 1, 1, 1, generator=gen))
    x = x + torch.randn(x.shape, generator=gen) * 0.1 * torch.rand(n, 1, 1, 1, generator=gen)
    return x.clamp(0.0, 1.0)


def heldout_accuracy(model: DigitJudge, *, num: int = 300, frames: int = 8, seed: int = 0,
                     source: str = "sklearn", sizes: tuple[int, ...] = TRAIN_SIZES) -> dict[str, float]:
    """Clip and frame digit accuracy on freshly generated clips from seeds the training never saw."""
    clips, labels = labeled_clips(num, sizes=sizes, frames=frames, seed=seed + HELDOUT_SEED_OFFSET, source=source)
    correct_clips, correct_frames, total_frames = 0, 0, 0
    model.eval()
    for size in sorted({c.shape[1] for c in clips}):
        idx = [i for i, c in enumerate(clips) if c.shape[1] == size]
        batch = np.stack([clips[i] for i in idx])
        verdict = judge_clips(model, batch)
        correct_clips += int((verdict.digits == labels[idx]).sum())
        with torch.no_grad():
            frame_pred = model(to_judge_input(batch).to(next(model.parameters()).device)).argmax(-1).cpu()
        correct_frames += int((frame_pred.reshape(len(idx), -1) == torch.as_tensor(labels[idx])[:, None]).sum())
        total_frames += frame_pred.numel()
    return {"clip_accuracy": correct_clips / len(clips), "frame_accuracy": correct_frames / total_frames,
            "clips": len(clips)}


def train_judge(out: str | Path = DEFAULT_WEIGHTS, *, num_clips: int = 3000, epochs: int = 4, batch_size: int = 128,
                lr: float = 2e-3, seed: int = 0, frames: int = 8, source: str = "sklearn", width: int = 32,
                heldout_clips: int = 300, progress: bool = True) -> dict:
    """Train the judge on real labeled clips' frames, measure it on held-out clips, save it; returns the report.

    ``source`` picks the glyphs as in ``generate_labeled`` ("sklearn" is bundled and offline;
    "mnist" fits runs trained on MNIST glyphs). Weights are written even below ``MIN_ACCURACY``
    (so they can be inspected), but ``load_judge`` refuses them.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    clips, labels = labeled_clips(num_clips, frames=frames, seed=seed, source=source)
    x, y = _frames_and_labels(clips, labels)
    model = DigitJudge(width)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    bar = tqdm(total=steps, desc="judge", disable=not progress)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(model(_augment(x[idx], gen)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    acc = heldout_accuracy(model, num=heldout_clips, frames=frames, seed=seed, source=source)
    settings = {"num_clips": num_clips, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
                "frames": frames, "source": source, "sizes": list(TRAIN_SIZES), "train_frames": len(x)}
    save_judge(model, out, {"heldout_clip_accuracy": f"{acc['clip_accuracy']:.6f}",
                            "heldout_frame_accuracy": f"{acc['frame_accuracy']:.6f}",
                            "heldout_clips": str(acc["clips"]), "train_settings": json.dumps(settings)})
    _load_cached.cache_clear()
    return {"weights": str(out), **acc, "settings": settings}
