"""The `opaudit` command line: thin typer commands over pure functions that return data.

Exit codes (all commands): 0 clean / fixed, 1 findings that stop the model on the chosen target
(or `fix` could not fix it), 2 bad input or usage. Errors are one line on stderr, never a
traceback (set OPAUDIT_DEBUG=1 to get one).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from opaudit.errors import EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK, OpauditError, UsageError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="TFLite op audit: find every node that cannot run, map it to its Keras layer, and fix it.",
)

Target = Annotated[str, typer.Option("--target", "-t", help="cpu | xnnpack | gpu: which findings block (exit 1).")]


def parse_input_shapes(values: list[str] | None) -> dict[str, list[int]]:
    """`["input_image=1,256,256,3"]` -> `{"input_image": [1, 256, 256, 3]}`; UsageError if malformed."""
    out: dict[str, list[int]] = {}
    for v in values or []:
        name, sep, dims = v.rpartition("=")
        try:
            shape = [int(d) for d in dims.split(",")]
        except ValueError:
            shape = []
        if not sep or not name or not shape or any(d < 0 for d in shape):
            raise UsageError(f"--input-shape expects NAME=D1,D2,... with non-negative integers, got {v!r}")
        out[name] = shape
    return out


@app.command()
def inspect(
    models: Annotated[list[Path], typer.Argument(help="One or more .tflite files or folders (searched for *.tflite).", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the JSON report (docs/json-schema.md); several models: JSON Lines.")] = False,
    target: Target = "cpu",
    probe: Annotated[bool, typer.Option("--probe/--no-probe", help="Run the interpreter in a child process.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds allowed for the interpreter probe.")] = 60.0,
    input_shape: Annotated[Optional[list[str]], typer.Option("--input-shape", help="NAME=1,224,224,3 for a dynamic input (repeatable; default: dynamic dims = 1).")] = None,
    html: Annotated[Optional[Path], typer.Option("--html", help="Also write the HTML report here (one model).")] = None,
    model_explorer: Annotated[Optional[Path], typer.Option("--model-explorer", help="Write a Model Explorer node-data overlay (one model).")] = None,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", help="Audit several models with N worker processes (docs/zoo.md).")] = None,
    csv_out: Annotated[bool, typer.Option("--csv", help="Several models: print the summary as CSV.")] = False,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="State file (JSON lines): skip models already in it, append each one done.")] = None,
) -> None:
    """Audit .tflite models: op kinds, support per target, the nodes that cannot run and their layers."""
    shapes = parse_input_shapes(input_shape)
    paths = [str(m) for m in models]
    if jobs is not None or csv_out or resume is not None or len(paths) > 1 or any(m.is_dir() for m in models):
        if html or model_explorer or shapes:
            raise UsageError("--html / --model-explorer / --input-shape take a single model")
        if json_out and csv_out:
            raise UsageError("choose one of --json and --csv")
        from opaudit.zoo import AuditOptions

        code = _inspect_zoo(paths, AuditOptions(target, probe, timeout), jobs or 1, json_out, csv_out, resume)
        raise typer.Exit(code)
    raise typer.Exit(_inspect_one(models[0], target, probe, timeout, shapes, json_out, html, model_explorer))


def _inspect_one(model: Path, target, probe, timeout, shapes, json_out, html, model_explorer) -> int:
    from opaudit.inspect import inspect_model
    from opaudit.render import json as jr

    try:
        r = inspect_model(str(model), target=target, probe=probe, timeout=timeout, input_shapes=shapes)
    except OpauditError as e:
        if isinstance(e, UsageError):
            raise
        typer.echo(f"opaudit: error: {model}: {' '.join(str(e).split())}", err=True)
        if json_out:
            typer.echo(jr.dumps([], [{"path": str(model), "error": str(e), "exit_code": e.exit_code}]))
        return EXIT_BAD_INPUT
    if json_out:
        typer.echo(jr.dumps([r]))
    else:
        from opaudit.render import terminal

        terminal.render(r)
    if html:
        _write_html(r, html)
    if model_explorer:
        _write_overlay(r, model_explorer)
    return EXIT_FINDINGS if r.blocking() else EXIT_OK


def _inspect_zoo(paths: list[str], options, jobs: int, json_out: bool, csv_out: bool, resume: Path | None) -> int:
    """Several models through the worker pool (`opaudit.zoo`); summary table, JSON Lines or CSV."""
    from opaudit import zoo
    from opaudit.render import zoo_view

    paths = zoo.expand(paths)
    if not paths:
        raise UsageError("no .tflite files found")
    done = zoo.state_done(resume) if resume else {}
    entries = [{"path": p, "summary": done[p]} for p in paths if p in done]
    todo = [p for p in paths if p not in done]

    def on_result(entry: dict) -> None:
        entries.append(entry)
        if resume:
            zoo.state_append(resume, entry["summary"])
        if json_out:
            sys.stdout.write(zoo_view.json_line(entry) + "\n")
            sys.stdout.flush()
        if "error" in entry:
            typer.echo(f"opaudit: error: {entry['path']}: {entry['error']}", err=True)

    with zoo_view.progress(len(paths), len(entries)) as advance:
        zoo.run_pool(todo, options, jobs, lambda e: (on_result(e), advance()))
    order = {p: i for i, p in enumerate(paths)}
    rows = [e["summary"] for e in sorted(entries, key=lambda e: order[e["path"]])]
    if csv_out:
        sys.stdout.write(zoo_view.csv_text(rows))
    elif not json_out:
        zoo_view.render_table(rows, options.target)
    return zoo.exit_code(entries)


def _write_html(report, path: Path) -> None:
    from opaudit.atomic import write_bytes
    from opaudit.render.html import render_inspect_html

    write_bytes(path, render_inspect_html(report))  # default lookup: rewrites.rules_for_tf_op


def _write_overlay(report, path: Path) -> None:
    import json

    from opaudit.atomic import write_bytes
    from opaudit.render.model_explorer import model_explorer_overlay

    write_bytes(path, json.dumps(model_explorer_overlay(report), indent=1))


@app.command()
def report(
    model: Annotated[Path, typer.Argument(help="A .tflite file.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="HTML file (default: reports/<model>.html).")] = None,
    target: Target = "cpu",
    probe: Annotated[bool, typer.Option("--probe/--no-probe")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds allowed for the interpreter probe.")] = 60.0,
    input_shape: Annotated[Optional[list[str]], typer.Option("--input-shape")] = None,
) -> None:
    """Write a self-contained HTML op-support report for one model."""
    from opaudit.inspect import inspect_model

    r = inspect_model(str(model), target=target, probe=probe, timeout=timeout,
                      input_shapes=parse_input_shapes(input_shape))
    out = output or Path("reports") / f"{model.stem}.html"
    _write_html(r, out)
    typer.echo(f"wrote {out}")
    raise typer.Exit(EXIT_FINDINGS if r.blocking() else EXIT_OK)


@app.command()
def fix(
    model: Annotated[str, typer.Option("--model", "-m", help="mrcnn | path/to/file.py:function | model.keras | model.h5 | SavedModel dir.")],
    config: Annotated[str, typer.Option(help="mrcnn config: small | coco.")] = "small",
    weights: Annotated[Optional[Path], typer.Option(help="mrcnn weights (.h5, reference/Keras 2 layout, loaded by layer name).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (model.tflite, fix.json, report.html).")] = Path("out/fix"),
    samples: Annotated[Optional[str], typer.Option(help="file.py:function returning a list of input lists for parity.")] = None,
    max_iterations: Annotated[int, typer.Option(help="Convert/rewrite rounds at most.")] = 6,
    timeout: Annotated[float, typer.Option(help="Seconds allowed for one conversion.")] = 900.0,
    rules: Annotated[Optional[list[Path]], typer.Option("--rules", help="Extra rule files (repeatable).")] = None,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Serve unchanged reruns from the cache.")] = True,
    weights_exclude: Annotated[Optional[list[str]], typer.Option("--weights-exclude", help="Layer not to load from --weights (repeatable), e.g. heads with another class count.")] = None,
    keras: Annotated[Optional[str], typer.Option("--keras", help="2 | 3: Keras version of the model code/file (default: detected; 2 runs under tf_keras).")] = None,
    profile: Annotated[bool, typer.Option("--profile", help="Add the per-node latency profile of the fixed model (docs/profile.md).")] = False,
    quantize: Annotated[Optional[list[str]], typer.Option("--quantize", help="none | fp16 | dynamic | int8, comma-separated or repeated: quantized variants scored on the task (docs/quantize.md).")] = None,
    calibration: Annotated[Optional[str], typer.Option("--calibration", help="int8: file.py:function returning calibration inputs (default: the parity samples).")] = None,
) -> None:
    """Convert, audit, rewrite and reconvert until the model is builtin-only, invokes and matches Keras.

    Exit 0: fixed (and every --quantize variant holds its bar); 1: not fixed, or a variant misses
    its bar or does not run; 2: bad input."""
    from opaudit.fix import run_fix
    from opaudit.quantize.modes import parse_modes
    from opaudit.render.fix_terminal import print_summary

    modes = parse_modes(quantize)
    result = run_fix(model, out=out, config=config, weights=str(weights) if weights else None,
                     samples=samples, max_iterations=max_iterations, timeout=timeout,
                     rules=[str(r) for r in rules or []], use_cache=cache, keras=keras,
                     weights_exclude=weights_exclude or (), profile=profile, quantize=modes, calibration=calibration)
    print_summary(result)
    variants_ok = all(v.status == "ok" for v in (result.quantization.variants if result.quantization else []))
    raise typer.Exit(EXIT_OK if result.fixed and variants_ok else EXIT_FINDINGS)


@app.command()
def compare(
    tflite: Annotated[Path, typer.Argument(help="The converted .tflite file.", show_default=False)],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="mrcnn | path/to/file.py:function | model.keras | model.h5 (the Keras original).")] = None,
    against: Annotated[Optional[Path], typer.Option("--against", help="Quantization-noise mode: the float .tflite TFLITE was quantized from; per-layer SNR, no Keras (docs/quantize.md).")] = None,
    config: Annotated[str, typer.Option(help="mrcnn config: small | coco.")] = "small",
    weights: Annotated[Optional[Path], typer.Option(help="mrcnn weights (.h5, reference layout).")] = None,
    samples: Annotated[Optional[str], typer.Option(help="file.py:function returning a list of input lists.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the JSON report (docs/compare.md).")] = False,
    html: Annotated[Optional[Path], typer.Option("--html", help="Also write the HTML report here.")] = None,
    model_explorer: Annotated[Optional[Path], typer.Option("--model-explorer", help="Write a Model Explorer node-data overlay of per-node error.")] = None,
    fix_json: Annotated[Optional[Path], typer.Option("--fix-json", help="fix.json of the run that made the .tflite: names the rule behind a divergent layer.")] = None,
    bar: Annotated[float, typer.Option(help="Max relative error of an equal layer.")] = 1e-4,
    keras: Annotated[Optional[str], typer.Option("--keras", help="2 | 3: Keras version of the model code/file (default: detected; 2 runs under tf_keras).")] = None,
) -> None:
    """Layer-by-layer parity: tell a wrong conversion (divergent, exit 1) from an ill-conditioned model.

    With --against FLOAT.tflite instead of --model: where a quantized TFLITE loses precision,
    layer by layer, against the float model it came from (exit 0)."""
    from opaudit.compare import compare_model
    from opaudit.render import compare_terminal

    if against is not None:
        _compare_quantized(against, tflite, samples, json_out)
        raise typer.Exit(EXIT_OK)
    if not model:
        raise UsageError("compare needs --model (the Keras original) or --against (the float .tflite)")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log lines are not ours
    plan = _plan_from(fix_json) if fix_json else None
    with compare_terminal.progress_line(enabled=not json_out and sys.stderr.isatty()) as say:
        report = compare_model(model, tflite, config=config, weights=str(weights) if weights else None,
                               samples=samples, bar=bar, plan=plan, progress=say, keras=keras)
    data = report.to_dict()
    if json_out:
        import json

        typer.echo(json.dumps(data, indent=1, default=str))
    else:
        compare_terminal.print_compare(data)
    if html:
        from opaudit.atomic import write_bytes
        from opaudit.render.compare_html import render_compare_html

        write_bytes(html, render_compare_html(data).encode())
    if model_explorer:
        _write_compare_overlay(data, tflite, model_explorer)
    raise typer.Exit(EXIT_FINDINGS if report.verdict == "divergent" else EXIT_OK)


def _compare_quantized(float_path: Path, quant: Path, samples: str | None, json_out: bool) -> None:
    from opaudit.compare.quant_noise import compare_quantized
    from opaudit.render.compare_terminal import print_quant_noise

    for p in (float_path, quant):
        if not p.is_file():
            raise UsageError(f"{p}: no such file")
    data = compare_quantized(str(float_path), str(quant), samples)
    if json_out:
        import json

        typer.echo(json.dumps(data, indent=1, default=str))
    else:
        print_quant_noise(data)


def _plan_from(path: Path) -> dict[str, list[str]]:
    """The last iteration's plan of a fix.json (UsageError when unreadable)."""
    import json

    try:
        fix = json.loads(Path(path).read_text())
        return dict((fix.get("iterations") or [{}])[-1].get("plan") or {})
    except (OSError, ValueError, AttributeError) as e:
        raise UsageError(f"--fix-json {path}: not a readable fix.json ({e})") from None


