"""--init-from: a run that starts from a trained run's (or saved folder's) weights with a fresh optimizer."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from vdiff.core.config import Config, get_preset
from vdiff.core.run_folder import SAVED_INFO_FILE, SAVED_WEIGHTS_FILE, RunFolder
from vdiff.train import Callback, main, train
from vdiff.training.checkpoint import load_checkpoint, load_weights

pytestmark = pytest.mark.usefixtures("single_thread_torch")


def fast(**kw) -> Config:
    base = dict(log_every=1, sample_every=0, save_every=1000)
    return get_preset("smoke", **{**base, **kw})


def digest(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` with its SHA-256: the source must come out byte for byte the same."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def source(tmp_path_factory, single_thread_torch) -> tuple[Path, Path]:
    """(pairs folder, a smoke run trained 8 steps on it)."""
    from conftest import write_moving_square_pairs

    root = tmp_path_factory.mktemp("init")
    pairs = write_moving_square_pairs(root / "pairs")
    return pairs, train(fast(), pairs, root / "source", max_steps=8)


class Seen(Callback):
    """What the trainer holds when the loop starts."""

    def on_start(self, trainer) -> None:
        self.step, self.optimizer_state = trainer.step, dict(trainer.optimizer.state)
        self.model = {k: v.clone() for k, v in trainer.raw_model.state_dict().items()}
        self.ema = {k: v.clone() for k, v in trainer.ema.module.state_dict().items()}
        self.ema_updates = trainer.ema.update_count


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_run_starts_from_the_weights_with_a_fresh_optimizer_and_records_where(source, tmp_path):
    pairs, run = source
    before = digest(run)
    seen = Seen()
    out = train(fast(init_from=str(run)), pairs, tmp_path / "tuned", max_steps=3, callbacks=[seen])
    assert same(seen.model, load_weights(run / "weights" / "online.safetensors"))
    assert same(seen.ema, load_weights(run / "weights" / "ema.safetensors"))
    assert not same(seen.model, seen.ema)  # two different sets of weights, each where it belongs
    assert seen.step == 0 and seen.optimizer_state == {}  # a fresh optimizer and schedule
    assert seen.ema_updates == 8  # the EMA goes on at the decay the source had reached
    assert json.loads((out / "config.json").read_text())["init_from"] == str(run)
    start = next(r for r in RunFolder(out).log_records() if r.get("event") == "start")
    assert start["init_from"] == {"source": str(run), "kind": "run", "steps_trained": 8, "ema_update_count": 8}
    assert RunFolder(out).checkpoints()[-1].name == "step_0000003.pt"
    assert digest(run) == before


def test_a_resumed_run_takes_its_checkpoint_not_the_source_again(source, tmp_path):
    pairs, run = source
    out = train(fast(init_from=str(run)), pairs, tmp_path / "tuned", max_steps=2)
    saved = load_checkpoint(out / "checkpoints" / "step_0000002.pt")
    seen = Seen()
    train(fast(init_from=str(run)), pairs, out, max_steps=4, callbacks=[seen])
    assert seen.step == 2 and same(seen.model, saved["model"])
    assert not same(seen.model, load_weights(run / "weights" / "online.safetensors"))
    assert [r["event"] for r in RunFolder(out).log_records() if r.get("event") in ("start", "resume")] == \
        ["start", "resume"]


def test_a_model_of_another_shape_or_no_model_is_refused_in_one_line(source, tmp_path, capsys):
    pairs, run = source
    before = digest(run)
    bigger = tmp_path / "bigger.json"
    fast(dim=32).to_json(bigger)
    assert main(["--config", str(bigger), "--data", str(pairs), "--out", str(tmp_path / "big"),
                 "--init-from", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "dim=16 -> 32" in err and str(run) in err, err
    assert not (tmp_path / "big" / "checkpoints").exists()
    for given, out, words in ((tmp_path / "nothing", tmp_path / "new", "no such folder"),
                              (pairs, tmp_path / "new", "holds no trained weights"),
                              (run, run, "is the run folder being trained")):
        assert main(["--preset", "smoke", "--data", str(pairs), "--out", str(out), "--init-from", str(given)]) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and err.count("\n") == 0, err
    assert digest(run) == before


def test_without_a_preset_the_command_trains_with_the_sources_config(source, tmp_path, capsys):
    pairs, run = source
    out = tmp_path / "tuned"
    assert main(["--data", str(pairs), "--out", str(out), "--init-from", str(run), "--max-steps", "2"]) == 0
    config = Config.from_json(out / "config.json")
    assert config.replace(init_from=None, max_steps=8) == Config.from_json(run / "config.json")  # --max-steps 2 is kept
    assert config.init_from == str(run.absolute())
    # The same command again resumes; --init-from is said to be unused for a started run.
    assert main(["--data", str(pairs), "--out", str(out), "--init-from", str(run), "--max-steps", "3"]) == 0
    assert "resuming it (--init-from is used only when a run starts)" in capsys.readouterr().out
    assert RunFolder(out).steps_trained() == 3


def test_a_saved_folder_gives_its_one_set_of_weights_to_the_model_and_the_ema(source, tmp_path):
    from vdiff.pipelines import saved_folder
    from vdiff.pipelines.loading import load_pipeline

    assert (SAVED_WEIGHTS_FILE, SAVED_INFO_FILE) == (saved_folder.WEIGHTS_FILE, saved_folder.PIPELINE_FILE)
    pairs, run = source
    folder = load_pipeline(run, device="cpu").save_pretrained(tmp_path / "saved", steps=2)
    seen = Seen()
    tuned = train(fast(init_from=str(folder)), pairs, tmp_path / "tuned", max_steps=1, callbacks=[seen])
    weights = load_weights(folder / SAVED_WEIGHTS_FILE)
    assert same(seen.model, weights) and same(seen.ema, weights) and seen.ema_updates == 8
    # The tuned model's card says where it started.
    card = load_pipeline(tuned, device="cpu").save_pretrained(tmp_path / "tuned_saved", steps=2) / "README.md"
    assert f"| started from | `{folder}` (fine-tuned from its weights) |" in card.read_text()


def test_old_configs_without_the_field_load_and_the_field_is_checked():
    data = get_preset("smoke").to_dict()
    del data["init_from"]
    assert Config.from_dict(data).init_from is None
    with pytest.raises(ValueError, match="init_from"):
        get_preset("smoke", init_from="")
