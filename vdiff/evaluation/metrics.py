"""Metrics of generated clips (pure functions over uint8 clips and judge features), and FVD's I3D features.

  * flicker: mean absolute difference of consecutive frames, in [0, 1] units;
  * temporal consistency: mean cosine similarity of consecutive frames' judge features;
  * the Fréchet distance between Gaussians fitted to two feature sets (FID/FVD's formula), over one
    vector per clip (``clip_features``), or over I3D features (``i3d_features``, the user's weights).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def flicker(clips: np.ndarray) -> float:
    """Mean absolute difference of consecutive frames, [0, 1] units (real moving digits are not 0)."""
    x = clips.astype(np.float32) / 255.0
    return float(np.abs(np.diff(x, axis=1)).mean()) if clips.shape[1] > 1 and len(clips) else float("nan")


def temporal_consistency(features: np.ndarray, center: np.ndarray | None = None) -> float:
    """Mean cosine similarity of consecutive frames' judge features [N, F, D].

    ``center`` (the real frames' mean feature) is subtracted first: post-ReLU features are all
    positive, so uncentred cosines sit near 1 for anything, noise included.
    """
    if features.shape[1] < 2 or not len(features):
        return float("nan")
    f = torch.from_numpy(features if center is None else features - center)
    return float(torch.nn.functional.cosine_similarity(f[:, 1:], f[:, :-1], dim=-1).mean())


def clip_features(features: np.ndarray) -> np.ndarray:
    """One vector per clip for the Fréchet distance: mean frame feature and mean frame-to-frame change."""
    motion = np.abs(np.diff(features, axis=1)).mean(1) if features.shape[1] > 1 else np.zeros_like(features[:, 0])
    return np.concatenate([features.mean(1), motion], axis=1).astype(np.float64)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets a [N, D] and b [M, D] (as in FID/FVD)."""
    from scipy import linalg

    if len(a) < 2 or len(b) < 2:
        return float("nan")
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():  # near-singular product: nudge both diagonals (as pytorch-fid does)
        eps = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = covmean.real
    return float(max(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean), 0.0))


def i3d_features(clips: np.ndarray, i3d_path: str | Path, device: str | torch.device = "cpu",
                 batch_size: int = 8) -> np.ndarray:
    """I3D logits-layer features [N, 400] of uint8 clips, with the TorchScript I3D used for FVD.

    ``i3d_path`` is the ``i3d_torchscript.pt`` detector of StyleGAN-V / DIGAN (Kinetics-400 I3D,
    converted from the TF-Hub model the FVD paper used). It is TorchScript, loaded with
    ``torch.jit.load`` (code + tensors in a restricted format, not an arbitrary pickle); clips go in
    as [B, 3, T, H, W] in [-1, 1] and the detector resizes to 224 itself. I3D wants >= 10 frames.
    """
    path = Path(i3d_path)
    if not path.is_file():
        raise ValueError(f"I3D weights not found: {path}")
    import warnings

    with warnings.catch_warnings():  # torch >= 2.10 marks jit.load deprecated; the FVD detector ships only as TorchScript
        warnings.simplefilter("ignore", FutureWarning)
        detector = torch.jit.load(str(path), map_location=device).eval()
    feats = []
    with torch.no_grad():
        for i in range(0, len(clips), batch_size):
            x = torch.from_numpy(clips[i:i + batch_size]).to(device).float() / 127.5 - 1
            x = x.permute(0, 4, 1, 2, 3).contiguous()
            feats.append(detector(x, rescale=False, resize=True, return_features=True).float().cpu())
    return torch.cat(feats).numpy().astype(np.float64)
