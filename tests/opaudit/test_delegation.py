"""Partitions, splitters, measured membership and verdicts on hand-made graphs."""

from opaudit import delegation as dg
from opaudit.findings import Support
from tests.opaudit.graphs import Op, chain


def test_measured_members_walk_back_to_the_delegate_inputs():
    ops = chain(["ADD", "MUL", "TANH", "SUB"])  # tensors 0 -> 1 -> 2 -> 3 -> 4
    # one DELEGATE took MUL and TANH: reads tensor 1 (ADD's output), writes tensor 3
    members = dg.members_of(ops, [{"index": 4, "inputs": [1], "outputs": [3]}], n_original=4)
    assert members == {1: 0, 2: 0}
    # a model DELEGATE node below the original count is not a partition
    assert dg.members_of(ops, [{"index": 2, "inputs": [1], "outputs": [3]}], n_original=4) == {}


def test_alternating_groups_and_splitters():
    ops = chain(["CONV_2D", "CONV_2D", "SHAPE", "CONV_2D", "SHAPE", "SHAPE", "CONV_2D"])
    groups = dg.partition_groups(ops, lambda o: o.op == "CONV_2D")
    assert groups == [(True, [0, 1]), (False, [2]), (True, [3]), (False, [4, 5]), (True, [6])]
    assert dg.splitters(groups) == [2, 4, 5]
    assert dg.splitters([(False, [0]), (True, [1]), (False, [2])]) == []  # edges do not split


def test_independent_branches_join_one_partition():
    # two parallel branches from tensor 0; a non-delegated node on one branch does not split
    ops = [Op("CONV_2D", [0], [1], index=0), Op("WHERE", [0], [2], index=1),
           Op("CONV_2D", [1], [3], index=2), Op("ADD", [3, 3], [4], index=3)]
    groups = dg.partition_groups(ops, lambda o: o.op != "WHERE")
    assert [d for d, _ in groups].count(True) == 1 and dg.splitters(groups) == []


def test_verdict_rule():
    assert dg.verdict(1.0, 1.0, True, 1, 1, 0) == "yes"
    assert dg.verdict(1.0, 1.0, True, 1, 1, 2) == "maybe"  # conditional nodes
    assert dg.verdict(0.5, 0.9, True, 3, 1, 0) == "maybe"  # FLOPs decide when counted
    assert dg.verdict(0.9, 0.5, True, 2, 1, 0) == "no"
    assert dg.verdict(0.9, 0.0, False, 2, 1, 0) == "maybe"  # no FLOPs: node share
    assert dg.verdict(0.95, 0.95, True, 4, 1, 0) == "no"  # too many partitions


def test_report_predicted_and_measured():
    ops = chain(["CONV_2D", "SHAPE", "CONV_2D"])
    sup = {(0, o.index): {"gpu": Support("yes" if o.op == "CONV_2D" else "no", "" if o.op == "CONV_2D" else "SHAPE: no")}
           for o in ops}
    flops = {(0, 0): 100, (0, 1): 0, (0, 2): 300}
    rep = dg.delegation_report("gpu", ops, sup, flops)
    assert (rep.source, len(rep.partitions), rep.splitters, rep.verdict) == ("predicted", 2, ((0, 1),), "maybe")
    assert rep.node_share == round(2 / 3, 4) and rep.flop_share == 1.0
    assert [n.reason for n in rep.nodes if not n.delegated] == ["SHAPE: no"]
    measured = dg.delegation_report("gpu", ops, sup, flops, measured={0: 0})
    assert measured.source == "measured" and measured.delegated_count == 1
    assert "the static rules expected it" in measured.nodes[2].reason
    assert measured.partitions[0].flops == 100 and measured.flop_share == 0.25
