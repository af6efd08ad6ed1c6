"""What data_prep, vdiff and gif_editor share, torch-free (Pillow and numpy only).

    clipkit.atomic    atomic_write: temp file + rename
    clipkit.gif       the one GIF reader (pixel budget checked before decoding) and writer,
                      the frame-duration rules
    clipkit.sheet     animated GIF grids and captioned contact sheets of uint8 clips
    clipkit.mp4       the one MP4 writer (H.264, yuv420p, odd sides padded with the edge)
    clipkit.fonts     the caption / watermark font (DejaVu Sans, else Pillow's default)
    clipkit.manifest  the pairs folder's manifest.jsonl reader and the labeled digits' DIRECTIONS
    clipkit.cli       OneLineParser: a usage mistake is one line and exit status 2

Nothing here imports vdiff, data_prep or gif_editor, so each of them can import it.
"""
