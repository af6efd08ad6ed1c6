"""Peak system RAM of the notebooks on the `moving_mnist` preset's data (Colab's free tier has ~12.7 GB).

    python benchmarks/colab_memory.py --work DIR --out docs/results/colab_memory.json [--num-clips 4000]

01: the notebook itself, run by papermill (PRESET = "moving_mnist", NUM_CLIPS clips of 64x64, 16
frames), its kernel's resident memory (with any processes it starts) sampled every 50 ms.
02: the calls its cells make on that data, in this process, sampled the same way: the data copied to
"local disk" (``cache_dataset``), ``training_config``, a ``Trainer`` with the live plot and the Drive
mirror, one optimizer step. On a GPU runtime the step's activations live in GPU memory, so the
step runs here with one clip per micro-batch (what system RAM still holds on a GPU: the data cache,
the text encoder, the model, its EMA and AdamW state before they move, Python's libraries); the peak
before the first step is reported beside the peak with that step. CUDA's own libraries, loaded on a
GPU runtime only, are not in these numbers.
03 and 04: the notebooks under papermill on the run 02 left (moving_mnist's model), 03 without its
1000-step DDPM comparison (hours on a CPU), 04 headless (its edit list, then one re-prompt).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPO = Path(__file__).resolve().parent.parent


def tree_rss(root: psutil.Process) -> int:
    """Resident bytes of ``root`` and every process below it (ones that end meanwhile count 0)."""
    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def is_kernel(proc: psutil.Process) -> bool:
    try:
        return "ipykernel" in " ".join(proc.cmdline())
    except psutil.Error:
        return False


class PeakRSS:
    """The largest resident set of a process and its children, sampled on a thread."""

    def __init__(self, pid: int | None = None, every_s: float = 0.05) -> None:
        self.root, self.every_s, self.peak, self.marks = psutil.Process(pid or os.getpid()), every_s, 0, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> int:
        return tree_rss(self.root)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(self.every_s)

    def mark(self, name: str) -> None:
        self.peak = max(self.peak, self.now())
        self.marks[name] = self.peak

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def run_notebook(work: Path, name: str, parameters: dict) -> dict:
    """A notebook under papermill; its kernel's peak resident memory (papermill's own not counted)."""
    import papermill as pm
    from jupyter_client.kernelspec import KernelSpecManager

    kernel = "vdiff" if "vdiff" in KernelSpecManager().get_all_specs() else "python3"
    result: dict = {}

    def run() -> None:
        t0 = time.perf_counter()
        pm.execute_notebook(str(REPO / "notebooks" / name), str(work / f"out_{name}"), cwd=str(work),
                            kernel_name=kernel, progress_bar=False,
                            parameters={**parameters, "USE_DRIVE": False, "INSTALL_FROM": "", "SMOKE": False})
        result["seconds"] = time.perf_counter() - t0

    me = psutil.Process()
    thread = threading.Thread(target=run)
    thread.start()
    peak = 0
    while thread.is_alive():
        peak = max(peak, sum(tree_rss(k) for k in me.children(recursive=True) if is_kernel(k)))
        time.sleep(0.05)
    thread.join()
    return {"peak_rss_gb": peak / 1e9, "seconds": result.get("seconds"), "parameters": parameters}


def notebook_01(work: Path, num_clips: int) -> dict:
    """Notebook 01 with moving_mnist-sized clips."""
    data = work / "data_mm"
    out = run_notebook(work, "01_prepare_data.ipynb", {"PRESET": "moving_mnist", "NUM_CLIPS": num_clips,
                                                       "DATA_DIR": str(data)})
    gifs = list(data.glob("*.gif"))
    return {**out, "clips": len(gifs), "data_mb": sum(g.stat().st_size for g in gifs) / 1e6}


def notebook_02(work: Path) -> dict:
    """02's calls on 01's moving_mnist data: local copy, config, Trainer with its callbacks, one step."""
    import torch

    torch.set_num_threads(1)
    from vdiff.apps.colab import live_progress, training_config
    from vdiff.apps.drive_sync import RunMirror
    from vdiff.apps.local_first import cache_dataset, prepare_local_run
    from vdiff.train import Callback, Trainer

    data, run = work / "data_mm", work / "drive_run"

    class Mark(Callback):
        def on_start(self, trainer) -> None:
            meter.mark("setup_done")
            self.pairs = len(trainer.dataset)
            self.cache_mb = sum(c.nbytes for c in trainer.dataset.clips) / 1e6

    with PeakRSS() as meter:
        meter.mark("imports")
        local_data = cache_dataset(data, work / "local" / "data", progress=False)
        config = training_config("moving_mnist", data, run).replace(micro_batch=1, sample_every=0)
        local_run = prepare_local_run(run, work / "local" / "runs")
        mark = Mark()
        Trainer(config, local_data, local_run, max_steps=1,
                callbacks=[live_progress(every_s=0), RunMirror(local_run, run), mark]).fit()
    return {"peak_rss_gb": meter.peak / 1e9, "before_first_step_gb": meter.marks["setup_done"] / 1e9,
            "after_imports_gb": meter.marks["imports"] / 1e9, "pairs": mark.pairs, "clip_cache_mb": mark.cache_mb,
            "micro_batch": 1, "steps": 1}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", required=True, help="a scratch folder (the data lands there)")
    p.add_argument("--num-clips", type=int, default=4000, help="01's NUM_CLIPS (its default: 4000)")
    p.add_argument("--only", choices=("01", "02", "03", "04"), default=None)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    work = Path(args.work).absolute()
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.is_file() else {}
    report["machine"] = {"cpus": os.cpu_count(), "ram_gb": psutil.virtual_memory().total / 1e9}
    if args.only in (None, "01"):
        report["01_prepare_data"] = notebook_01(work, args.num_clips)
        print(report["01_prepare_data"], flush=True)
    if args.only in (None, "02"):
        report["02_train"] = notebook_02(work)
        print(report["02_train"], flush=True)
    # 03 and 04 on the moving_mnist-shaped run 02 left (one step trained: memory, not quality); on a CPU,
    # without 03's 1000-step DDPM comparison.
    run = str(work / "drive_run")
    if args.only in (None, "03"):
        report["03_generate"] = run_notebook(work, "03_generate.ipynb", {"RUN_DIR": run, "COMPARE_DDPM": False,
                                                                         "OUT_DIR": str(work / "generated")})
        print(report["03_generate"], flush=True)
    if args.only in (None, "04"):
        report["04_edit_gif"] = run_notebook(work, "04_edit_gif.ipynb", {
            "RUN_DIR": run, "GENERATED_DIR": str(work / "generated"), "INTERACTIVE": False,
            "OUTPUT_GIF": str(work / "edited" / "edited.gif")})
        print(report["04_edit_gif"], flush=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
