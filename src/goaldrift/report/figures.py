"""The figures of a run report, by the names world families list (``Family.plots``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import goaldrift.report.grid_plots as grid_plots
import goaldrift.report.qa_plots as qa_plots
from goaldrift.report.plots import Plot, RunFolder, plot_awareness, plot_flag

# name -> (file, function of (run folder, path)); "outcomes" is drawn from the outcome table
FIGURES: dict[str, tuple[str, Callable[[RunFolder, Path], Plot]]] = {
    "flag": ("flag.png", plot_flag),
    "awareness": ("awareness.png", plot_awareness),
    "tamper": ("tamper.png", qa_plots.plot_tamper),
    "performance": ("performance.png", qa_plots.plot_performance),
    "rates": ("rates.png", qa_plots.plot_rates),
    "returns": ("returns.png", grid_plots.plot_returns),
    "tamper_episodes": ("tamper.png", grid_plots.plot_tamper_episodes),
}
OUTCOMES_FIGURE = "outcomes"
