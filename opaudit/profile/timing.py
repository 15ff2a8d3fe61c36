"""Child-side timing helpers: interpreters per runtime mode, medians of `invoke()`.

Modes (what the pip runtime `ai_edge_litert` offers from Python):
* `xnnpack`: the default op resolver, which applies the XNNPACK delegate to every node it
  takes (the remaining nodes run on the builtin kernels);
* `builtin`: `BUILTIN_WITHOUT_DEFAULT_DELEGATES`, the builtin kernels alone.

`num_threads=None` is what the runtime does when not told: it passes 1 (`int(num_threads or 1)`
in `ai_edge_litert.interpreter`), so an untuned caller runs single-threaded.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

MODES = ("xnnpack", "builtin")


def interpreter(mode: str, threads: int | None, *, path: str | None = None, content: bytes | None = None,
                preserve: bool = False):
    """An `ai_edge_litert` Interpreter for `mode` (see module doc); not yet allocated."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if mode == "xnnpack" else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    return Interpreter(model_path=path, model_content=content, num_threads=threads,
                       experimental_op_resolver_type=resolver, experimental_preserve_all_tensors=preserve)


def feed(interp, values: list[np.ndarray]) -> None:
    """Resize (when needed), allocate and set the inputs of `interp`, in input order."""
    details = interp.get_input_details()
    for d, v in zip(details, values):
        if list(d["shape"]) != list(v.shape):
            interp.resize_tensor_input(d["index"], list(v.shape), strict=False)
    interp.allocate_tensors()
    for d, v in zip(interp.get_input_details(), values):
        interp.set_tensor(d["index"], v)


def median_invoke(interp, runs: int) -> tuple[float, list[float]]:
    """(median seconds, all run times) of `runs` invokes after one warm-up invoke."""
    interp.invoke()
    times = []
    for _ in range(max(1, runs)):
        t = time.perf_counter()
        interp.invoke()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def tensor(interp, index: int) -> np.ndarray | None:
    """The value of tensor `index` of subgraph 0.

    `get_tensor` raises "Invalid tensor size" on some zero-element tensors: those come back as
    empty arrays of their runtime shape. None where the runtime holds no data (an unused
    pass-through output of WHILE)."""
    try:
        return interp.get_tensor(index)
    except ValueError:
        d = interp._get_tensor_details(index, 0)
        shape = [int(x) for x in d["shape"]]
        return np.zeros(shape, d["dtype"]) if 0 in shape else None


def shapes(interp, count: int) -> dict[str, list[int]]:
    """Runtime shapes of tensors 0..count-1 of subgraph 0 (after an invoke: dynamic ones resolved)."""
    return {str(t): [int(x) for x in interp._get_tensor_details(t, 0)["shape"]] for t in range(count)}


def outputs(interp) -> list[np.ndarray | None]:
    return [tensor(interp, d["index"]) for d in interp.get_output_details()]


def compare(got: list[np.ndarray | None], want: list[np.ndarray | None]) -> tuple[bool, float | None]:
    """(bit-identical, max |difference| over float outputs or None) of two output lists;
    pairs where either side has no data are skipped."""
    if len(got) != len(want):
        return False, None
    exact, worst = True, 0.0
    for g, w in zip(got, want):
        if g is None or w is None:
            continue
        if g.shape != w.shape or g.dtype != w.dtype:
            return False, None
        if not np.array_equal(g, w, equal_nan=g.dtype.kind in "fc"):
            exact = False
            if g.dtype.kind in "fc" and g.size:
                worst = max(worst, float(np.nanmax(np.abs(g.astype(np.float64) - w.astype(np.float64)))))
            elif g.size:
                worst = float("inf")
    return exact, worst
