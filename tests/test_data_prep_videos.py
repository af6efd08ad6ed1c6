"""MP4 -> clip extraction, MSR-VTT (every annotation schema, built here) and own videos; no network."""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import clipkit.mp4
import numpy as np
import pytest
from PIL import Image, ImageSequence

from data_prep.clips import extract_clip, sample_by_time
from data_prep.msrvtt import collect_annotations, parse_annotations, prepare_msrvtt
from data_prep.pairs import UserError
from data_prep.videos import prepare_videos

COLOURS = {"video0": (220, 30, 30), "video1": (30, 220, 30), "video2": (30, 30, 220)}


@pytest.fixture(autouse=True)
def _no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_PREP_CACHE", str(tmp_path / "cache"))


def write_mp4(path: Path, frames: np.ndarray, fps: float = 25) -> Path:
    return clipkit.mp4.write_mp4(frames, path, fps)


def solid_video(path: Path, colour, seconds: float = 2, size=(320, 240)) -> Path:
    n = int(seconds * 25)
    return write_mp4(path, np.broadcast_to(np.array(colour, np.uint8), (n, size[1], size[0], 3)))


def brightness_video(path: Path, seconds: float) -> Path:
    """Frame i has grey level 2i: time can be read back from the pixels."""
    n = int(seconds * 25)
    levels = (np.arange(n) * 2).clip(0, 255).astype(np.uint8)
    return write_mp4(path, np.broadcast_to(levels[:, None, None, None], (n, 48, 64, 3)))


def read_gif(path: Path) -> list[np.ndarray]:
    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


def test_extract_keeps_aspect_and_centre_crops(tmp_path):
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[:, :, 1] = 200  # green centre square ...
    frame[:, :40] = frame[:, -40:] = (200, 0, 0)  # ... red side bands that a squash would keep
    write_mp4(tmp_path / "wide.mp4", np.repeat(frame[None], 10, axis=0))
    clip = extract_clip(tmp_path / "wide.mp4", size=32, frames=4, fps=8)
    assert clip.shape == (4, 32, 32, 3) and clip.dtype == np.uint8
    centre = clip[:, :, 4:-4].astype(int)
    assert centre[..., 1].mean() > 150 and centre[..., 0].mean() < 40
    assert clip[:, :, 0, 0].mean() < 150  # the crop removed most of the red band (scaling blends the edge)


def test_extract_decodes_the_requested_window(tmp_path):
    video = brightness_video(tmp_path / "ramp.mp4", seconds=4)
    clip = extract_clip(video, size=16, frames=8, fps=8, start=2.0)
    level = clip[:, 8, 8, 0].astype(float)
    assert np.all(np.diff(level) > 0)
    # t = 2.0 s is frame 50 (level 100); 8 frames at 8 fps end near t = 2.875 s (level ~144)
    assert abs(level[0] - 100) <= 8 and abs(level[-1] - 144) <= 10


def test_extract_short_video_spreads_frames_and_bad_file_raises(tmp_path):
    video = brightness_video(tmp_path / "short.mp4", seconds=1)
    clip = extract_clip(video, size=16, frames=16, fps=8)  # window 2 s > 1 s of video
    level = clip[:, 8, 8, 0].astype(float)
    # 25 frames with levels 0..48: the 16 frames must run from the start to (nearly) the end
    assert len(clip) == 16 and np.all(np.diff(level) >= 0) and level[0] <= 4 and level[-1] >= 40
    (tmp_path / "junk.mp4").write_bytes(b"not a video" * 50)
    with pytest.raises(ValueError, match="undecodable"):
        extract_clip(tmp_path / "junk.mp4")


def test_sample_by_time_honours_variable_delays():
    # frame 1 is on screen four times as long as the others
    assert sample_by_time([100, 400, 100], frames=6, fps=10) == [0, 1, 1, 1, 1, 2]
    assert sample_by_time([100, 100], frames=4, fps=10) == [0, 0, 1, 1]  # shorter source: spread


