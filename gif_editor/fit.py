"""A size that fits: the best-looking GIF within a byte limit ("at most 8 MB").

    clip = gif_editor.apply(clip, [{"op": "max_size", "bytes": 8_000_000}])   # or "size": "8MB"
    gif_editor.save(clip, "small.gif")   # clip.info["fit"] says what was chosen

The search, cheapest loss of looks first: a ladder of encoder settings (colours, lossy level; best
first), at full size and every frame; when even the ladder's last rung is too big, fewer frames
(every 2nd, 3rd, 4th, their delays summed so the length is unchanged) and a smaller scale, by as
much as the last try says is needed. At each shape a binary search finds the best rung that fits.
When the first shape that fits needed a poor rung, the next smaller shape is tried too, and the
two are compared by what a viewer sees: the mean colour error against the source, frames scaled
back to the source size and taken at the source's frame times (optimize.mean_error). The one
with the smaller error is kept. A clip that does not fit even at the smallest shape is an error.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from .clip import Clip
from .errors import GifEditorError
from .geometry import scale_frames
from .optimize import DEFAULTS, encode, mean_error
from .params import number
from .timing import op_every_nth

# (colours, lossy), best-looking first; measured with benchmarks/bench_gif_editor.py --optimize
# (docs/gif_editor.md): error grows along the ladder on noisy and on photographic clips alike.
LADDER = ((256, 0), (256, 30), (128, 40), (64, 50), (64, 80), (32, 100), (16, 140), (8, 200))
# Shapes to fall back to: (scale, keep every n-th frame), ordered by the share of pixels they keep.
SCALES = (1.0, 0.85, 0.7, 0.6, 0.5, 0.42, 0.35, 0.3, 0.25, 0.2, 0.15)
STEPS = (1, 2, 3, 4)
SHAPES = sorted(((s, n) for s in SCALES for n in STEPS), key=lambda sn: (-(sn[0] ** 2 / sn[1]), sn[1]))
MIN_SIDE = 16     # shapes that would shrink the longer side below this are not tried
POOR_RUNG = 4     # from (64, 80) down, also try the next smaller shape and keep the better-looking
MIN_BYTES = 1_000
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 10**6, "mb": 10**6, "mib": 2**20,
          "g": 10**9, "gb": 10**9, "gib": 2**30}


def parse_size(text: str | int | float) -> int:
    """Bytes from "8MB", "500 kB", "1.5MiB" or a number of bytes (MB = 1,000,000; MiB = 1,048,576)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return int(text)
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in _UNITS:
        raise GifEditorError(f"max_size: not a size: {text!r} (use e.g. 8MB, 500KB or 2MiB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def fit_settings(params: dict, optimize: dict | None = None) -> dict:
    """Checked max_size settings: the limit in bytes and the encoder choices (the optimize op's, if any)."""
    raw = params.get("bytes", params.get("size"))
    if raw is None:
        raise GifEditorError("max_size: give 'bytes' (or 'size', e.g. \"8MB\")")
    limit = number("max_size", {"bytes": parse_size(raw)}, "bytes", MIN_BYTES, 10**10, integer=True)
    base = optimize or DEFAULTS
    return {"bytes": limit, "backend": base.get("backend", "auto"), "transparency": base.get("transparency", True),
            "duplicates": params.get("duplicates", DEFAULTS["duplicates"]) if optimize is None else None}


@dataclass
class Try:
    scale: float
    step: int
    colors: int
    lossy: int
    size: int
    data: bytes = field(repr=False)
    encoder: str = ""
    error: float | None = None

    def describe(self, source: Clip) -> str:
        parts = [f"{self.colors} colours", f"lossy {self.lossy}"]
        if self.step > 1:
            parts.append(f"every {_nth(self.step)} frame")
        if self.scale < 1:
            w, h = _scaled_size(source.size, self.scale)
            parts.append(f"{round(100 * self.scale)}% size ({w}x{h})")
        return ", ".join(parts) + f", {self.encoder}"


def _nth(n: int) -> str:
    return {2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def _scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


class _Search:
    def __init__(self, clip: Clip, settings: dict) -> None:
        self.clip, self.settings, self.limit = clip, settings, settings["bytes"]
        self.tries: list[Try] = []
        self._shapes: dict[tuple[float, int], Clip] = {}

    def shaped(self, scale: float, step: int) -> Clip:
        if (scale, step) not in self._shapes:
            out = op_every_nth(self.clip, {"n": step}) if step > 1 else self.clip
            self._shapes[(scale, step)] = scale_frames(out, _scaled_size(self.clip.size, scale))
        return self._shapes[(scale, step)]

    def attempt(self, scale: float, step: int, rung: int) -> Try:
        colors, lossy = LADDER[rung]
        data, used = encode(self.shaped(scale, step), colors=colors, lossy=lossy,
                            transparency=self.settings["transparency"], backend=self.settings["backend"],
                            duplicates=self.settings["duplicates"])
        t = Try(scale, step, colors, lossy, len(data), data, used)
        self.tries.append(t)
        return t

    def best_rung(self, scale: float, step: int, below: int = len(LADDER)) -> Try | None:
        """The best-looking rung (above ``below``) that fits at this shape, by binary search
        (sizes shrink along the ladder), or None when even the last rung tried is too big."""
        last = self.attempt(scale, step, below - 1)
        if last.size > self.limit:
            return None
        lo, hi, best = 0, below - 1, last  # hi fits
        while lo < hi:
            mid = (lo + hi) // 2
            t = self.attempt(scale, step, mid)
            if t.size <= self.limit:
                hi, best = mid, t
            else:
                lo = mid + 1
        return best

    def shapes_from(self, share: float) -> list[tuple[float, int]]:
        """Shapes keeping at most ``share`` of the pixels x frames, largest first, big enough to see."""
        longest = max(self.clip.size)
        return [(s, n) for s, n in SHAPES if s * s / n <= share + 1e-9 and (s == 1 or longest * s >= MIN_SIDE)
                and (n == 1 or self.clip.n_frames >= 2 * n)]

    def run(self) -> Try:
        share, fitting = 1.0, []
        smallest = self.shapes_from(1.0)[-1]
        while True:
            shapes = self.shapes_from(share)
            if not shapes and not any((t.scale, t.step) == smallest for t in self.tries):
                shapes = [smallest]  # the estimate may be pessimistic: the smallest shape gets one try
            if not shapes:
                break
            scale, step = shapes[0]
            found = self.best_rung(scale, step)
            if found is None:
                worst = self.tries[-1]
                # Bytes follow pixels x frames roughly linearly: aim a little under the limit.
                share = min(scale * scale / step * 0.999, scale * scale / step * 0.92 * self.limit / worst.size)
                continue
            fitting.append(found)
            rung = LADDER.index((found.colors, found.lossy))
            if rung >= POOR_RUNG and len(fitting) == 1:
                smaller = self.shapes_from(scale * scale / step * 0.999)
                if smaller:
                    other = self.best_rung(*smaller[0], below=rung)
                    if other is not None:
                        fitting.append(other)
            break
        if not fitting:
            smallest = min(self.tries, key=lambda t: t.size)
            raise GifEditorError(f"cannot fit the GIF in {mb(self.limit)}: the smallest try "
                                 f"({smallest.describe(self.clip)}) is {mb(smallest.size)}; trim it, "
                                 f"or allow more")
        if len(fitting) == 1:
            return fitting[0]
        for t in fitting:
            t.error = mean_error(self.clip, t.data, scale_to_source=True)
        return min(fitting, key=lambda t: t.error)


def encode_to_fit(clip: Clip, settings: dict) -> tuple[bytes, str]:
    """GIF bytes within ``settings["bytes"]`` and a line saying what was chosen; GifEditorError if none fits."""
    start = time.perf_counter()
    search = _Search(clip, settings)
    best = search.run()
    seconds = time.perf_counter() - start
    note = (f"max size {mb(settings['bytes'])}: {mb(best.size)} ({100 * best.size / settings['bytes']:.0f}% of it) "
            f"with {best.describe(clip)}; {len(search.tries)} tries in {seconds:.1f} s")
    return best.data, note
