"""The progress grid: the same prompts and seeds at every sample step, one row each in samples/progress.png."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from clipkit.gif import read_gif_array
from clipkit.sheet import gif_grid
from vdiff.core.config import get_preset
from vdiff.core.run_folder import RunFolder
from vdiff.train import Callback, Trainer
from vdiff.training import progress

pytestmark = pytest.mark.usefixtures("single_thread_torch")


@pytest.mark.parametrize("count", [1, 2, 4, 6])
def test_grid_clips_cut_the_sample_grid_back_into_its_clips(tmp_path, count):
    rng = np.random.default_rng(count)
    # Four grey levels: a GIF keeps them exactly, so the clips must come back equal.
    clips = [np.repeat(rng.choice([0, 85, 170, 255], (5, 16, 16, 1)).astype(np.uint8), 3, -1) for _ in range(count)]
    gif_grid(clips, tmp_path / "grid.gif", ncols=progress.GRID_COLS)  # as steps.sample_grid_gifs writes them
    back = progress.grid_clips(read_gif_array(tmp_path / "grid.gif"), count, 16)
    assert len(back) == count and all(np.array_equal(a, b) for a, b in zip(clips, back))
    with pytest.raises(ValueError, match="is not 3 clips of 16 px"):
        progress.grid_clips(read_gif_array(tmp_path / "grid.gif"), 3 if count != 3 else 2, 16)


def test_every_sample_step_renders_the_same_draws_and_the_grid_gets_a_row_each(pairs_dir, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    class Keep(Callback):
        def on_end(self, trainer, summary):
            self.trainer = trainer

    config = get_preset("smoke", log_every=2, sample_every=3, save_every=1000, sampling={"steps": 2},
                        log_with="tensorboard")
    keep = Keep()
    run = Trainer(config, pairs_dir, tmp_path / "run", max_steps=6, callbacks=[keep]).fit()
    folder = RunFolder(run)
    assert [s for s, _ in folder.sample_files("ema")] == [3, 6]
    grid = Image.open(folder.progress_file)
    tile = max(progress.MIN_TILE, config.image_size)
    assert grid.size[1] == progress.HEADER_H + 2 * (tile + progress.GAP)
    assert grid.size[0] == progress.LABEL_W + len(config.sample_prompts) * (
        progress.FRAMES_SHOWN * (tile + 1) + progress.GAP) - progress.GAP
    board = [EventAccumulator(str(f)).Reload() for f in (run / "tensorboard").glob("events.out.tfevents.*")]
    images = [i for acc in board for i in acc.Images("samples/progress")]
    assert [i.step for i in images] == [3, 6] and images[-1].encoded_image_string[:4] == b"\x89PNG"
    # The same weights sampled at two other steps give the same clips: only training changes a row.
    trainer = keep.trainer
    a, b = trainer.sample_grids(100), trainer.sample_grids(101)
    assert a[0].read_bytes() == b[0].read_bytes()
    assert (run / "samples" / "step_0000006_ema.gif").read_bytes() != (run / "samples" / "step_0000003_ema.gif").read_bytes()


def test_a_grid_skips_sample_gifs_that_do_not_fit_and_is_none_before_the_first(tmp_path):
    folder = RunFolder(tmp_path)
    config = get_preset("smoke")
    assert progress.write_progress(folder, config) is None
    clip = np.zeros((4, 16, 16, 3), np.uint8)
    gif_grid([clip, clip], folder.sample_file(5, "ema"))
    gif_grid([clip, clip, clip], folder.sample_file(10, "ema"))  # written under another config: skipped
    folder.sample_file(15, "ema").write_bytes(b"GIF89a")  # cut short by a killed run: skipped
    path = progress.write_progress(folder, config)
    tile = max(progress.MIN_TILE, config.image_size)
    assert Image.open(path).size[1] == progress.HEADER_H + tile + progress.GAP
