"""vdiff's training layer: the trainer and its parts (data, steps, EMA, lr schedule, budget, trackers,
checkpoints). Imports ``vdiff.core``, ``vdiff.models`` and ``vdiff.diffusion`` only."""
