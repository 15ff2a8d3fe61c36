"""One fix run's shared state, and how its steps start worker tasks.

TensorFlow never runs in the parent: every step that needs it (prepare, convert, parity) is a
worker task (`worker.py`) started through `Session.run`, which adds what every task needs
(model spec, rule files, samples, pinned signature) and supervises the child (`supervisor.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from opaudit.errors import UsageError
from opaudit.fix.result import Conversion
from opaudit.fix.supervisor import WORKER, run_task
from opaudit.modelspec import ModelSpec


@dataclass
class Session:
    """``work`` is a private temporary folder; ``out`` the user's output folder.

    Filled by the prepare step: ``signature`` (pinned inputs ``[{"name", "shape", "dtype"}]``),
    ``outputs`` (Keras output names), ``layer_paths`` (every layer path of the model),
    ``layer_rules`` (``{layer_path: [layer-type rule names]}``) and ``samples_note``.
    """

    spec: ModelSpec
    work: Path
    out: Path
    timeout: float
    rules: list[str] = field(default_factory=list)
    samples: str | None = None
    progress: Callable[[str], None] | None = None
    worker: tuple[str, ...] = WORKER
    signature: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[str] | None = None
    layer_paths: set[str] = field(default_factory=set)
    layer_rules: dict[str, list[str]] = field(default_factory=dict)
    samples_note: str = ""

    def run(self, task: str, label: str, spec: ModelSpec | None = None, **fields: Any) -> dict[str, Any]:
        """Run worker ``task`` -> its result dict (``status`` ok | error | timeout | crashed | failed).

        A worker that rejects the user's input (``status`` usage, e.g. a sample of the wrong
        shape) raises UsageError here, so the CLI exits 2 with that one line.
        """
        payload = {"task": task, "spec": (spec or self.spec).to_dict(), "rules": self.rules,
                   "samples": self.samples, "signature": self.signature, "outputs": self.outputs, **fields}
        res = run_task(payload, self.work, timeout=self.timeout, label=label, progress=self.progress,
                       worker=self.worker, env=(spec or self.spec).env)
        if res.get("status") == "usage":
            raise UsageError(res.get("error") or "bad input")
        return res

    def convert(self, plan: dict[str, list[str]], out: Path, label: str,
                spec: ModelSpec | None = None, **fields: Any) -> Conversion:
        """Convert (builtins only) with ``plan`` applied, to ``out``; ``fields`` add task options
        (``quantize={"mode", "calibration"}``)."""
        res = self.run("convert", label, spec=spec, plan=plan, out=str(out), **fields)
        return Conversion.from_worker(res)

    def say(self, text: str) -> None:
        if self.progress:
            self.progress(text)

    def describe(self, plan: dict[str, list[str]]) -> str:
        """What is being converted, for messages: the model and its plan."""
        return f"{self.spec.source} with plan {plan}" if plan else f"{self.spec.source} (no rewrites)"
