"""Child side of the interpreter probe: `python -m opaudit.probe.worker` (JSON on stdin/stdout).

Runs in its own process so that a runtime that segfaults, aborts or hangs cannot take the tool
down. Request: `{"path": str, "shapes": {tensor_index: [dims]}, "seed": int}` (JSON keys are
strings; names are resolved to indices by the parent, `inspect.resolve_input_shapes`).

Two interpreters are measured, one after the other, each reply a JSON line on stdout as soon
as it is known (a crash in the second leaves the first one's line behind):

1. `stock`: `BUILTIN_WITHOUT_DEFAULT_DELEGATES`, the builtin kernels only (target `cpu`):
   load and allocate (every node resolved and prepared).
2. `default`: the interpreter as users create it, XNNPACK applied (target `xnnpack`): load,
   allocate, then the delegate nodes the runtime appended to subgraph 0
   (`{"index", "inputs", "outputs"}`), then invoke.
3. `stock` again, final: invoked with the stock kernels only when the default run did not
   invoke cleanly. Otherwise the default run's invoke stands for it (with no delegate node
   it was a stock invoke; with some, `note` says that XNNPACK ran those partitions and that
   the stock kernels for them were resolved and prepared in step 1). This keeps the probe at
   one invoke in the common case: a stock invoke of ResNet50 costs ~0.3 s here.

Reply line: `{"resolver", "final" (stock only), "status", "stage", "error", "inputs", "outputs", "seconds",
"runtime", "delegate_nodes", "note"}`. Inputs are seeded: floats uniform in [0, 1),
integers uniform in [0, 4), booleans fair coins; dynamic dimensions come from `shapes` or
default to 1.
"""

from __future__ import annotations

import json
import sys
import time

STATUS = {"load": "load_failed", "allocate": "prepare_failed", "invoke": "invoke_failed"}


def _resize_and_allocate(interp, shapes: dict[str, list[int]]) -> None:
    for d in interp.get_input_details():
        sig = list(d.get("shape_signature", d["shape"]))
        want = shapes.get(str(d["index"]))
        if want is None and any(x < 0 for x in sig):
            want = [x if x >= 0 else 1 for x in sig]
        if want is not None and list(want) != list(d["shape"]):
            interp.resize_tensor_input(d["index"], want, strict=False)
    interp.allocate_tensors()


def _feed(interp, seed: int) -> list[dict]:
    import numpy as np

    rng = np.random.default_rng(seed)
    fed = []
    for d in interp.get_input_details():
        shape, dtype = tuple(int(x) for x in d["shape"]), np.dtype(d["dtype"])
        if dtype.kind == "f":
            x = rng.random(shape).astype(dtype)
        elif dtype.kind in "iu":
            x = rng.integers(0, 4, shape).astype(dtype)
        elif dtype.kind == "b":
            x = rng.random(shape) < 0.5
        else:
            x = np.zeros(shape, dtype)
        interp.set_tensor(d["index"], x)
        fed.append({"name": d["name"], "shape": list(shape), "dtype": dtype.name})
    return fed


def seeded_inputs(interp, shapes: dict[str, list[int]], seed: int) -> list[dict]:
    """Resize dynamic inputs (``shapes``: input index as a string -> shape; other dynamic dims
    1), allocate, and set seeded inputs as the probe does; returns what was fed."""
    _resize_and_allocate(interp, shapes)
    return _feed(interp, seed)


def _outputs(interp) -> list[dict]:
    return [{"name": d["name"], "shape": [int(x) for x in interp.get_tensor(d["index"]).shape],
             "dtype": str(getattr(d["dtype"], "__name__", d["dtype"]))}
            for d in interp.get_output_details()]


def delegate_nodes(interp) -> list[dict]:
    """DELEGATE nodes of subgraph 0 after allocate, with their tensor inputs and outputs."""
    out = []
    for d in interp._get_ops_details():  # subgraph 0 only, original nodes then delegate nodes
        if d.get("op_name") == "DELEGATE":
            out.append({"index": int(d["index"]), "inputs": [int(x) for x in d["inputs"]],
                        "outputs": [int(x) for x in d["outputs"]]})
    return out


class Run:
    """One interpreter measured stage by stage; `reply()` is its JSON line."""

    def __init__(self, resolver: str):
        self.resolver, self.t0, self.interp = resolver, time.perf_counter(), None
        self.out = {"resolver": resolver, "status": "ok", "stage": None, "error": None,
                    "inputs": [], "outputs": [], "delegate_nodes": [], "note": None}

    def step(self, stage: str, fn) -> bool:
        """Run `fn()`; on an exception record the runtime's error for `stage` and return False."""
        try:
            fn()
            return True
        except Exception as e:  # the runtime's error is the finding  # noqa: BLE001
            self.out.update(status=STATUS[stage], stage=stage, error=f"{type(e).__name__}: {e}".strip())
            return False

    def reply(self) -> dict:
        return {**self.out, "seconds": time.perf_counter() - self.t0}


def _load(run: Run, path: str, stock: bool) -> None:
    import ai_edge_litert
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    run.out["runtime"] = f"ai_edge_litert {getattr(ai_edge_litert, '__version__', '?')}"
    kw = {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES} if stock else {}
    run.interp = Interpreter(model_path=path, **kw)


def probe(req: dict, emit=None) -> list[dict]:
    """Measure `req["path"]` with both resolvers; `emit(line)` is called after each stage."""
    emit = emit or (lambda _line: None)
    path, seed = req["path"], int(req.get("seed", 0))
    shapes = {str(k): v for k, v in req.get("shapes", {}).items()}
    stock = Run("stock")
    ok = stock.step("load", lambda: _load(stock, path, True)) and stock.step(
        "allocate", lambda: _resize_and_allocate(stock.interp, shapes))
    emit(stock.reply())
    default = Run("default")
    if default.step("load", lambda: _load(default, path, False)) and default.step(
            "allocate", lambda: _resize_and_allocate(default.interp, shapes)):
        default.out["delegate_nodes"] = delegate_nodes(default.interp)
        default.out["inputs"] = _feed(default.interp, seed)
        if default.step("invoke", default.interp.invoke):
            default.out["outputs"] = _outputs(default.interp)
    emit(default.reply())
    if ok:
        _finish_stock(stock, default, seed)
    stock.out["final"] = True
    emit(stock.reply())
    return [stock.reply(), default.reply()]


def _finish_stock(stock: Run, default: Run, seed: int) -> None:
    """Invoke with the stock kernels unless the default run's invoke already tells (see module doc)."""
    taken = len(default.out["delegate_nodes"])
    if default.out["status"] == "ok":
        note = (f"invoke measured with the default runtime: XNNPACK ran {taken} partition(s), the stock "
                "kernels ran the rest; every stock kernel was resolved and prepared") if taken else None
        stock.out.update(inputs=default.out["inputs"], outputs=default.out["outputs"], note=note)
        return
    stock.out["inputs"] = _feed(stock.interp, seed)
    if stock.step("invoke", stock.interp.invoke):
        stock.out["outputs"] = _outputs(stock.interp)


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the process that started us dies (a zoo worker killed for
    hanging must not leave its probe running). Elsewhere a no-op."""
    if sys.platform != "linux":
        return
    import ctypes
    import os
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def main() -> None:
    _die_with_parent()
    req = json.loads(sys.stdin.read())

    def emit(line: dict) -> None:
        sys.stdout.write("\n" + json.dumps(line) + "\n")
        sys.stdout.flush()

    probe(req, emit)


if __name__ == "__main__":
    main()
