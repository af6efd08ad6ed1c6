"""Run configuration: one dataclass with defaults, named presets loaded from presets.json.

A preset is data (a dict of overrides in ``presets.json``), not code; ``"_base": "_digits"`` makes
a preset start from the digit recipe (names starting with "_" are bases, not presets). A config
round-trips through JSON so a run folder always says exactly how it was trained. How a run samples
by default is one nested value, ``sampling`` (``vdiff.core.options.SamplingOptions``).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .options import SamplingOptions

PRESETS_FILE = Path(__file__).with_name("presets.json")

# Fields that fix the shape of the model's weights: resuming with a different value is refused.
MODEL_SHAPE_FIELDS = (
    "image_size", "num_frames", "channels", "dim", "dim_mults", "num_res_blocks", "attn_resolutions", "attn_heads",
    "attn_head_dim", "temporal_attention", "temporal_attention_resolutions", "cross_attention", "space_time_attention",
    "self_condition", "frame_conditioning", "frame_strides", "adagn", "text_norm", "text_whitening", "text_encoder",
    "max_text_len", "prediction_type",
)


def window_span(num_frames: int, stride: int) -> int:
    """How many frames of a clip a window of ``num_frames`` frames ``stride`` apart covers."""
    return (num_frames - 1) * stride + 1


@dataclass
class Config:
    # --- clip shape ---------------------------------------------------------------------
    image_size: int = 32
    num_frames: int = 8
    channels: int = 3

    # --- model (vdiff.models.unet) --------------------------------------------------------
    dim: int = 32                                  # base width
    dim_mults: tuple[int, ...] = (1, 2, 4)
    num_res_blocks: int = 1                        # residual blocks per resolution
    attn_resolutions: tuple[int, ...] = (8,)       # spatial sizes that get spatial self-attention
    attn_heads: int = 4
    attn_head_dim: int = 32
    temporal_attention: bool = True                # temporal attention (else a 3-tap temporal convolution) ...
    temporal_attention_resolutions: tuple[int, ...] | None = None  # ... at these spatial sizes (None: every one);
                                                   # the others get the temporal convolution
    cross_attention: bool = False                  # cross-attention to caption tokens
    space_time_attention: bool = False             # at attn_resolutions: attend over all frames' pixels at once
    self_condition: bool = False                   # feed the model its own previous x0 estimate (Chen et al. 2022)
    frame_conditioning: bool = False               # the model reads given clean frames + a mask channel, so it
                                                   # continues, joins or keeps them (vdiff.training.given_frames)
    adagn: str = "separate"                        # "separate": time MLP * time_scale + text MLP (ours)
                                                   # "concat": one MLP on [time, text] (reference FiLM)
    text_norm: bool = True                         # LayerNorm on the pooled caption before its MLP
    text_whitening: bool = False                   # whiten pooled captions by the training captions' statistics
    dropout: float = 0.0

    # --- text (vdiff.models.text) ---------------------------------------------------------
    text_encoder: str = "minilm"                   # "minilm" (offline) or any HF text model name
    max_text_len: int = 32

    # --- diffusion (vdiff.diffusion) ----------------------------------------------------
    timesteps: int = 1000
    beta_schedule: str = "cosine"                  # "cosine" (betas capped at 0.999) or "linear"
    prediction_type: str = "epsilon"               # "epsilon" or "v_prediction"
    loss_type: str = "l2"                          # noise loss: "l2" or "l1"
    snr_gamma: float | None = None                 # min-SNR-gamma loss weighting (5 is usual); None = off
    snr_weight_floor: float = 0.0                  # the least weight min-SNR leaves a timestep (for v it falls
                                                   # to 0 at the noisiest steps, where the layout is decided)
    snr_cap_only: bool = False                     # min-SNR only lowers the low-noise steps' weight (for v:
                                                   # min(1, gamma / (SNR + 1))); the noisy steps keep the plain loss
    timestep_shift: float = 1.0                    # > 1 trains the noisy end more often (SD3's shift); 1 = uniform
    perceptual_weight: float = 0.0                 # lambda of the VGG16-BN perceptual loss; 0 = off
    perceptual_weighting: str = "alpha_bar"        # weight per sample by noise level: "alpha_bar" or "none"
    perceptual_pretrained: bool = True             # ImageNet weights; random only when unavailable

    # --- training (vdiff.training) ----------------------------------------------------
    batch_size: int = 8
    lr: float = 2e-4
    weight_decay: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.99)
    warmup_steps: int = 200
    max_steps: int = 10_000
    max_minutes: float | None = None
    grad_accum: int = 1
    grad_clip: float = 1.0
    cond_drop_prob: float = 0.1                    # caption dropout so guidance has a trained null
    given_frames_share: float = 0.5                # with frame_conditioning: the share of clips trained with given
    given_frames_patterns: tuple[str, ...] = ("prefix", "suffix", "ends", "random")  # frames, and which (see
                                                   # vdiff.training.given_frames)
    mixed_precision: str = "auto"                  # "auto", "no", "bf16" or "fp16"
    ema_decay_min: float = 0.9
    ema_decay_max: float = 0.9999
    ema_inv_gamma: float = 1.0                     # decay = 1 - (1 + n / inv_gamma) ** -power,
    ema_power: float = 2 / 3                       # clamped to [ema_decay_min, ema_decay_max]
    ema_update_every: int = 1
    ema_start_step: int = 0
    hflip: bool = True                             # flips swap "left"/"right" in the caption; off where
                                                   # the content has a handedness (digits, text)
    frame_sampling: str = "stride"                 # "stride" (uniform over the clip) or "random_window"
    frame_strides: tuple[int, ...] = (1,)          # random_window: a window takes every s-th frame, s drawn from
                                                   # these (those that fit the clip); more than (1,): the model is
                                                   # told s, and long clips start from keyframes at the largest
                                                   # stride that fits (vdiff.pipelines.keyframes)
    num_workers: int = 0
    log_every: int = 10
    save_every: int = 1000
    keep_last: int = 3
    sample_every: int = 1000
    sample_prompts: tuple[str, ...] = (
        "digit 0 moving right", "digit 3 moving up", "digit 5 moving left", "digit 7 moving down",
    )
    max_nonfinite: int = 10                        # stop after this many non-finite losses in a row
    seed: int = 0
    micro_batch: int | str = "auto"                # clips per forward pass; "auto": batch_size, halved on
                                                   # CUDA out-of-memory (the step still averages batch_size x grad_accum)
    log_with: str | None = None                    # also log to "tensorboard" (RUN_DIR/tensorboard) or "wandb"
    lr_schedule: str = "constant"                  # after warm-up: "constant", or "linear_budget" (linear decay
    lr_floor: float = 0.0                          # to lr_floor x lr at the last step that fits max_steps/max_minutes)
    init_from: str | None = None                   # a trained run or saved folder the run started from (its model
                                                   # and EMA weights; vdiff.training.init_from); None = from scratch

    # --- sampling defaults (vdiff.core.options) -----------------------------------------
    sampling: SamplingOptions = field(default_factory=SamplingOptions)

    def __post_init__(self) -> None:
        # JSON gives lists; keep tuples so configs compare equal after a round trip.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                setattr(self, f.name, tuple(value))
        if isinstance(self.sampling, dict):  # from JSON or a preset; SamplingOptions checks its values
            self.sampling = SamplingOptions(**self.sampling)
        elif not isinstance(self.sampling, SamplingOptions):
            raise ValueError(f"invalid config value sampling={self.sampling!r}: a dict of sampling options")
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first field with an impossible value."""
        checks = {
            "image_size": self.image_size >= 8 and self.image_size % (2 ** (len(self.dim_mults) - 1)) == 0,
            "num_frames": self.num_frames >= 1,
            "channels": self.channels in (1, 3),
            "dim": self.dim >= 8,
            "dim_mults": len(self.dim_mults) >= 1 and all(m >= 1 for m in self.dim_mults),
            "adagn": self.adagn in ("separate", "concat"),
            "beta_schedule": self.beta_schedule in ("cosine", "linear"),
            "prediction_type": self.prediction_type in ("epsilon", "v_prediction"),
            "loss_type": self.loss_type in ("l1", "l2"),
            "snr_gamma": self.snr_gamma is None or self.snr_gamma > 0,
            "snr_weight_floor": 0.0 <= self.snr_weight_floor <= 1.0,
            "timestep_shift": self.timestep_shift > 0,
            "perceptual_weighting": self.perceptual_weighting in ("alpha_bar", "none"),
            "mixed_precision": self.mixed_precision in ("auto", "no", "bf16", "fp16"),
            "frame_sampling": self.frame_sampling in ("stride", "random_window"),
            "frame_strides": len(self.frame_strides) >= 1
            and all(type(v) is int and 1 <= v <= 16 for v in self.frame_strides)
            and (self.frame_strides == (1,) or self.frame_sampling == "random_window"),
            "cond_drop_prob": 0.0 <= self.cond_drop_prob < 1.0,
            "given_frames_share": 0.0 <= self.given_frames_share <= 1.0,
            "given_frames_patterns": len(self.given_frames_patterns) >= 1
            and set(self.given_frames_patterns) <= {"prefix", "suffix", "ends", "random"},
            "ema_decay_min": 0.0 <= self.ema_decay_min <= self.ema_decay_max < 1.0,
            "batch_size": self.batch_size >= 1,
            "grad_accum": self.grad_accum >= 1,
            "micro_batch": self.micro_batch == "auto" or (type(self.micro_batch) is int and self.micro_batch >= 1),
            "log_with": self.log_with in (None, "tensorboard", "wandb"),
            "lr_schedule": self.lr_schedule in ("constant", "linear_budget"),
            "lr_floor": 0.0 <= self.lr_floor <= 1.0,
            "timesteps": self.timesteps >= 2,
            "log_every": self.log_every >= 1,
            "init_from": self.init_from is None or (isinstance(self.init_from, str) and bool(self.init_from)),
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"invalid config value {name}={getattr(self, name)!r}")

    @property
    def stride_conditioned(self) -> bool:
        """Whether the model is told each window's frame stride (``frame_strides`` other than (1,))."""
        return self.frame_strides != (1,)

    # --- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Config":
        """A Config from a dict; an older run folder's config (flat sampling fields, ``threshold``) loads too."""
        data = _upgrade(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_json(cls, path: str | Path) -> "Config":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"config file not found: {path}") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"config file {path} is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise ValueError(f"config file {path} must hold a JSON object")
        return cls.from_dict(data)

    def replace(self, **overrides: Any) -> "Config":
        """A copy with fields replaced (and checked); ``sampling`` may be a dict of the options to change."""
        if isinstance(overrides.get("sampling"), dict):
            overrides["sampling"] = self.sampling.override(**overrides["sampling"])
        return dataclasses.replace(self, **overrides)

    def shape_mismatch(self, other: "Config") -> list[str]:
        """Names of model-shape fields that differ between two configs."""
        return [f for f in MODEL_SHAPE_FIELDS if getattr(self, f) != getattr(other, f)]


