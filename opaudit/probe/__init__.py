"""Run the TFLite interpreter on a model in an isolated process (see `run.py`, `worker.py`)."""

from opaudit.probe.run import parse_failed_nodes, run_probe

__all__ = ["run_probe", "parse_failed_nodes"]
