"""Child side of `opaudit profile`: `python -m opaudit.profile.worker` (JSON request on stdin).

Runs in its own process through `opaudit.probe.start_probe(worker=...)`, so a runtime that
crashes or hangs on some node becomes a status, not a dead tool. The reply on stdout is the
probe's (`status`, `stage`, `error`, `inputs`, `outputs`, `seconds`, `runtime`); the timings go
to the JSON file named by `--out` (atomically), read by `opaudit.profile.run`.

Request: `{"path", "shapes", "seed"}` as for the probe; the options come on the command line:
`--out FILE --threads N --runs N --sweep 1,2 [--modes xnnpack,builtin] [--inputs FILE.npz]
[--whole-only]` (only step 2 below).

What it measures:
1. one run of the whole model on the builtin kernels with `experimental_preserve_all_tensors`
   (a delegate would keep intermediate tensors to itself), to capture every tensor of
   subgraph 0 as the model really computes it;
2. the whole model, median of `runs` invokes after a warm-up, for each mode and each thread
   count of `--sweep`;
3. the `invoke()` call overhead (median over a one-element ADD model), per mode, and the
   GFLOP/s of a large FULLY_CONNECTED per mode and thread count (the measured ceiling);
4. every node of subgraph 0 alone (`extract.NodeExtractor`), fed its captured inputs, median
   of `runs` invokes per mode at `--threads`; its builtin-mode outputs are compared with the
   captured ones. Nodes in other subgraphs run inside their WHILE/IF node and are timed with it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from opaudit.profile import timing
from opaudit.profile.extract import NodeExtractor, ints
from opaudit.probe.run import RESOLVERS
from opaudit.profile.tiny import dense, one_element_add


def _seeded_inputs(interp, shapes: dict, seed: int, npz: str | None):
    """Allocate `interp`, set its inputs (seeded as the probe does, or from `npz`: arrays named
    after the inputs or `arr_<i>` in input order); returns (values in input order, description)."""
    from opaudit.probe.worker import seeded_inputs

    fed = seeded_inputs(interp, shapes, seed)
    details = interp.get_input_details()
    if npz:
        given = np.load(npz)
        values = [given[d["name"]] if d["name"] in given else given[f"arr_{i}"] for i, d in enumerate(details)]
        timing.feed(interp, values)
        fed = [{"name": d["name"], "shape": list(v.shape), "dtype": v.dtype.name} for d, v in zip(details, values)]
    return [interp.get_tensor(d["index"]).copy() for d in details], fed


def whole_model(path: str, values, modes, sweep, runs) -> list[dict]:
    """Median invoke time of the whole model for each (threads, mode)."""
    rows = []
    for threads in sweep:
        for mode in modes:
            interp = timing.interpreter(mode, threads, path=path)
            timing.feed(interp, values)
            med, times = timing.median_invoke(interp, runs)
            rows.append({"threads": threads, "mode": mode, "median_s": med, "runs_s": times,
                         "delegate_partitions": sum(d.get("op_name") == "DELEGATE" for d in interp._get_ops_details())})
            del interp
    return rows


def overhead(modes, threads, runs) -> dict[str, float]:
    """Median seconds of `invoke()` on a one-element ADD model: the per-call floor."""
    content = one_element_add()
    out = {}
    for mode in modes:
        interp = timing.interpreter(mode, threads, content=content)
        timing.feed(interp, [np.ones([1], np.float32), np.ones([1], np.float32)])
        out[mode] = timing.median_invoke(interp, max(runs, 50))[0]
    return out


def ceiling(modes, sweep, runs) -> list[dict]:
    """GFLOP/s of a large FULLY_CONNECTED (`tiny.dense`) per (threads, mode): what the
    runtime's best kernel reaches on this machine now."""
    content, flops = dense()
    x = np.random.default_rng(0).standard_normal((256, 2048)).astype(np.float32)
    rows = []
    for threads in sweep:
        for mode in modes:
            interp = timing.interpreter(mode, threads, content=content)
            timing.feed(interp, [x])
            rows.append({"threads": threads, "mode": mode,
                         "gflops": flops / timing.median_invoke(interp, max(runs, 5))[0] / 1e9})
    return rows


