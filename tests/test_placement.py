"""Placement trees (docs/plans.md, Binary and Forced matrix): each spillover rule's exact order on a
hand-drawn join sequence, agreement with a naive per-recruit reference on random sequences,
and the invariants (width, tree, recruit inside its sponsor's subtree)."""

from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.errors import DataError
from simulation.plans import placement as placement_mod
from simulation.plans.placement import PlacementTree, placement_order, subtree_sum

L, R = 0, 1

# Join sequence used for the binary rules: row 0 is the root; recruit r (1..13) joins in row
# order with sponsor SPONSOR[r].
SPONSOR = [-1, 0, 0, 0, 1, 0, 1, 4, 0, 2, 0, 4, 1, 0]


def place(sponsor, rule, width=2, batches=None, **kw):
    n = len(sponsor)
    tree = PlacementTree.empty(n, width)
    sponsor = np.asarray(sponsor)
    cuts = batches or [n]
    lo = 0
    for hi in cuts:
        # Rows that have not joined yet are not active (prospects).
        active = np.arange(n) < hi
        rows = placement_order(
            np.arange(lo, hi), sponsor, active, np.zeros(n, np.int32), tree.placed
        )
        if "weight" not in kw and rule == "weak_leg":
            kw["weight"] = np.ones(n, dtype=np.int64)
        tree.place(rows, sponsor, rule, **kw)
        lo = hi
    assert tree.check() == []
    return tree


def test_extreme_outside_alternating_sides():
    # Each sponsor sends its 1st, 3rd, ... recruit to the end of its left line, its 2nd, 4th
    # ... to the end of its right line.
    #   1 (0's 1st, L): 0 has no L -> L(0)       2 (0's 2nd, R) -> R(0)
    #   3 (0's 3rd, L): line 0-1 -> L(1)          4 (1's 1st, L): line 1-3 -> L(3)
    #   5 (0's 4th, R): line 0-2 -> R(2)          6 (1's 2nd, R): 1 has no R -> R(1)
    #   7 (4's 1st, L) -> L(4)                    8 (0's 5th, L): line 0-1-3-4-7 -> L(7)
    #   9 (2's 1st, L) -> L(2)                   10 (0's 6th, R): line 0-2-5 -> R(5)
    #  11 (4's 2nd, R) -> R(4)                   12 (1's 3rd, L): line 1-3-4-7-8 -> L(8)
    #  13 (0's 7th, L): line 0-1-3-4-7-8-12 -> L(12)
    #
    #            0
    #          /   \
    #         1     2
    #        / \   / \
    #       3   6 9   5
    #      /           \
    #     4             10
    #    / \
    #   7   11
    #  /
    # 8 - 12 - 13 (each the left child of the one before)
    tree = place(SPONSOR, "extreme_outside")
    assert tree.parent.tolist() == [-1, 0, 0, 1, 3, 2, 1, 4, 7, 2, 5, 4, 8, 12]
    assert tree.position.tolist() == [-1, L, R, L, L, R, R, L, L, L, R, R, L, L]
    # The same sequence paid in three periods places everyone identically.
    split = place(SPONSOR, "extreme_outside", batches=[4, 9, 14])
    assert split.parent.tolist() == tree.parent.tolist()


def test_extreme_outside_fixed_side_and_given_side():
    # preferred_leg "right": every recruit goes to the end of its sponsor's right line.
    # 1 R(0); 2 R(1); 3 R(2); 4 (sponsor 1: line 1-2-3) R(3); 5 R(4); 6 (sponsor 1) R(5) ...
    tree = place(SPONSOR[:7], "extreme_outside", preferred="right")
    assert tree.parent.tolist() == [-1, 0, 1, 2, 3, 4, 5]
    assert (tree.kids[:, L] == -1).all()
    # A side given per recruit (an imported "leg" column without placement) wins.
    side = np.array([-1, R, L, R, -1, -1, -1], dtype=np.int8)
    tree = place(SPONSOR[:7], "extreme_outside", preferred="left", side=side)
    # 1 R(0); 2 L(0); 3 R: line 0-1 -> R(1); 4 (1's, left) L(1); 5 (left) line 0-2 -> L(2);
    # 6 (1's, left) line 1-4 -> L(4)
    assert tree.parent.tolist() == [-1, 0, 0, 1, 1, 2, 4]
    assert tree.position.tolist() == [-1, R, L, R, L, L, L]


