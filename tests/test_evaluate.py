"""Evaluation: metrics separate real clips (ceiling) from noise (floor); a trained run gets a complete report."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from data_prep.moving_mnist import DEFAULT_HOLDOUT, generate_labeled, prepare_moving_mnist  # noqa: E402
from vdiff.evaluate import main as evaluate_main  # noqa: E402
from vdiff.evaluation import evaluate as E  # noqa: E402
from vdiff.evaluation.judge import judge_clips, load_judge  # noqa: E402


# Module-wide, so that the module-scoped trained-run fixture runs on one thread too.
pytestmark = pytest.mark.usefixtures("single_thread_torch")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    prepare_moving_mnist(out, num=120, size=16, frames=4, holdout="default", progress=False)
    return out


@pytest.fixture(scope="module")
def run_dir(data_dir, tmp_path_factory):
    import vdiff
    from vdiff.core.config import get_preset

    return vdiff.Trainer(get_preset("smoke"), data_dir, tmp_path_factory.mktemp("run") / "run", max_steps=3).fit()


def test_read_prompts_splits_seen_and_heldout_combos(data_dir):
    prompts = E.read_prompts(data_dir)
    assert len(prompts) == 40  # 120 balanced clips cover every digit x direction
    held = {(p.digit, p.direction) for p in prompts if p.split == "heldout"}
    assert held == set(DEFAULT_HOLDOUT)
    assert all(p.caption == f"digit {p.digit} moving {p.direction}" and p.real_files for p in prompts)


def test_metrics_on_real_clips_beat_noise(data_dir):
    prompts = E.read_prompts(data_dir)
    reference, _, _ = E.load_real(prompts, 1, 4, 16, offset=0)
    real, owner, skipped = E.load_real(prompts, 2, 4, 16, offset=1)
    assert skipped == 0 and len(real) == len(owner) >= 40
    judge = load_judge()
    ref_feats = judge_clips(judge, reference).features
    real_m = E.score_clips(judge, real, prompts, owner, ref_feats)
    noise_m = E.score_clips(judge, E.noise_clips(len(real), 4, 16), prompts, owner, ref_feats)
    assert real_m["overall"]["digit_accuracy"] >= 0.95
    assert real_m["overall"]["direction_accuracy"] >= 0.95
    assert real_m["heldout"]["both_correct"] >= 0.9 and real_m["heldout"]["n"] > 0
    assert noise_m["overall"]["digit_accuracy"] <= 0.3            # chance is 0.1
    assert noise_m["overall"]["direction_accuracy"] <= 0.4        # chance 0.25; noise mostly reads as no motion
    assert noise_m["overall"]["flicker"] > 3 * real_m["overall"]["flicker"]
    assert real_m["overall"]["temporal_consistency"] > noise_m["overall"]["temporal_consistency"]
    assert noise_m["frechet_distance"] > 20 * real_m["frechet_distance"]


def test_frechet_distance_small_for_real_vs_real_large_for_noise():
    judge = load_judge()
    a = np.stack([c.frames for c in generate_labeled(60, size=32, seed=11, source="sklearn")])
    b = np.stack([c.frames for c in generate_labeled(60, size=32, seed=12, source="sklearn")])
    fa, fb = (E.clip_features(judge_clips(judge, x).features) for x in (a, b))
    fn = E.clip_features(judge_clips(judge, E.noise_clips(60, 8, 32, seed=1)).features)
    real_real, real_noise = E.frechet_distance(fa, fb), E.frechet_distance(fa, fn)
    assert real_real < 0.1 * real_noise


def test_frechet_distance_is_zero_for_identical_sets_and_grows_with_a_mean_shift():
    x = np.random.default_rng(0).normal(size=(200, 5))
    assert E.frechet_distance(x, x) == pytest.approx(0, abs=1e-6)
    shift = np.array([3.0, 0, 0, 0, 4.0])
    assert E.frechet_distance(x, x + shift) == pytest.approx(float(shift @ shift), rel=1e-6)


def test_flicker_of_static_clips_is_zero_and_of_alternating_clips_is_one():
    clips = np.zeros((2, 4, 8, 8, 3), np.uint8)
    assert E.flicker(clips) == 0
    clips[:, 1::2] = 255
    assert E.flicker(clips) == pytest.approx(1.0)


def test_max_prompts_keeps_heldout_combos(data_dir):
    picked = E.spread(E.read_prompts(data_dir), 8)
    assert len(picked) == 8
    assert {p.split for p in picked} == {"seen", "heldout"}


@pytest.mark.slow
def test_evaluate_a_trained_run_reports_every_metric_in_range(run_dir, data_dir, tmp_path):
    out = tmp_path / "report.json"
    # In-process main(): the same CLI path without importing torch/transformers a second time.
    code = evaluate_main(["--run", str(run_dir), "--data", str(data_dir), "--num-per-prompt", "2", "--steps", "2",
                   "--max-prompts", "8", "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["settings"]["prompts"] == 8 and report["settings"]["steps"] == 2
    assert float(report["judge"]["heldout_clip_accuracy"]) >= 0.95
    gen, real, noise = (report[name]["overall"] for name in ("generated", "real", "noise"))
    assert gen["n"] == 16 and all(len(report[n]["per_prompt"]) == 8 for n in ("generated", "real", "noise"))
    assert real["digit_accuracy"] >= 0.9 and real["direction_accuracy"] >= 0.9
    assert noise["digit_accuracy"] <= 0.4 and report["noise"]["frechet_distance"] > 10 * report["real"]["frechet_distance"]
    # Even 3 training steps give smoother clips than noise (0.20 against 0.33, measured); a sampler or model
    # that returned its starting noise would flicker more than the uniform noise row (about 0.4).
    assert gen["flicker"] < 0.75 * noise["flicker"]
    assert gen["temporal_consistency"] > noise["temporal_consistency"]


class OraclePipeline:
    """Stands in for a perfect (or a direction-swapping) model: answers each caption with a real clip of
    the data folder that the reference and "real" rows do not use, so its scores must equal real clips'."""

    def __init__(self, data_dir, swap_direction: bool = False):
        from vdiff.core.config import get_preset

        self.config, self.device = get_preset("smoke"), torch.device("cpu")
        self.files = {p.caption: p.real_files for p in E.read_prompts(data_dir)}
        self.swap = swap_direction

    def __call__(self, captions, *, num, **options):
        from vdiff.core.media import load_gif

        other = {"left": "right", "right": "left", "up": "down", "down": "up"}
        out = []
        for caption in captions:
            if self.swap:
                words = caption.split()
                caption = " ".join(words[:-1] + [other[words[-1]]])
            for k in range(num):
                clip = load_gif(self.files[caption][-1 - k])
                out.append(E.match_shape(clip, self.config.num_frames, self.config.image_size))
        return np.stack(out)


