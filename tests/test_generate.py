"""End to end: train smoke 30 steps (stopping and resuming halfway), then generate from the run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import write_moving_square_pairs
from vdiff.generate import load_pipeline, main
from vdiff.train import train

pytestmark = pytest.mark.usefixtures("single_thread_torch")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A smoke run trained 15 steps, stopped, then resumed to 30 (the preset's length)."""
    root = tmp_path_factory.mktemp("e2e")  # one torch thread: the module's single_thread_torch
    data = write_moving_square_pairs(root / "pairs")
    run = train("smoke", data, root / "run", max_steps=15)
    train("smoke", data, run)
    return run


def test_train_resume_and_run_folder_contents(run_dir):
    events = [json.loads(l) for l in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [(e["event"], e["step"]) for e in events if "event" in e] == [
        ("start", 0), ("stop", 15), ("resume", 15), ("stop", 30)]
    losses = [e["loss"] for e in events if "event" not in e]
    assert len(losses) == 6 and losses[-1] < losses[0]  # it learns something even in 30 steps
    steps = [e for e in events if "event" not in e]
    assert all(0 <= e["data_wait_share"] < 1 and e["lr"] > 0 and e["steps_per_s"] > 0 for e in steps)
    assert all(0.0 <= e["ema_decay"] < 1 for e in steps) and steps[-1]["ema_update_count"] == 30
    for name in ("config.json", "weights/ema.safetensors", "weights/online.safetensors", "weights/config.json",
                 "checkpoints/step_0000015.pt", "checkpoints/step_0000030.pt",
                 "samples/step_0000030_ema.gif", "samples/step_0000030_online.gif"):
        assert (run_dir / name).is_file(), name


def test_pipeline_returns_uint8_clips_reproducibly(run_dir):
    pipe = load_pipeline(run_dir)
    a = pipe(["square moving left", "square moving up"], num=2, steps=3, seed=1, progress=False)
    assert a.dtype == np.uint8 and a.shape == (4, 4, 16, 16, 3)
    b = pipe(["square moving left", "square moving up"], num=2, steps=3, seed=1, progress=False)
    assert np.array_equal(a, b)
    c = pipe(["square moving left"], steps=3, seed=2, progress=False)
    assert not np.array_equal(a[0], c[0])
    online = load_pipeline(run_dir, use_ema=False)(["square moving left"], steps=3, seed=1, progress=False)
    assert not np.array_equal(online[0], a[0])  # EMA and online weights differ
    with pytest.raises(ValueError, match="unknown sampler"):
        pipe(["x"], sampler="euler")


def test_pipeline_samples_as_its_run_config_says_unless_told(run_dir, monkeypatch):
    import vdiff.pipelines.pipeline as pipeline_module

    pipe = load_pipeline(run_dir)
    seen = []
    sample = pipeline_module.sample

    def spy(diffusion, model, cond, options, **kwargs):  # the options the one sampling loop is handed
        seen.append(options.to_dict())
        return sample(diffusion, model, cond, options, **kwargs)

    monkeypatch.setattr(pipeline_module, "sample", spy)
    cfg = pipe.config
    pipe(["square moving left"], progress=False)
    assert seen[-1] == cfg.sampling.to_dict()
    pipe.config = cfg.replace(sampling={"x0_clip": "static", "steps": 3, "sampler": "dpm++"})  # e.g. the digit presets
    pipe(["square moving left"], progress=False)
    assert (seen[-1]["x0_clip"], seen[-1]["steps"], seen[-1]["sampler"]) == ("static", 3, "dpm++")
    pipe(["square moving left"], steps=2, x0_clip="dynamic", x0_clip_quantile=0.9, guidance=1.5, progress=False)
    assert seen[-1] == {"sampler": "dpm++", "steps": 2, "guidance": 1.5, "x0_clip": "dynamic",
                        "x0_clip_quantile": 0.9}
    with pytest.raises(ValueError, match="x0_clip"):
        pipe(["square moving left"], x0_clip="clip", progress=False)


def test_generate_command_writes_gifs_contact_sheet_and_x_start(run_dir, tmp_path, capsys):
    out = tmp_path / "gen"
    code = main(["--run", str(run_dir), "--prompt", "square moving left", "--prompt", "square moving down",
                 "--out", str(out), "--steps", "3", "--num", "2", "--sampler", "dpm++", "--x0-clip", "none",
                 "--x-start"])
    assert code == 0
    gifs = sorted(p.name for p in out.glob("*.gif"))
    assert len([g for g in gifs if "x_start" not in g]) == 4 and len([g for g in gifs if "x_start" in g]) == 4
    with Image.open(out / gifs[0]) as im:
        assert im.size == (16, 16)
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.height > sheet.width / 2  # four captioned rows


def test_generate_command_makes_clips_longer_than_the_window(run_dir, tmp_path):
    out = tmp_path / "long"
    assert main(["--run", str(run_dir), "--prompt", "square moving left", "--out", str(out), "--steps", "2",
                 "--frames", "7"]) == 0
    with Image.open(next(out.glob("*.gif"))) as im:
        assert im.n_frames == 7  # the smoke run's window is 4 frames: continued by 3


@pytest.mark.parametrize("args, message", [
    (["--run", "{missing}", "--prompt", "a"], "run folder not found"),
    (["--run", "{run}", "--prompt", "a", "--sampler", "euler"], "invalid choice: 'euler'"),
    (["--run", "{run}", "--prompt", "a", "--x0-clip", "clip"], "invalid choice: 'clip'"),
    (["--run", "{run}"], "at least one --prompt"),
    (["--run", "{run}", "--prompt", "a", "--x0-clip-quantile", "2"], "x0_clip_quantile must be in (0, 1]"),
    (["--run", "{empty}", "--prompt", "a"], "not a run folder"),
    (["--run", "{run}", "--prompt", "a", "--frames", "2"], "num_frames must be a whole number >= the model's 4"),
    (["--run", "{run}", "--prompt", "a", "--frames", "12", "--keyframe-stride", "3"], "trained at frame strides [1]"),
    (["--run", "{run}", "--prompt", "a", "--frames", "6", "--keyframe-stride", "3"], "need num_frames >= 10"),
])
def test_generate_user_errors_are_one_line_exit_2(run_dir, tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    fill = {"missing": tmp_path / "missing", "run": run_dir, "empty": tmp_path / "empty"}
    argv = [a.format(**fill) for a in args] + ["--out", str(tmp_path / "o")]
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own checks (choices) exit from parse_args
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_missing_weights_is_a_clear_error(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "weights" / "ema.safetensors").unlink()
    with pytest.raises(ValueError, match="no weights at"):
        load_pipeline(copy)


def test_loss_plot(run_dir, tmp_path):
    from vdiff.apps.plot import plot_losses

    png = plot_losses(run_dir, tmp_path / "loss.png")
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width > 300
    with pytest.raises(ValueError, match="no log"):
        plot_losses(tmp_path)


def test_grey_v_prediction_run_trains_and_generates_grey_gifs(tmp_path, monkeypatch):
    # The tiny preset's recipe (one channel, v-prediction, timestep shift, caption whitening) at smoke
    # size, end to end: the whitening is fitted on the training captions, saved and used by the pipeline.
    import torch

    from vdiff.core.config import get_preset
    from vdiff.training.data import PairsDataset
    from vdiff.models.text import whitening_transform

    data = write_moving_square_pairs(tmp_path / "pairs")
    config = get_preset("smoke", channels=1, prediction_type="v_prediction", timestep_shift=4.0,
                        text_whitening=True, save_every=4, sample_every=4)
    run = train(config, data, tmp_path / "run", max_steps=4)
    assert (run / "samples" / "step_0000004_ema.gif").is_file()
    pipe = load_pipeline(run)
    # fitted and saved: the loaded buffers are the whitening of the training captions' embeddings
    captions = PairsDataset(data, pipe.config, pipe.text_encoder).text_pooled
    mean, matrix = whitening_transform(captions)
    torch.testing.assert_close(pipe.model.text_mean, mean)
    torch.testing.assert_close(pipe.model.text_whitening, matrix)
    assert not torch.allclose(matrix, torch.eye(len(matrix)))
    # one channel all the way: the sampler makes [N, 1, F, H, W] clips (the pipeline repeats it into RGB)
    import vdiff.pipelines.pipeline as pipeline_module

    shapes = []
    sample = pipeline_module.sample
    monkeypatch.setattr(pipeline_module, "sample", lambda *a, **k: shapes.append(tuple(sample(*a, **k).shape)) or
                        sample(*a, **k))
    clips = pipe(["digit 1 moving left"], num=2, steps=3, seed=0, progress=False)
    assert shapes == [(2, 1, 4, 16, 16)] and clips.dtype == np.uint8 and clips.shape == (2, 4, 16, 16, 3)
    # used: the denoiser's output moves when the whitening is taken out (4 steps barely move the
    # zero-initialised caption MLP, so the clips' uint8 values may not change yet; the floats do)
    emb = pipe.text_encoder.encode(["digit 1 moving left"]).pooled
    x, t = torch.randn(1, 1, 4, 16, 16, generator=torch.Generator().manual_seed(0)), torch.tensor([50])
    with torch.no_grad():
        whitened = pipe.model(x, t, emb)
        pipe.model.text_mean.zero_()
        pipe.model.text_whitening.copy_(torch.eye(len(matrix)))
        assert not torch.equal(pipe.model(x, t, emb), whitened)
    out = tmp_path / "gen"
    assert main(["--run", str(run), "--prompt", "digit 1 moving left", "--out", str(out), "--steps", "3"]) == 0
    assert len(list(out.glob("*.gif"))) == 1 and (out / "contact_sheet.png").is_file()