def test_balanced_breadth_first_from_the_sponsor():
    #   1, 2: L(0), R(0)        3 (sp 0): BFS 0 full, 1 -> L(1)    4 (sp 1): R(1)
    #   5 (sp 0): 0, 1 full, 2 -> L(2)         6 (sp 1): 1 full; 3 -> L(3)
    #   7 (sp 4): L(4)          8 (sp 0): 2 -> R(2)         9 (sp 2): 2 full; 5 -> L(5)
    #  10 (sp 0): 0 1 2 full, 3 (L=6) -> R(3)   11 (sp 4): R(4)
    #  12 (sp 1): 1, 3 (6, 10), 4 (7, 11) full; 6 -> L(6)
    #  13 (sp 0): 0 1 2 3 4 full, 5 (L=9) -> R(5)
    #
    #              0
    #         /         \
    #        1           2
    #      /   \       /   \
    #     3     4     5     8
    #    / \   / \   / \
    #   6  10 7  11 9  13
    #  /
    # 12
    tree = place(SPONSOR, "balanced")
    assert tree.parent.tolist() == [-1, 0, 0, 1, 1, 2, 3, 4, 2, 5, 3, 4, 6, 5]
    assert tree.position.tolist() == [-1, L, R, L, R, L, L, L, R, L, R, R, L, R]
    split = place(SPONSOR, "balanced", batches=[3, 8, 14])
    assert split.parent.tolist() == tree.parent.tolist()


def test_weak_leg_by_count():
    # The sponsor's leg with fewer active members (ties left); its own slot there if free,
    # else breadth-first inside that leg.
    #   1 (sp 0): 0|0 tie -> L(0)         2: 1|0 -> R(0)
    #   3 (sp 0): 1|1 tie -> left leg {1}: BFS from 1 -> L(1)
    #   4 (sp 1): {3}|{} -> R(1)
    #   5 (sp 0): {1,3,4}=3 | {2}=1 -> right leg: BFS from 2 -> L(2)
    #   6 (sp 1): {3}|{4} tie -> left: BFS from 3 -> L(3)
    #   7 (sp 4): tie -> L(4)
    #   8 (sp 0): 5 | {2,5}=2 -> right: 2 has R free -> R(2)
    #   9 (sp 2): {5}|{8} tie -> left: BFS from 5 -> L(5)
    #  10 (sp 0): 5 | 4 -> right: 2 full, 5 (L=9) -> R(5)
    #  11 (sp 4): {7}|{} -> R(4)
    #  12 (sp 1): {3,6}=2 | {4,7,11}=3 -> left: 3 (L=6) -> R(3)
    #  13 (sp 0): 7 | 5 -> right: 2, 5 full, 8 -> L(8)
    tree = place(SPONSOR, "weak_leg")
    assert tree.parent.tolist() == [-1, 0, 0, 1, 1, 2, 3, 4, 2, 5, 5, 4, 3, 8]
    assert tree.position.tolist() == [-1, L, R, L, R, L, L, L, R, L, R, R, R, L]


def test_weak_leg_by_volume_differs_from_count():
    # Root 0 recruits everyone but 3 (sponsor 1). PV: 1: 10, 2: 200, 3: 10, 4: 50, 5: 200.
    #   1: tie -> L(0); 2: 10 | 0 -> R(0); 3 (sp 1): L(1)
    #   4: volume {1,3}=20 | {2}=200 -> left: 1 has R free -> R(1)
    #      (count would say 2 | 1 -> right -> L(2))
    #   5: {1,3,4}=70 | 200 -> left: 1 full, 3 -> L(3)
    #   6: {1,3,4,5}=270 | 200 -> right -> L(2)
    sponsor = [-1, 0, 0, 1, 0, 0, 0]
    pv = np.array([0, 10, 200, 10, 50, 200, 0.0])
    tree = place(sponsor, "weak_leg", weight=pv)
    assert tree.parent.tolist() == [-1, 0, 0, 1, 1, 3, 2]
    count = place(sponsor, "weak_leg")
    assert count.parent[4] == 2


