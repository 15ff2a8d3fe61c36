"""The machine's nominal float32 peak, read from /proc/cpuinfo (Linux; 0 elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path

FLOP_PER_CYCLE = 32  # 2 FMA units x 8 float32 lanes (AVX2) x 2 FLOPs per FMA


def peak_gflops(cpuinfo: str | None = None, cores: int | None = None) -> tuple[float, str]:
    """(GFLOP/s, how it was computed): cores x nominal GHz x 32 FLOP/cycle.

    Nominal: the clock /proc/cpuinfo reports (no turbo), AVX2+FMA assumed; no kernel reaches
    it. `cpuinfo`/`cores` default to this machine's.
    """
    cores = cores or os.cpu_count() or 1
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    mhz = 0.0
    for line in cpuinfo.splitlines():
        if line.startswith("cpu MHz"):
            try:
                mhz = max(mhz, float(line.split(":")[1]))
            except (IndexError, ValueError):
                continue
    return cores * mhz / 1000 * FLOP_PER_CYCLE, f"nominal: {cores} cores x {mhz / 1000:.2f} GHz x {FLOP_PER_CYCLE} FLOP/cycle"
