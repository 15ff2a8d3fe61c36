"""Benchmark of `opaudit compare`: layer-by-layer compare vs one end-to-end parity run.

Usage: python bench/compare.py [--model mrcnn] [--config small|coco] [--json out.json]

In one run on this machine: `fix` (from the cache when it can) gives the builtin-only model;
then, in the same kind of supervised worker process and on the same saved samples and weights,
one end-to-end parity run (`parity` task) and one layer-wise compare (`compare` task); wall time
and peak RSS (VmHWM) of each child, the compare's own time per phase, and the ratios.
Run it under the heavy lock (`flock /tmp/opaudit-heavy.lock ...`): it builds Mask R-CNN twice.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def measure(model: str, config: str, timeout: float) -> dict:
    from opaudit.fix import run_fix
    from opaudit.fix.result import FixResult
    from opaudit.fix.run import prepare
    from opaudit.fix.session import Session
    from opaudit.modelspec import describe

    with tempfile.TemporaryDirectory(prefix="opaudit-bench-compare-") as tmp:
        tmp = Path(tmp)
        t = time.monotonic()
        fixed = run_fix(model, out=tmp / "out", config=config, timeout=timeout)
        fix_s = time.monotonic() - t
        if not (tmp / "out" / "model.tflite").is_file():
            raise SystemExit(f"fix did not produce a model: {fixed.reason}")
        plan = fixed.iterations[-1].plan if fixed.iterations else {}
        spec = describe(model, config if model == "mrcnn" else None)
        session = Session(spec, tmp, tmp / "out", timeout)
        if not prepare(session, FixResult()):
            raise SystemExit("prepare failed")
        tfl = str(tmp / "out" / "model.tflite")
        parity = session.run("parity", "parity: end to end", tflite=tfl)
        compare = session.run("compare", "compare: layer by layer", tflite=tfl, plan=plan)
    rep = compare.get("report") or {}
    layers = rep.get("layers") or []
    return {
        "model": model, "config": config, "fix_seconds": round(fix_s, 1), "fix_cache_hit": fixed.cache.get("hit"),
        "samples": parity.get("samples"),
        "parity": {"wall_s": parity.get("wall_seconds"), "peak_rss_mb": parity.get("peak_rss_mb"),
                   "passed": parity.get("passed")},
        "compare": {"wall_s": compare.get("wall_seconds"), "peak_rss_mb": compare.get("peak_rss_mb"),
                    "status": compare.get("status"), "error": compare.get("error"),
                    "verdict": rep.get("verdict"), "summary": rep.get("summary"), "timings": rep.get("timings"),
                    "layers": len(layers), "compared": sum(1 for c in layers if c.get("isolated")),
                    "no_tensor": len(rep.get("no_tensor") or [])},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mrcnn")
    ap.add_argument("--config", default="small")
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    r = measure(args.model, args.config, args.timeout)
    p, c = r["parity"], r["compare"]
    print(f"{r['model']} {r['config']}: {r['samples']} samples; fix {r['fix_seconds']} s (cache hit {r['fix_cache_hit']})")
    print(f"  end-to-end parity : {p['wall_s']} s wall, peak RSS {p['peak_rss_mb']} MB, passed {p['passed']}")
    print(f"  layer-wise compare: {c['wall_s']} s wall, peak RSS {c['peak_rss_mb']} MB, verdict {c['verdict']}"
          f" ({c['compared']} of {c['layers']} layer calls compared, {c['no_tensor']} fused)")
    print(f"  compare phases (s, summed over samples): {c['timings']}")
    if p["wall_s"] and c["wall_s"] and p["peak_rss_mb"] and c["peak_rss_mb"]:
        print(f"  ratio compare/parity: time {c['wall_s'] / p['wall_s']:.2f}x, peak RSS "
              f"{c['peak_rss_mb'] / p['peak_rss_mb']:.2f}x")
    if c.get("error"):
        print(f"  compare error: {c['error']}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
