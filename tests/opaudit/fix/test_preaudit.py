"""Layer-type pre-audit on stand-in layers (no TensorFlow): only Keras 3 unrolls TimeDistributed."""

from types import SimpleNamespace

from opaudit.fix.preaudit import scan_layers


def _time_distributed(module: str, steps: int):
    cls = type("TimeDistributed", (), {"__module__": module})
    layer = cls()
    layer.input = SimpleNamespace(shape=(1, steps, 7, 7, 8))
    layer.layer = type("Conv2D", (), {})()
    return layer


def test_only_keras3_time_distributed_is_an_explosion():
    layers = {"k3_head": _time_distributed("keras.src.layers.rnn.time_distributed", 64),
              "k2_head": _time_distributed("tf_keras.src.layers.rnn.time_distributed", 64),
              "short": _time_distributed("keras.src.layers.rnn.time_distributed", 2)}
    findings, table = scan_layers(layers, lambda layer: ["time_distributed"])
    assert [(f["code"], f["layer"], f["detail"]["steps"]) for f in findings] == [("OP_EXPLOSION", "k3_head", 64)]
    assert set(table) == {"k3_head", "k2_head", "short"}
