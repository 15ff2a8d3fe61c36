"""The machine's nominal float32 peak, read from /proc/cpuinfo (Linux; 0 elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path

def flop_per_cycle(flags: set[str]) -> tuple[int, str]:
    """float32 FLOP/cycle per core assumed from the ISA flags: 2 FMA units x lanes x 2."""
    if "avx512f" in flags:
        return 64, "AVX-512 (2 x 16 lanes x FMA)"
    if "fma" in flags or "avx2" in flags:
        return 32, "AVX2+FMA (2 x 8 lanes x FMA)"
    return 16, "SSE/AVX without FMA"


def peak_gflops(cpuinfo: str | None = None, cores: int | None = None) -> tuple[float, str]:
    """(GFLOP/s, how it was computed): cores x clock x FLOP/cycle of the widest FMA the flags show.

    Nominal, from /proc/cpuinfo: the clock it reports (no turbo) and FLOP/cycle guessed from
    the ISA flags (a CPU that splits 512-bit FMAs in two reaches half). A measured ceiling
    (`opaudit.profile.tiny.dense` timed in the runtime) is what a kernel can really reach.
    `cpuinfo`/`cores` default to this machine's.
    """
    cores = cores or os.cpu_count() or 1
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    mhz, flags = 0.0, set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags |= set(line.split(":", 1)[-1].split())
        if line.startswith("cpu MHz"):
            try:
                mhz = max(mhz, float(line.split(":")[1]))
            except (IndexError, ValueError):
                continue
    per, isa = flop_per_cycle(flags)
    return cores * mhz / 1000 * per, f"nominal: {cores} cores x {mhz / 1000:.2f} GHz x {per} FLOP/cycle, {isa}"
