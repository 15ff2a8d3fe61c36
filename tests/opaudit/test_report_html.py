"""HTML report without a browser: escaping, CSP, no remote references, speed, overlay format."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from html.parser import HTMLParser

import pytest

from opaudit.findings import Operator, SubgraphInfo, TensorInfo
from opaudit.render import graph as graphmod
from opaudit.render.html import json_for_html, render_fix_html, render_inspect_html
from opaudit.render.model_explorer import graph_ids, model_explorer_overlay, node_status

try:
    from tests.opaudit.browser import HOSTILE, LONG, sample_fix, sample_report
except ImportError:  # tests/ is not a package: pytest puts this directory on sys.path
    from browser import HOSTILE, LONG, sample_fix, sample_report

DATA_OPEN = '<script type="application/json" id="opaudit-data">'


class Tags(HTMLParser):
    """Collects (tag, attrs) of every start tag, and the text of <script>/<style> elements."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self._in = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.raw:
            self._in = tag
            self.raw[tag].append("")

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in:
            self.raw[self._in][-1] += data


def parse(html: str) -> Tags:
    p = Tags()
    p.feed(html)
    return p


def data_block(html: str) -> str:
    start = html.index(DATA_OPEN) + len(DATA_OPEN)
    return html[start:html.index("</script>", start)]


@pytest.fixture(scope="module")
def hostile_pages():
    rep = sample_report(40, hostile=True)
    return rep, [render_inspect_html(rep), render_fix_html(sample_fix(hostile=True), rep),
                 render_fix_html(sample_fix(hostile=True), None)]


def test_hostile_names_never_reach_markup(hostile_pages):
    rep, pages = hostile_pages
    for html in pages:
        assert HOSTILE not in html
        assert "<img" not in html and "<b>'" not in html and "<script>window" not in html
        assert LONG not in html  # 20,000-character names are cut for display
        p = parse(html)
        tags = [t for t, _ in p.tags]
        assert "img" not in tags
        assert tags.count("script") == 2  # the JSON data block + our own script, nothing else
        for tag, attrs in p.tags:
            assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
    # the names are there, escaped
    assert "&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;" in pages[0]
    assert "&lt;/script&gt;" in pages[0]


def test_json_block_escaped_and_round_trips(hostile_pages):
    rep, pages = hostile_pages
    block = data_block(pages[0])
    for ch in "<>&\u2028\u2029":
        assert ch not in block
    data = json.loads(block)
    custom = next(o for o in rep.operators if o.kind == "custom")
    assert data["nodes"][f"0:{custom.index}"]["op"] == HOSTILE
    assert json.loads(json_for_html({"k": "</script><!--\u2028"})) == {"k": "</script><!--\u2028"}


