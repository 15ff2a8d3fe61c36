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
    models: Annotated[list[Path], typer.Argument(help="One or more .tflite files.", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the JSON report (docs/json-schema.md).")] = False,
    target: Target = "cpu",
    probe: Annotated[bool, typer.Option("--probe/--no-probe", help="Run the interpreter in a child process.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds allowed for the interpreter probe.")] = 60.0,
    input_shape: Annotated[Optional[list[str]], typer.Option("--input-shape", help="NAME=1,224,224,3 for a dynamic input (repeatable; default: dynamic dims = 1).")] = None,
    html: Annotated[Optional[Path], typer.Option("--html", help="Also write the HTML report here (one model).")] = None,
    model_explorer: Annotated[Optional[Path], typer.Option("--model-explorer", help="Write a Model Explorer node-data overlay (one model).")] = None,
) -> None:
    """Audit .tflite models: op kinds, support per target, the nodes that cannot run and their layers."""
    from opaudit.inspect import inspect_model
    from opaudit.render import json as jr

    shapes = parse_input_shapes(input_shape)
    if (html or model_explorer) and len(models) > 1:
        raise UsageError("--html / --model-explorer take a single model")
    reports, errors, code = [], [], EXIT_OK
    for m in models:
        try:
            r = inspect_model(str(m), target=target, probe=probe, timeout=timeout, input_shapes=shapes)
        except OpauditError as e:
            if isinstance(e, UsageError):
                raise
            typer.echo(f"opaudit: error: {m}: {' '.join(str(e).split())}", err=True)
            errors.append({"path": str(m), "error": str(e), "exit_code": e.exit_code})
            code = EXIT_BAD_INPUT
            continue
        reports.append(r)
        if r.blocking() and code == EXIT_OK:
            code = EXIT_FINDINGS
    if json_out:
        typer.echo(jr.dumps(reports, errors))
    else:
        from opaudit.render import terminal

        for r in reports:
            terminal.render(r)
    if reports and html:
        _write_html(reports[0], html)
    if reports and model_explorer:
        _write_overlay(reports[0], model_explorer)
    raise typer.Exit(code)


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
    model: Annotated[str, typer.Option("--model", "-m", help="mrcnn | path/to/file.py:function | model.keras | SavedModel dir.")],
    config: Annotated[str, typer.Option(help="mrcnn config: small | coco.")] = "small",
    weights: Annotated[Optional[Path], typer.Option(help="mrcnn weights (.h5, reference layout).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (model.tflite, fix.json, report.html).")] = Path("out/fix"),
    samples: Annotated[Optional[str], typer.Option(help="file.py:function returning a list of input lists for parity.")] = None,
    max_iterations: Annotated[int, typer.Option(help="Convert/rewrite rounds at most.")] = 6,
    timeout: Annotated[float, typer.Option(help="Seconds allowed for one conversion.")] = 900.0,
    rules: Annotated[Optional[list[Path]], typer.Option("--rules", help="Extra rule files (repeatable).")] = None,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Serve unchanged reruns from the cache.")] = True,
    profile: Annotated[bool, typer.Option("--profile", help="Add the per-node latency profile of the fixed model (docs/profile.md).")] = False,
) -> None:
    """Convert, audit, rewrite and reconvert until the model is builtin-only, invokes and matches Keras."""
    from opaudit.fix import run_fix
    from opaudit.render.fix_terminal import print_summary

    result = run_fix(model, out=out, config=config, weights=str(weights) if weights else None,
                     samples=samples, max_iterations=max_iterations, timeout=timeout,
                     rules=[str(r) for r in rules or []], use_cache=cache, profile=profile)
    print_summary(result)
    raise typer.Exit(EXIT_OK if result.fixed else EXIT_FINDINGS)


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
