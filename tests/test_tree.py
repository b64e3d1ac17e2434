"""Forest primitives: depths, sums, nearest qualified ancestor, roll-up (hand cases, Hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.tree import (
    CycleError,
    Forest,
    compute_depth,
    reattach_to_active,
    recompute_depth,
    roll_up,
)

#        0
#       / \
#      1   2
#     / \   \
#    3   4   5
#            |
#            6
PARENT = np.array([-1, 0, 0, 1, 1, 2, 5])


def test_depth_by_hand():
    assert compute_depth(PARENT).tolist() == [0, 1, 1, 2, 2, 2, 3]


def test_cycle_is_reported_with_its_rows():
    parent = np.array([-1, 2, 3, 1])  # 1 -> 2 -> 3 -> 1
    with pytest.raises(CycleError) as err:
        compute_depth(parent)
    assert set(err.value.rows.tolist()) <= {1, 2, 3}


def test_subtree_sum_by_hand():
    f = Forest.from_parent(PARENT)
    values = np.array([1.0, 2, 3, 4, 5, 6, 7])
    # 6: 7; 5: 6+7=13; 2: 3+13=16; 3: 4; 4: 5; 1: 2+4+5=11; 0: 1+11+16=28
    assert f.subtree_sum(values).tolist() == [28, 11, 16, 4, 5, 13, 7]


def test_subtree_sum_with_breakaway():
    f = Forest.from_parent(PARENT)
    values = np.ones(7)
    passes = np.ones(7, dtype=bool)
    passes[5] = False  # 5's group (5 and 6) does not flow to 2
    total = f.subtree_sum(values, passes)
    assert total[5] == 2 and total[2] == 1 and total[0] == 5


def test_member_subtree_sum_by_hand_over_members_only():
    # The tree above with rows 7 and 8 outside it (a market's other persons).
    parent = np.concatenate((PARENT, [-1, -1]))
    depth = np.concatenate((compute_depth(PARENT), [-1, -1]))
    f = Forest.from_depth(parent, depth)
    members, slot = f.member_slots()
    # Top-down by depth, each level in row order; non-members at -1.
    assert members.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert slot.tolist() == [0, 1, 2, 3, 4, 5, 6, -1, -1]
    bounds, pslot = f.member_levels()
    assert bounds.tolist() == [0, 1, 3, 6, 7]
    assert pslot.tolist() == [-1, 0, 0, 1, 1, 2, 5]
    got = f.member_subtree_sum(np.array([1.0, 2, 3, 4, 5, 6, 7]))
    assert got.tolist() == [28, 11, 16, 4, 5, 13, 7]  # as test_subtree_sum_by_hand


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6))
def test_member_subtree_sum_is_subtree_sum_to_the_last_bit(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    # A random forest over some of the rows (each member's parent an earlier member).
    member = rng.random(n) < 0.7
    parent = np.full(n, -1)
    rows = np.flatnonzero(member)
    for i, r in enumerate(rows[1:], start=1):
        if rng.random() < 0.85:
            parent[r] = rows[rng.integers(0, i)]
    f = Forest.from_parent(parent, member)
    values = rng.lognormal(3.0, 2.0, n)  # sums whose rounding depends on the order
    members, _ = f.member_slots()
    want = f.subtree_sum(values)[members]
    got = f.member_subtree_sum(values[members])
    assert got.tobytes() == want.tobytes()


def test_nearest_qualified_ancestor():
    f = Forest.from_parent(PARENT)
    ok = np.array([True, False, True, True, True, False, True])
    # 6 -> 5 (no) -> 2 (yes); 3 -> 1 (no) -> 0; 1 -> 0; 0 -> none
    assert f.nearest_ancestor(ok).tolist() == [-1, 0, 0, 0, 0, 2, 2]


def test_nearest_qualified_ancestor_over_members_by_hand():
    # Rows 3 and 6 are not members; 5 -> 2 (no) -> 1 (yes); 4 -> 1; 2 -> 1; 1 -> 0 (no).
    parent = np.array([-1, 0, 1, -1, 1, 2, -1])
    member = np.array([True, True, True, False, True, True, False])
    f = Forest.from_parent(parent, member)
    members, _ = f.member_slots()
    ok = np.array([False, True, False, True, True, False, True])
    found = f.nearest_ancestor_slots(ok[members])
    rows = np.where(found >= 0, members[np.maximum(found, 0)], -1)
    assert dict(zip(members.tolist(), rows.tolist(), strict=True)) == {
        0: -1,
        1: -1,
        2: 1,
        4: 1,
        5: 1,
    }
    assert rows.tolist() == f.nearest_ancestor(ok)[members].tolist()


def test_rollup_chain_of_leavers():
    leaving = np.zeros(7, dtype=bool)
    leaving[[2, 5]] = True  # 6's parent 5 and grandparent 2 leave: 6 moves up to 0
    new = reattach_to_active(PARENT, leaving)
    assert new.tolist() == [-1, 0, -1, 1, 1, -1, 0]


def test_recompute_depth_after_rollup():
    leaving = np.zeros(7, dtype=bool)
    leaving[1] = True
    new = reattach_to_active(PARENT, leaving)
    old = compute_depth(PARENT)
    old[1] = -1
    new_member = np.where(leaving, -1, new)
    depth = recompute_depth(new_member, old)
    assert depth.tolist() == [0, -1, 1, 1, 1, 2, 3]


def test_roll_up_in_place_by_hand():
    # 6's parent 5 and grandparent 2 leave: 6 moves up to 0 at depth 1; 3 and 4 keep 1.
    parent, depth = PARENT.astype(np.int32), compute_depth(PARENT).astype(np.int16)
    leaving = np.zeros(7, dtype=bool)
    leaving[[2, 5]] = True
    roll_up(parent, depth, np.arange(7), leaving)
    assert parent.tolist() == [-1, 0, -1, 1, 1, -1, 0]
    assert depth.tolist() == [0, 1, -1, 2, 2, -1, 1]


@st.composite
def join_quit_sequences(draw):
    n = draw(st.integers(2, 60))
    parent = np.full(n, -1)
    for i in range(1, n):
        parent[i] = draw(st.integers(-1, i - 1))
    rounds = draw(st.lists(st.lists(st.integers(0, n - 1), max_size=8), max_size=6))
    return parent, rounds


@settings(max_examples=150, deadline=None)
@given(join_quit_sequences())
def test_rollups_keep_a_forest_and_ancestry(case):
    """Any sequence of quits leaves a forest whose ancestors are a subset of the old ones."""
    parent, rounds = case
    n = parent.size
    member = np.ones(n, dtype=bool)
    depth = compute_depth(parent)
    for quitters in rounds:
        leaving = np.zeros(n, dtype=bool)
        leaving[[q for q in quitters if member[q]]] = True
        old_anc = _ancestors(parent)
        new = reattach_to_active(np.where(member, parent, -1), leaving)
        member &= ~leaving
        new = np.where(member, new, -1)
        old_depth = np.where(member, depth, -1)
        depth = recompute_depth(new, old_depth)
        # A forest: pointer jumping terminates and agrees with the incremental depths.
        assert compute_depth(new, member)[member].tolist() == depth[member].tolist()
        new_anc = _ancestors(new)
        for v in np.flatnonzero(member):
            assert new_anc[v] <= old_anc[v]  # roll-up only moves people up their own line
            assert all(member[a] for a in new_anc[v])
        parent = new


def _ancestors(parent):
    out = []
    for v in range(parent.size):
        chain, p = set(), parent[v]
        while p >= 0:
            chain.add(int(p))
            p = parent[p]
        out.append(chain)
    return out


@settings(max_examples=150, deadline=None)
@given(join_quit_sequences())
def test_roll_up_equals_reattach_and_recompute(case):
    """The in-place roll-up over the members gives the forest of the whole-array pair, and
    leaves rows outside the forest untouched (a company's non-members in a market)."""
    parent, rounds = case
    n = parent.size
    member = np.ones(n, dtype=bool)
    member[::7] = False  # rows outside the forest, with values roll_up must not touch
    parent = np.where(member & member[np.maximum(parent, 0)], parent, -1)
    ref_parent = np.where(member, parent, -1)
    ref_depth = compute_depth(ref_parent, member)
    got_parent = np.where(member, parent, 99).astype(np.int32)
    got_depth = np.where(member, ref_depth, 99).astype(np.int16)
    for quitters in rounds:
        leaving = np.zeros(n, dtype=bool)
        leaving[[q for q in quitters if member[q]]] = True
        new = reattach_to_active(ref_parent, leaving)
        roll_up(got_parent, got_depth, np.flatnonzero(member), leaving)
        member &= ~leaving
        ref_parent = np.where(member, new, -1)
        ref_depth = recompute_depth(ref_parent, np.where(member, ref_depth, -1))
        assert got_parent[member].tolist() == ref_parent[member].tolist()
        assert got_depth[member].tolist() == ref_depth[member].tolist()
        assert (got_parent[leaving] == -1).all() and (got_depth[leaving] == -1).all()
        assert (got_parent[::7] == 99).all() and (got_depth[::7] == 99).all()
