"""Contact sheets of what a run trained with given frames does: long clips, continued and filled-in real clips.

    python benchmarks/given_frames_sheet.py --run RUN --data data/long_eval [--frames 24] [--given 8]
        [--clips 4] [--steps 20] [--out docs/images/tiny_frames]

Writes two PNGs (one row per clip, every other frame, the caption beneath):
  * ``OUT_long.png``: ``pipe(prompts, num_frames=FRAMES)`` for ``--clips`` prompts of the data folder, two
    samples each (one seed per prompt); a row shows frames 0, 2, 4, ... of one clip;
  * ``OUT_continue.png``: for ``--clips`` real clips whose path fits (the evaluator's choice), the real clip,
    then its first ``--given`` frames continued by ``pipe.extend``, then its first and last frame of the
    model's window given and the frames between made by ``pipe.interpolate``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout
from clipkit.sheet import contact_sheet
from vdiff import load_pipeline
from vdiff.evaluation.labeled import load_tracked, read_prompts, spread


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True)
    p.add_argument("--data", required=True, help="labeled pairs folder with clips longer than the window")
    p.add_argument("--frames", type=int, default=24, help="length of the long clips")
    p.add_argument("--given", type=int, default=8, help="real frames given to the continuation")
    p.add_argument("--clips", type=int, default=4)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--out", default="docs/images/tiny_frames")
    args = p.parse_args(argv)

    pipe = load_pipeline(args.run)
    window, size = pipe.config.num_frames, pipe.config.image_size
    prompts = spread(read_prompts(args.data), args.clips)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    captions = [q.caption for q in prompts for _ in range(2)]
    long = np.concatenate([pipe(q.caption, num=2, seed=s, steps=args.steps, num_frames=args.frames, progress=False)
                           for s, q in enumerate(prompts)])
    contact_sheet([c[::2] for c in long], [f"{c} ({args.frames} frames)" for c in captions],
                  f"{out}_long.png", frames=args.frames // 2)

    real = load_tracked(prompts, 1, size, min_frames=args.given + window)
    clips = real.clips
    names = [prompts[i].caption for i in real.owner]
    continued = pipe.extend(clips[:, :args.given], names, clips.shape[1] - args.given, steps=args.steps,
                            progress=False)
    joined = pipe.interpolate(clips[:, :1], clips[:, window - 1:window], window - 2, prompts=names,
                              steps=args.steps, progress=False)
    length = clips.shape[1]
    joined = np.concatenate([joined, np.repeat(joined[:, -1:], length - joined.shape[1], axis=1)], axis=1)
    rows, labels = [], []
    for i, name in enumerate(names):
        rows += [clips[i], continued[i], joined[i]]
        labels += [f"real: {name}", f"first {args.given} given, {length - args.given} continued",
                   f"frames 0 and {window - 1} given, {window - 2} filled in (then held)"]
    contact_sheet([r[::2] for r in rows], labels, f"{out}_continue.png", frames=length // 2)
    print(f"wrote {out}_long.png and {out}_continue.png")


if __name__ == "__main__":
    main()
