"""`inspect_model()`: parse, classify, map to layers, probe, analyze -> `ModelReport`.

This is the whole `opaudit inspect` pipeline as one pure function returning data; the CLI and
every renderer only consume its result. TensorFlow is never imported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opaudit import __version__, mapping, support
from opaudit.analyze import Inputs, analyze
from opaudit.errors import UsageError
from opaudit.findings import TARGETS, ModelReport, ProbeResult
from opaudit.flatbuf.model import ParsedModel, load
from opaudit.flops import node_flops
from opaudit.probe import prestart, start_probe
from opaudit.shapes import remaining_dynamic


def resolve_input_shapes(parsed: ParsedModel, shapes: Mapping[str, Sequence[int]] | None) -> dict[int, list[int]]:
    """Map `{name: shape}` to `{input tensor index: shape}` of the first subgraph.

    A name is a signature input name (`input_image`), an input tensor name
    (`serving_default_input_image:0`) or that name without the `serving_default_`/`:0` decoration.
    Raises UsageError for a name that matches no input or a shape of the wrong rank.
    """
    if not shapes:
        return {}
    if not parsed.subgraphs:
        raise UsageError("model has no subgraph to take --input-shape")
    sub0 = parsed.subgraphs[0]
    names: dict[str, int] = {}
    for t in sub0.inputs:
        info = parsed.tensor(0, t)
        full = info.name if info else ""
        for n in (full, full.split(":")[0], full.split(":")[0].removeprefix("serving_default_")):
            names.setdefault(n, t)
    for sig in parsed.signatures:
        if sig["subgraph"] == 0:
            for n, t in sig["inputs"].items():
                names.setdefault(n, t)
    out = {}
    for name, shape in shapes.items():
        if name not in names:
            raise UsageError(f"--input-shape: no input named {name!r} (inputs: {', '.join(sorted(names)) or 'none'})")
        t = parsed.tensor(0, names[name])
        if t and len(t.shape) != len(shape):
            raise UsageError(f"--input-shape {name}: rank {len(shape)} given, input has rank {len(t.shape)}")
        out[names[name]] = [int(x) for x in shape]
    return out


def inspect_model(
    path: str,
    *,
    target: str = "cpu",
    probe: bool = True,
    timeout: float = 60.0,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    seed: int = 0,
) -> ModelReport:
    """Audit one `.tflite` file.

    Args:
      path: model file (read-only).
      target: `cpu` | `xnnpack` | `gpu`: which findings count as blocking (`ModelReport.blocking()`).
      probe: run the interpreter in a child process: stock kernels (load, allocate) and the
        default runtime with XNNPACK (load, allocate, delegate partitions, invoke with seeded
        inputs); see `opaudit.probe.worker`.
      timeout: seconds for the probe.
      input_shapes: shapes for dynamic inputs by name; other dynamic dims default to 1.
      seed: seed of the probe's inputs.
    Returns:
      ModelReport (plain data; `to_dict()` is the JSON form).
    Raises:
      ModelFormatError: not a TFLite file, truncated or damaged (exit code 2).
      UsageError: bad target or input shape (exit code 2).
    """
    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r} (choose from {', '.join(TARGETS)})")
    parsed, shapes, handle = _parse_and_start_probe(path, probe, timeout, input_shapes, seed)
    ops, booms = _mapped_operators(parsed)
    probes = _probe_results(handle, timeout)
    result = analyze(_analysis_inputs(parsed, ops, booms, probes, shapes))
    return _report(parsed, ops, result, probes, target)


def _parse_and_start_probe(path, probe, timeout, input_shapes, seed):
    """(ParsedModel, {input tensor: shape}, probe handle or None). Without shapes to resolve,
    the probe child loads and invokes on one core while this process parses on the other;
    with shapes, names are resolved to tensors first."""
    handle = None
    if probe and not input_shapes:
        handle = prestart.take(path, seed, None) or start_probe(path, timeout=timeout, seed=seed)
    try:
        parsed = load(path)
        shapes = resolve_input_shapes(parsed, input_shapes)  # UsageError for unknown names / ranks
    except BaseException:
        if handle:
            handle.cancel()
        raise
    if probe and handle is None:
        handle = start_probe(path, {str(k): v for k, v in shapes.items()}, timeout=timeout, seed=seed)
    return parsed, shapes, handle


def _mapped_operators(parsed: ParsedModel):
    """Operators with Keras layers mapped, and the layers exploded into identical nodes."""
    tensor_names: dict[int, list[str]] = {s.index: [] for s in parsed.subgraphs}
    for t in parsed.tensors:
        tensor_names[t.subgraph].append(t.name)

    def constant(s: int, t: int) -> bool:
        x = parsed.tensor(s, t)
        return x is not None and x.buffer_size > 0

    def weight(s: int, t: int) -> bool:  # float or quantized constants; not index vectors
        x = parsed.tensor(s, t)
        return constant(s, t) and (x.dtype.startswith(("float", "bfloat")) or x.quantization is not None)

    ops = mapping.map_layers(
        parsed.operators, tensor_names, {k: v.name for k, v in parsed.flex_nodes.items()},
        debug_names=_debug_names(parsed), constant=constant,
    )
    return ops, mapping.explosions(ops, weight, tensor_names=tensor_names)


def _probe_results(handle, timeout: float) -> dict[str, ProbeResult]:
    """target -> ProbeResult: `cpu` the stock kernels, `xnnpack` the default runtime."""
    if handle is None:
        return {}
    got = handle.results(timeout)
    return {"cpu": got["stock"], "xnnpack": got["default"]}


def _analysis_inputs(parsed: ParsedModel, ops, booms, probes, shapes) -> Inputs:
    """What `analyze()` needs: support with fp16 folding, dynamic tensors left after
    `--input-shape` (and after fixing every input, for the "what if" line), FLOPs per node."""
    inputs = parsed.subgraphs[0].inputs if parsed.subgraphs else ()
    folded = support.fp16_folds(ops, parsed.tensors)
    facts = support.GraphFacts(folded, remaining_dynamic(ops, parsed.tensors, inputs, shapes) if shapes else None)
    static = None  # "what if every dynamic dim were fixed": only asked when something is dynamic
    if any(t.is_dynamic for t in parsed.tensors):
        static = support.GraphFacts(folded, remaining_dynamic(ops, parsed.tensors, inputs, inputs))
    return Inputs(
        operators=ops, tensors=parsed.tensors,
        graph_outputs={(s.index, t) for s in parsed.subgraphs for t in s.outputs},
        support_fn=support.support_for, explosions=booms, probes=probes, facts=facts,
        static_facts=static, flops={(o.subgraph, o.index): node_flops(parsed, o) for o in ops},
    )


def _report(parsed: ParsedModel, ops, result, probes, target: str) -> ModelReport:
    stock = probes.get("cpu")
    return ModelReport(
        path=parsed.path, size=parsed.size, sha256=parsed.sha256, version=parsed.version,
        description=parsed.description, subgraphs=parsed.subgraphs, operators=ops, tensors=parsed.tensors,
        signatures=parsed.signatures, metadata=parsed.metadata, min_runtime_version=parsed.min_runtime_version,
        support=support.aggregate(ops, [result.supports[(o.subgraph, o.index)] for o in ops]),
        findings=result.findings, probe=stock, target=target,
        tool={"opaudit": __version__, "support_data": support.data_version(),
              "runtime": stock.runtime if stock else "not run"},
        runtime_probes=dict(probes), delegation=result.delegation,
    )


def _debug_names(parsed: ParsedModel) -> dict[tuple[int, int], str]:
    if not parsed.debug_metadata:
        return {}
    from opaudit.flatbuf import debug_metadata

    return debug_metadata.node_names(parsed)