def test_weak_leg_ignores_inactive_members_in_the_count():
    # 1 quit: the left leg {1} counts 0 members, so 0's next recruit 3 goes left again.
    n = 4
    tree = PlacementTree.empty(n, 2)
    sponsor = np.array([-1, 0, 0, 0])
    tree.place(np.arange(3), sponsor, "weak_leg", weight=np.ones(n, dtype=np.int64))
    weight = np.array([1, 0, 1, 1])
    tree.place(np.array([3]), sponsor, "weak_leg", weight=weight)
    assert tree.parent[3] == 1


def test_matrix_spillover_fills_level_two_left_to_right():
    # 3-wide: 0 recruits 1..12. 1, 2, 3 fill 0's frontline; 4, 5, 6 go under 1, 7, 8, 9
    # under 2, 10, 11, 12 under 3 (level 2 filled left to right). Then 13, recruited by 2,
    # goes breadth-first from 2 (7 first), and 14, recruited by 0, under 4 (first open
    # position of 0's level 3).
    sponsor = [-1] + [0] * 12 + [2, 0]
    tree = place(sponsor, "bfs_sponsor", width=3)
    assert tree.parent.tolist() == [-1, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 7, 4]
    assert tree.position.tolist() == [-1, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 0]


def test_matrix_branch_first_fills_position_zero_across_the_level_first():
    # 0 recruits 1..9: 1, 2, 3 under 0; then position 0 under 1, 2, 3 (4, 5, 6), then
    # position 1 under 1, 2, 3 (7, 8, 9).
    sponsor = [-1] + [0] * 9
    tree = place(sponsor, "branch_first", width=3)
    assert tree.parent.tolist() == [-1, 0, 0, 0, 1, 2, 3, 1, 2, 3]
    assert tree.position.tolist() == [-1, 0, 1, 2, 0, 0, 0, 1, 1, 1]


def test_matrix_company_root_spills_outside_the_sponsor():
    # Company-wide matrix, 2 wide: 1, 2 under 0; 3 recruited by 2 still takes the first
    # open position from the root: L(1), outside its sponsor's subtree.
    sponsor = [-1, 0, 0, 2]
    tree = place(sponsor, "bfs_sponsor", width=2, spill_root="company")
    assert tree.parent.tolist() == [-1, 0, 0, 1]


def test_recruit_before_its_sponsor_is_moved_after_it():
    # Join order 2, 1 where 1 sponsors 2 (a file in the wrong order): 1 is placed first.
    sponsor = np.array([-1, 0, 1, 0])
    rows = placement_order(
        np.array([0, 2, 1, 3]),
        sponsor,
        np.ones(4, bool),
        np.zeros(4, np.int32),
        np.zeros(4, bool),
    )
    assert rows.tolist() == [0, 1, 2, 3]


def test_imported_placement_is_validated():
    tree = PlacementTree.empty(4, 2)
    with pytest.raises(DataError, match="more than 2 children"):
        tree.impose(np.array([1, 2, 3]), np.array([0, 0, 0]), None)
    tree = PlacementTree.empty(4, 2)
    with pytest.raises(DataError, match="share a slot"):
        tree.impose(np.array([1, 2]), np.array([0, 0]), np.array([0, 0]))
    tree = PlacementTree.empty(3, 2)
    with pytest.raises(DataError, match="cycle"):
        tree.impose(np.array([1, 2]), np.array([2, 1]), None)


def test_imported_placement_assigns_free_slots_in_order():
    tree = PlacementTree.empty(4, 2)
    tree.impose(np.array([1, 2, 3]), np.array([0, 0, 1]), np.array([R, -1, -1]))
    assert tree.position.tolist() == [-1, R, L, L]
    assert tree.check() == []


def test_deep_trees_sum_in_one_python_pass(monkeypatch):
    # A 300-long chain summed level by level and by the Python fallback agree.
    n = 300
    tree = place([-1, *range(n - 1)], "extreme_outside", preferred="left")
    values = np.arange(n, dtype=float)
    expected = subtree_sum(tree.forest(), values)
    monkeypatch.setattr(placement_mod, "_LEVELS_FOR_LOOP", 10)
    assert subtree_sum(tree.forest(), values) == pytest.approx(expected)
    assert expected[0] == values.sum()


