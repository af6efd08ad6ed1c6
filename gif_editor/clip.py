"""The in-memory clip every operation reads and returns."""
from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image


@dataclass
class Clip:
    """RGBA frames with their own delays.

    frames: RGBA images, all the same size.
    durations: one delay per frame in milliseconds (GIF stores 1/100 s, so multiples of 10).
    loop: the GIF loop count (0 = forever); None means the source had no loop block (play once).
    transparent: whether the source had transparent pixels; saving then uses disposal 2.
    """

    frames: list[Image.Image]
    durations: list[int]
    loop: int | None = 0
    transparent: bool = False
    info: dict = field(default_factory=dict)  # free-form notes (source format), never saved

    def __post_init__(self) -> None:
        if not self.frames:
            raise ValueError("a clip needs at least one frame")
        if len(self.durations) != len(self.frames):
            raise ValueError(f"{len(self.frames)} frames but {len(self.durations)} durations")
        if any(f.size != self.frames[0].size for f in self.frames):
            raise ValueError(f"frames differ in size: {sorted({f.size for f in self.frames})}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of every frame."""
        return self.frames[0].size

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    @property
    def total_duration(self) -> int:
        """Total play time of one loop in milliseconds."""
        return int(sum(self.durations))

    def describe(self) -> str:
        w, h = self.size
        loop = "plays once" if self.loop is None else ("loops forever" if self.loop == 0 else f"loops {self.loop}x")
        alpha = ", transparent" if self.transparent else ""
        return f"{w}x{h}, {self.n_frames} frames, {self.total_duration / 1000:.2f} s, {loop}{alpha}"
