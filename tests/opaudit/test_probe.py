"""The probe turns every runtime outcome into data: errors, crashes, hangs."""

import sys

from opaudit.probe import parse_failed_nodes, run_probe


def test_clean_model_invokes(models):
    r = run_probe(str(models["clean"]))
    assert r.status == "ok", r.error
    assert r.inputs[0]["shape"] == [1, 16, 16, 3]
    assert r.outputs[0]["shape"] == [1, 3]


def test_flex_fails_to_prepare(models):
    r = run_probe(str(models["flex"]))
    assert r.status == "prepare_failed" and r.stage == "allocate"
    assert "Select TensorFlow op" in r.error
    assert r.failed_node == {"index": 2, "op": "FlexCropAndResize", "stage": "prepare"}


def test_allocate_passes_invoke_fails(models):
    """A data-dependent WHERE before the unresolved op: only a real invoke finds it."""
    r = run_probe(str(models["where_custom"]))
    assert r.status == "invoke_failed" and r.stage == "invoke"
    assert r.failed_node["op"] == "CropAndResize"


def test_dynamic_input_shape(models):
    inp = 0  # map_fn's only input tensor index in subgraph 0
    r = run_probe(str(models["map_fn"]), shapes={inp: [7]})
    assert r.status == "ok", r.error
    assert r.inputs[0]["shape"] == [7] and r.outputs[0]["shape"] == [7]


def test_segfault_becomes_a_finding(models):
    crash = (sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    r = run_probe(str(models["clean"]), worker=crash)
    assert r.status == "crashed" and r.exit_signal == 11
    assert "SIGSEGV" in r.error


def test_hang_becomes_a_timeout(models):
    hang = (sys.executable, "-c", "import time; time.sleep(60)")
    r = run_probe(str(models["clean"]), timeout=1.0, worker=hang)
    assert r.status == "timeout" and r.seconds < 10


def test_parse_nested_failures():
    err = "Encountered unresolved custom op: X.Node number 0 (X) failed to prepare.Node number 3 (WHILE) failed to prepare."
    assert parse_failed_nodes(err) == [(0, "X", "prepare"), (3, "WHILE", "prepare")]
    assert parse_failed_nodes("") == []


def test_both_resolvers_reply(models):
    from opaudit.probe import start_probe

    got = start_probe(str(models["custom"])).results()
    assert got["stock"].status == "prepare_failed" and got["stock"].resolver == "stock"
    assert got["default"].resolver == "default"  # no delegate implements CropAndResize either
    assert got["default"].status == "prepare_failed"


def test_crash_in_the_default_run_keeps_the_stock_reply(models):
    from opaudit.probe import start_probe

    first = '{"resolver": "stock", "status": "ok", "stage": null, "error": null}'
    crash = (sys.executable, "-c", f"import os, signal, sys; print({first!r}); sys.stdout.flush(); "
                                   "os.kill(os.getpid(), signal.SIGSEGV)")
    got = start_probe(str(models["clean"]), worker=crash).results()
    assert got["default"].status == "crashed" and got["default"].exit_signal == 11
    assert got["stock"].status == "ok" and got["stock"].note.startswith("invoke not measured")


def test_delegate_nodes_are_reported(models):
    from opaudit.probe import start_probe

    got = start_probe(str(models["clean"])).results()
    assert got["default"].status == "ok"
    assert [d["index"] for d in got["default"].delegate_nodes] == [3]  # 3 nodes, then XNNPACK's node