def _sha(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_csp_allows_exactly_the_inlined_script_and_style():
    html = render_inspect_html(sample_report(20))
    p = parse(html)
    metas = [a for t, a in p.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(metas) == 1
    csp = dict(d.strip().split(" ", 1) for d in metas[0]["content"].split(";"))
    assert csp["default-src"] == "'none'" and csp["img-src"] == "data:"
    script = [s for s in p.raw["script"] if not s.startswith("{")][0]
    assert csp["script-src"] == f"'{_sha(script)}'"
    assert csp["style-src"] == f"'{_sha(p.raw['style'][0])}'"


def test_nothing_remote_to_load():
    rep = sample_report(60)
    for html in (render_inspect_html(rep), render_fix_html(sample_fix(), rep)):
        assert "http://" not in html and "https://" not in html
        for tag, attrs in parse(html).tags:
            for name in ("src", "href", "action", "srcset", "poster"):
                if name in attrs:
                    assert attrs[name].startswith(("#", "data:")), (tag, attrs)


def test_every_node_is_a_row_and_failing_nodes_name_layer_and_rule():
    rep = sample_report(60)
    html = render_inspect_html(rep, rule_lookup=lambda op: "crop_and_resize" if op.tf_op == "CropAndResize" else None)
    assert html.count("<tr data-key=") == len(rep.operators)
    flex = next(o for o in rep.operators if o.kind == "flex")
    custom = next(o for o in rep.operators if o.kind == "custom")
    fail = html[html.index('id="failing"'):html.index('id="matrix"')]
    assert f'id="fail-0-{flex.index}"' in fail and f'id="fail-0-{custom.index}"' in fail
    assert flex.layer in fail and custom.layer in fail
    assert "rule: crop_and_resize" in fail and "no rule" in fail
    assert fail.count("<svg") == 2  # one neighbourhood drawing per failing node
    assert "Cannot run on CPU" in html


@pytest.mark.parametrize("n,budget", [(400, 1.0), (5000, 6.0)])
def test_generation_time(n, budget):
    rep = sample_report(n)
    render_inspect_html(sample_report(10))  # template compilation is a one-off
    t0 = time.perf_counter()
    html = render_inspect_html(rep)
    took = time.perf_counter() - t0
    print(f"{n} nodes: {took:.3f} s, {len(html) / 1e6:.1f} MB")
    assert took < budget
    assert html.count("<tr data-key=") == len(rep.operators)


def test_neighbourhood_caps_fan_out_and_stays_in_bounds():
    ops = [Operator(0, 0, "SPLIT", "builtin", 1, (0,), (1,))]
    ops += [Operator(0, i, "ADD", "builtin", 1, (1,), (i + 1,)) for i in range(1, 300)]
    tensors = {(0, t): TensorInfo(0, t, f"t{t}", "float32", (1, 4), None, 0, 0) for t in range(301)}
    idx = graphmod.index_subgraphs(ops)[0]
    g = graphmod.neighbourhood(idx, 0, tensors=tensors, blocked={0}, subgraph=0, cap=40)
    assert len(g.nodes) == 40 and g.hidden == 299 - 39
    assert g.width < 1200  # the fan-out is folded into rows
    assert {n.index for n in g.nodes if n.role == "center"} == {0}
    for n in g.nodes:
        assert g.box_w / 2 <= n.x <= g.width - g.box_w / 2 and g.box_h / 2 <= n.y <= g.height - g.box_h / 2
    assert all(e.y2 > e.y1 for e in g.edges)  # producers above consumers
    assert len(g.edges) == 39


def test_model_explorer_overlay_format():
    rep = sample_report(30)
    overlay = model_explorer_overlay(rep)
    json.dumps(overlay)
    # subgraph 0 is always "main" in Model Explorer's adapter; subgraph 1 keeps its own name
    assert set(overlay) == {"main", "while_body"}
    main = overlay["main"]
    out_name = {o.index: rep.tensors[o.outputs[0]].name for o in rep.operators if o.subgraph == 0}
    assert set(main["results"]) == set(out_name.values())  # keyed by output tensor name
    status = node_status(rep)
    for (sg, i), s in status.items():
        if sg == 0:
            assert main["results"][out_name[i]]["value"] == {"runs": 0, "warning": 1, "blocked": 2}[s]
    flex = next(o for o in rep.operators if o.kind == "flex")
    assert main["results"][out_name[flex.index]]["value"] == 2
    values = [t["value"] for t in main["thresholds"]]
    assert values == sorted(values) and all(t["bgColor"].startswith("#") for t in main["thresholds"])
    longest = max(len(n) for n in out_name.values())
    assert len(model_explorer_overlay(rep, longest - 1)["main"]["results"]) < len(out_name)
    rep.signatures, rep.subgraphs = [], [SubgraphInfo(0, "serving", (), (), 30, 31)]
    assert graph_ids(rep) == {0: "main", 1: "subgraph_1"}


def test_model_explorer_overlay_matches_the_packages_own_adapter():
    """Graph ids and keys are those Model Explorer's own TFLite adapter builds for a real model
    (its node ids are not operator indices: constants are numbered among the operators)."""
    from model_explorer.builtin_tflite_mlir_adapter import BuiltinTfliteMlirAdapter

    from opaudit.inspect import inspect_model

    path = Path(__file__).parent / "fixtures/third_party/mediapipe/selfie_segmentation.tflite"
    overlay = model_explorer_overlay(inspect_model(str(path), target="cpu", probe=False))
    graphs = BuiltinTfliteMlirAdapter().convert(str(path), {})["graphCollections"][0].graphs
    names = {g["id"]: {a["value"] for n in g["nodes"] for m in n.get("outputsMetadata", [])
                       for a in m["attrs"] if a["key"] == "tensor_name"} for g in graphs}
    assert set(overlay) == {"main"} <= set(names)
    assert len(overlay["main"]["results"]) == 246 and set(overlay["main"]["results"]) <= names["main"]


def test_fix_report_contents_and_missing_keys():
    rep = sample_report(30)
    html = render_fix_html(sample_fix(), rep)
    assert "Fixed" in html and "Iteration 1" in html and "Iteration 2" in html
    assert "48.6 MB &middot; 65 nodes &middot; probe ok" in html  # final model card
    hist = html[html.index('id="histogram"'):html.index('id="parity"')]
    assert "GATHER_ND" in hist and "+8" in hist and "-2" in hist
    parity = html[html.index('id="parity"'):]
    assert "mrcnn_mask" in parity and "min IoU 0.998" in parity and "matched 16" in parity
    assert 'id="nodes"' in html  # the final model's inspect sections follow
    failed = dict(sample_fix(), status="failed", unfixed=[
        {"op": None, "layer": None, "code": "PARITY_FAILED", "output": "class_probs",
         "error": "outputs differ from Keras", "why": "no rule answers a parity failure"},
        {"op": "FlexFoo", "layer": "my_layer", "subgraph": 0, "index": 12, "error": "no kernel"}])
    html = render_fix_html(failed, None)
    unfixed = html[html.index('id="unfixed"'):html.index('id="timeline"')]
    assert "PARITY_FAILED" in unfixed and "class_probs" in unfixed and "no rule answers" in unfixed
    assert "FlexFoo" in unfixed and "my_layer" in unfixed and ">12<" in unfixed
    bare = render_fix_html({"status": "failed", "reason": "conversion timed out"})
    assert "Not fixed" in bare and "conversion timed out" in bare and "no successful conversion" in bare
