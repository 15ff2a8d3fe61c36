"""`DenseToDenseSetOperation` (tf.sets.intersection / union / difference) -> broadcast comparisons.

The converter has no builtin for set operations. For rank-2 integer inputs (one set per row),
each row's result is computed with pairwise EQUAL/LESS tables: keep first occurrences, test
membership in the other set, rank kept values to sort them, and scatter them into slots. The
result is the same `tf.SparseTensor` triple the op returns: per row, unique values sorted
ascending at indices `(row, 0..n-1)`, `dense_shape = [rows, max n]`.
"""

from __future__ import annotations

import warnings

from rewrites.registry import RuleNotApplied, rule

_OPERATIONS = ("intersection", "union", "a-b", "b-a")


def dense_set_operation(a, b, operation):
    """Set operation per row of two dense rank-2 integer tensors.

    Args:
        a: `[rows, na]` integer tensor; row r is a (multi)set of values.
        b: `[rows, nb]` integer tensor of the same dtype.
        operation: "intersection", "union", "a-b" or "b-a".

    Returns:
        `(indices [K, 2] int64, values [K], dense_shape [2] int64)`: for each row the unique
        result values in ascending order, at columns `0..n_r-1`; `dense_shape = [rows, max_r n_r]`.
    """
    import tensorflow as tf

    a, b = tf.convert_to_tensor(a), tf.convert_to_tensor(b)
    equal = tf.equal(a[:, :, None], b[:, None, :])  # [R, na, nb]
    a_in_b = tf.reduce_any(equal, axis=2)  # [R, na]
    b_in_a = tf.reduce_any(equal, axis=1)  # [R, nb]
    first_a, first_b = _first_occurrence(a), _first_occurrence(b)
    if operation == "intersection":
        values, keep = a, tf.logical_and(first_a, a_in_b)
    elif operation == "a-b":
        values, keep = a, tf.logical_and(first_a, tf.logical_not(a_in_b))
    elif operation == "b-a":
        values, keep = b, tf.logical_and(first_b, tf.logical_not(b_in_a))
    else:
        values = tf.concat([a, b], axis=1)
        keep = tf.concat([first_a, tf.logical_and(first_b, tf.logical_not(b_in_a))], axis=1)
    return _sorted_sparse(values, keep)


def _first_occurrence(x):
    """`[R, n]` bool: True where x[r, i] does not occur in x[r, :i]."""
    import tensorflow as tf

    n = tf.shape(x)[1]
    positions = tf.range(n)
    earlier = positions[None, :] < positions[:, None]  # [i, j]: j < i
    same = tf.equal(x[:, :, None], x[:, None, :])  # [R, i, j]
    return tf.logical_not(tf.reduce_any(tf.logical_and(same, earlier[None]), axis=2))


def _sorted_sparse(values, keep):
    """Kept entries of `values` [R, n] (unique per row) as a row-wise ascending sparse triple."""
    import tensorflow as tf

    n = tf.shape(values)[1]
    smaller = tf.logical_and(values[:, None, :] < values[:, :, None], keep[:, None, :])  # [R, i, j]
    rank = tf.reduce_sum(tf.cast(smaller, tf.int32), axis=2)  # [R, n]: kept values below x[i]
    count = tf.reduce_sum(tf.cast(keep, tf.int32), axis=1)  # [R]
    slots = tf.range(n)
    hit = tf.logical_and(keep[:, None, :], tf.equal(rank[:, None, :], slots[None, :, None]))
    # Exactly one kept value has rank `slot` (or none): a masked sum picks it, also for n == 0.
    ordered = tf.reduce_sum(tf.where(hit, values[:, None, :], tf.zeros_like(values[:, None, :])),
                            axis=2)  # [R, slot]
    filled = slots[None, :] < count[:, None]
    indices = tf.where(filled)  # [K, 2] int64, row-major
    width = tf.reduce_max(tf.concat([count, [0]], axis=0))
    shape = tf.cast(tf.stack([tf.shape(values)[0], width]), tf.int64)
    return indices, tf.gather_nd(ordered, indices), shape


@rule(
    tf_ops=("DenseToDenseSetOperation",),
    codes=("FLEX_OP", "CONVERTER_ERROR", "UNRESOLVED_CUSTOM_OP"),
    emits=("EQUAL", "LESS", "LOGICAL_AND", "LOGICAL_NOT", "REDUCE_ANY", "SUM", "SELECT_V2",
           "ZEROS_LIKE", "WHERE", "GATHER_ND", "CAST", "SHAPE", "STRIDED_SLICE", "PACK",
           "CONCATENATION", "REDUCE_MAX", "RANGE"),
    patches=("tensorflow.python.ops.gen_set_ops.dense_to_dense_set_operation",),
)
def set_operation(original, set1, set2, set_operation, validate_indices=True, name=None):
    """Dense set intersection/union/difference from pairwise comparisons, same SparseTensor as TF.

    Applies to rank-2 integer inputs, including empty sets (the form used by
    `tf.sets.intersection(tf.expand_dims(a, 0), tf.expand_dims(b, 0))`). Semantics kept: all
    dense entries are set members (no implicit padding), duplicates count once, each row's values
    are sorted ascending at columns 0..n-1, `dense_shape` is `[rows, largest row]`, so
    `tf.sparse.to_dense` gives TF's dense result. Other ranks or dtypes keep the original op
    (with a warning). Cost is O(rows * n^2) comparisons: meant for sets of up to a few thousand.
    """
    import tensorflow as tf

    a, b = tf.convert_to_tensor(set1), tf.convert_to_tensor(set2)
    op = set_operation.decode() if isinstance(set_operation, bytes) else set_operation
    usable = a.shape.rank == 2 and b.shape.rank == 2 and a.dtype.is_integer and op in _OPERATIONS
    if not usable:
        warnings.warn(f"set_operation rule: needs rank-2 integer sets (got {a.shape} {a.dtype}, "
                      f"{op!r}); keeping DenseToDenseSetOperation", RuleNotApplied, stacklevel=2)
        return original(set1, set2, set_operation, validate_indices=validate_indices, name=name)
    with tf.name_scope(name or "dense_set_operation"):
        return dense_set_operation(a, b, op)
