"""The latency step at the end of a fixed run (`run.measure_latency`): fix.json `runtime` always,
`profile` with --profile, an error recorded (never raised) for a model that does not run."""

import json

from opaudit.fix.result import FixResult
from opaudit.fix.run import measure_latency
from opaudit.profile.tiny import dense
from tests.opaudit.profile.test_run import unresolved_custom_op


def test_runtime_and_profile_land_in_fix_json(tmp_path):
    model = tmp_path / "model.tflite"
    model.write_bytes(dense(32, 128, 64)[0])
    said = []
    result = FixResult(status="fixed")
    measure_latency(result, model, per_node=False, progress=said.append)
    rt = result.runtime
    assert result.profile is None and "1 thread vs every core" in said[0]
    assert {m["mode"] for m in rt["measured"]} == {"xnnpack"} and rt["recommended"]["num_threads"] >= 1
    assert rt["recommended"]["median_s"] == min(m["median_s"] for m in rt["measured"])
    measure_latency(result, model, per_node=True)
    assert result.profile["op_types"][0]["name"] == "FULLY_CONNECTED" and result.profile["nodes"][0]["exact"]
    d = FixResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert d.runtime == result.runtime and d.profile["path"] == str(model)


def test_a_model_that_does_not_run_is_recorded(tmp_path):
    model = tmp_path / "model.tflite"
    model.write_bytes(unresolved_custom_op())
    result = FixResult(status="fixed")
    measure_latency(result, model, per_node=True)
    assert "NoSuchOp" in result.runtime["error"] and result.profile == result.runtime
