"""Frame operations (delete a range, keep every n-th, hold) and timing that plays as saved (the
20 ms floor: browsers play 10 ms or less as 100 ms)."""
from __future__ import annotations

import pytest

import gif_editor as ge
from gif_editor.cli import main
from gif_fixtures import gif_info, make_gif


def clip_of(durations):
    return ge.load(make_gif(n=len(durations), size=(40, 30), durations=durations))


def colours(clip):
    return [f.getpixel((0, 0)) for f in clip.frames]  # make_gif's background differs per frame


def test_delete_frames_removes_a_range_with_its_time():
    clip = clip_of([100, 200, 300, 400, 500])
    out = ge.apply(clip, [{"op": "delete_frames", "start": 1, "end": 3}])
    assert out.durations == [100, 400, 500] and colours(out) == [colours(clip)[i] for i in (0, 3, 4)]
    assert ge.apply(clip, [{"op": "delete_frames", "start": 4}]).durations == [100, 200, 300, 400]
    with pytest.raises(ge.GifEditorError, match="leave no frame"):
        ge.apply(clip, [{"op": "delete_frames", "start": 0, "end": 5}])
    with pytest.raises(ge.GifEditorError, match="between"):
        ge.apply(clip, [{"op": "delete_frames", "start": 5}])


def test_every_nth_keeps_the_length():
    clip = clip_of([100, 50, 70, 30, 20, 60, 40])
    out = ge.apply(clip, [{"op": "every_nth", "n": 3}])
    assert colours(out) == [colours(clip)[i] for i in (0, 3, 6)]
    assert out.durations == [220, 110, 40] and out.total_duration == clip.total_duration
    # unset (0 ms) and 10 ms delays count as they play (100 and 20 ms), so the played length holds too
    fast = ge.apply(clip_of([0, 10, 50, 0]), [{"op": "every_nth", "n": 2}])
    assert fast.durations == [120, 150]
    same = ge.apply(clip, [{"op": "every_nth", "n": 1}])
    assert same.frames == clip.frames and same.durations == clip.durations


def test_hold_adds_time_to_single_frames():
    clip = clip_of([100, 100, 100])
    out = ge.apply(clip, [{"op": "hold", "frames": {"-1": 1000, "0": 250}}])
    assert out.durations == [350, 100, 1100]
    # frame numbers count the clip after the frame operations (here boomerang: 4 frames)
    out = ge.apply(clip, [{"op": "boomerang"}, {"op": "hold", "frames": {"3": 500}}])
    assert out.durations == [100, 100, 100, 600]
    with pytest.raises(ge.GifEditorError, match="frame 3 does not exist"):
        ge.apply(clip, [{"op": "hold", "frames": {"3": 500}}])


def test_frame_ops_run_in_order_before_timing():
    clip = clip_of([100] * 8)
    ops = [{"op": "speed", "factor": 2}, {"op": "every_nth", "n": 2}, {"op": "trim", "start": 2},
           {"op": "delete_frames", "start": 0, "end": 1}]
    out = ge.apply(clip, ops)  # trim -> 6 frames, delete one -> 5, every 2nd -> 3 (200, 200, 100), speed 2x
    assert out.durations == [100, 100, 50]


def test_delays_under_20_ms_are_saved_as_20_unless_kept():
    clip = clip_of([10, 10, 0, 40])
    assert gif_info(ge.save(clip))["durations"] == [20, 20, 100, 40]
    assert clip.info["timing"] == (2, 1)
    assert gif_info(ge.save(clip, keep_fast_delays=True))["durations"] == [10, 10, 0, 40]
    assert clip.info["timing"] == (0, 0)


def test_cli_says_so_in_one_line_and_keeps_them_on_request(tmp_path, capsys):
    src = tmp_path / "fast.gif"
    src.write_bytes(make_gif(n=3, durations=[10, 10, 30]))
    assert main([str(src), "-o", str(tmp_path / "out.gif")]) == 0
    out = capsys.readouterr().out.splitlines()
    notice = [line for line in out if line.startswith("timing:")]
    assert len(notice) == 1 and "2 delays under 20 ms raised to 20 ms" in notice[0] and "--keep-fast-delays" in notice[0]
    assert gif_info((tmp_path / "out.gif").read_bytes())["durations"] == [20, 20, 30]
    assert main([str(src), "-o", str(tmp_path / "kept.gif"), "--keep-fast-delays"]) == 0
    assert "timing:" not in capsys.readouterr().out
    assert gif_info((tmp_path / "kept.gif").read_bytes())["durations"] == [10, 10, 30]


def test_cli_frame_options(tmp_path, capsys):
    src = tmp_path / "in.gif"
    src.write_bytes(make_gif(n=6, durations=[100, 100, 100, 100, 100, 300]))
    args = [str(src), "-o", str(tmp_path / "out.gif"), "--delete-frames", "0", "2", "--every-nth", "2",
            "--hold", "-1", "400"]
    assert main(args) == 0
    # 6 frames -> delete 0-1 -> 4 frames (100, 100, 100, 300) -> every 2nd (200, 400) -> hold the last +400
    assert gif_info((tmp_path / "out.gif").read_bytes())["durations"] == [200, 800]
    assert "2 frames, 1.00 s" in capsys.readouterr().out
