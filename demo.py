"""The main job on the embedded default, end to end and offline.

labeled moving digits -> train (tiny on a CPU, bigger on a GPU) -> GIFs for a few prompts
-> one gif_editor edit -> outputs/ with GIFs, a contact sheet and a loss plot.

    python demo.py [--minutes 15] [--out outputs]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROMPTS = ["digit 0 moving right", "digit 3 moving up", "digit 5 moving left", "digit 7 moving down"]
EDIT = [
    {"op": "resize", "width": 128, "keep_aspect": True},
    {"op": "text", "text": "vdiff demo", "font_size": 14, "opacity": 200, "position": "bottom-right"},
    {"op": "speed", "factor": 0.5},
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("outputs"), help="where everything is written")
    parser.add_argument("--minutes", type=float, default=None,
                        help="training budget (default: 15 on a CPU, 30 on a GPU)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop training after this many steps")
    parser.add_argument("--clips", type=int, default=None, help="labeled clips to generate")
    parser.add_argument("--preset", default=None, help="override the preset chosen for the device")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import data_prep
    import gif_editor
    import vdiff
    from vdiff.colab import suggest_preset
    from vdiff.env import env_report
    from vdiff.plot import plot_losses
    from vdiff.video import contact_sheet, save_gif

    report = env_report()
    print(report)
    gpu = report.device == "cuda"
    preset = args.preset or suggest_preset(report)
    config = vdiff.get_preset(preset)
    minutes = args.minutes if args.minutes is not None else (30.0 if gpu else 15.0)
    num_clips = args.clips or (4000 if preset == "tiny" else 20000)

    out = args.out.resolve()
    data_dir, run_dir, gen_dir = out / "data", out / "run", out / "generated"
    print(f"1/4 preparing {num_clips} labeled moving-digit clips in {data_dir}")
    data_prep.prepare_moving_mnist(data_dir, num=num_clips, size=config.image_size,
                                   frames=config.num_frames, seed=0)

    print(f"2/4 training preset {preset!r} for up to {minutes:g} minutes in {run_dir}")
    vdiff.Trainer(config, data_dir, run_dir, max_minutes=minutes, max_steps=args.max_steps).fit()

    print(f"3/4 generating GIFs for {len(PROMPTS)} prompts in {gen_dir}")
    gen_dir.mkdir(parents=True, exist_ok=True)
    pipe = vdiff.load_pipeline(run_dir)
    clips = pipe(PROMPTS, num=1, steps=20, sampler="ddim", guidance=2.0, seed=0)
    gifs = []
    for clip, prompt in zip(clips, PROMPTS):
        gifs.append(gen_dir / (prompt.replace(" ", "_") + ".gif"))
        save_gif(clip, gifs[-1], fps=8)
    sheet = contact_sheet(list(clips), PROMPTS, out / "contact_sheet.png")
    losses = plot_losses(run_dir, out / "loss.png")

    print("4/4 editing one GIF with gif_editor")
    edited = out / "edited.gif"
    gif_editor.save(gif_editor.apply(gif_editor.load(gifs[0]), EDIT), edited)

    print("\nDone. Outputs:")
    for label, path in [("generated GIFs", gen_dir), ("contact sheet", sheet), ("loss plot", losses),
                        ("edited GIF", edited), ("run folder", run_dir)]:
        print(f"  {label:15s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
