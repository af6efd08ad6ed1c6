"""Property tests: random operation lists on small random GIFs decode, with predicted sizes and timing."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

import gif_editor as ge
from gif_editor.ops import speed_delay
from gif_fixtures import as_saved, gif_info, make_gif

small_gifs = st.builds(
    lambda n, w, h, durations, transparent, loop: (make_gif(n=n, size=(w, h), durations=durations[:n],
                                                            transparent=transparent, loop=loop), n, (w, h), durations[:n]),
    n=st.integers(1, 4), w=st.integers(8, 40), h=st.integers(8, 40),
    durations=st.lists(st.sampled_from([0, 10, 20, 30, 50, 70, 100, 150, 500]), min_size=4, max_size=4),
    transparent=st.booleans(), loop=st.sampled_from([None, 0, 2]),
)

operation_lists = st.fixed_dictionaries({}, optional={
    "crop": st.tuples(*[st.integers(0, 45)] * 4),
    "rotate": st.sampled_from([0, 90, 180, 270]),
    "resize": st.tuples(st.integers(50, 90), st.one_of(st.none(), st.integers(50, 90)), st.booleans()),
    "brightness": st.floats(0.1, 3.0),
    "contrast": st.floats(0.1, 3.0),
    "speed": st.floats(0.1, 5.0),
    "text": st.tuples(st.text(min_size=0, max_size=6), st.integers(10, 50), st.integers(0, 255),
                      st.sampled_from(["top-left", "top-right", "bottom-left", "bottom-right", "center"])),
    "flip_horizontal": st.just(True), "reverse": st.just(True), "boomerang": st.just(True), "grayscale": st.just(True),
})


def build_ops(spec: dict) -> list[dict]:
    ops = []
    for name, value in spec.items():
        if name == "crop":
            ops.append({"op": "crop", **dict(zip(("left", "right", "top", "bottom"), value))})
        elif name == "rotate":
            ops.append({"op": "rotate", "degrees": value})
        elif name == "resize":
            ops.append({"op": "resize", "width": value[0], "height": value[1], "keep_aspect": value[2]})
        elif name in ("brightness", "contrast", "speed"):
            ops.append({"op": name, "factor": value})
        elif name == "text":
            ops.append({"op": "text", "text": value[0], "font_size": value[1], "opacity": value[2], "position": value[3]})
        else:
            ops.append({"op": name})
    return ops


def expected_size(size, spec):
    """Independent arithmetic for the final frame size (crop, rotate, then resize)."""
    w, h = size
    if "crop" in spec:
        l, r, t, b = spec["crop"]
        w, h = max(1, w - round(w * r / 100) - round(w * l / 100)), max(1, h - round(h * b / 100) - round(h * t / 100))
    if spec.get("rotate") in (90, 270):
        w, h = h, w
    if "resize" in spec:
        width, height, keep = spec["resize"]
        if keep or height is None:
            w, h = width, max(1, round(width * h / w))
        else:
            w, h = width, height
    return w, h


def expected_durations(durations, spec):
    ds = list(durations)
    if "reverse" in spec:
        ds = ds[::-1]
    if "boomerang" in spec:
        ds = ds + ds[-2:0:-1]
    if "speed" in spec and spec["speed"] != 1.0:  # 1x is no edit, so 0 ms delays stay 0 until saved
        ds = [speed_delay(d, spec["speed"]) for d in ds]
    return as_saved(ds)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gif=small_gifs, spec=operation_lists)
def test_random_edits_decode_with_predicted_size_and_duration(gif, spec):
    data, n, size, durations = gif
    ops = build_ops(spec)
    clip = ge.load(data)
    out = ge.apply(clip, ops)
    info = gif_info(ge.save(out))
    assert info["format"] == "GIF"
    assert info["size"] == expected_size(size, spec) == ge.predict_size(size, ops)
    # Pillow may merge identical neighbours (e.g. after grayscale), so compare play time.
    assert info["total"] == sum(expected_durations(durations, spec))
    assert info["loop"] == clip.loop
    assert info["n_frames"] <= len(expected_durations(durations, spec))


@settings(max_examples=50, deadline=None)
@given(gif=small_gifs)
def test_noop_round_trip_keeps_everything(gif):
    data, n, size, durations = gif
    clip = ge.load(data)
    info = gif_info(ge.save(ge.apply(clip, [])))
    assert info["size"] == size and info["total"] == sum(as_saved(durations)) and info["loop"] == clip.loop
    assert info["transparent"] == clip.transparent
    kept = gif_info(ge.save(clip, keep_fast_delays=True))  # the option writes the delays as they are
    assert kept["total"] == sum(durations)
