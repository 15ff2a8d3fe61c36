"""Start the interpreter probe before the CLI has even imported its framework.

`opaudit inspect model.tflite` spends most of its wall time in two places that do not depend
on each other: the probe child (start Python, load the runtime, allocate, invoke) and the parent
(import the CLI, parse, analyze, render). `prestart(argv)` looks at the raw command line and,
for the plain case (one model file for `inspect`/`report`, default seed, no `--input-shape`,
no zoo options, probe not disabled), starts the child at once; `inspect_model()` then `take()`s it instead of starting
its own. A guess that does not match is simply cancelled at exit.
"""

from __future__ import annotations

import atexit
import os

from opaudit.probe.run import ProbeHandle, start_probe

_PENDING: dict[str, ProbeHandle] = {}
_VALUED = {"--html", "--model-explorer", "-o", "--output", "--target", "-t", "--timeout", "--input-shape",
           "--jobs", "-j", "--resume"}
_ZOO = {"--jobs", "-j", "--resume", "--csv"}  # several models: each is probed by a pool worker
_DEFAULT_TIMEOUT = 600.0  # the real timeout is applied by inspect_model() at result() time


def prestart(argv: list[str]) -> None:
    """Speculatively start the probe of the first model named in `argv` (`opaudit` args)."""
    if not argv or argv[0] not in ("inspect", "report") or "--no-probe" in argv:
        return
    if any(a.startswith("--input-shape") or a.split("=")[0] in _ZOO for a in argv):
        return
    skip, models = False, []
    for a in argv[1:]:
        if skip:
            skip = False
            continue
        if a in _VALUED:
            skip = True
            continue
        if not a.startswith("-"):
            models.append(a)
    if len(models) == 1 and os.path.isfile(models[0]):  # a folder or several models: zoo mode
        h = start_probe(models[0], None, timeout=_DEFAULT_TIMEOUT, seed=0)
        _PENDING[h.path] = h


def take(path: str, seed: int, shapes: dict | None) -> ProbeHandle | None:
    """The pre-started probe for exactly this request, if any (each handle is taken once)."""
    h = _PENDING.pop(os.path.abspath(path), None)
    if h is None:
        return None
    if seed != h.seed or (shapes or {}) != h.shapes:
        h.cancel()
        return None
    return h


@atexit.register
def _cancel_unused() -> None:
    for h in _PENDING.values():
        h.cancel()
    _PENDING.clear()
