"""Quantizer recipes (`opaudit.quantize.backends`): scopes, order of entries, int8 op list."""

import re

from opaudit.quantize.backends import INT8_OPS, SCOPE_LIMIT, keep_float_regex, op_scope, quantizer_recipe


def test_op_scope_is_the_quantizers():
    assert op_scope(["a/b", "", "c"]) == "a/b;c;"
    assert op_scope([]) == ""
    assert len(op_scope(["x" * (SCOPE_LIMIT + 50)])) == SCOPE_LIMIT


def test_keep_float_regex_matches_exactly_those_scopes():
    rx = keep_float_regex(["model/fc1/MatMul;", "model/fc1/MatMul;model/fc1/Relu;", "a+b(c);"])
    assert re.search(rx, "model/fc1/MatMul;") and re.search(rx, "a+b(c);")
    assert not re.search(rx, "model/fc1/MatMul;model/fc2/MatMul;")
    assert not re.search(rx, "outer/model/fc1/MatMul;")
    assert keep_float_regex([]) is None


def test_recipe_order_last_match_wins():
    r = quantizer_recipe("int8", keep_scopes=["k;"], dynamic_scopes=["d;"])
    static = [e for e in r if e["regex"] == ".*"]
    assert sorted(e["operation"] for e in static) == sorted(INT8_OPS)
    assert r[-2]["regex"] == "^(?:d;)$" and r[-2]["op_config"]["compute_precision"] == "INTEGER"
    assert r[-1] == {"regex": "^(?:k;)$", "operation": "*", "algorithm_key": "no_quantize"}
    fp16 = quantizer_recipe("fp16")
    assert fp16[0]["algorithm_key"] == "float_casting" and fp16[0]["op_config"]["weight_tensor_config"]["num_bits"] == 16
    assert quantizer_recipe("dynamic")[0]["op_config"]["weight_tensor_config"]["dtype"] == "INT"