# --- a naive reference: one recruit at a time, walking the tree ---------------------------


def reference(sponsor, rule, width=2, preferred="alternate", weight=None):
    n = len(sponsor)
    kids = [[-1] * width for _ in range(n)]
    parent = [-1] * n
    count = [0] * n

    def members(v):
        out, todo = [], [v]
        while todo:
            u = todo.pop()
            out.append(u)
            todo.extend(c for c in kids[u] if c >= 0)
        return out

    def bfs(s):
        queue = deque([s])
        while True:
            f = queue.popleft()
            for j in range(width):
                if kids[f][j] < 0:
                    return f, j
            queue.extend(kids[f])

    for r in range(n):
        s = sponsor[r]
        if s < 0:
            continue
        if rule == "extreme_outside":
            x = {"left": 0, "right": 1}.get(preferred, count[s] % 2)
            f = s
            while kids[f][x] >= 0:
                f = kids[f][x]
            slot = x
        elif rule == "weak_leg":
            m = [sum(weight[u] for u in members(c)) if c >= 0 else 0 for c in kids[s]]
            x = 0 if m[0] <= m[1] else 1
            f, slot = (s, x) if kids[s][x] < 0 else bfs(kids[s][x])
        elif rule == "branch_first":
            level, found = [s], None
            while found is None:
                for k in range(width):
                    found = next(((f, k) for f in level if kids[f][k] < 0), None)
                    if found:
                        break
                level = [c for f in level for c in kids[f]]
            f, slot = found
        else:
            f, slot = bfs(s)
        count[s] += 1
        kids[f][slot] = r
        parent[r] = f
    return parent


@st.composite
def join_sequences(draw):
    n = draw(st.integers(1, 40))
    sponsor = [-1]
    for r in range(1, n):
        sponsor.append(draw(st.integers(0, r - 1)) if draw(st.integers(0, 19)) else -1)
    cuts = sorted({*draw(st.lists(st.integers(1, n), max_size=3)), n})
    return sponsor, cuts


RULES = [
    ("extreme_outside", 2),
    ("balanced", 2),
    ("weak_leg", 2),
    ("bfs_sponsor", 3),
    ("bfs_sponsor", 2),
    ("branch_first", 3),
]


@settings(max_examples=150, deadline=None)
@given(join_sequences(), st.sampled_from(RULES))
def test_rules_agree_with_the_reference_and_keep_the_invariants(seq, rule_width):
    sponsor, cuts = seq
    rule, width = rule_width
    tree = place(sponsor, rule, width=width, batches=cuts)
    weight = [1] * len(sponsor)
    assert tree.parent.tolist() == reference(sponsor, rule, width, weight=weight)
    # At most `width` children, a tree (tree.check() above), everyone placed.
    kids = np.bincount(tree.parent[tree.parent >= 0], minlength=len(sponsor))
    assert (kids <= width).all()
    assert tree.placed.all()
    # Each recruit lies in its sponsor's placement subtree.
    for r, s in enumerate(sponsor):
        if s >= 0:
            v = r
            while v >= 0 and v != s:
                v = tree.parent[v]
            assert v == s, (r, s)


@pytest.mark.parametrize("share", [1, 10**9])
def test_list_and_in_place_paths_agree(monkeypatch, share):
    # share 1: every batch on Python lists; 10**9: every batch on the numpy arrays in place
    # (the path a month's recruits take in a large model).
    monkeypatch.setattr(placement_mod, "_LIST_SHARE", share)
    rng = np.random.default_rng(5)
    for _ in range(30):
        n = int(rng.integers(2, 60))
        sponsor = [-1] + [int(rng.integers(0, r)) for r in range(1, n)]
        cuts = sorted({*rng.integers(1, n + 1, size=3).tolist(), n})
        for rule, width in RULES:
            tree = place(sponsor, rule, width=width, batches=cuts)
            assert tree.parent.tolist() == reference(sponsor, rule, width, weight=[1] * n)
