"""Content-addressed cache of fix results: ``$OPAUDIT_CACHE`` or ``~/.cache/opaudit``.

key = sha256 over: the model's identity (kind, config, overrides, function name and the bytes of
its files -- for mrcnn the whole ``mrcnn`` package source plus the weights file), the samples
file, the rules' source code (the ``rewrites`` package and every ``--rules`` file), the source
of ``opaudit.fix`` itself (and the model spec, model kinds, samples and ``opaudit.compare`` modules), the tensorflow/keras/ai-edge-litert/opaudit/Python versions and the
options. Computing it reads files only: no TensorFlow import, so a hit takes well under a second.
Only ``fixed`` results are stored (a failure may be transient: a timeout, an OOM kill).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable

from opaudit.modelspec import ModelSpec, identity_files, package_files

DISTS = ("tensorflow", "keras", "ai-edge-litert", "opaudit", "ai-edge-quantizer")


def cache_dir() -> Path:
    return Path(os.environ.get("OPAUDIT_CACHE") or Path.home() / ".cache" / "opaudit")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for d in DISTS:
        try:
            out[d.replace("-", "_")] = importlib.metadata.version(d)
        except importlib.metadata.PackageNotFoundError:
            out[d.replace("-", "_")] = "not installed"
    return out


def _hash_files(h, files: Iterable[Path]) -> None:
    for p in files:
        h.update(str(p.name).encode() + b"\0")
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")


def key(spec: ModelSpec, *, samples: str | None, rules: Iterable[str], options: dict[str, Any]) -> str:
    h = hashlib.sha256()
    ident = {k: getattr(spec, k) for k in ("kind", "config", "overrides", "function", "keras", "weights_exclude")}
    h.update(json.dumps({"spec": ident, "versions": versions(), "options": options,
                         "samples": samples and samples.rsplit(":", 1)[-1], "rules": sorted(rules)},
                        sort_keys=True, default=str).encode())
    _hash_files(h, identity_files(spec))
    if samples:
        _hash_files(h, [Path(samples.rsplit(":", 1)[0])])
    _hash_files(h, package_files("rewrites"))
    _hash_files(h, [Path(r) for r in sorted(rules) if os.path.isfile(r)])
    here = Path(__file__).parent
    _hash_files(h, sorted(here.glob("*.py")) + [here.parent / f for f in ("modelspec.py", "model_kinds.py", "samples.py")])
    _hash_files(h, sorted((here.parent / "compare").glob("*.py")))  # a parity failure's verdict comes from compare
    _hash_files(h, sorted((here.parent / "quantize").glob("*.py")))  # --quantize variants and their scores
    if cal := options.get("calibration"):
        _hash_files(h, [p for p in [Path(str(cal).rsplit(":", 1)[0])] if p.is_file()])
    return h.hexdigest()


def lookup(k: str) -> Path | None:
    d = cache_dir() / k
    return d if (d / "fix.json").is_file() and (d / "model.tflite").is_file() else None


def store(k: str, files: dict[str, Path]) -> Path:
    """Copy ``{"model.tflite": path, "fix.json": path, ...}`` into the entry (atomic rename)."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{k[:12]}.", dir=root))
    try:
        for name, src in files.items():
            if src and Path(src).is_file():
                shutil.copyfile(src, tmp / name)
        dest = root / k
        if dest.exists():
            shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root / k
