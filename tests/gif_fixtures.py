"""Small GIFs built in memory for the gif_editor tests (no files from the internet)."""
from __future__ import annotations

import io

from PIL import Image, ImageDraw


def make_frames(n: int = 4, size: tuple[int, int] = (64, 48), transparent: bool = False) -> list[Image.Image]:
    """Frames with a moving square (every frame differs, so Pillow merges none of them)."""
    w, h = size
    frames = []
    for i in range(n):
        bg = (0, 0, 0, 0) if transparent else (30 + (i * 37) % 200, 60, 90, 255)
        im = Image.new("RGBA", size, bg)
        draw = ImageDraw.Draw(im)
        x = (i * max(1, w // max(n, 1))) % max(1, w - 8)
        draw.rectangle((x, h // 4, x + max(2, w // 6), h // 4 + max(2, h // 3)), fill=(250, 200 - i % 150, 40, 255))
        frames.append(im)
    return frames


def make_gif(n: int = 4, size: tuple[int, int] = (64, 48), durations: list[int] | int = 100,
             loop: int | None = 0, transparent: bool = False) -> bytes:
    """GIF bytes; transparent GIFs keep their background see-through (index 255, disposal 2)."""
    frames = make_frames(n, size, transparent)
    if isinstance(durations, int):
        durations = [durations] * n
    if transparent:
        pal = []
        for f in frames:
            p = f.convert("RGB").quantize(255)
            p.paste(255, mask=f.getchannel("A").point(lambda a: 255 if a < 128 else 0, "1"))
            pal.append(p)
        frames_out, extra = pal, {"transparency": 255, "disposal": 2}
    else:
        frames_out, extra = [f.convert("RGB") for f in frames], {}
    kwargs = {"save_all": True, "append_images": frames_out[1:], "duration": durations, **extra}
    if loop is not None:
        kwargs["loop"] = loop
    buf = io.BytesIO()
    frames_out[0].save(buf, format="GIF", **kwargs)
    return buf.getvalue()


def gif_info(data: bytes) -> dict:
    """What a viewer sees: size, frame count, per-frame durations, loop, and whether alpha is used."""
    with Image.open(io.BytesIO(data)) as im:
        durations, alpha_min = [], 255
        for index in range(im.n_frames):
            im.seek(index)
            durations.append(im.info.get("duration", 0))
            alpha_min = min(alpha_min, im.convert("RGBA").getextrema()[3][0])
        return {"size": im.size, "n_frames": im.n_frames, "durations": durations, "total": sum(durations),
                "loop": im.info.get("loop"), "transparent": alpha_min < 128, "format": im.format}


def as_saved(durations: list[int]) -> list[int]:
    """The delays gif_editor writes by default: under 20 ms raised to 20 (browsers play 10 ms or less
    as 100 ms), an unset 0 ms written as the 100 ms viewers show."""
    return [100 if d == 0 else max(20, d) for d in durations]