def test_a_perfect_model_scores_like_real_clips_and_a_wrong_one_does_not(data_dir):
    """The report scores what the pipeline returned against the prompt it was asked for."""
    perfect = E.evaluate("oracle", data_dir, num_per_prompt=1, pipeline=OraclePipeline(data_dir), progress=False)
    swapped = E.evaluate("oracle", data_dir, num_per_prompt=1, pipeline=OraclePipeline(data_dir, True),
                         progress=False)
    gen, real, noise = (perfect[n]["overall"] for n in ("generated", "real", "noise"))
    assert gen["digit_accuracy"] >= 0.9 and gen["direction_accuracy"] >= 0.9 and gen["both_correct"] >= 0.85
    assert perfect["generated"]["heldout"]["both_correct"] >= 0.85
    assert abs(gen["flicker"] - real["flicker"]) < 0.2 * real["flicker"] and gen["flicker"] < 0.5 * noise["flicker"]
    assert perfect["generated"]["frechet_distance"] < 0.2 * perfect["noise"]["frechet_distance"]
    wrong = swapped["generated"]["overall"]
    assert wrong["digit_accuracy"] >= 0.9 and wrong["direction_accuracy"] <= 0.1 and wrong["both_correct"] <= 0.1


@pytest.mark.parametrize("missing", ["run", "data"])
def test_cli_missing_run_or_data_is_one_line_exit_2(missing, data_dir, tmp_path, capsys):
    args = {"run": str(tmp_path), "data": str(data_dir)}
    args[missing] = str(tmp_path / "nope")
    out = tmp_path / "r.json"
    assert evaluate_main(["--run", args["run"], "--data", args["data"], "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.strip().count("\n") == 0
    assert "not found" in err and not out.exists()


def test_cli_folder_that_is_not_a_run_is_one_line_exit_2(data_dir, tmp_path, capsys):
    assert evaluate_main(["--run", str(tmp_path), "--data", str(data_dir), "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "config.json" in err


class _FakeI3D(torch.nn.Module):
    """Stands in for i3d_torchscript.pt: the same call signature, features = per-channel means and spreads."""

    def forward(self, x, rescale: bool = False, resize: bool = False, return_features: bool = False):
        return torch.cat([x.mean(dim=(2, 3, 4)), x.std(dim=(2, 3, 4))], dim=1)


def test_fvd_path_loads_a_torchscript_detector_and_feeds_clips_in_minus1_1(tmp_path):
    path = tmp_path / "i3d.pt"
    torch.jit.script(_FakeI3D()).save(str(path))
    white = np.full((3, 4, 8, 8, 3), 255, np.uint8)
    feats = E.i3d_features(white, path)
    assert feats.shape == (3, 6) and np.allclose(feats[:, :3], 1.0)  # 255 -> +1
    with pytest.raises(ValueError, match="not found"):
        E.i3d_features(white, tmp_path / "missing.pt")


def test_ablation_variants_change_one_thing_each():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import ablation

    full = ablation.variant_overrides("full", 0.1, 0.9999)
    assert full["perceptual_weight"] > 0 and full["adagn"] == "separate"
    for name in ablation.TRAINED[1:]:
        changed = ablation.variant_overrides(name, 0.1, 0.9999)
        diff = {k for k in set(full) | set(changed) if full.get(k) != changed.get(k)}
        assert diff and diff <= {"adagn", "perceptual_weight", "ema_decay_min", "ema_decay_max", "prediction_type",
                                 "snr_gamma", "snr_cap_only", "text_norm", "text_whitening", "timestep_shift",
                                 "lr_schedule", "mixed_precision", "self_condition", "space_time_attention", "hflip",
                                 "cross_attention", "temporal_attention_resolutions", "frame_conditioning"}, name
        assert len({k.split("_")[0] for k in diff}) == 1, name  # one improvement at a time
    from vdiff.core.config import get_preset
    cfg = get_preset("smoke")
    assert ablation.sampling_settings("ddpm_1000", cfg, 20) == {"steps": cfg.timesteps, "sampler": "ddpm"}
    assert ablation.sampling_settings("static_threshold", cfg, 20)["x0_clip"] == "static"
    assert ablation.sampling_settings("dynamic_threshold", cfg, 20)["x0_clip"] == "dynamic"
    assert ablation.sampling_settings("dpmpp_10", cfg, 20) == {"steps": 10, "sampler": "dpm++"}
    assert ablation.sampling_settings("guidance_4", cfg, 20)["guidance"] == 4.0


def test_ablation_evaluates_trained_variants_first_and_hands_over_every_row(data_dir, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import ablation

    seen: list[list[str]] = []
    rows = ablation.run_ablation("smoke", data_dir, tmp_path, minutes=None, max_steps=2,
                                 variants=["static_threshold", "online_weights", "epsilon", "full"], num_per_prompt=1,
                                 max_prompts=2,
                                 steps=2, perceptual_weight=0.0, ema_fixed_decay=0.9999,
                                 on_row=lambda r: seen.append(list(r)))
    # the slow sampling variants of "full" come after every trained one, and each row is handed over at once
    assert seen == [["full"], ["full", "epsilon"], ["full", "epsilon", "static_threshold"],
                    ["full", "epsilon", "static_threshold", "online_weights"]]
    assert rows["static_threshold"]["run"] == rows["full"]["run"] != rows["epsilon"]["run"]
    assert rows["online_weights"]["report"]["settings"]["use_ema"] is False
    assert rows["static_threshold"]["report"]["settings"]["use_ema"] is True
    assert rows["epsilon"]["overrides"]["prediction_type"] == "epsilon"
    assert all(row["train_steps"] == 2 for row in rows.values())


def test_reference_adapter_gives_dropped_rows_its_null_embedding_and_its_schedule():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import reference_side_by_side as side
    from vdiff.core.config import get_preset

    class StandIn(torch.nn.Module):  # the reference Unet3D's interface: forward(x, time, cond=...)
        def __init__(self):
            super().__init__()
            self.null_cond_emb = torch.nn.Parameter(torch.full((1, 3), 7.0))
            self.seen = None

        def forward(self, x, time, cond=None):
            self.seen = cond
            return torch.zeros_like(x)

    unet = StandIn()
    denoiser = side.ReferenceDenoiser(unet)
    x, t, emb = torch.zeros(3, 1, 2, 4, 4), torch.zeros(3, dtype=torch.long), torch.ones(3, 3)
    denoiser(x, t, emb, drop_mask=torch.tensor([False, True, False]))
    assert torch.equal(unet.seen[1], torch.full((3,), 7.0)) and torch.equal(unet.seen[[0, 2]], emb[[0, 2]])
    betas = torch.linspace(1e-4, 0.9999, 50)
    pipe = side.reference_pipeline(unet, betas, get_preset("smoke"), text_encoder=None, device=torch.device("cpu"))
    assert pipe.config.prediction_type == "epsilon" and pipe.config.sampling.x0_clip == "static"
    assert torch.allclose(pipe.diffusion.alphas_cumprod, torch.cumprod(1 - betas.double(), 0).float())


def test_reference_side_by_side_cli_refuses_missing_folders(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import reference_side_by_side as side

    code = side.main(["--data", str(tmp_path / "no"), "--eval-data", str(tmp_path), "--minutes", "1",
                      "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--data" in err or "video-diffusion-pytorch" in err
    assert not (tmp_path / "o").exists()


def test_ablation_cli_needs_a_budget(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import ablation

    assert ablation.main(["--out", str(tmp_path / "a")]) == 2
    assert "--minutes or --max-steps" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def test_a_broken_real_gif_is_skipped_and_counted(data_dir, tmp_path):
    import shutil

    copy = tmp_path / "digits"
    shutil.copytree(data_dir, copy)
    prompts = E.read_prompts(copy)
    victim = prompts[0].real_files[0]
    victim.write_bytes(b"GIF89a not really")
    clips, owner, skipped = E.load_real(prompts, 1, 4, 16)
    assert skipped == 1 and len(clips) == len(owner) == len(prompts) - 1
    assert victim.read_bytes() == b"GIF89a not really"  # inputs are never rewritten


def test_direction_separation_measures_each_opposite_pair_where_the_run_reads_it(run_dir, tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import direction_separation as sep

    rows = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 3.0], [4.0, 3.0]])  # up == down; left, right 4 apart
    assert sep.pair_distances(rows) == {"up_down": 0.0, "left_right": 4.0}
    report = sep.direction_separation(str(run_dir), [999, 500], draws=1)
    assert set(report["distances"]) == {"whitened_caption", "text_mlp", "model_output_t999", "model_output_t500"}
    caption = report["distances"]["whitened_caption"]
    assert caption["up_down"] > 0 and caption["left_right"] > 0  # the captions differ before any training
    assert caption["up_down_over_left_right"] == pytest.approx(caption["up_down"] / caption["left_right"])
    assert all(pairs["up_down"] >= 0 and pairs["left_right"] >= 0 for pairs in report["distances"].values())
    assert sep.main(["--run", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
