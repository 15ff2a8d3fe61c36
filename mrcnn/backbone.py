"""ResNet-50/101 backbone (reference layer names), NHWC float32.

Input: molded image ``[B, H, W, 3]`` (mean-subtracted, see ``mrcnn.image.mold_image``).
Output: ``[C1, C2, C3, C4, C5]`` with strides 2, 4, 8, 16, 32 and channels 64, 256, 512, 1024, 2048.

Layer names follow the reference: ``conv1``/``bn_conv1``, then per block
``res{stage}{block}_branch2a|2b|2c`` + ``bn{stage}{block}_branch2a|2b|2c``, shortcut
``res{stage}{block}_branch1``/``bn{stage}{block}_branch1`` (conv blocks only), ``res{stage}{block}_out``.
Stage 4 has 5 blocks (resnet50) or 22 blocks (resnet101): a, b, ..., w.
"""
from __future__ import annotations

from keras import layers as KL

from mrcnn.batch_norm import BatchNorm

def _block(x, kernel_size, filters, stage, block, strides, shortcut, use_bias, train_bn):
    f1, f2, f3 = filters
    conv = f"res{stage}{block}_branch"
    bn = f"bn{stage}{block}_branch"
    y = KL.Conv2D(f1, (1, 1), strides=strides, name=conv + "2a", use_bias=use_bias)(x)
    y = BatchNorm(name=bn + "2a", train_bn=train_bn)(y, training=train_bn)
    y = KL.Activation("relu")(y)
    y = KL.Conv2D(f2, (kernel_size, kernel_size), padding="same", name=conv + "2b",
                  use_bias=use_bias)(y)
    y = BatchNorm(name=bn + "2b", train_bn=train_bn)(y, training=train_bn)
    y = KL.Activation("relu")(y)
    y = KL.Conv2D(f3, (1, 1), name=conv + "2c", use_bias=use_bias)(y)
    y = BatchNorm(name=bn + "2c", train_bn=train_bn)(y, training=train_bn)
    if shortcut:
        x = KL.Conv2D(f3, (1, 1), strides=strides, name=conv + "1", use_bias=use_bias)(x)
        x = BatchNorm(name=bn + "1", train_bn=train_bn)(x, training=train_bn)
    y = KL.Add()([y, x])
    return KL.Activation("relu", name=f"res{stage}{block}_out")(y)

def identity_block(x, kernel_size, filters, stage, block, use_bias=True, train_bn=True):
    """Bottleneck block whose shortcut is the input itself; ``x`` has ``filters[2]`` channels."""
    return _block(x, kernel_size, filters, stage, block, (1, 1), False, use_bias, train_bn)

def conv_block(x, kernel_size, filters, stage, block, strides=(2, 2), use_bias=True, train_bn=True):
    """Bottleneck block with a 1x1 projection shortcut (``branch1``); downsamples by ``strides``."""
    return _block(x, kernel_size, filters, stage, block, strides, True, use_bias, train_bn)

STAGE4_BLOCKS = {"resnet50": 5, "resnet101": 22}

def resnet_graph(input_image, architecture: str, stage5: bool = True, train_bn: bool = True):
    """Build the ResNet body on ``input_image`` ``[B, H, W, 3]``; returns ``[C1, C2, C3, C4, C5]``."""
    if architecture not in STAGE4_BLOCKS:
        raise ValueError(f"architecture must be one of {sorted(STAGE4_BLOCKS)}, got {architecture!r}")
    x = KL.ZeroPadding2D((3, 3))(input_image)
    x = KL.Conv2D(64, (7, 7), strides=(2, 2), name="conv1", use_bias=True)(x)
    x = BatchNorm(name="bn_conv1", train_bn=train_bn)(x, training=train_bn)
    x = KL.Activation("relu")(x)
    c1 = x = KL.MaxPooling2D((3, 3), strides=(2, 2), padding="same")(x)
    # Stage 2 (stride 4)
    x = conv_block(x, 3, [64, 64, 256], stage=2, block="a", strides=(1, 1), train_bn=train_bn)
    x = identity_block(x, 3, [64, 64, 256], stage=2, block="b", train_bn=train_bn)
    c2 = x = identity_block(x, 3, [64, 64, 256], stage=2, block="c", train_bn=train_bn)
    # Stage 3 (stride 8)
    x = conv_block(x, 3, [128, 128, 512], stage=3, block="a", train_bn=train_bn)
    for block in "bcd":
        x = identity_block(x, 3, [128, 128, 512], stage=3, block=block, train_bn=train_bn)
    c3 = x
    # Stage 4 (stride 16)
    x = conv_block(x, 3, [256, 256, 1024], stage=4, block="a", train_bn=train_bn)
    for i in range(STAGE4_BLOCKS[architecture]):
        x = identity_block(x, 3, [256, 256, 1024], stage=4, block=chr(98 + i), train_bn=train_bn)
    c4 = x
    # Stage 5 (stride 32)
    if stage5:
        x = conv_block(x, 3, [512, 512, 2048], stage=5, block="a", train_bn=train_bn)
        x = identity_block(x, 3, [512, 512, 2048], stage=5, block="b", train_bn=train_bn)
        c5 = identity_block(x, 3, [512, 512, 2048], stage=5, block="c", train_bn=train_bn)
    else:
        c5 = None
    return [c1, c2, c3, c4, c5]