# Before sampling was one nested value, a config held these flat fields (old name -> SamplingOptions name).
FLAT_SAMPLING = {"sampler": "sampler", "sample_steps": "steps", "guidance_scale": "guidance",
                 "x0_clip": "x0_clip", "x0_clip_quantile": "x0_clip_quantile"}


def _upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Old configs -> new: the flat sampling fields into ``sampling``, and ``threshold`` (older still:
    None = clip to [-1, 1], p = dynamic at quantile p) into its ``x0_clip``."""
    flat = {k: data[k] for k in (*FLAT_SAMPLING, "threshold") if k in data}
    if not flat:
        return data
    if "sampling" in data:
        raise ValueError(f"config has both the old sampling field(s) {', '.join(sorted(flat))} and 'sampling': "
                         "keep only sampling")
    if "threshold" in flat and "x0_clip" in flat:
        raise ValueError("config has both 'threshold' (old) and 'x0_clip': keep only x0_clip")
    data = {k: v for k, v in data.items() if k not in flat}
    sampling = {FLAT_SAMPLING[k]: v for k, v in flat.items() if k != "threshold"}
    if "threshold" in flat:
        threshold = flat["threshold"]
        sampling.update({"x0_clip": "static"} if threshold is None else
                        {"x0_clip": "dynamic", "x0_clip_quantile": threshold})
    data["sampling"] = sampling
    return data


def _presets() -> dict[str, dict[str, Any]]:
    return json.loads(PRESETS_FILE.read_text(encoding="utf-8"))


def preset_names() -> list[str]:
    """The presets to train with; names starting with "_" are bases that presets extend."""
    return sorted(name for name in _presets() if not name.startswith("_"))


def preset_fields(name: str) -> dict[str, Any]:
    """A preset's (or base's) field overrides: its own over those of its ``"_base"``, recursively."""
    presets, chain = _presets(), []
    while name is not None:
        if name not in presets:
            raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(preset_names())}")
        if name in chain:
            raise ValueError(f"preset base cycle: {' -> '.join(chain + [name])}")
        chain.append(name)
        name = presets[name].get("_base")
    data: dict[str, Any] = {}
    for link in reversed(chain):  # the farthest base first, the preset itself last
        for key, value in presets[link].items():
            if key == "sampling":  # a nested value: a preset changes some options, keeps its base's others
                data[key] = {**data.get(key, {}), **value}
            elif not key.startswith("_"):
                data[key] = value
    return data


def get_preset(name: str, **overrides: Any) -> Config:
    """The named preset as a Config, with optional field overrides (``sampling``: a dict of the options
    to change, the preset's others kept)."""
    fields = preset_fields(name)
    if isinstance(overrides.get("sampling"), dict):
        overrides["sampling"] = {**fields.get("sampling", {}), **overrides["sampling"]}
    return Config.from_dict({**fields, **overrides})
