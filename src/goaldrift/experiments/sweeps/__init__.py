"""Sweeps: a scenario over a grid of settings x seeds, run in resumable chunks."""

MAX_SEEDS = 1_000_000  # runs per point (`sweep.seeds`, `--seeds`)