def time_node(ex: NodeExtractor, capture, index: int, modes, threads, runs) -> dict:
    """Timings of node `index` of subgraph 0 alone, fed its captured inputs."""
    op = ex.subgraph(0).operators[index]
    row = {"index": index, "seconds": {}, "exact": None, "max_abs_diff": None, "error": None,
           "calls": ex.closure(0, [index])[1:]}
    try:
        feeds = [t for t in ints(op.inputs) if t >= 0 and not ex.is_constant(ex.subgraph(0).tensors[t])]
        values = {t: timing.tensor(capture, t) for t in dict.fromkeys(feeds)}
        want = [timing.tensor(capture, t) for t in ints(op.outputs) if t >= 0]
        content = ex.extract(0, [index], {t: list(v.shape) for t, v in values.items()})
        for mode in modes:
            interp = timing.interpreter(mode, threads, content=content)
            timing.feed(interp, list(values.values()))
            row["seconds"][mode], _ = timing.median_invoke(interp, runs)
            if mode == "builtin":
                row["exact"], row["max_abs_diff"] = timing.compare(timing.outputs(interp), want)
            else:
                row.setdefault("delegated", _delegated(interp))
    except Exception as e:  # a node that cannot run alone is reported, not fatal  # noqa: BLE001
        row["error"] = f"{type(e).__name__}: {' '.join(str(e).split())[:500]}"
    return row


def _delegated(interp) -> bool:
    return any(d.get("op_name") == "DELEGATE" for d in interp._get_ops_details())


_FAILED = {"load": "load_failed", "allocate": "prepare_failed", "invoke": "invoke_failed"}


def profile(req: dict, opts: argparse.Namespace) -> dict:
    """The probe-shaped reply (status by stage, the runtime's error text); timings go to `opts.out`."""
    t0 = time.perf_counter()
    reply = {"status": "ok", "stage": "load", "error": None, "inputs": [], "outputs": []}
    try:
        _measure(req, opts, reply)
        reply["stage"] = None
    except Exception as e:  # the runtime's error is the result  # noqa: BLE001
        reply["status"], reply["error"] = _FAILED[reply["stage"]], f"{type(e).__name__}: {e}".strip()
    reply["seconds"] = time.perf_counter() - t0
    return reply


def _measure(req: dict, opts, reply: dict) -> None:
    import ai_edge_litert

    from opaudit import atomic

    reply["runtime"] = f"ai_edge_litert {getattr(ai_edge_litert, '__version__', '?')}"
    modes, threads = opts.modes, opts.threads
    t0 = time.perf_counter()
    capture = timing.interpreter("builtin", threads, path=req["path"], preserve=opts.nodes)
    reply["stage"] = "allocate"
    values, reply["inputs"] = _seeded_inputs(
        capture, {str(k): v for k, v in req.get("shapes", {}).items()}, int(req.get("seed", 0)), opts.inputs)
    reply["stage"] = "invoke"
    raw = {"runtime": reply["runtime"], "threads": threads, "runs": opts.runs, "modes": list(modes),
           "inputs": reply["inputs"], "nodes": []}
    if opts.nodes:
        capture.invoke()
        raw["capture_s"] = time.perf_counter() - t0
    raw["whole"] = whole_model(req["path"], values, modes, opts.sweep, opts.runs)
    if opts.nodes:
        with open(req["path"], "rb") as f:
            ex = NodeExtractor(f.read())
        raw["nodes"] = [time_node(ex, capture, i, modes, threads, opts.runs)
                        for i in range(len(ex.subgraph(0).operators or []))]
        raw["shapes"] = timing.shapes(capture, len(ex.subgraph(0).tensors or []))
        raw["overhead_s"] = overhead(modes, threads, opts.runs)
        raw["ceiling"] = ceiling(modes, opts.sweep, opts.runs)
    atomic.write_json(opts.out, raw)


def _args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="opaudit.profile.worker")
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sweep", type=lambda s: [int(x) for x in s.split(",") if x], default=[1])
    ap.add_argument("--inputs")
    ap.add_argument("--modes", type=lambda s: [m for m in s.split(",") if m in timing.MODES], default=list(timing.MODES))
    ap.add_argument("--whole-only", dest="nodes", action="store_false", help="whole-model timings only")
    return ap.parse_args(argv)


def main() -> None:
    opts = _args(sys.argv[1:])
    res = profile(json.loads(sys.stdin.read()), opts)
    # The probe protocol: one final reply per resolver (`opaudit.probe.run.RESOLVERS`). The
    # timings cover both (builtin kernels and XNNPACK), so the same reply answers for each.
    for resolver in RESOLVERS:
        sys.stdout.write("\n" + json.dumps({**res, "resolver": resolver, "final": True}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
