"""A real .tflite whose names are hostile, through the real CLI: every renderer stays inert.

The `custom` test model is rewritten by `hostile.write_hostile` (tensor names, custom codes,
signature, subgraph name, description, a metadata entry) and audited by `python -m opaudit
inspect` in three runs: terminal (+ `--html`, `--model-explorer`), terminal with colours forced
(what a user at a real terminal gets), and `--json`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

try:
    from tests.opaudit import hostile as H
    from tests.opaudit.browser import chromium, load  # noqa: F401 (fixture)
except ImportError:  # tests/ is not a package: pytest puts this directory on sys.path
    import hostile as H
    from browser import chromium, load  # noqa: F401

# Terminal control bytes that the model carries (ESC, BEL, 8-bit CSI): none may reach a terminal.
CONTROL = ("\x1b", "\x07", "\u009b")


def _run(*args, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "TERM", "COLUMNS")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "opaudit", *map(str, args)], capture_output=True,
                          text=True, encoding="utf-8", errors="surrogateescape", timeout=120, env=full)


@pytest.fixture(scope="module")
def hostile(models, tmp_path_factory):
    """The hostile model, the strings it carries and the three CLI runs over it."""
    d = tmp_path_factory.mktemp("hostile")
    path, html, overlay = d / "hostile.tflite", d / "report.html", d / "overlay.json"
    names = H.write_hostile(models["custom"], path)
    before = path.read_bytes()
    runs = {
        # wide, so that table cells are not wrapped and strings can be looked up whole
        "term": _run("inspect", path, "--html", html, "--model-explorer", overlay, COLUMNS="1000"),
        "color": _run("inspect", path, COLUMNS="1000", FORCE_COLOR="1", TERM="xterm-256color"),
        "json": _run("inspect", "--json", path),
    }
    return SimpleNamespace(path=path, names=names, before=before, runs=runs, html=html, overlay=overlay)


def test_written_model_carries_the_hostile_names(hostile):
    from ai_edge_litert import schema_py_generated as schema

    m = schema.ModelT.InitFromPackedBuf(hostile.before, 0)
    names = [t.name.decode() for t in m.subgraphs[0].tensors]
    assert all(names[i] == s for i, s in hostile.names["tensors"].items())
    assert len(H.LONG) == 20_000 and H.LONG in names
    assert {c.customCode.decode() for c in m.operatorCodes if c.customCode} == set(H.CUSTOM_CODES.values())
    assert m.signatureDefs[0].signatureKey.decode() == H.SIGNATURE_KEY


@pytest.mark.parametrize("run", ["term", "color", "json"])
def test_cli_blocks_on_custom_ops_without_traceback(hostile, run):
    r = hostile.runs[run]
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stdout + r.stderr and "internal error" not in r.stderr
    assert r.stderr.strip() == ""


def test_terminal_does_not_interpret_markup_from_the_model(hostile):
    for run in ("term", "color"):
        out = hostile.runs[run].stdout
        # the custom code is printed verbatim: the tags are text, not styles or hyperlinks
        assert "Op[bold red]x[/][link=http://evil]y[/link]" in out, run
        assert "[bold red]L[link=evil]y" in out, run  # the hostile layer of node 7
        assert "Evil<svg onload=alert(1)>Op" in out, run
    assert "\x1b]8;" not in hostile.runs["color"].stdout  # no OSC 8 hyperlink was made


def test_terminal_truncates_the_20000_character_name(hostile):
    for run in ("term", "color"):
        out = hostile.runs[run].stdout
        runs_of_l = [len(m) for m in re.findall(r"L+", out)]
        assert max(runs_of_l) >= 40, run  # the long layer name is shown ...
        assert max(runs_of_l) <= 400, run  # ... cut (the longest limit in terminal.py is 400)
        assert len(out) < 20_000, run


def test_terminal_output_has_no_control_bytes_from_the_model(hostile):
    plain = hostile.runs["term"].stdout  # not a terminal: rich itself writes no escape at all
    assert [c for c in CONTROL if c in plain] == []
    color = hostile.runs["color"].stdout  # rich's own SGR codes are fine; the model's are not
    for seq in ("\x1b]", "\x1b[2J", "\x1b[31mR", "\u009b", "\x07"):
        assert seq not in color, repr(seq)


def test_json_round_trips_every_hostile_string(hostile):
    r = hostile.runs["json"]
    assert "\x1b" not in r.stdout  # JSON escapes control characters
    d = json.loads(r.stdout)
    n = hostile.names
    tensors = {t["index"]: t["name"] for t in d["tensors"] if t["subgraph"] == 0}
    for i, name in n["tensors"].items():
        assert tensors[i] == name, i
    assert len(tensors[next(i for i, s in n["tensors"].items() if s == H.LONG)]) == 20_000
    ops = {o["index"]: o for o in d["operators"]}
    assert ops[2]["op"] == H.CUSTOM_CODES["CropAndResize"] and ops[2]["kind"] == "custom"
    assert ops[7]["op"] == H.CUSTOM_CODES["DenseToDenseSetOperation"] and ops[7]["kind"] == "custom"
    assert ops[7]["layer"] in (H.LAYER, H.LAYER + "_1")
    assert ops[0]["node_name"] == H.SCRIPT
    sig = d["signatures"][0]
    assert sig["key"] == n["signature_key"]
    assert list(sig["inputs"]) == n["signature_inputs"] and list(sig["outputs"]) == n["signature_outputs"]
    assert d["metadata"][H.META_NAME] == H.META_VALUE
    assert d["description"] == H.DESCRIPTION and d["subgraphs"][0]["name"] == H.SUBGRAPH_NAME
    blocked = {(f["subgraph"], f["index"]) for f in d["findings"] if f["code"] == "UNRESOLVED_CUSTOM_OP"}
    assert blocked == {(0, 2), (0, 7)}
    assert d["sha256"] == hashlib.sha256(hostile.before).hexdigest()


def test_runtime_error_is_attached_to_the_hostile_node(hostile):
    d = json.loads(hostile.runs["json"].stdout)
    assert (d["probe"]["failed_node"] or {}).get("index") == 2
    assert [f["code"] for f in d["findings"] if f["index"] is None and f["severity"] == "error"] == []
    node2 = next(f for f in d["findings"] if f["index"] == 2 and f["code"] == "UNRESOLVED_CUSTOM_OP")
    assert "Encountered unresolved custom op" in (node2["error"] or "")


class Page(HTMLParser):
    """Start tags with attributes, text outside <script>/<style>, and the JSON data block."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.data = ""
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in = tag if tag in ("script", "style") else None
        if dict(attrs).get("id") == "opaudit-data":
            self._in = "data"

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "data":
            self.data += data
        elif self._in is None:
            self.text.append(data)


