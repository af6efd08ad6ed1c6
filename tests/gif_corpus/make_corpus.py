"""Writes the GIF corpus beside this file: GIFs made by other encoders, and hand-built edge cases.

    python tests/gif_corpus/make_corpus.py        # needs gifsicle and ImageMagick (apt-get install
                                                  # gifsicle imagemagick); ffmpeg comes from imageio-ffmpeg

The files are committed, so tests/test_gif_editor_corpus.py needs none of those tools. Each file is
small (under 40 kB). What each one exercises is in CORPUS.md beside it (written by this script).

Encoders: gifsicle (frame differencing with offsets and transparency, local colour tables,
disposal "previous"), ImageMagick (its own LZW, -layers Optimize, zero delays, transparency),
ffmpeg (its GIF muxer: sub-rectangles and transparency), Pillow and imageio. Hand-built bytes
(our own GIF writer below, following the GIF89a specification) cover what encoders rarely
write: a frame that grows the canvas past the logical screen, comment and unknown application
extensions, frames at offsets, interlacing, disposal 3, a decompression-bomb header, and damage.
"""
from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
NOTES: dict[str, str] = {}


# ------------------------------------------------------------------ a small GIF89a writer

def _lzw(indices: bytes, min_code_size: int) -> bytes:
    """LZW-coded image data: codes stay min_code_size+1 bits wide, with a clear code before the table
    would widen them (valid GIF LZW, the "uncompressed GIF" scheme), packed into sub-blocks."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    width = min_code_size + 1
    room = (1 << width) - end - 2  # codes a decoder adds before it would widen
    codes, since_clear = [clear], 0
    for value in indices:
        if since_clear == room:
            codes.append(clear)
            since_clear = 0
        codes.append(value)
        since_clear += 1
    codes.append(end)
    bits, nbits, out = 0, 0, bytearray()
    for code in codes:
        bits |= code << nbits
        nbits += width
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        out.append(bits & 0xFF)
    blocks = bytearray([min_code_size])
    for i in range(0, len(out), 255):
        chunk = out[i:i + 255]
        blocks += bytes([len(chunk)]) + chunk
    return bytes(blocks + b"\x00")


def _table(colours: list[tuple[int, int, int]]) -> tuple[bytes, int]:
    """A colour table padded to a power of two, and its size field."""
    n = max(2, 1 << (len(colours) - 1).bit_length())
    table = b"".join(bytes(c) for c in colours) + b"\x00\x00\x00" * (n - len(colours))
    return table, n.bit_length() - 2


def build_gif(screen: tuple[int, int], frames: list[dict], *, palette: list | None = None, loop: int | None = 0,
              comments: tuple[str, ...] = (), extra_app: bool = False, version: bytes = b"GIF89a") -> bytes:
    """GIF bytes. A frame is a dict: ``pixels`` (2-D uint8 indices), ``pos`` (left, top), ``delay`` (ms),
    ``disposal`` (0-3), ``transparent`` (an index or None), ``palette`` (a local table) and ``interlace``."""
    out = bytearray(version)
    gflags = 0
    gtable = b""
    if palette is not None:
        gtable, size = _table(palette)
        gflags = 0x80 | 0x70 | size
    out += struct.pack("<HHBBB", screen[0], screen[1], gflags, 0, 0) + gtable
    if loop is not None:
        out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", loop) + b"\x00"
    if extra_app:  # an application block no reader knows: it must be skipped
        out += b"\x21\xff\x0bXMP DataXMP" + b"\x05hello" + b"\x00"
    for text in comments:
        data = text.encode("ascii")
        out += b"\x21\xfe" + b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255]
                                      for i in range(0, len(data), 255)) + b"\x00"
    for f in frames:
        pixels = np.asarray(f["pixels"], dtype=np.uint8)
        h, w = pixels.shape
        transparent = f.get("transparent")
        packed = (f.get("disposal", 0) << 2) | (1 if transparent is not None else 0)
        out += b"\x21\xf9\x04" + struct.pack("<BHB", packed, round(f.get("delay", 100) / 10),
                                             transparent or 0) + b"\x00"
        lflags, ltable = 0, b""
        if f.get("palette") is not None:
            ltable, size = _table(f["palette"])
            lflags = 0x80 | size
        rows = pixels
        if f.get("interlace"):
            lflags |= 0x40
            order = list(range(0, h, 8)) + list(range(4, h, 8)) + list(range(2, h, 4)) + list(range(1, h, 2))
            rows = pixels[order]
        left, top = f.get("pos", (0, 0))
        out += b"\x2c" + struct.pack("<HHHHB", left, top, w, h, lflags) + ltable
        out += _lzw(rows.tobytes(), 8)
    return bytes(out + b"\x3b")


# ------------------------------------------------------------------ content

def moving_frames(n: int = 6, size: tuple[int, int] = (48, 32), transparent: bool = False) -> list[Image.Image]:
    """A ball crossing a striped background (RGBA), so every frame differs and has real colours."""
    w, h = size
    out = []
    for i in range(n):
        bg = (0, 0, 0, 0) if transparent else (40 + 20 * i, 90, 160 - 10 * i, 255)
        im = Image.new("RGBA", size, bg)
        d = ImageDraw.Draw(im)
        if not transparent:
            for x in range(0, w, 8):
                d.line((x, 0, x, h), fill=(200, 200, 60, 255))
        x = 4 + i * (w - 16) // max(1, n - 1)
        d.ellipse((x, h // 3, x + 10, h // 3 + 10), fill=(230, 40, 40, 255))
        out.append(im)
    return out


def _frames_to_png_dir(frames: list[Image.Image], folder: Path) -> list[str]:
    paths = []
    for i, f in enumerate(frames):
        p = folder / f"f{i:02d}.png"
        f.save(p)
        paths.append(str(p))
    return paths


def write(name: str, data: bytes, note: str) -> None:
    (HERE / name).write_bytes(data)
    NOTES[name] = note


def pillow_gif(frames: list[Image.Image], **kwargs) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], **kwargs)
    return buf.getvalue()


# ------------------------------------------------------------------ the corpus

def by_pillow_and_imageio(tmp: Path) -> None:
    import imageio.v2 as imageio

    write("pillow_transparent_disposal2.gif",
          pillow_gif(moving_frames(transparent=True), duration=[80, 120, 80, 120, 80, 200], loop=0, disposal=2),
          "Pillow: RGBA frames, disposal 2, transparency, uneven delays")
    write("pillow_optimized_no_loop.gif",
          pillow_gif([f.convert("RGB") for f in moving_frames(8)], duration=70, optimize=True),
          "Pillow with optimize=True and no loop block (plays once)")
    frames = [np.asarray(f.convert("RGB")) for f in moving_frames(5)]
    buf = io.BytesIO()
    imageio.mimsave(buf, frames, format="GIF", duration=40, loop=3)
    write("imageio_loop3.gif", buf.getvalue(), "imageio.mimsave: loop count 3, 40 ms delays")


def by_gifsicle(tmp: Path) -> None:
    exe = shutil.which("gifsicle")
    assert exe, "apt-get install gifsicle"
    src = tmp / "src.gif"
    src.write_bytes(pillow_gif([f.convert("RGB") for f in moving_frames(8, (64, 40))], duration=60, loop=0))
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    runs = {
        "gifsicle_O3_lossy.gif": (["--no-warnings", "-O3", "--lossy=60", "--colors=32"], "frame differencing with offsets, transparency, lossy LZW, 32 colours"),
        "gifsicle_local_colors_disposal_previous.gif": (["--no-warnings", "--disposal=previous", "--careful"],
                                                        "local colour tables (kept from the source) and disposal 3 (restore previous)"),
        "gifsicle_zero_delays.gif": (["--delay=0", "--no-loopcount"], "every delay 0 ms and no loop block"),
        "gifsicle_fast_delays.gif": (["--delay=1", "-O1"], "every delay 10 ms (browsers play them as 100 ms)"),
        "gifsicle_interlaced_comment.gif": (["--interlace", "--comment", "made by gifsicle", "-O1"],
                                            "interlaced frames and a comment extension"),
    }
    for name, (args, note) in runs.items():
        subprocess.run([exe, *args, str(src), "-o", str(HERE / name)], check=True)
        NOTES[name] = f"{version}: {note}"
    # Frames that grow: gifsicle's --crop/--position makes later frames larger than the first.
    small = tmp / "small.gif"
    small.write_bytes(pillow_gif([f.convert("RGB") for f in moving_frames(3, (24, 16))], duration=100, loop=0))
    big = tmp / "big.gif"
    big.write_bytes(pillow_gif([f.convert("RGB") for f in moving_frames(3, (40, 30))], duration=100, loop=0))
    subprocess.run([exe, "--logical-screen", "24x16", str(small), "--position", "0,0", str(big), "#1",
                    "-o", str(HERE / "gifsicle_frame_larger_than_screen.gif")], check=True)
    NOTES["gifsicle_frame_larger_than_screen.gif"] = (f"{version}: frames of two sizes (24x16, then "
                                                      "40x30 at 0,0): gifsicle widens the logical screen to hold both")


def by_imagemagick(tmp: Path) -> None:
    exe = "/usr/bin/convert"
    assert Path(exe).exists(), "apt-get install imagemagick"
    version = subprocess.run([exe, "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    version = " ".join(version.split()[1:3])
    pngs = _frames_to_png_dir(moving_frames(6, (56, 36)), tmp)
    clear = _frames_to_png_dir(moving_frames(6, (56, 36), transparent=True), tmp / "t") if (tmp / "t").mkdir() is None else []
    runs = {
        "imagemagick_optimize_layers.gif": (["-delay", "8", "-loop", "0", *pngs, "-layers", "Optimize"],
                                            "-layers Optimize: cropped sub-frames, transparency"),
        "imagemagick_zero_delay.gif": (["-delay", "0", "-loop", "0", *pngs], "delay 0 on every frame"),
        "imagemagick_transparent_dispose_background.gif": (["-dispose", "Background", "-delay", "12", "-loop", "0", *clear],
                                                           "transparent frames, disposal 2"),
        "imagemagick_dispose_previous.gif": (["-dispose", "Previous", "-delay", "5", "-loop", "0", *pngs],
                                             "disposal 3 (previous) on every frame"),
    }
    for name, (args, note) in runs.items():
        subprocess.run([exe, *args, str(HERE / name)], check=True)
        NOTES[name] = f"ImageMagick {version}: {note}"


def by_ffmpeg(tmp: Path) -> None:
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    out = HERE / "ffmpeg_testsrc.gif"
    subprocess.run([exe, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=12:duration=1",
                    "-filter_complex", "split[a][b];[a]palettegen=max_colors=64[p];[b][p]paletteuse",
                    "-loop", "0", str(out)], check=True)
    NOTES[out.name] = f"ffmpeg {imageio_ffmpeg.get_ffmpeg_version()} (imageio-ffmpeg): its GIF muxer, palettegen/paletteuse, sub-rectangles"


def hand_built() -> None:
    rng = np.random.default_rng(0)
    pal = [(0, 0, 0), (255, 255, 255), (220, 30, 30), (30, 200, 60), (40, 60, 220), (250, 220, 40)]

    def block(w: int, h: int, colour: int, spot: int) -> np.ndarray:
        arr = np.full((h, w), colour, np.uint8)
        arr[h // 4: h // 4 + 4, spot: spot + 4] = 1
        return arr

    # The canvas grows: a 16x16 logical screen, the second frame 24x24 at (8, 8).
    write("hand_growing_canvas.gif", build_gif((16, 16), [
        {"pixels": block(16, 16, 2, 2), "delay": 100},
        {"pixels": block(24, 24, 3, 10), "pos": (8, 8), "delay": 100},
    ], palette=pal), "hand-built: the second frame (24x24 at 8,8) reaches past the 16x16 logical screen")
    # Comments, an unknown application block, zero and 10 ms delays, local palettes, offsets, transparency.
    local = [(10 * i, 255 - 10 * i, 128) for i in range(16)]
    write("hand_comments_zero_delays_local_palettes.gif", build_gif((20, 12), [
        {"pixels": rng.integers(0, 6, (12, 20)), "delay": 0},
        {"pixels": rng.integers(0, 16, (6, 8)), "pos": (4, 3), "delay": 10, "palette": local, "transparent": 0},
        {"pixels": rng.integers(0, 6, (12, 20)), "delay": 0, "disposal": 2},
        {"pixels": rng.integers(0, 6, (12, 20)), "delay": 30, "disposal": 3},
    ], palette=pal, comments=("first comment", "x" * 300), extra_app=True),
        "hand-built: comment extensions (one over 255 bytes), an unknown application block, delays 0/10/0/30 ms, "
        "a local palette, an offset sub-frame with transparency, disposal 2 and 3")
    write("hand_interlaced_gif87a_single.gif", build_gif((9, 7), [
        {"pixels": rng.integers(0, 6, (7, 9)), "interlace": True}], palette=pal, loop=None, version=b"GIF87a"),
        "hand-built: GIF87a, one interlaced frame, no loop block")
    write("hand_identical_frames.gif", build_gif((12, 12), [
        {"pixels": block(12, 12, 4, 3), "delay": 50}, {"pixels": block(12, 12, 4, 3), "delay": 50},
        {"pixels": block(12, 12, 4, 6), "delay": 200}], palette=pal),
        "hand-built: two identical frames in a row (Pillow's writer merges them: time must survive)")
    # Decompression bombs: a huge logical screen, and many frames of a large screen in a few bytes.
    write("bomb_huge_screen.gif", build_gif((65535, 65535), [{"pixels": np.zeros((1, 1), np.uint8)}], palette=pal),
          "hand-built bomb: a 65535x65535 logical screen holding a 1x1 frame")
    tiny = {"pixels": np.zeros((1, 1), np.uint8), "delay": 20}
    write("bomb_many_frames.gif", build_gif((4000, 3000), [tiny] * 400, palette=pal),
          "hand-built bomb: 400 frames on a 4000x3000 screen (4.8 billion pixels decoded) in a few kB")
    good = build_gif((16, 16), [{"pixels": block(16, 16, 2, 2)}, {"pixels": block(16, 16, 3, 8)}], palette=pal)
    write("damaged_truncated.gif", good[: len(good) * 2 // 3], "a valid GIF cut off in its second frame")
    write("damaged_header_only.gif", good[:13] + b"\x00" * 40, "a GIF header followed by zeros")
    write("not_a_gif.gif", b"<html><body>404 Not Found</body></html>\n", "an HTML page saved under a .gif name")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        by_pillow_and_imageio(tmp_path)
        by_gifsicle(tmp_path)
        by_imagemagick(tmp_path)
        by_ffmpeg(tmp_path)
    hand_built()
    lines = ["# GIF corpus", "", "Written by `python tests/gif_corpus/make_corpus.py`; read by "
             "`tests/test_gif_editor_corpus.py`.", "", "| file | bytes | what it exercises |", "|---|---|---|"]
    for name in sorted(NOTES):
        lines.append(f"| `{name}` | {(HERE / name).stat().st_size:,} | {NOTES[name]} |")
    (HERE / "CORPUS.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(NOTES)} files to {HERE}", file=sys.stderr)


if __name__ == "__main__":
    main()
