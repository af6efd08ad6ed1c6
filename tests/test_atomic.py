"""The one atomic-write helper every package saves through."""
from __future__ import annotations

import stat

import pytest

from clipkit.atomic import atomic_write


def test_a_failing_writer_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "caption.txt"
    target.write_text("old\n")

    def half_then_crash(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write("ne")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(target, half_then_crash)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["caption.txt"]


@pytest.mark.parametrize("durable", [False, True])
def test_replaces_the_file_creates_folders_and_keeps_ordinary_permissions(tmp_path, durable):
    target = tmp_path / "deep" / "er" / "weights.bin"
    seen_names = []

    def write(tmp: str) -> None:
        seen_names.append(tmp)
        with open(tmp, "wb") as f:
            f.write(b"new")

    assert atomic_write(target, write, durable=durable, suffix=".tmp.mp4") == target
    assert target.read_bytes() == b"new"
    assert seen_names[0].endswith(".tmp.mp4")  # writers that pick the format from the name see it
    assert stat.S_IMODE(target.stat().st_mode) & 0o044 == 0o044  # not mkstemp's private 0600
    assert sorted(p.name for p in target.parent.iterdir()) == ["weights.bin"]
