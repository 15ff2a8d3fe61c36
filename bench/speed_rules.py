"""Speed rules on a fixed Mask R-CNN: reconvert with them, check parity, time before and after.

Usage: python bench/speed_rules.py --fix-dir out/mrcnn-small [--config small]
                                   [--add mrcnn_class_conv1=full_window_conv ...] [--runs 5]

Takes the plan of a finished `opaudit fix` run (``FIX_DIR/fix.json``, last iteration), adds the
speed rules given with ``--add LAYER=RULE`` (default: ``full_window_conv`` on the two
full-window convolutions of the classifier head), converts with the fix's own worker (same
seeded weights, same samples), runs the fix's parity check (and its twin), and times both
models as a whole (XNNPACK, 1 and every core, ``--runs`` invokes, medians; the two models
alternate so machine load hits both alike). Prints op-count changes, parity per output and the
speed-up. Converting takes the heavy lock's worth of memory (about 2.5 GB for small).

`opaudit fix` plans ``full_window_conv`` by itself (the inspect finding FULL_WINDOW_CONV,
docs/rewrites.md), so on a fresh fix directory the default rules are already in the plan and
are skipped; the script then has nothing to add and says so. Use it for a fix directory made
without the rule, or for other speed rules.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_ADD = ["mrcnn_class_conv1=full_window_conv", "mrcnn_class_conv2=full_window_conv"]


def reconvert(config: str, plan: dict, out: Path):
    """(ParityReport, twin ParityReport | None, conversion) of the model converted with `plan`."""
    from opaudit.fix.loop import check_parity, parity_twin
    from opaudit.fix.result import FixResult
    from opaudit.fix.run import prepare
    from opaudit.fix.session import Session
    from opaudit.modelspec import describe

    work = Path(tempfile.mkdtemp(prefix="opaudit-speed-rules-"))
    session = Session(describe("mrcnn", config), work, out.parent, 900.0, rules=[], samples=None,
                      progress=lambda s: print("  ..", s, flush=True))
    if not prepare(session, FixResult()):
        raise SystemExit("prepare failed")
    conv = session.convert(plan, out, label="converting with speed rules")
    if conv.status != "ok":
        raise SystemExit(f"conversion {conv.status}: {conv.error}")
    return check_parity(session, out), parity_twin(session, plan), conv


def timings(paths: dict[str, str], runs: int) -> dict[tuple[str, int], float]:
    """Median whole-model seconds per (model, threads), XNNPACK, models alternating run by run."""
    import statistics
    import time

    from opaudit.probe.worker import seeded_inputs
    from opaudit.profile import timing

    times: dict[tuple[str, int], list[float]] = {}
    for threads in sorted({1, os.cpu_count() or 1}):
        interps = {}
        for name, path in paths.items():
            interps[name] = timing.interpreter("xnnpack", threads, path=path)
            seeded_inputs(interps[name], {}, 0)
            interps[name].invoke()
        for _ in range(runs):
            for name, it in interps.items():
                t = time.perf_counter()
                it.invoke()
                times.setdefault((name, threads), []).append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fix-dir", required=True, type=Path)
    ap.add_argument("--config", default="small")
    ap.add_argument("--add", nargs="*", default=DEFAULT_ADD)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from opaudit.flatbuf.model import load

    fix = json.loads((args.fix_dir / "fix.json").read_text())
    plan = {k: list(v) for k, v in fix["iterations"][-1]["plan"].items()}
    added = []
    for item in args.add:
        layer, rule_name = item.split("=", 1)
        if rule_name not in plan.get(layer, []):
            plan.setdefault(layer, []).append(rule_name)
            added.append(item)
    if not added:
        print(f"nothing to add: {', '.join(args.add)} already in the fix's plan")
        return 2
    out = Path(tempfile.mkdtemp(prefix="opaudit-speed-rules-out-")) / "model.tflite"
    parity, twin, conv = reconvert(args.config, plan, out)
    before, after = (Counter(o.op for o in load(str(p)).operators) for p in (args.fix_dir / "model.tflite", out))
    print("rules fired:", sorted({(r["rule"], r["layer"]) for r in conv.record if r["rule"] not in fix["iterations"][-1]["plan"].get(r["layer"], [])}))
    print("op change:", {op: after[op] - before[op] for op in sorted(set(before) | set(after)) if after[op] != before[op]})
    for name, rep in (("parity", parity), ("twin", twin)):
        if rep is not None:
            print(f"{name}: passed={rep.passed} " + "; ".join(
                f"{o['name']} {'ok' if o['passed'] else 'FAIL'} {o.get('max_rel', o.get('min_iou', ''))}" for o in rep.outputs))
    t = timings({"before": str(args.fix_dir / "model.tflite"), "after": str(out)}, args.runs)
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for threads in sorted({n for _, n in t}):
        b, a = t[("before", threads)], t[("after", threads)]
        print(f"{threads} thread(s): before {b:.3f} s, after {a:.3f} s, after/before {a / b:.2f}")
    print(f"converted model: {out}")
    return 0 if parity.passed and (twin is None or twin.passed) else 1


if __name__ == "__main__":
    sys.exit(main())
