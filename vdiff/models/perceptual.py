"""Perceptual loss on video clips through torchvision's frozen VGG16-BN.

The loss compares VGG16-BN activations at relu1_2, relu2_2, relu3_3 and relu4_3. In
``torchvision.models.vgg16_bn().features`` those ReLUs sit at indices 5/12/22/32 (the often
quoted 3/8/15/22 are plain VGG16's and would tap convolutions here: torchvision's layer list,
checked in tests/test_losses.py).
Frames are folded into the batch, so each frame is judged as an image.
"""
from __future__ import annotations

import copy
import functools
import warnings

import torch
import torch.nn.functional as F
from torch import nn

VGG_TAPS = (5, 12, 22, 32)  # relu1_2, relu2_2, relu3_3, relu4_3 of vgg16_bn().features
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_warned_random_weights = False


def _warn_random_weights_once(reason: str) -> None:
    global _warned_random_weights
    if not _warned_random_weights:
        _warned_random_weights = True
        warnings.warn(
            f"VGG16-BN ImageNet weights unavailable ({reason}); the perceptual loss uses RANDOM "
            "VGG weights, which only measure generic image structure.",
            stacklevel=3,
        )


def vgg16_bn_features(pretrained: bool = True) -> nn.Sequential:
    """``vgg16_bn().features`` up to relu4_3, ImageNet weights when obtainable, else random + one warning."""
    return copy.deepcopy(_cached_vgg16_bn_features(pretrained))


@functools.lru_cache(maxsize=2)
def _cached_vgg16_bn_features(pretrained: bool) -> nn.Sequential:
    # Building VGG16-BN (with its 100M-parameter classifier) takes seconds; do it once per process.
    from torchvision.models import VGG16_BN_Weights, vgg16_bn

    # Building VGG draws its random init from the global RNG; fork it so that building the loss
    # lazily mid-training (or after a resume) does not shift the trainer's random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = vgg16_bn(weights=None)
    if pretrained:
        try:
            state = VGG16_BN_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
            model.load_state_dict(state)
        except Exception as e:  # offline, blocked hub, corrupt cache: all mean "no weights"
            _warn_random_weights_once(f"{type(e).__name__}: {e}")
    return model.features[: VGG_TAPS[-1] + 1]


class PerceptualLoss(nn.Module):
    """Per-sample VGG16-BN feature distance between two clips in [-1, 1], shaped [B, C, F, H, W].

    VGG stays frozen, in eval mode and in fp32 even under autocast. Keep this module outside the
    denoiser (the Diffusion object owns it) so it never enters the model's state_dict or EMA.
    """

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__()
        self.features = vgg16_bn_features(pretrained).eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.eval()

    def train(self, mode: bool = True) -> "PerceptualLoss":
        # BatchNorm must keep its running statistics: VGG is never put in training mode.
        return super().train(False)

    def _taps(self, images: torch.Tensor) -> list[torch.Tensor]:
        out = []
        h = images
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in VGG_TAPS:
                out.append(h)
        return out

    def _normalise(self, clip: torch.Tensor) -> torch.Tensor:
        b, c, f, h, w = clip.shape
        images = clip.float().permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)  # fold frames into batch
        if c == 1:
            images = images.expand(-1, 3, -1, -1)
        images = (images + 1) / 2  # [-1, 1] -> [0, 1]
        return (images - self.mean) / self.std

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.ndim != 5 or pred.shape != target.shape:
            raise ValueError(
                f"PerceptualLoss expects two [B, C, F, H, W] clips of one shape, got "
                f"{tuple(pred.shape)} and {tuple(target.shape)}"
            )
        if pred.shape[1] not in (1, 3):
            raise ValueError(f"PerceptualLoss needs 1 or 3 channels, got {pred.shape[1]}")
        b, f = pred.shape[0], pred.shape[2]
        self.to(pred.device)  # no-op once there
        with torch.autocast(device_type=pred.device.type, enabled=False):
            pred_feats = self._taps(self._normalise(pred))
            with torch.no_grad():
                target_feats = self._taps(self._normalise(target))
            per_image = sum(
                F.mse_loss(p, t, reduction="none").mean(dim=(1, 2, 3))
                for p, t in zip(pred_feats, target_feats)
            ) / len(VGG_TAPS)
        return per_image.view(b, f).mean(dim=1)
