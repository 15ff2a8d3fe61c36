"""A model whose only blocker, `tf.math.erfinv` (Flex `Erfinv`), has no built-in rule.

With `wrong_erfinv_rule.py` loaded (`--rules`), the model converts builtin-only and invokes, but
computes something else: `opaudit fix` must call that a parity failure, loudly.
"""

import numpy as np


def build():
    import keras
    import tensorflow as tf

    class ErfinvLayer(keras.layers.Layer):
        """x in [-1, 1] -> erfinv(0.9 x), elementwise."""

        def call(self, x):
            return tf.math.erfinv(0.9 * x)

    x = keras.Input((8,), batch_size=1, name="x")
    h = keras.layers.Dense(8, activation="tanh", name="dense",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=3))(x)
    y = ErfinvLayer(name="erfinv_layer")(h)
    return keras.Model(x, y, name="erfinv_model")


def samples():
    rng = np.random.default_rng(5)
    return [[rng.uniform(-1, 1, (1, 8)).astype(np.float32)] for _ in range(2)]
