"""Evaluating continuation, long clips, in-betweening and re-prompting to the opposite direction: the
centroid metrics on hand-made clips, the sections with stand-in pipelines that are perfect or that only
hold a frame (they must score the ceiling and the floor), and the command on a trained smoke run."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from data_prep.moving_mnist import prepare_moving_mnist
from vdiff.core.config import get_preset
from vdiff.evaluate import main as evaluate_main
from vdiff.evaluation import continuation as C
from vdiff.evaluation import labeled as L
from vdiff.evaluation import tracks as T
from vdiff.evaluation.judge import load_judge
from vdiff.evaluation.reprompt import reprompt_opposite

pytestmark = pytest.mark.usefixtures("single_thread_torch")

SIZE = 32


def square_clip(frames: int = 16, x0: int = 4, y: int = 12, step: int = 1, side: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """A white square moving right ``step`` px a frame, and its true centre per frame (its middle)."""
    clip = np.zeros((frames, SIZE, SIZE, 3), np.uint8)
    for f in range(frames):
        clip[f, y:y + side, x0 + step * f:x0 + step * f + side] = 255
    centre = np.array([[x0 + step * f + (side - 1) / 2, y + (side - 1) / 2] for f in range(frames)])
    return clip, centre


# --- the pure metrics ------------------------------------------------------------------------------

def test_a_square_continued_truly_scores_zero_and_holding_its_last_frame_the_mean_of_one_to_eight():
    clip, truth = square_clip()
    clips, truth = clip[None], truth[None]
    track, empty = T.measured_track(clips)
    assert not empty.any() and np.allclose(track, truth)
    assert T.distance(track[:, 8:], truth[:, 8:])[0] == pytest.approx(0.0, abs=1e-9)
    held = np.concatenate([clips[:, :8], T.repeat_frame(clips[:, 7], 8)], axis=1)
    held_track, _ = T.measured_track(held[:, 8:])
    assert T.distance(held_track, truth[:, 8:])[0] == pytest.approx(np.mean(np.arange(1, 9)))
    assert T.frame_step(truth)[0] == pytest.approx(1.0)
    assert T.seam_ratio(clips, 8, T.frame_step(truth))[0] == pytest.approx(1.0)
    assert T.seam_ratio(held, 8, T.frame_step(truth))[0] == pytest.approx(0.0)
    two = np.concatenate([clips[:, :8], clips[:, 10:]], axis=1)  # two frames skipped at the seam
    assert T.seam_ratio(two, 8, T.frame_step(truth))[0] == pytest.approx(3.0)


def test_an_empty_frame_is_placed_in_the_middle_and_flagged():
    clip, truth = square_clip(frames=3)
    clip[1] = 0
    track, empty = T.measured_track(clip[None])
    assert empty.tolist() == [[False, True, False]]
    assert np.allclose(track[0, 1], [(SIZE - 1) / 2, (SIZE - 1) / 2])


def test_travel_is_measured_along_the_caption_and_negative_backwards():
    clip, _ = square_clip(frames=16)
    assert T.travel(clip[None], ["right"])[0] == pytest.approx(15.0)
    assert T.travel(clip[None], ["left"])[0] == pytest.approx(-15.0)
    assert T.travel(clip[None], ["up"])[0] == pytest.approx(0.0, abs=1e-9)


def test_segment_distance_forgives_timing_but_not_leaving_the_path():
    start, end = np.array([[0.0, 5.0]]), np.array([[10.0, 5.0]])
    on_path_late = np.array([[[1.0, 5.0], [1.0, 5.0], [9.0, 5.0]]])
    assert T.segment_distance(on_path_late, start, end)[0] == pytest.approx(0.0)
    off = np.array([[[5.0, 8.0], [5.0, 1.0]]])  # 3 px below and 4 px above
    assert T.segment_distance(off, start, end)[0] == pytest.approx(3.5)
    past = np.array([[[13.0, 9.0]]])  # beyond the end: the distance to the end point, 5 px
    assert T.segment_distance(past, start, end)[0] == pytest.approx(5.0)


def test_a_path_fits_only_if_it_stays_in_the_frame_and_goes_the_captioned_way_every_frame():
    _, truth = square_clip()
    assert T.path_fits(truth, "right", SIZE)
    assert not T.path_fits(truth, "left", SIZE) and not T.path_fits(truth, "down", SIZE)
    bounced = truth.copy()
    bounced[10:] = bounced[9] - (bounced[10:] - bounced[9])  # comes back after frame 9
    assert not T.path_fits(bounced, "right", SIZE)
    assert not T.path_fits(truth + [20.0, 0.0], "right", SIZE)  # its centre ends outside the frame
    assert not T.path_fits(np.where(np.arange(16)[:, None] == 3, np.nan, truth), "right", SIZE)


def test_mirror_fits_needs_room_behind_the_first_frame():
    at_wall, truth = square_clip(frames=8, x0=0)
    assert not T.mirror_fits(at_wall[0], truth)  # going left from x = 0: no room
    inside, truth = square_clip(frames=8, x0=12)
    assert T.mirror_fits(inside[0], truth)       # 7 px back from x = 12
    assert not T.mirror_fits(np.zeros_like(inside[0]), truth)


def test_cross_fade_weights_and_scaled_tracks_match_a_resized_frame():
    first, last = np.zeros((1, 4, 4, 3), np.uint8), np.full((1, 4, 4, 3), 200, np.uint8)
    fade = T.cross_fade(first, last, 3)
    assert fade.shape == (1, 3, 4, 4, 3) and fade[0, :, 0, 0, 0].tolist() == [50, 100, 150]
    from vdiff.core.media import resize_frames

    clip, truth = square_clip(frames=1, x0=9, y=5, side=8)
    small = resize_frames(clip[None], (16, 16))
    track, _ = T.measured_track(small)
    assert np.allclose(T.scale_track(truth, SIZE, 16), track[0], atol=0.05)


# --- the sections with stand-in pipelines -----------------------------------------------------------

@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    """16 px, 8 frames at 0.6 px a frame: 4 new frames travel 1.8 px, above the judge's 1.6-px threshold,
    and many digits have room to go back the other way (the start leaves room for the whole path)."""
    out = tmp_path_factory.mktemp("long_digits")
    prepare_moving_mnist(out, num=80, size=16, frames=8, speed=0.6, holdout="default", progress=False)
    return out


@pytest.fixture(scope="module")
def tracked(digits_dir):
    prompts = L.read_prompts(digits_dir)
    return prompts, L.load_tracked(prompts, 1, 16, min_frames=5)


class StandIn:
    """A "pipeline" that knows the real clips: ``perfect`` answers with the true frames, otherwise it holds
    the last given frame (continuing) or the first (in-betweening); ``spoil`` changes a given frame."""

    def __init__(self, clips: np.ndarray, perfect: bool, window: int = 4, spoil: bool = False):
        self.config, self.device = get_preset("smoke", num_frames=window), torch.device("cpu")
        self.by_first = {c[0].tobytes(): c for c in clips}
        self.perfect, self.spoil = perfect, spoil

    def extend(self, given, prompts, num, **options):
        if self.perfect:
            out = np.stack([self.by_first[g[0].tobytes()][:len(g) + num] for g in given])
        else:
            out = np.concatenate([given, T.repeat_frame(given[:, -1], num)], axis=1)
        if self.spoil:
            out = out.copy()
            out[:, 0, 0, 0] ^= 1
        return out

    def interpolate(self, first, last, num, **options):
        if self.perfect:
            return np.stack([self.by_first[a[0].tobytes()][:num + 2] for a in first])
        return np.concatenate([first, T.repeat_frame(first[:, 0], num), last], axis=1)

    def reprompt(self, clips, prompts, keep_first=False, **options):
        back = clips[:, ::-1].copy()  # moves the other way; with keep_first it also starts from frame 0
        if keep_first:
            back[:, 0] = clips[:, 0]
        return back


NUMBERS = ("digit_accuracy", "direction_accuracy", "frame_digit_consistency", "centroid_error_px", "seam_ratio",
           "travel_px")


def test_a_perfect_continuation_scores_the_ceiling_and_holding_the_last_frame_the_floor(tracked):
    prompts, real = tracked
    judge = load_judge()
    perfect = C.continuation(StandIn(real.clips, True), judge, real, prompts, given=4, options={})
    held = C.continuation(StandIn(real.clips, False), judge, real, prompts, given=4, options={})
    assert perfect["settings"]["truth"] == "manifest" and perfect["settings"]["new_frames"] == 4
    assert perfect["given_exact"] == held["given_exact"] == len(real.clips)
    for key in NUMBERS:
        assert perfect["generated"][key] == pytest.approx(perfect["real"][key]), key
        assert held["generated"][key] == pytest.approx(held["repeat_last"][key]), key
    ceiling, floor = perfect["real"], perfect["repeat_last"]
    assert ceiling["direction_accuracy"] >= 0.9 and floor["direction_accuracy"] == 0 and floor["no_motion"] == 1
    # The real frames' measured centroids sit near the manifest's truth; holding a frame drifts a step a frame.
    assert ceiling["centroid_error_px"] < 0.3 and ceiling["centroid_error_vs_repeat"] < 0.2
    assert floor["centroid_error_vs_repeat"] == 1.0
    assert floor["centroid_error_px"] == pytest.approx(perfect["settings"]["frame_step_px"] * np.mean([1, 2, 3, 4]),
                                                       rel=0.15)
    assert 0.7 < ceiling["seam_ratio"] < 1.3 and floor["seam_ratio"] == 0
    assert perfect["settings"]["true_travel_px"] > perfect["settings"]["min_travel_px"]
    spoiled = C.continuation(StandIn(real.clips, True, spoil=True), judge, real, prompts, given=4, options={})
    assert spoiled["given_exact"] == 0


def test_a_perfect_in_betweening_scores_the_ceiling_and_holding_the_first_frame_the_floor(tracked):
    prompts, real = tracked
    judge = load_judge()
    perfect = C.interpolation(StandIn(real.clips, True), judge, real, prompts, options={})
    held = C.interpolation(StandIn(real.clips, False), judge, real, prompts, options={})
    assert perfect["ends_exact"] == held["ends_exact"] == len(real.clips)
    for key in ("digit_accuracy", "frame_digit_consistency", "centroid_error_px", "path_distance_px"):
        assert perfect["generated"][key] == pytest.approx(perfect["real"][key]), key
        assert held["generated"][key] == pytest.approx(held["hold_first"][key]), key
    rows = perfect
    assert rows["real"]["centroid_error_px"] < 0.3
    # two in-between frames, 1 and 2 steps from the first; the nearer end is 1 step away from both
    step = rows["settings"]["frame_step_px"]
    assert rows["hold_first"]["centroid_error_px"] == pytest.approx(1.5 * step, rel=0.15)
    assert rows["nearest_end"]["centroid_error_px"] == pytest.approx(step, rel=0.15)
    assert rows["real"]["centroid_error_px"] < rows["cross_fade"]["centroid_error_px"]


def test_a_long_clip_that_stops_after_its_window_travels_less_than_one_that_goes_on(tracked):
    prompts, real = tracked

    class Long(StandIn):
        def __call__(self, captions, *, num, num_frames, **options):  # every prompt answered by a real clip
            clips = {prompts[i].caption: c for i, c in zip(real.owner, real.clips)}
            return np.stack([clips[c][:num_frames] for c in captions for _ in range(num)])

    report = C.long_generation(Long(real.clips, True), load_judge(), prompts, real, frames=8, num_per_prompt=1,
                               options={})
    assert report["generated"]["frames"] == report["held"]["frames"] == 8 and report["generated"]["n"] == 40
    assert report["generated"]["direction_accuracy"] >= 0.9 and report["noise"]["digit_accuracy"] < 0.4
    assert report["held"]["travel_px"] < 0.7 * report["generated"]["travel_px"]
    assert "extended" not in report and report["settings"]["keyframe_stride"] == 1


def test_a_run_that_makes_keyframes_is_judged_beside_the_same_run_extending(tracked):
    prompts, real = tracked
    clips = {prompts[i].caption: c for i, c in zip(real.owner, real.clips)}

    class Keyframes(StandIn):
        """Goes on with keyframes; stops after its window when told to extend (keyframe_stride=1)."""

        def __call__(self, captions, *, num, num_frames, keyframe_stride=None, **options):
            whole = np.stack([clips[c][:num_frames] for c in captions for _ in range(num)])
            if keyframe_stride == 1:
                return np.concatenate([whole[:, :4], T.repeat_frame(whole[:, 3], num_frames - 4)], axis=1)
            return whole

    pipe = Keyframes(real.clips, True)
    pipe.config = get_preset("smoke", frame_sampling="random_window", frame_strides=(1, 2))
    report = C.long_generation(pipe, load_judge(), prompts, real, frames=8, num_per_prompt=1, options={})
    assert report["settings"]["keyframe_stride"] == 2  # 4 keyframes 2 apart span 7 of the 8 frames
    assert report["extended"]["travel_px"] == pytest.approx(report["held"]["travel_px"])
    assert report["extended"]["travel_px"] < 0.7 * report["generated"]["travel_px"]


def test_reprompting_to_the_opposite_way_keeps_only_digits_with_room_and_judges_the_new_direction(digits_dir):
    prompts = L.read_prompts(digits_dir)
    real = L.load_tracked(prompts, 2, 16, min_frames=8)
    pipe = StandIn(real.clips, True, window=6)  # 5 judged frames travel 2.4 px, over the 1.6-px threshold
    report = reprompt_opposite(pipe, load_judge(), real.clips, real.centers, real.digits(prompts),
                               real.directions(prompts), skip=frozenset({(0, "up")}))
    s = report["settings"]
    assert s["frames"] == 6 and s["clips"] >= 10 and s["skipped_no_room"] > 0
    assert s["clips"] + s["skipped_no_room"] + s["skipped_combinations"] == len(real.clips)
    assert s["skipped_combinations"] >= 2  # 0 up and 0 down (whose opposite is 0 up)
    assert report["first_frame_exact"] == s["clips"]
    assert report["input"]["direction_accuracy"] == 0 and report["input"]["old_direction"] >= 0.9
    assert report["reversed"]["direction_accuracy"] >= 0.9 and report["reversed"]["digit_accuracy"] >= 0.9
    assert report["reprompt"]["direction_accuracy"] == pytest.approx(report["reversed"]["direction_accuracy"])


def test_the_manifest_truth_is_used_and_the_centroid_track_stands_in_without_it(digits_dir, tmp_path):
    copy = tmp_path / "no_centres"
    shutil.copytree(digits_dir, copy)
    rows = [json.loads(line) for line in (copy / "manifest.jsonl").read_text().splitlines()]
    (copy / "manifest.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k != "centers"}) + "\n"
                                                 for r in rows))
    with_truth = L.load_tracked(L.read_prompts(digits_dir), 1, 16, min_frames=5)
    without = L.load_tracked(L.read_prompts(copy), 1, 16, min_frames=5)
    assert with_truth.truth == "manifest" and without.truth == "centroid track"
    assert not np.array_equal(with_truth.centers, without.centers)
    assert np.abs(with_truth.centers - without.centers).mean() < 0.3
    with pytest.raises(ValueError, match="at least 9 frames"):
        L.load_tracked(L.read_prompts(digits_dir), 1, 16, min_frames=9)


def test_bounced_clips_are_left_out_as_unfit(tmp_path):
    out = tmp_path / "bounce"
    prepare_moving_mnist(out, num=40, size=16, frames=8, speed=3, walls="bounce", progress=False)
    prompts = L.read_prompts(out)
    with pytest.raises(ValueError, match="unfit"):
        L.load_tracked(prompts, 1, 16, min_frames=5)


# --- the command on a trained smoke run --------------------------------------------------------------

@pytest.fixture(scope="module")
def run_dir(digits_dir, tmp_path_factory):
    from vdiff.train import train

    root = tmp_path_factory.mktemp("continuation_run")
    return train(get_preset("smoke", frame_conditioning=True, max_steps=6), digits_dir, root / "run")


def test_the_command_writes_every_section_with_its_ceiling_and_floors(run_dir, digits_dir, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code = evaluate_main(["--run", str(run_dir), "--data", str(digits_dir), "--num-per-prompt", "1",
                          "--max-prompts", "8", "--steps", "2", "--continuation", "--long", "7", "--interpolation",
                          "--reprompt", "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    cont, long, inter, rep = (report[k] for k in ("continuation", "long_generation", "interpolation",
                                                  "reprompt_opposite"))
    n = cont["settings"]["clips"]
    assert n == 8 and cont["settings"]["given"] == 4 and cont["settings"]["method"] == "model"
    assert cont["given_exact"] == n and inter["ends_exact"] == n  # the pipeline returns given frames bit for bit
    assert set(cont) >= {"generated", "real", "repeat_last"} and cont["repeat_last"]["seam_ratio"] == 0
    assert cont["real"]["centroid_error_px"] < 0.3 < cont["repeat_last"]["centroid_error_px"]
    assert long["generated"]["frames"] == 7 and long["generated"]["n"] == 8 and set(long) >= {"real", "held", "noise"}
    assert set(inter) >= {"generated", "real", "hold_first", "nearest_end", "cross_fade"}
    assert rep["settings"]["clips"] == 0 or rep["first_frame_exact"] == rep["settings"]["clips"]
    assert "generated" in report and "continuation" in capsys.readouterr().out  # today's report, and the table


def test_the_default_evaluation_adds_no_section(run_dir, digits_dir, tmp_path):
    out = tmp_path / "plain.json"
    assert evaluate_main(["--run", str(run_dir), "--data", str(digits_dir), "--num-per-prompt", "1",
                          "--max-prompts", "2", "--steps", "1", "--out", str(out)]) == 0
    assert not {"continuation", "long_generation", "interpolation", "reprompt_opposite"} & set(json.loads(out.read_text()))


@pytest.mark.parametrize("args, words", [
    (["--continuation", "--given", "8"], "at least 9 frames"),   # 8-frame clips leave nothing to continue
    (["--continuation", "--given", "0"], "--given must be at least 1"),
    (["--given", "3"], "--given goes with --continuation"),
    (["--long", "2"], "--long must be at least the run's 4 frames"),
])
def test_section_mistakes_are_one_line_exit_2(args, words, run_dir, digits_dir, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert evaluate_main(["--run", str(run_dir), "--data", str(digits_dir), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.strip().count("\n") == 0 and words in err and not out.exists()


def test_edit_quality_measures_keeping_the_first_frame_beside_todays_reprompt(run_dir, tmp_path, capsys):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import edit_quality

    out = tmp_path / "edit.json"
    code = edit_quality.main(["--run", str(run_dir), "--clips", "2", "--steps", "1", "--speed", "0.6",
                              "--strengths", "1.0", "--digit-strengths", "1.0", "--variants", "context_half",
                              "--out", str(out), "--sheet", str(tmp_path / "sheet.png")])
    assert code == 0
    section = json.loads(out.read_text())["reprompt_opposite_keep_first"]
    assert section["settings"]["clips"] == 2 and section["first_frame_exact"] == 2
    assert {"input", "reversed", "reprompt", "reprompt_keep_first"} <= set(section)
    assert edit_quality.main(["--run", str(tmp_path / "missing"), "--out", str(tmp_path / "x.json")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error:")
    assert not (tmp_path / "x.json").exists()
