"""`fix` on a model that is ill-conditioned on purpose (crop_and_resize at the image border):
parity fails end to end, the layer-wise compare clears the conversion, `fix` ends fixed with
``parity.mode = layer-wise``; `compare` on the result says the same; the Model Explorer overlay
is checked with the ai-edge-model-explorer package itself."""

import json
from pathlib import Path

import pytest

from opaudit.fix import run_fix
from tests.opaudit.compare import zoo

ZOO = Path(zoo.__file__).resolve()
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def crop_fix(tmp_path_factory):
    out = tmp_path_factory.mktemp("crop-fix")
    import os

    os.environ["OPAUDIT_CACHE"] = str(out / "cache")
    result = run_fix(f"{ZOO}:build_crop_border", out=out / "out", samples=f"{ZOO}:samples_crop", use_cache=False)
    return result, out / "out"


def test_fix_ends_fixed_layer_wise_naming_the_crop(crop_fix):
    result, out = crop_fix
    assert result.fixed, result.reason
    fix = json.loads((out / "fix.json").read_text())
    par = fix["parity"]
    assert fix["schema_version"] >= 3 and par["mode"] == "layer-wise" and par["passed"] is True
    assert [o["name"] for o in par["outputs"] if not o["passed"]] == ["probs"]  # end to end it does fail
    cmp = par["compare"]
    assert cmp["verdict"] == "ill-conditioned" and cmp["first_divergent"] is None
    [ex] = par["ill_conditioned"]
    assert ex["layer"] == "roi_crop" and ex["rows"] and ex["mechanism"].startswith("crop_and_resize at the image border")
    assert ex["keras_shift_rel"] >= 0.5 * ex["propagated_rel"] > 0.01  # Keras itself moves as much
    assert ex["input_rel"] < 1e-5  # ... under an input difference of float noise
    by = {c["layer"]: c for c in cmp["layers"]}
    assert all(c["status"] in ("equal", "differs", "no-tensor") for c in cmp["layers"])
    assert by["boxes"]["status"] == "equal" and by["roi_crop"]["rules"] == ["crop_and_resize"]
    assert "roi_crop" in fix["reason"] and "rows" in fix["reason"]
    html = (out / "report.html").read_text()
    assert "ill-conditioned" in html and "roi_crop" in html and 'class="spark"' in html


def test_compare_on_the_fixed_model_and_overlay(crop_fix, tmp_path):
    from typer.testing import CliRunner

    from opaudit.cli import app

    _, out = crop_fix
    overlay = tmp_path / "me.json"
    r = CliRunner().invoke(app, ["compare", "--model", f"{ZOO}:build_crop_border", str(out / "model.tflite"),
                                 "--samples", f"{ZOO}:samples_crop", "--json", "--fix-json", str(out / "fix.json"),
                                 "--model-explorer", str(overlay)])
    assert r.exit_code == 0, r.output[-2000:]
    d = json.loads(r.stdout[r.stdout.index("{"):])
    assert d["verdict"] == "ill-conditioned" and [e["layer"] for e in d["explanations"]] == ["roi_crop"]
    _check_overlay(json.loads(overlay.read_text()), out / "model.tflite")


def _check_overlay(data: dict, tflite: Path) -> None:
    """Every key names a node output of the graph Model Explorer's own TFLite adapter builds,
    and the data round-trips through the package's node-data classes."""
    from model_explorer import node_data_builder as nd
    from model_explorer.builtin_tflite_mlir_adapter import BuiltinTfliteMlirAdapter

    graphs = BuiltinTfliteMlirAdapter().convert(str(tflite), {})["graphCollections"][0].graphs
    names = {g["id"]: {a["value"] for n in g["nodes"] for m in n.get("outputsMetadata", [])
                       for a in m["attrs"] if a["key"] == "tensor_name"} for g in graphs}
    for gid, graph in data.items():
        assert gid in names and graph["results"]
        assert set(graph["results"]) <= names[gid], set(graph["results"]) - names[gid]
    built = nd.ModelNodeData(graphsData={gid: nd.GraphNodeData(
        name=g["name"], results={k: nd.NodeDataResult(**v) for k, v in g["results"].items()},
        gradient=[nd.GradientItem(**x) for x in g["gradient"]]) for gid, g in data.items()})
    again = json.loads(built.to_json_string())
    for gid, g in data.items():
        assert again[gid]["results"] == g["results"] and again[gid]["gradient"] == g["gradient"]
