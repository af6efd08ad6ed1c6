"""End to end: a tiny real UNet3D with the real diffusion loss overfits one clip on a CPU."""
from __future__ import annotations

import pytest
import torch

from vdiff.core.config import get_preset
from vdiff.diffusion import Diffusion
from vdiff.models.unet import UNet3D

TEXT_DIM = 8


def _moving_square() -> torch.Tensor:
    """One 4-frame 16x16 clip in [-1, 1]: a white square moving right on black."""
    clip = -torch.ones(1, 3, 4, 16, 16)
    for f in range(4):
        clip[:, :, f, 4:10, 2 + 3 * f:8 + 3 * f] = 1.0
    return clip


@pytest.mark.slow
def test_tiny_unet_overfits_one_clip_tenfold(single_thread_torch):
    torch.manual_seed(0)
    cfg = get_preset("smoke", attn_resolutions=())  # 16x16, 4 frames, width 16, T=100
    model, diffusion = UNet3D(cfg, TEXT_DIM), Diffusion(cfg)
    clip, emb = _moving_square(), torch.randn(1, TEXT_DIM)

    # A fixed evaluation batch: timesteps spread over the whole schedule, fixed noise.
    eval_t = torch.linspace(0, cfg.timesteps - 1, 16).long()
    eval_noise = torch.randn(16, *clip.shape[1:], generator=torch.Generator().manual_seed(1))

    def eval_loss() -> float:
        with torch.no_grad():
            return diffusion.training_losses(model, clip.expand(16, -1, -1, -1, -1), emb.expand(16, -1),
                                             t=eval_t, noise=eval_noise)["loss"].item()

    initial = eval_loss()
    assert 0.5 < initial < 2.0  # zero-initialised output layer: the epsilon MSE starts near 1
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(400):
        loss = diffusion.training_losses(model, clip.expand(4, -1, -1, -1, -1), emb.expand(4, -1))["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    final = eval_loss()
    assert final < initial / 10, f"loss fell only from {initial:.3f} to {final:.3f}"
