"""`opaudit.compare.quant_noise` on hand-made graphs: which layers are low precision, which come
after a data-dependent selection."""

from types import SimpleNamespace as NS

from opaudit.compare.quant_noise import after_selection, quantized_layers


def _op(i, op, ins, outs, layer):
    return NS(subgraph=0, index=i, op=op, inputs=tuple(ins), outputs=tuple(outs), layer=layer)


def _t(i, dtype, const=False):
    return NS(subgraph=0, index=i, dtype=dtype, buffer_size=16 if const else 0, name=f"t{i}", quantization=None)


def test_after_selection_follows_readers_transitively():
    ops = [_op(0, "CONV_2D", [0, 1], [2], "backbone"), _op(1, "TOPK_V2", [2], [3, 4], "proposals"),
           _op(2, "GATHER", [2, 4], [5], "proposals"), _op(3, "FULLY_CONNECTED", [5], [6], "head"),
           _op(4, "LOGISTIC", [2], [7], "rpn")]
    assert after_selection(NS(operators=ops)) == {1, 2, 3}


def test_quantized_layers_by_weights_dequantize_and_activations():
    tensors = [_t(0, "float32"), _t(1, "int8", True), _t(2, "float32"), _t(3, "float16", True), _t(4, "float32"),
               _t(5, "float32"), _t(6, "int8"), _t(7, "float32", True), _t(8, "float32")]
    ops = [_op(0, "CONV_2D", [0, 1], [2], "a"),          # int8 weight read directly
           _op(1, "DEQUANTIZE", [3], [4], "b"),          # fp16 weight dequantized ...
           _op(2, "FULLY_CONNECTED", [2, 4], [5], "b"),  # ... and read here
           _op(3, "QUANTIZE", [5], [6], "c"),            # QUANTIZE alone does not count
           _op(4, "ADD", [5, 7], [8], "d")]              # float only
    assert quantized_layers(NS(tensors=tensors, operators=ops)) == {"a", "b"}
