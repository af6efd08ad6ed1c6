"""The Python calls the notebooks make: `vdiff.Trainer(config, ...).fit()`, `vdiff.load_pipeline(run_dir)`."""
from pathlib import Path

import pytest

import vdiff


def test_vdiff_trainer_is_exported_and_vdiff_train_is_the_module(tmp_path: Path) -> None:
    import vdiff.train as train_module

    assert vdiff.Trainer is train_module.Trainer and vdiff.train is train_module
    with pytest.raises(ValueError, match="missing"):
        vdiff.Trainer(vdiff.get_preset("smoke"), tmp_path / "missing", tmp_path / "run").fit()


def test_load_pipeline_names_a_missing_run_or_a_folder_that_is_no_run(tmp_path: Path) -> None:
    # ValueError with one line, as the notebooks print it; never another type (FileNotFoundError, KeyError)
    with pytest.raises(ValueError, match="run folder not found: .*nope") as missing:
        vdiff.load_pipeline(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty is not a run folder: no config.json") as empty:
        vdiff.load_pipeline(tmp_path / "empty")
    assert type(missing.value) is ValueError and type(empty.value) is ValueError
    assert "\n" not in str(missing.value) + str(empty.value)