# --- the MSR-VTT annotation schemas -----------------------------------------------------------------

CAPTIONS = {"video0": ["a man sings", "someone is singing"], "video1": ["a cat plays"], "video2": ["cars race"]}


def _official(folder: Path) -> None:
    sentences = [{"video_id": v, "caption": c, "sen_id": i}
                 for i, (v, c) in enumerate((v, c) for v, cs in CAPTIONS.items() for c in cs)]
    (folder / "videodatainfo.json").write_text(json.dumps(
        {"info": {}, "videos": [{"video_id": v, "id": i} for i, v in enumerate(CAPTIONS)], "sentences": sentences}))


def _clip4clip_csv(folder: Path) -> None:
    with open(folder / "MSRVTT_JSFUSION_test.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["key", "vid_key", "video_id", "sentence"])
        for v, cs in CAPTIONS.items():
            for c in cs:
                w.writerow([f"ret{v}", f"msr{v}", v, c])
    with open(folder / "MSRVTT_train.7k.csv", "w", newline="") as fh:  # ids only: contributes nothing
        fh.write("video_id\nvideo0\nvideo1\n")


def _mirror_list(folder: Path) -> None:  # captions as a list under "caption", video as a file name
    (folder / "msrvtt_train.json").write_text(json.dumps(
        [{"video": f"{v}.mp4", "caption": cs} for v, cs in CAPTIONS.items()]))


def _mirror_jsonl(folder: Path) -> None:  # one row per caption under "sentence"
    (folder / "test.jsonl").write_text("".join(
        json.dumps({"video_id": v, "sentence": c, "url": "x"}) + "\n" for v, cs in CAPTIONS.items() for c in cs))


def _mapping(folder: Path) -> None:  # {"video0": [...]}
    (folder / "captions.json").write_text(json.dumps(CAPTIONS))


SCHEMAS = {"official": _official, "clip4clip_csv": _clip4clip_csv, "mirror_list": _mirror_list,
           "mirror_jsonl": _mirror_jsonl, "mapping": _mapping}


@pytest.mark.parametrize("schema", sorted(SCHEMAS))
def test_every_annotation_schema_gives_the_captions(tmp_path, schema):
    SCHEMAS[schema](tmp_path)
    assert collect_annotations(tmp_path) == CAPTIONS


def test_unrelated_json_gives_no_captions(tmp_path):
    (tmp_path / "other.json").write_text(json.dumps({"videos": [{"video_id": "video0"}]}))
    (tmp_path / "bad.json").write_text("{not json")
    assert parse_annotations(tmp_path / "other.json") == {} and parse_annotations(tmp_path / "bad.json") == {}


@pytest.fixture
def msrvtt_folder(tmp_path) -> Path:
    folder = tmp_path / "MSRVTT"
    (folder / "videos" / "all").mkdir(parents=True)
    for name, colour in COLOURS.items():
        solid_video(folder / "videos" / "all" / f"{name}.mp4", colour, seconds=1)
    (folder / "videos" / "all" / "video3.mp4").write_bytes(b"\x00" * 100)  # broken, but annotated
    _official(folder)
    with open(folder / "videodatainfo.json") as fh:
        data = json.load(fh)
    data["sentences"].append({"video_id": "video3", "caption": "broken", "sen_id": 99})
    (folder / "videodatainfo.json").write_text(json.dumps(data))
    return folder


def test_msrvtt_folder_pairs_right_clip_with_right_caption(tmp_path, msrvtt_folder):
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in msrvtt_folder.rglob("*") if p.is_file()}
    out = tmp_path / "pairs"
    report = prepare_msrvtt(out, source=str(msrvtt_folder), size=32, frames=4, workers=2, progress=False)
    assert report["kept"] == 3 and report["skipped"] == 1
    assert report["skipped_items"][0]["name"] == "video3"
    for name, colour in COLOURS.items():
        assert (out / f"{name}.txt").read_text().strip() == CAPTIONS[name][0]
        frame = read_gif(out / f"{name}.gif")[0].astype(int)
        assert frame.shape == (32, 32, 3)
        assert np.abs(frame.mean(axis=(0, 1)) - colour).max() < 25  # the clip of that video
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {r["name"] for r in rows} == set(COLOURS) and all(r["source"] == "msrvtt" for r in rows)
    # inputs untouched; a re-run writes nothing new
    assert before == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in msrvtt_folder.rglob("*") if p.is_file()}
    again = prepare_msrvtt(out, source=str(msrvtt_folder), size=32, frames=4, workers=2, progress=False)
    assert again["kept"] == 0 and again["already_present"] == 3


