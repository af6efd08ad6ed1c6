"""The Python calls the notebooks make: `vdiff.train(config, ...)`, `vdiff.load_pipeline(run_dir)`."""
from pathlib import Path

import pytest

import vdiff


def test_vdiff_train_is_callable_even_after_its_module_is_imported(tmp_path: Path) -> None:
    import vdiff.train  # noqa: F401  (importing the submodule rebinds the package attribute)

    with pytest.raises(ValueError, match="missing"):
        vdiff.train(vdiff.get_preset("smoke"), tmp_path / "missing", tmp_path / "run")


def test_load_pipeline_names_a_missing_run(tmp_path: Path) -> None:
    with pytest.raises((ValueError, FileNotFoundError), match="nope"):
        vdiff.load_pipeline(tmp_path / "nope")
