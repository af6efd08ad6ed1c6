"""Frame-range and timing operations: trim, delete a range, keep every n-th frame, reverse,
boomerang, speed, set delays, hold frames; and the delay floor every saved GIF gets.

Frame numbers count the clip as it is when the operation runs (after the ones before it in
ops.ORDER); negative numbers count from the end (-1 = the last frame).

Browsers play a stored delay of 10 ms or less as 100 ms (Chromium and Firefox; reported against
GIF encoders as jnordberg/gif.js#65), so a GIF written with 10 ms frames plays 10x slower than
saved. ``playable_delays`` therefore raises delays under 20 ms to 20 ms unless asked not to, and
writes an unset (0 ms) delay as the 100 ms viewers show for it.
"""
from __future__ import annotations

import math
from dataclasses import replace

from clipkit.gif import MIN_DELAY_MS, UNSET_DELAY_MS

from .clip import Clip
from .errors import GifEditorError
from .params import number

SPEED_RANGE = (0.1, 5.0)
DELAY_RANGE = (MIN_DELAY_MS, 60_000)
HOLD_RANGE = (10, 60_000)
NTH_RANGE = (1, 100)


def speed_delay(delay_ms: int, factor: float) -> int:
    """New delay: scaled, rounded to 10 ms (GIF centiseconds), at least 20 ms; 0 ms counts as 100 ms."""
    delay = delay_ms if delay_ms > 0 else UNSET_DELAY_MS
    return max(MIN_DELAY_MS, math.floor(delay / factor / 10 + 0.5) * 10)  # half up: 25 ms -> 30


def played_ms(delay_ms: int) -> int:
    """How long a browser shows a frame whose delay is written as ``delay_ms`` after the floor below:
    what merged frames add up, so merging never changes the length a viewer sees."""
    return UNSET_DELAY_MS if delay_ms <= 0 else max(MIN_DELAY_MS, delay_ms)


def playable_delays(durations: list[int], keep_fast: bool = False) -> tuple[list[int], int, int]:
    """(delays as written, how many were raised from under 20 ms to 20, how many unset ones became 100).

    With ``keep_fast`` the delays are written as they are (and browsers slow the fast ones down)."""
    if keep_fast:
        return list(durations), 0, 0
    raised = sum(1 for d in durations if 0 < d < MIN_DELAY_MS)
    unset = sum(1 for d in durations if d <= 0)
    return [played_ms(d) for d in durations], raised, unset


def timing_notice(raised: int, unset: int, keep_hint: str) -> str | None:
    """The one-line notice for what ``playable_delays`` changed (None when nothing changed)."""
    parts = []
    if raised:
        parts.append(f"{raised} delay{'s' if raised > 1 else ''} under {MIN_DELAY_MS} ms raised to {MIN_DELAY_MS} ms "
                     "(browsers play 10 ms or less as 100 ms)")
    if unset:
        parts.append(f"{unset} unset 0 ms delay{'s' if unset > 1 else ''} written as the {UNSET_DELAY_MS} ms "
                     "browsers play")
    return f"timing: {', '.join(parts)}; {keep_hint} keeps them" if parts else None


def frame_number(op: str, value, n_frames: int) -> int:
    """A frame number checked against the clip (negative counts from the end)."""
    if isinstance(value, bool):
        value = None
    try:
        index = int(value)
        if index != float(value):
            raise ValueError
    except (TypeError, ValueError):
        raise GifEditorError(f"{op}: frame numbers must be whole numbers, got {value!r}") from None
    if not -n_frames <= index < n_frames:
        raise GifEditorError(f"{op}: frame {index} does not exist (the clip has frames 0-{n_frames - 1})")
    return index % n_frames


def _take(clip: Clip, indices: list[int], durations: list[int] | None = None) -> Clip:
    return replace(clip, frames=[clip.frames[i] for i in indices],
                   durations=durations if durations is not None else [clip.durations[i] for i in indices])


def op_trim(clip: Clip, p: dict) -> Clip:
    n = clip.n_frames
    start = number("trim", p, "start", 0, n - 1, default=0, integer=True)
    end = number("trim", p, "end", start + 1, n, default=n, integer=True)  # exclusive
    return _take(clip, list(range(start, end)))


def op_delete_frames(clip: Clip, p: dict) -> Clip:
    """Remove frames ``start`` up to ``end`` (exclusive) with their time; at least one frame stays."""
    n = clip.n_frames
    start = number("delete_frames", p, "start", 0, n - 1, integer=True)
    end = number("delete_frames", p, "end", start + 1, n, default=start + 1, integer=True)
    if end - start >= n:
        raise GifEditorError(f"delete_frames: deleting frames {start}-{end - 1} would leave no frame")
    return _take(clip, [i for i in range(n) if not start <= i < end])


def op_every_nth(clip: Clip, p: dict) -> Clip:
    """Keep frames 0, n, 2n, ...; each kept frame also plays the time of the dropped ones after it,
    so the clip lasts as long as before (each delay counted as it plays: ``played_ms``)."""
    step = number("every_nth", p, "n", *NTH_RANGE, integer=True)
    if step == 1 or clip.n_frames == 1:
        return clip
    kept = list(range(0, clip.n_frames, step))
    played = [played_ms(d) for d in clip.durations]
    return _take(clip, kept, [sum(played[i:i + step]) for i in kept])


def op_reverse(clip: Clip, p: dict) -> Clip:
    return _take(clip, list(range(clip.n_frames - 1, -1, -1)))


def op_boomerang(clip: Clip, p: dict) -> Clip:
    """Forward then backward, without repeating the two end frames (which would stutter)."""
    return _take(clip, list(range(clip.n_frames)) + list(range(clip.n_frames - 2, 0, -1)))


def op_speed(clip: Clip, p: dict) -> Clip:
    factor = number("speed", p, "factor", *SPEED_RANGE)
    if factor == 1.0:
        return clip
    return replace(clip, durations=[speed_delay(d, factor) for d in clip.durations])


def _frame_map(op: str, p: dict) -> dict:
    frames = p.get("frames") or {}
    if not isinstance(frames, dict):
        raise GifEditorError(f'{op}: "frames" must map frame numbers to delays in ms, got {frames!r}')
    return frames


def op_delay(clip: Clip, p: dict) -> Clip:
    """Set delays in ms: ``all`` for every frame, then ``frames`` {number: ms} for single frames."""
    durations = list(clip.durations)
    if p.get("all") is not None:
        durations = [number("delay", p, "all", *DELAY_RANGE, integer=True)] * clip.n_frames
    for key, ms in _frame_map("delay", p).items():
        durations[frame_number("delay", key, clip.n_frames)] = number("delay", {"ms": ms}, "ms", *DELAY_RANGE,
                                                                      integer=True)
    return replace(clip, durations=durations)


def op_hold(clip: Clip, p: dict) -> Clip:
    """Hold frames longer: ``frames`` {number: extra ms}, e.g. {"-1": 1000} pauses a second on the last frame."""
    durations = list(clip.durations)
    for key, ms in _frame_map("hold", p).items():
        i = frame_number("hold", key, clip.n_frames)
        durations[i] = played_ms(durations[i]) + number("hold", {"ms": ms}, "ms", *HOLD_RANGE, integer=True)
    return replace(clip, durations=durations)
