"""Reports: PNG plots and an HTML page per run or sweep folder, and an index linking several."""

from goaldrift.report.html import write_index, write_report
from goaldrift.report.sweep_report import write_sweep_report

__all__ = ["write_index", "write_report", "write_sweep_report"]
