"""Selective-precision search (`opaudit.quantize.precision`): ranking and the next count to try."""

from opaudit.quantize.precision import best_count, next_count, rank_candidates


def _search(n, passes):
    """Drive the search with an oracle ``passes(k)`` -> (tried, order of counts tried)."""
    tried, order = {0: passes(0)}, [0]
    while (k := next_count(n, tried)) is not None:
        assert k not in tried, "the search must not retry a count"
        tried[k] = passes(k)
        order.append(k)
    return tried, order


def test_rank_by_added_noise_quantized_only():
    layers = [{"layer": "a", "added_noise": 1e-6, "snr_out_db": 60, "first_op": 0, "quantized": True},
              {"layer": "pool", "added_noise": 1.0, "snr_out_db": 5, "first_op": 1, "quantized": False},
              {"layer": "b", "added_noise": 0.3, "snr_out_db": 5, "first_op": 2, "quantized": True},
              {"layer": "c", "added_noise": 0.3, "snr_out_db": 3, "first_op": 3, "quantized": True}]
    assert rank_candidates(layers) == ["c", "b", "a"]


def test_finds_the_smallest_passing_prefix():
    for need in range(1, 21):
        tried, order = _search(20, lambda k, need=need: k >= need)
        assert best_count(tried) == need
        assert len(order) <= 2 * 5 + 2  # doubling then bisection: logarithmic


def test_nothing_left_to_try():
    tried, order = _search(5, lambda k: False)
    assert best_count(tried) is None and order == [0, 1, 2, 4, 5]


def test_no_search_when_quantized_model_passes_or_no_candidate():
    assert next_count(10, {0: True}) is None
    assert next_count(0, {0: False}) is None
