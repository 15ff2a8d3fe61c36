"""ResNet-50/101 backbone (reference layer names), NHWC float32.

Input: molded image ``[B, H, W, 3]`` (mean-subtracted, see ``mrcnn.image.mold_image``).
Output: ``[C1, C2, C3, C4, C5]`` with strides 2, 4, 8, 16, 32 and channels 64, 256, 512, 1024, 2048.

Layer names follow the reference: ``conv1``/``bn_conv1``, then per block
``res{stage}{block}_branch2a|2b|2c`` + ``bn{stage}{block}_branch2a|2b|2c``, shortcut
``res{stage}{block}_branch1``/``bn{stage}{block}_branch1`` (conv blocks only), ``res{stage}{block}_out``.
Stage 4 has 6 blocks (resnet50: a..f) or 23 (resnet101: a..w); see ``STAGES``.
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

#: (stage, bottleneck filters, blocks per architecture, stride of the first block). Stride 4
#: before stage 2 comes from conv1 (stride 2) and the max-pool (stride 2).
STAGES = (
    (2, (64, 64, 256), {"resnet50": 3, "resnet101": 3}, 1),
    (3, (128, 128, 512), {"resnet50": 4, "resnet101": 4}, 2),
    (4, (256, 256, 1024), {"resnet50": 6, "resnet101": 23}, 2),
    (5, (512, 512, 2048), {"resnet50": 3, "resnet101": 3}, 2),
)


def _stage(x, stage, filters, blocks, stride, train_bn):
    """One ResNet stage: a projection block (letter ``a``, ``stride``) then identity blocks
    ``b``, ``c``, ... (letters run on past ``z`` never: resnet101 stage 4 ends at ``w``)."""
    x = conv_block(x, 3, filters, stage, "a", strides=(stride, stride), train_bn=train_bn)
    for letter in "bcdefghijklmnopqrstuvwxyz"[:blocks - 1]:
        x = identity_block(x, 3, filters, stage, letter, train_bn=train_bn)
    return x


def resnet_graph(input_image, architecture: str, stage5: bool = True, train_bn: bool = True):
    """ResNet body on ``input_image`` ``[B, H, W, 3]``: ``[C1, C2, C3, C4, C5]`` (NHWC, strides
    2, 4, 8, 16, 32; ``C5`` is None when ``stage5`` is False)."""
    if architecture not in STAGES[0][2]:
        raise ValueError(f"architecture must be one of {sorted(STAGES[0][2])}, "
                         f"got {architecture!r}")
    x = KL.ZeroPadding2D((3, 3))(input_image)
    x = KL.Conv2D(64, (7, 7), strides=(2, 2), name="conv1", use_bias=True)(x)
    x = BatchNorm(name="bn_conv1", train_bn=train_bn)(x, training=train_bn)
    x = KL.Activation("relu")(x)
    x = KL.MaxPooling2D((3, 3), strides=(2, 2), padding="same")(x)
    features = [x]
    for stage, filters, blocks, stride in STAGES[:4 if stage5 else 3]:
        x = _stage(x, stage, filters, blocks[architecture], stride, train_bn)
        features.append(x)
    return features + [None] * (5 - len(features))
