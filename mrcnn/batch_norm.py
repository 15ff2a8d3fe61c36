"""``BatchNorm``: Keras 3 BatchNormalization that computes inference like the reference.

The reference (tf_keras) normalizes 4-D NHWC tensors in inference with TensorFlow's fused
kernel (``FusedBatchNormV3``, ``is_training=False``); Keras 3's ``BatchNormalization`` composes
other float operations (``tf.nn.batch_normalization``) and so differs in the last bits (measured
1.5e-7 relative after ``bn_conv1``, growing through the network). This layer keeps the Keras
weights, names and HDF5 layout (``gamma``, ``beta``, ``moving_mean``, ``moving_variance``) and
calls the fused kernel whenever it uses the moving statistics on a 4-D channels-last input, so
the float operations and their order are the reference's.

``train_bn`` (config.TRAIN_BN) is fixed at construction: ``False`` frozen (moving statistics,
never updated), ``True`` batch statistics, ``None`` follows the caller's ``training``. (Keras 3
lets an outer ``model(x, training=True)`` override a ``training=False`` given when the
functional graph was built, hence the constructor argument.)
"""
from __future__ import annotations

import tensorflow as tf
from keras import layers as KL


class BatchNorm(KL.BatchNormalization):
    """BatchNormalization, ``[..., C]`` -> same shape; see the module docstring."""

    def __init__(self, *args, train_bn=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_bn = train_bn

    def call(self, inputs, training=None, mask=None):
        if self.train_bn is not None:
            training = self.train_bn
        if training or len(inputs.shape) != 4 or self.axis not in (-1, 3):
            return super().call(inputs, training=training, mask=mask)
        outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
            inputs, tf.convert_to_tensor(self.gamma), tf.convert_to_tensor(self.beta),
            mean=tf.convert_to_tensor(self.moving_mean),
            variance=tf.convert_to_tensor(self.moving_variance),
            epsilon=self.epsilon, is_training=False)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(train_bn=self.train_bn)
        return config
