"""Which dynamic tensors stay dynamic once the inputs are fixed."""

from opaudit.shapes import remaining_dynamic
from tests.opaudit.graphs import Op, T


def _graph():
    tensors = [T(0, sig=(-1, 4)), T(1, sig=(-1, 4)), T(2, "int32", (2,)), T(3, sig=(-1, 4)),
               T(4, "int64", sig=(-1, 2)), T(5, sig=(-1,)), T(6, "int32", (2,), const=True)]
    ops = [Op("RELU", [0], [1], index=0), Op("SHAPE", [1], [2], index=1), Op("RESHAPE", [1, 2], [3], index=2),
           Op("WHERE", [3], [4], index=3), Op("RESHAPE", [4, 6], [5], index=4)]
    return ops, tensors


def test_batch_only_dynamic_becomes_static():
    ops, tensors = _graph()
    assert remaining_dynamic(ops, tensors, [0], fixed=[]) == {(0, 0), (0, 1), (0, 3), (0, 4), (0, 5)}
    # fixed input: the SHAPE-fed RESHAPE is static; WHERE and what follows stay dynamic
    assert remaining_dynamic(ops, tensors, [0], fixed=[0]) == {(0, 4), (0, 5)}


def test_shape_read_from_data_stays_dynamic():
    tensors = [T(0, sig=(-1, 4)), T(1, "int32", (2,)), T(2, sig=(-1, 4))]
    ops = [Op("RESHAPE", [0, 1], [2], index=0)]  # the new shape is a graph input: data
    assert remaining_dynamic(ops, tensors, [0, 1], fixed=[0, 1]) == {(0, 2)}
