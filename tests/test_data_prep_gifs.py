"""GIF folder source (filters, dedup, resampling, captions), BLIP frame logic, GIPHY (mocked), validate, preview."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from data_prep.captioning import BlipCaptioner, most_common_caption, sample_frame_indices
from data_prep.captions import caption_from_filename
from data_prep.gif_folder import prepare_gif_folder
from data_prep.giphy import ATTRIBUTION, download_giphy
from data_prep.pairs import UserError
from data_prep.preview import preview
from data_prep.validate import validate


def make_gif(path: Path, n: int = 8, size=(80, 60), duration=100, seed: int = 0) -> Path:
    """A blocky random texture scrolling right: distinct per seed, every frame different."""
    base = np.random.default_rng(seed).integers(0, 255, (size[1] // 10 + 1, size[0] // 10 + 1, 3), dtype=np.uint8)
    big = np.kron(base, np.ones((10, 10, 1), np.uint8))[: size[1], : size[0]]
    frames = [Image.fromarray(np.roll(big, 4 * i, axis=1)) for i in range(n)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=duration, loop=0)
    return path


def gif_frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


def digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def gif_src(tmp_path) -> Path:
    src = tmp_path / "crawl"
    src.mkdir()
    make_gif(src / "cat_jumps.gif", seed=1)
    (src / "cat_jumps.txt").write_text("a cat jumps onto a table\n", encoding="utf-8")
    make_gif(src / "dog-runs_on-grass (2).gif", seed=2, n=24, duration=50)
    (src / "same_bytes.gif").write_bytes((src / "cat_jumps.gif").read_bytes())
    # a re-encoded copy: smaller, fewer colours, different bytes
    with Image.open(src / "cat_jumps.gif") as im:
        frames = [f.convert("RGB").resize((72, 54)).quantize(colors=32) for f in ImageSequence.Iterator(im)]
    frames[0].save(src / "reencoded.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    make_gif(src / "tiny.gif", size=(24, 24), seed=3)
    make_gif(src / "still.gif", n=1, seed=4)
    make_gif(src / "jerky.gif", n=6, duration=[20, 50, 20, 50, 20, 50], seed=5)  # 50 is no multiple of 20
    data = make_gif(src / "whole.gif", seed=6).read_bytes()
    (src / "truncated.gif").write_bytes(data[: len(data) // 2])
    (src / "whole.gif").unlink()
    (src / "photo.gif").write_bytes(b"\x89PNG\r\n\x1a\n not a gif")
    (src / "notes.md").write_text("ignored")
    return src


def test_gif_folder_filters_dedups_and_resamples(tmp_path, gif_src):
    before = digest(gif_src)
    out = tmp_path / "pairs"
    report = prepare_gif_folder(gif_src, out, size=32, frames=6, fps=10, progress=False)
    assert sorted(p.stem for p in out.glob("*.gif")) == ["cat_jumps", "dog-runs_on-grass_2"]
    reasons = {s["name"]: s["reason"].split(":")[0] for s in report["skipped_items"]}
    assert reasons == {"same_bytes": "duplicate", "reencoded": "duplicate", "tiny": "too small",
                       "still": "single frame", "jerky": "unstable frame rate", "truncated": "undecodable GIF",
                       "photo": "not a GIF"}
    assert report["skipped"] == 7 and report["settings"]["max_delay_spread"] == 0.5  # threshold stated
    assert (out / "cat_jumps.txt").read_text().strip() == "a cat jumps onto a table"
    assert (out / "dog-runs_on-grass_2.txt").read_text().strip() == "dog runs on grass"
    frames = gif_frames(out / "dog-runs_on-grass_2.gif")
    assert len(frames) == 6 and frames[0].shape == (32, 32, 3)
    # 10 fps from a 20 fps source: every second frame, so consecutive output frames differ by 2 scroll steps
    src_frames = gif_frames(gif_src / "dog-runs_on-grass (2).gif")
    assert np.abs(frames[1].astype(int) - np.asarray(Image.fromarray(src_frames[2]).resize(
        (43, 32), Image.Resampling.LANCZOS).crop((5, 0, 37, 32))).astype(int)).mean() < 12
    assert digest(gif_src) == before  # inputs never modified

    again = prepare_gif_folder(gif_src, out, size=32, frames=6, fps=10, progress=False)
    assert again["kept"] == 0 and again["already_present"] == 2
    assert again["skipped_by_reason"]["duplicate"] == 2  # dedup remembers pairs from the earlier run


def test_merged_identical_frames_are_a_steady_frame_rate(tmp_path):
    """A steady 100 ms GIF whose repeated frames an optimiser merged (300/100/400 ms) is kept and
    sampled on its display timeline: each content shows for as many output frames as it lasted."""
    base = np.random.default_rng(7).integers(0, 255, (7, 9, 3), dtype=np.uint8)
    big = np.kron(base, np.ones((8, 8, 1), np.uint8))[:48, :64]
    looks = [Image.fromarray(np.roll(big, 16 * k, axis=1)) for k in range(3)]
    src = tmp_path / "src"
    src.mkdir()
    sequence = [0, 0, 0, 1, 2, 2, 2, 2]  # Pillow merges the repeats into longer delays as it saves
    frames = [looks[k] for k in sequence]
    frames[0].save(src / "merged.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(src / "merged.gif") as im:
        assert [f.info["duration"] for f in ImageSequence.Iterator(im)] == [300, 100, 400]
    report = prepare_gif_folder(src, tmp_path / "out", size=32, frames=8, fps=10, caption="filename",
                                progress=False)
    assert report["kept"] == 1, report["skipped_items"]
    with Image.open(tmp_path / "out" / "merged.gif") as im:  # A A A B C C C C at 10 fps, merged again on save
        assert [f.info["duration"] for f in ImageSequence.Iterator(im)] == [300, 100, 400]


def test_gif_folder_caption_modes_and_user_mistakes(tmp_path, gif_src):
    report = prepare_gif_folder(gif_src, tmp_path / "txt", caption="txt", size=32, frames=4, progress=False)
    assert report["kept"] == 1 and "no caption" in report["skipped_by_reason"]
    prepare_gif_folder(gif_src, tmp_path / "none", caption="none", size=32, frames=4, progress=False)
    assert (tmp_path / "none" / "cat_jumps.txt").read_text() == "\n"
    with pytest.raises(UserError, match="different folder"):
        prepare_gif_folder(gif_src, gif_src, progress=False)
    with pytest.raises(UserError, match="not a folder"):
        prepare_gif_folder(tmp_path / "missing", tmp_path / "o", progress=False)


def test_caption_from_filename():
    assert caption_from_filename(Path("Cat_jumps-over.the.fence (3).gif")) == "cat jumps over the fence"
    assert caption_from_filename(Path("dogRunsFast_giphy_0001.gif")) == "dog runs fast"


class FakeProcessor:
    """Stands in for BlipProcessor: records the frames it is given, decodes ids into canned captions."""

    def __init__(self, captions):
        self.captions, self.images = captions, None

    def __call__(self, images, return_tensors):
        self.images = [np.asarray(im) for im in images]
        return {"pixel_values": np.stack(self.images)}

    def batch_decode(self, ids, skip_special_tokens):
        assert skip_special_tokens
        return [self.captions[i] for i in ids]


class FakeModel:
    def generate(self, pixel_values, max_new_tokens):
        return list(range(len(pixel_values)))


def test_blip_captioner_uses_spread_frames_and_keeps_the_majority():
    assert sample_frame_indices(16, 3) == [0, 8, 15] and sample_frame_indices(2, 3) == [0, 1]
    assert most_common_caption(["a dog", "A  cat", "a cat"]) == "a cat"
    assert most_common_caption(["a dog", "a cat"]) == "a dog"  # tie: the earliest
    with pytest.raises(ValueError):
        most_common_caption(["", " "])
    frames = np.stack([np.full((8, 8, 3), i, np.uint8) for i in range(9)])
    processor = FakeProcessor(["a red ball", "a dog runs", "a dog runs"])
    captioner = BlipCaptioner(processor=processor, model=FakeModel(), frames_per_clip=3)
    assert captioner(frames) == "a dog runs"
    assert [int(im[0, 0, 0]) for im in processor.images] == [0, 4, 8]


def test_giphy_is_opt_in_and_keeps_attribution(tmp_path, gif_src, monkeypatch):
    monkeypatch.delenv("GIPHY_API_KEY", raising=False)
    with pytest.raises(UserError, match="GIPHY_API_KEY"):
        download_giphy("cats", tmp_path / "g", fetch=lambda url: pytest.fail("no key: nothing may be fetched"))
    gif_bytes = (gif_src / "cat_jumps.gif").read_bytes()
    calls = []

    def fetch(url: str) -> bytes:
        calls.append(url)
        if url.startswith("https://api.giphy.com/"):
            return json.dumps({"data": [{"id": "abc", "title": "Cat GIF", "url": "https://giphy.com/gifs/abc",
                                         "username": "someone",
                                         "images": {"fixed_height": {"url": "https://media.giphy.com/abc.gif"}}}]}).encode()
        return gif_bytes

    monkeypatch.setenv("GIPHY_API_KEY", "k123")
    dest = tmp_path / "giphy"
    paths = download_giphy("cats", dest, limit=5, fetch=fetch)
    assert [p.name for p in paths] == ["giphy_abc.gif"] and "api_key=k123" in calls[0] and "q=cats" in calls[0]
    report = prepare_gif_folder(dest, tmp_path / "out", size=32, frames=4, progress=False)
    assert report["kept"] == 1
    row = json.loads((tmp_path / "out" / "manifest.jsonl").read_text().splitlines()[0])
    assert row["attribution"] == ATTRIBUTION and row["giphy_id"] == "abc" and row["giphy_user"] == "someone"


def test_validate_and_preview(tmp_path, gif_src):
    out = tmp_path / "pairs"
    prepare_gif_folder(gif_src, out, size=32, frames=4, progress=False)
    good = validate(out)
    assert good["pairs"] == 2 and good["problems"] == [] and good["sizes"] == {"32x32": 2}
    sheet_small = Image.open(preview(out, tmp_path / "one.png", num=1, frames=3))
    sheet = Image.open(preview(out, tmp_path / "two.png", num=2, frames=3))
    assert sheet.width == sheet_small.width and sheet.height > sheet_small.height  # one row per pair

    (out / "cat_jumps.txt").unlink()
    (out / "dog-runs_on-grass_2.gif").write_bytes(b"GIF89a broken")
    (out / "dog-runs_on-grass_2.txt").write_bytes(b"\xff\xfe\xfa")
    before = digest(out)
    bad = validate(out)
    assert bad["pairs"] == 0 and {p["name"] for p in bad["problems"]} == {"cat_jumps", "dog-runs_on-grass_2"}
    assert digest(out) == before


def test_interrupted_run_keeps_its_manifest_and_resumes(tmp_path, gif_src):
    calls = []

    def captioner(frames):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during the second GIF
        return "first clip"

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        prepare_gif_folder(gif_src, out, caption="model", captioner=captioner, size=32, frames=4, progress=False)
    rows = (out / "manifest.jsonl").read_text().splitlines()
    assert len(rows) == 1 and json.loads(rows[0])["caption"] == "first clip"
    resumed = prepare_gif_folder(gif_src, out, caption="model", captioner=lambda f: "later", size=32, frames=4,
                                 progress=False)
    assert resumed["already_present"] == 1 and resumed["kept"] == 1
    assert (out / f"{json.loads(rows[0])['name']}.txt").read_text().strip() == "first clip"