def _write_compare_overlay(data: dict, tflite: Path, path: Path) -> None:
    import json

    from opaudit.atomic import write_bytes
    from opaudit.inspect import inspect_model
    from opaudit.render.compare_overlay import compare_overlay

    r = inspect_model(str(tflite), probe=False)
    names = {t.index: t.name for t in r.tensors if t.subgraph == 0}
    write_bytes(path, json.dumps(compare_overlay(data, r.operators, names), indent=1))


@app.command()
def profile(
    model: Annotated[Path, typer.Argument(help="A .tflite file.", show_default=False)],
    threads: Annotated[int, typer.Option(help="num_threads for the per-node timings.")] = 1,
    runs: Annotated[int, typer.Option(help="Invokes per measurement (median, after one warm-up).")] = 5,
    top: Annotated[int, typer.Option(help="Hot spots and layers shown.")] = 15,
    json_out: Annotated[bool, typer.Option("--json", help="Print the profile as JSON (docs/profile.md).")] = False,
    html: Annotated[Optional[Path], typer.Option("--html", help="Also write an HTML page here.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds allowed for the measuring child.")] = 1800.0,
    input_shape: Annotated[Optional[list[str]], typer.Option("--input-shape", help="NAME=1,224,224,3 for a dynamic input.")] = None,
    inputs: Annotated[Optional[Path], typer.Option("--inputs", help=".npz of input arrays (default: seeded).")] = None,
) -> None:
    """Time every node alone (captured inputs) and the whole model; per op type, GFLOP/s, hot spots."""
    import json

    from opaudit.profile import profile_model

    prof = profile_model(str(model), threads=threads, runs=runs, top=top, timeout=timeout,
                         input_shapes=parse_input_shapes(input_shape), inputs_npz=str(inputs) if inputs else None)
    if json_out:
        typer.echo(json.dumps(prof.to_dict(), indent=1))
    else:
        from opaudit.render.profile_terminal import render

        render(prof, top=top)
    if html:
        from opaudit.atomic import write_bytes
        from opaudit.render.profile_html import render_profile_html

        write_bytes(html, render_profile_html(prof.to_dict()))
    raise typer.Exit(EXIT_OK)


def main() -> None:
    """Console entry point: typer app with one-line errors and documented exit codes."""
    try:
        app()
    except OpauditError as e:
        _report(e, e.exit_code)
    except KeyboardInterrupt:
        _report("interrupted", 130)
    except Exception as e:  # never a traceback for the user; OPAUDIT_DEBUG=1 shows it
        if os.environ.get("OPAUDIT_DEBUG"):
            raise
        _report(f"internal error: {type(e).__name__}: {e}", EXIT_BAD_INPUT)


def _report(msg, code: int) -> None:
    sys.stderr.write(f"opaudit: error: {' '.join(str(msg).split())}\n")
    sys.exit(code)
