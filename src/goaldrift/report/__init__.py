"""Reports: PNG plots and an HTML page per run folder, and an index linking several."""

from goaldrift.report.html import write_index, write_report

__all__ = ["write_index", "write_report"]