def _parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    p.close()
    return p


def test_html_report_injects_no_element_or_attribute(hostile, models):
    from opaudit.inspect import inspect_model
    from opaudit.render.html import render_inspect_html

    html = hostile.html.read_text(encoding="utf-8")
    page = _parse(html)
    tags = [t for t, _ in page.tags]
    for raw in ("<script>window.__pwned", "<img", "<svg onload", "</textarea>", "]]>"):
        assert raw not in html, raw
    assert "img" not in tags and "textarea" not in tags and "iframe" not in tags
    assert [a["href"] for t, a in page.tags if t == "a" and not a.get("href", "").startswith("#")] == []
    assert tags.count("script") == 2 and tags.count("link") == 1
    assert [a for _, attrs in page.tags for a in attrs if a.lower().startswith("on")] == []
    assert all(attrs.get("class") == "graph" for t, attrs in page.tags if t == "svg")
    # the same model with plain names: the hostile page has no element type the plain one lacks
    plain = _parse(render_inspect_html(inspect_model(str(models["custom"])), rule_lookup=lambda op: None))
    assert set(tags) <= {t for t, _ in plain.tags}
    # the names are there, as text
    text = "".join(page.text)
    for s in (H.SCRIPT, H.IMG, H.CUSTOM_CODES["CropAndResize"], H.SIGNATURE_KEY[:40], H.META_NAME[:40]):
        assert s in text, s
    assert H.LONG not in text and "L" * 100 in text  # shown, but cut
    data = json.loads(page.data)
    assert data["nodes"]["0:0"]["out"][0][1] == H.SCRIPT
    assert data["nodes"]["0:7"]["op"] == H.CUSTOM_CODES["DenseToDenseSetOperation"]


def test_model_explorer_overlay_is_valid_json(hostile):
    d = json.loads(hostile.overlay.read_text(encoding="utf-8"))
    assert list(d) == ["main"]  # subgraph 0 is "main" in Model Explorer whatever its (hostile) name
    results = d["main"]["results"]
    assert len(results) == 10  # every node, keyed by its output tensor name: hostile names intact
    assert sorted(v["value"] for v in results.values()).count(2) == 2


@pytest.mark.browser
def test_html_report_in_chromium_runs_no_script_and_keeps_width(hostile, chromium, tmp_path):
    d = chromium
    load(d, hostile.html.read_text(encoding="utf-8"), tmp_path, "hostile.html")

    def check(when):
        assert d.execute_script("return typeof window.__pwned") == "undefined", when
        assert d.execute_script("return document.images.length") == 0, when
        assert d.execute_script("return document.scripts.length") == 2, when
        w = d.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert w[0] <= w[1] + 4, (when, w)

    check("loaded")
    # our script puts the names into the details panel as text (node 0 writes the <script> name,
    # node 2 the 20,000-character one)
    for key, expect in (("0:0", H.SCRIPT), ("0:2", "L" * 100), ("0:7", "Op[bold red]x[/]")):
        d.execute_script(f"document.querySelector('tr[data-key=\"{key}\"]').click()")
        assert expect in d.find_element("id", "details").text, key
        check(f"details of {key}")
    assert [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "ERROR")] == []
    assert d.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_input_file_is_unchanged(hostile):
    assert hostile.path.read_bytes() == hostile.before  # after every run above
