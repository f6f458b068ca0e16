"""Read banyan checkpoints (HDF5) from Python, draw gene circuits, make the run report.

    import banyan
    run = banyan.open("run.h5")          # one consistent view: the run's last checkpoint
    run.results                          # finished jobs (pandas DataFrame, or numpy records)
    run.timeline, run.engines, run.best  # statistics tables; run.config: the saved options
    banyan.draw_circuit("*ABC::ABi_BCi_CAi", ax=ax)

A checkpoint is untrusted data: this package only reads it (h5py, read-only, no file
locks), never loads a plug-in or runs a command the file names, bounds every size it reads
from the file before using it, and refuses what docs/checkpoint-format.md does not allow
(soft or external links, a /results that is not the virtual view over the run's own
segments). `python3 -m banyan.report FILE -o DIR` writes the HTML report, `python3 -m
banyan.watch FILE` shows a running search in a terminal (`banyan report` and `banyan watch`
run these).
"""
from banyan.reader import (CheckpointError, MAX_ROWS, Run, open)  # noqa: F401  (re-exported)
from banyan.campaign import (Campaign, open_campaign)  # noqa: F401
from banyan.circuit import (Circuit, CircuitDrawing, draw_circuit, parse_circuit)  # noqa: F401
from banyan.stats import (mean_interval, t_interval, wilson_interval)  # noqa: F401

__all__ = ["open", "open_campaign", "Campaign", "Run", "CheckpointError", "MAX_ROWS", "draw_circuit", "parse_circuit", "Circuit",
           "CircuitDrawing", "wilson_interval", "t_interval", "mean_interval"]
