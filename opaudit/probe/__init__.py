"""Run the TFLite interpreter on a model in an isolated process (see `run.py`, `worker.py`)."""

from opaudit.probe.run import ProbeHandle, parse_failed_nodes, run_probe, start_probe

__all__ = ["run_probe", "start_probe", "ProbeHandle", "parse_failed_nodes"]
