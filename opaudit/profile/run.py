"""`profile_model()`: time every node of a `.tflite` in a child process -> `Profile`.

The child is the probe's isolation (`opaudit.probe.start_probe` with the profile worker
injected): its own session, a timeout that kills the process group, a crash classified by its
signal. The timings travel in a JSON file the child writes atomically; this process parses the
model (layers, FLOPs) while the child measures. TensorFlow is never imported.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from opaudit.errors import EXIT_FINDINGS, OpauditError, UsageError
from opaudit.flatbuf.model import load
from opaudit.flops import node_flops
from opaudit.inspect import inspect_model, resolve_input_shapes
from opaudit.probe import start_probe
from opaudit.profile.aggregate import build_profile
from opaudit.profile.peak import peak_gflops
from opaudit.profile.result import Profile
from opaudit.profile.timing import MODES

WORKER = (sys.executable, "-m", "opaudit.profile.worker")


class RuntimeShapes:
    """A `ParsedModel` view whose subgraph-0 tensors have the shapes they had at run time
    (`shapes`: tensor index as a string -> shape), so FLOPs count the real batch of a dynamic
    dimension (Mask R-CNN's per-ROI heads) instead of 1."""

    def __init__(self, parsed, shapes: Mapping[str, Sequence[int]]) -> None:
        self.parsed, self.shapes = parsed, shapes

    def tensor(self, subgraph: int, index: int):
        info = self.parsed.tensor(subgraph, index)
        shape = self.shapes.get(str(index)) if subgraph == 0 else None
        return dataclasses.replace(info, shape=tuple(shape)) if info is not None and shape is not None else info


class ProfileRunError(OpauditError):
    """The model does not run (load, allocate or invoke failed, crash, timeout): exit code 1."""

    exit_code = EXIT_FINDINGS


def profile_model(path: str, *, threads: int = 1, runs: int = 5, top: int = 15, sweep: Sequence[int] | None = None,
                  timeout: float = 1800.0, input_shapes: Mapping[str, Sequence[int]] | None = None,
                  inputs_npz: str | None = None, seed: int = 0, nodes: bool = True,
                  modes: Sequence[str] = MODES, worker: tuple[str, ...] = WORKER) -> Profile:
    """Per-node latency profile of one `.tflite`.

    Args:
      path: model file (read-only).
      threads: `num_threads` for the per-node timings.
      runs: invokes per measurement (median, after one warm-up).
      top: hot spots and layers kept.
      sweep: thread counts of the whole-model timings (default: 1 and every core).
      timeout: seconds for the whole child (capture, whole-model and per-node timings).
      input_shapes: shapes of dynamic inputs by name (as `inspect --input-shape`).
      inputs_npz: `.npz` with the inputs (named after them, or `arr_<i>` in input order);
        default: seeded inputs as the probe makes them.
      nodes: False = whole-model timings only (no capture, no per-node timings).
      modes: runtime modes to time (`xnnpack`, `builtin`; see `timing`).
      worker: the child command (tests inject one).
    Raises:
      ModelFormatError / UsageError: bad input (exit 2); ProfileRunError: the model does not
      run, with the runtime's error (exit 1).
    """
    if threads < 1 or runs < 1 or top < 1:
        raise UsageError("--threads, --runs and --top must be at least 1")
    if not modes or set(modes) - set(MODES):
        raise UsageError(f"modes must be among {', '.join(MODES)}")
    if inputs_npz and not os.path.isfile(inputs_npz):
        raise UsageError(f"--inputs: no such file: {inputs_npz}")
    parsed = load(path)  # ModelFormatError before any child starts
    shapes = resolve_input_shapes(parsed, input_shapes)
    sweep = sorted(set(sweep or [1, os.cpu_count() or 1]) | {threads})
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="opaudit-profile-") as tmp:
        out = Path(tmp) / "profile.json"
        cmd = (*worker, "--out", str(out), "--threads", str(threads), "--runs", str(runs),
               "--sweep", ",".join(map(str, sweep)), "--modes", ",".join(modes),
               *(("--inputs", os.path.abspath(inputs_npz)) if inputs_npz else ()), *(() if nodes else ("--whole-only",)))
        handle = start_probe(path, {str(k): v for k, v in shapes.items()}, timeout=timeout, seed=seed, worker=cmd)
        ops = inspect_model(path, probe=False).operators
        result = handle.result()
        if result.status != "ok" or not out.is_file():
            raise ProfileRunError(f"{path}: the model does not run ({result.status}): {result.error or 'no timings written'}")
        raw = json.loads(out.read_text())
    conditions = {"cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
                  "sweep": sweep}
    actual = RuntimeShapes(parsed, raw.get("shapes") or {})
    prof = build_profile(raw, ops, lambda op: node_flops(actual, op), path=path, peak=peak_gflops(),
                         top=top, conditions=conditions)
    prof.static_flops = sum(node_flops(parsed, op) for op in ops)
    prof.seconds = time.perf_counter() - t0
    return prof
