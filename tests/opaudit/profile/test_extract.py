"""Single-node extraction: a node cut out of a real model computes, alone, what it computed inside it."""

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from opaudit.profile import timing
from opaudit.profile.extract import NodeExtractor, ints
from opaudit.profile.worker import time_node

pytestmark = pytest.mark.slow  # converts three small models (a few seconds)

RNG = np.random.default_rng(7)
CASES = {
    "conv": [[RNG.normal(0, 1, (1, 12, 12, 3)).astype(np.float32)]],
    "dynamic": [  # some scores above 0.5; none (zero-element gather downstream)
        [RNG.normal(0, 1, (16, 4)).astype(np.float32), RNG.uniform(0, 1, 16).astype(np.float32)],
        [RNG.normal(0, 1, (16, 4)).astype(np.float32), np.full(16, 0.1, np.float32)],
    ],
    "loop": [[RNG.normal(0, 1, 4).astype(np.float32), np.array(3, np.int32)],
             [RNG.normal(0, 1, 4).astype(np.float32), np.array(0, np.int32)]],
}


def _capture(path, values):
    interp = timing.interpreter("builtin", 1, path=str(path), preserve=True)
    timing.feed(interp, values)
    interp.invoke()
    return interp


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_node_alone_reproduces_its_outputs(profile_models, name):
    path = profile_models[name]
    ex = NodeExtractor(path.read_bytes())
    for values in CASES[name]:
        capture = _capture(path, values)
        for i in range(len(ex.subgraph(0).operators)):
            row = time_node(ex, capture, i, timing.MODES, 1, 2)
            assert row["error"] is None, (name, i, row["error"])
            assert row["exact"] is True, (name, i, row["max_abs_diff"])
            assert set(row["seconds"]) == set(timing.MODES) and all(s > 0 for s in row["seconds"].values())


def test_extracted_model_holds_exactly_the_node(profile_models):
    path = profile_models["conv"]
    ex = NodeExtractor(path.read_bytes())
    src = schema.Model.GetRootAs(path.read_bytes(), 0)
    for i, op in enumerate(ex.subgraph(0).operators):
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(ex.extract(0, [i]), 0))
        assert len(model.subgraphs) == 1 and len(model.subgraphs[0].operators) == 1
        code = model.operatorCodes[model.subgraphs[0].operators[0].opcodeIndex]
        want = src.OperatorCodes(op.opcodeIndex)
        assert max(code.builtinCode, code.deprecatedBuiltinCode) == max(want.BuiltinCode(), want.DeprecatedBuiltinCode())
        sg = model.subgraphs[0]
        # inputs: the non-constant tensors the node reads; weights travel as constant buffers
        assert all(model.buffers[sg.tensors[t].buffer].data is None for t in ints(sg.inputs))
        assert sg.outputs is not None and len(ints(sg.outputs)) == len(ints(op.outputs))


def test_control_flow_node_takes_its_subgraphs(profile_models):
    ex = NodeExtractor(profile_models["loop"].read_bytes())
    (while_index,) = [i for i, op in enumerate(ex.subgraph(0).operators) if op.builtinOptionsType == schema.BuiltinOptions.WhileOptions]
    assert ex.closure(0, [while_index]) == [0, 1, 2]
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(ex.extract(0, [while_index]), 0))
    opts = model.subgraphs[0].operators[0].builtinOptions
    assert len(model.subgraphs) == 3 and {opts.condSubgraphIndex, opts.bodySubgraphIndex} == {1, 2}


def test_extraction_does_not_touch_the_source(profile_models):
    data = profile_models["conv"].read_bytes()
    ex = NodeExtractor(data)
    for i in range(len(ex.subgraph(0).operators)):
        ex.extract(0, [i], {})
    assert profile_models["conv"].read_bytes() == data
    ex2 = NodeExtractor(data)  # the cached subgraph objects were not remapped in place
    assert [ints(op.inputs) for op in ex.subgraph(0).operators] == [ints(op.inputs) for op in ex2.subgraph(0).operators]