def test_msrvtt_one_pair_per_caption_and_limit(tmp_path, msrvtt_folder):
    out = tmp_path / "all"
    report = prepare_msrvtt(out, source=str(msrvtt_folder), size=16, frames=2, all_captions=True, limit=1,
                            workers=1, progress=False)
    assert report["kept"] == 2
    assert [(out / f"video0_c0{k}.txt").read_text().strip() for k in range(2)] == CAPTIONS["video0"]


def test_msrvtt_user_mistakes(tmp_path):
    with pytest.raises(UserError, match="not a folder"):
        prepare_msrvtt(tmp_path / "o", source=str(tmp_path / "missing"), progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no MSR-VTT captions"):
        prepare_msrvtt(tmp_path / "o", source=str(tmp_path / "empty"), progress=False)


def test_own_videos_captions_from_txt_filename_or_model(tmp_path):
    src = tmp_path / "mine"
    src.mkdir()
    solid_video(src / "beach_sunset.mp4", (200, 120, 40), seconds=1)
    solid_video(src / "clip.mp4", (40, 120, 200), seconds=1)
    (src / "clip.txt").write_text("waves on the shore\n", encoding="utf-8")
    (src / "broken.avi").write_bytes(b"RIFF0000AVI junk")
    out = tmp_path / "out"
    report = prepare_videos(src, out, size=16, frames=4, workers=2, progress=False)
    assert report["kept"] == 2 and report["skipped_by_reason"] == {"undecodable video": 1}
    assert (out / "clip.txt").read_text().strip() == "waves on the shore"
    assert (out / "beach_sunset.txt").read_text().strip() == "beach sunset"

    seen = []

    def fake_captioner(frames: np.ndarray) -> str:
        seen.append(frames.shape)
        return "a coloured screen"

    report = prepare_videos(src, tmp_path / "model", caption="model", captioner=fake_captioner, size=16, frames=4,
                            progress=False)
    assert report["kept"] == 2 and seen == [(4, 16, 16, 3)] * 2
    assert (tmp_path / "model" / "clip.txt").read_text().strip() == "a coloured screen"
    with pytest.raises(UserError, match="different folder"):
        prepare_videos(src, src, progress=False)


def test_msrvtt_hf_source_unzips_videos_and_reports_failed_download(tmp_path, msrvtt_folder, monkeypatch):
    import zipfile

    import huggingface_hub

    hub = tmp_path / "hub_snapshot"
    hub.mkdir()
    _mirror_list(hub)
    with zipfile.ZipFile(hub / "MSRVTT_Videos.zip", "w") as zf:
        for name in COLOURS:
            zf.write(msrvtt_folder / "videos" / "all" / f"{name}.mp4", f"video/{name}.mp4")
    asked = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo_id, repo_type, cache_dir=None: asked.append((repo_id, repo_type)) or str(hub))
    report = prepare_msrvtt(tmp_path / "out", source="hf", size=16, frames=2, workers=1, progress=False)
    assert asked == [("friedrichor/MSR-VTT", "dataset")] and report["kept"] == 3
    assert (tmp_path / "out" / "video2.txt").read_text().strip() == "cars race"
    assert not list((tmp_path / "out").rglob("*.mp4"))  # videos unpacked into the cache, not the pairs folder

    def offline(**kwargs):
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(UserError, match="download it by hand"):
        prepare_msrvtt(tmp_path / "out2", source="hf", progress=False)
