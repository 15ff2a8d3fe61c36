"""Child side of the interpreter probe: `python -m opaudit.probe.worker` (JSON on stdin/stdout).

Runs in its own process so that a runtime that segfaults, aborts or hangs cannot take the tool
down. Request: `{"path": str, "shapes": {tensor_index: [dims]}, "seed": int}` (JSON keys are
strings; names are resolved to indices by the parent, `inspect.resolve_input_shapes`). Reply (one JSON
line on stdout): `{"status", "stage", "error", "inputs", "outputs", "seconds", "runtime"}`.

Inputs are seeded: floats uniform in [0, 1), integers uniform in [0, 4), booleans fair coins;
dynamic dimensions come from `shapes` or default to 1.
"""

from __future__ import annotations

import json
import sys
import time


def _inputs(interp, shapes: dict[str, list[int]], seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    details = interp.get_input_details()
    for d in details:
        sig = list(d.get("shape_signature", d["shape"]))
        want = shapes.get(str(d["index"]))
        if want is None and any(x < 0 for x in sig):
            want = [x if x >= 0 else 1 for x in sig]
        if want is not None and list(want) != list(d["shape"]):
            interp.resize_tensor_input(d["index"], want, strict=False)
    interp.allocate_tensors()
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


def probe(req: dict) -> dict:
    t0 = time.perf_counter()
    out = {"status": "ok", "stage": None, "error": None, "inputs": [], "outputs": []}
    stage = "load"
    try:
        import ai_edge_litert
        from ai_edge_litert.interpreter import Interpreter

        out["runtime"] = f"ai_edge_litert {getattr(ai_edge_litert, '__version__', '?')}"
        interp = Interpreter(model_path=req["path"])
        stage = "allocate"
        shapes = {str(k): v for k, v in req.get("shapes", {}).items()}
        out["inputs"] = _inputs(interp, shapes, int(req.get("seed", 0)))
        stage = "invoke"
        interp.invoke()
        out["outputs"] = [
            {"name": d["name"], "shape": [int(x) for x in interp.get_tensor(d["index"]).shape],
             "dtype": str(d["dtype"].__name__ if hasattr(d["dtype"], "__name__") else d["dtype"])}
            for d in interp.get_output_details()
        ]
    except Exception as e:  # the runtime's error is the finding  # noqa: BLE001
        out["status"] = {"load": "load_failed", "allocate": "prepare_failed", "invoke": "invoke_failed"}[stage]
        out["stage"] = stage
        out["error"] = f"{type(e).__name__}: {e}".strip()
    out["seconds"] = time.perf_counter() - t0
    return out


def main() -> None:
    req = json.loads(sys.stdin.read())
    res = probe(req)
    sys.stdout.write("\n" + json.dumps(res) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
