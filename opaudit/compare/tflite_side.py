"""The TFLite side of `opaudit compare`: which tensors a `.tflite` keeps, which Keras layer
names them, and their values on given inputs.

`catalogue(report, layer_names)` is pure (it reads the `inspect_model(probe=False)` result):
every activation tensor of the main subgraph (subgraph 0) that some operator produces, with
the top-level Keras layers its (possibly ``;``-fused) name mentions, and the signature output
name for graph outputs (renamed ``StatefulPartitionedCall:N``, so their names carry no layer).
`Runner` runs the interpreter with ``experimental_preserve_all_tensors=True`` so that every
intermediate tensor can be read after ``invoke()``. Tensors inside control-flow subgraphs
(WHILE bodies) are not kept across iterations and are not compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from opaudit.fix.layer_paths import resolve_layer


@dataclass
class TflTensor:
    """An activation tensor of subgraph 0. ``producer``: index of the operator writing it;
    ``layers``: top-level Keras layers named by its name (fused names give several);
    ``output``: the SignatureDef output name when it is a graph output."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    producer: int
    layers: list[str] = field(default_factory=list)
    output: str | None = None


def layers_named(name: str, layer_names: set[str]) -> list[str]:
    """Top-level layers named by each ``;``-separated part of a tensor name, in order, unique."""
    out: list[str] = []
    for part in name.split(";"):
        layer = resolve_layer(part, layer_names)
        top = layer.split("/", 1)[0] if layer else None
        if top and top not in out:
            out.append(top)
    return out


def catalogue(report, layer_names: set[str]) -> tuple[list[TflTensor], dict[str, int], dict[str, int]]:
    """-> (activation tensors of subgraph 0, signature inputs {name: tensor}, outputs {name: tensor}).

    ``report`` is an `opaudit.findings.ModelReport` (``inspect_model(path, probe=False)``).
    """
    sig = next((s for s in report.signatures if s.get("subgraph", 0) == 0), None)
    sig_in = dict(sig["inputs"]) if sig else {}
    sig_out = dict(sig["outputs"]) if sig else {}
    out_name = {t: n for n, t in sig_out.items()}
    made = {t: op.index for op in report.operators if op.subgraph == 0 for t in op.outputs if t >= 0}
    tensors = []
    for t in report.tensors:
        if t.subgraph != 0 or t.index not in made or t.buffer_size:
            continue
        tensors.append(TflTensor(index=t.index, name=t.name, shape=tuple(t.shape), dtype=t.dtype,
                                 producer=made[t.index], layers=layers_named(t.name, layer_names),
                                 output=out_name.get(t.index)))
    return tensors, sig_in, sig_out


class Runner:
    """The interpreter with every intermediate tensor kept (``experimental_preserve_all_tensors``).

    ``inputs`` maps signature input names to arrays; `run` returns nothing, `get(index)` the
    value of a subgraph-0 tensor after the last run (a copy).
    """

    def __init__(self, path: str, sig_in: dict[str, int]):
        import warnings

        from ai_edge_litert.interpreter import Interpreter

        with warnings.catch_warnings():  # "intended for debugging purposes only": that is the purpose
            warnings.simplefilter("ignore", UserWarning)
            self.interp = Interpreter(model_path=path, experimental_preserve_all_tensors=True)
        self.interp.allocate_tensors()
        self.sig_in = sig_in

    def run(self, inputs: dict[str, np.ndarray]) -> None:
        for name, index in self.sig_in.items():
            self.interp.set_tensor(index, np.ascontiguousarray(inputs[name]))
        self.interp.invoke()

    def get(self, index: int) -> Any:
        return np.array(self.interp.get_tensor(index), copy=True)
