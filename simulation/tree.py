"""Forest primitives over parent arrays, level by level (no recursion, no per-node walks).

A forest is given by ``parent: int32[n]`` (``-1`` for a root or for a row that is not in the
forest) and the set of member rows. Every pass here is vectorised over one depth level at a
time: bottom-up sums with ``np.add.at`` and top-down propagation by fancy indexing, so the cost
is O(n) numpy work plus one Python iteration per level.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


class CycleError(ValueError):
    """The parent array contains a cycle; ``rows`` holds (some of) the rows on it."""

    def __init__(self, rows: np.ndarray):
        self.rows = np.asarray(rows)
        shown = ", ".join(str(int(r)) for r in self.rows[:10])
        more = "" if self.rows.size <= 10 else f" (and {self.rows.size - 10} more)"
        super().__init__(f"the tree has a cycle through rows {shown}{more}")


def compute_depth(parent: np.ndarray, member: np.ndarray | None = None) -> np.ndarray:
    """Depth of every member (roots 0) by pointer jumping.

    Args:
        parent: int[n] parent row, -1 for roots. Parents of members must be members.
        member: bool[n] rows in the forest (default: all rows).

    Returns:
        int32[n] depth; -1 for non-members.

    Raises:
        CycleError: if following parents from some member never reaches a root.
    """
    n = parent.shape[0]
    member = np.ones(n, dtype=bool) if member is None else member
    anc = np.where(member, parent, -1).astype(np.int64)
    dist = (anc >= 0).astype(np.int64)
    rounds = 0
    max_rounds = int(np.ceil(np.log2(max(n, 2)))) + 2
    live = np.flatnonzero(anc >= 0)
    while live.size:
        a = anc[live]
        # Synchronous pointer jumping: read old values for all, then write.
        new_dist = dist[live] + dist[a]
        new_anc = anc[a]
        dist[live] = new_dist
        anc[live] = new_anc
        live = live[new_anc >= 0]
        rounds += 1
        if rounds > max_rounds:
            raise CycleError(live)
    depth = np.where(member, dist, -1).astype(np.int32)
    return depth


@dataclass
class Forest:
    """A forest with its rows grouped by depth.

    Attributes:
        parent: int32[n] parent row, -1 for roots and non-members.
        depth: int32[n] depth (roots 0), -1 for non-members.
        levels: list of int64 arrays; ``levels[d]`` holds the member rows at depth ``d``.
    """

    parent: np.ndarray
    depth: np.ndarray
    levels: list[np.ndarray]
    _slots: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def n(self) -> int:
        """Number of rows (members and non-members)."""
        return int(self.parent.shape[0])

    @classmethod
    def from_parent(cls, parent: np.ndarray, member: np.ndarray | None = None) -> Forest:
        """Build from a parent array, computing depths (raises CycleError on a cycle)."""
        parent = np.asarray(parent)
        member = np.ones(parent.shape[0], dtype=bool) if member is None else member
        depth = compute_depth(parent, member)
        return cls.from_depth(np.where(member, parent, -1), depth)

    @classmethod
    def from_depth(
        cls, parent: np.ndarray, depth: np.ndarray, members: np.ndarray | None = None
    ) -> Forest:
        """Build from trusted depths (``depth[parent[v]] == depth[v] - 1``; -1 = non-member).

        ``members``: the rows with ``depth >= 0`` in ascending order, when the caller has them
        (saves a pass over all rows).
        """
        parent = np.asarray(parent, dtype=np.int32)
        depth = np.asarray(depth, dtype=np.int32)
        if members is None:
            members = np.flatnonzero(depth >= 0)
        if members.size == 0:
            return cls(parent, depth, [])
        order, bounds = _by_depth(members, depth[members])
        levels = [order[bounds[i] : bounds[i + 1]] for i in range(bounds.size - 1)]
        return cls(parent, depth, levels)

    @property
    def members(self) -> np.ndarray:
        """All member rows, top-down by depth."""
        return np.concatenate(self.levels) if self.levels else np.empty(0, dtype=np.int64)

    def member_slots(self) -> tuple[np.ndarray, np.ndarray]:
        """The members (top-down, as :attr:`members`) and int32[n] each row's position there.

        Non-members get -1. Made once per forest (its parent array must not change after it
        is built, as :meth:`MLMModel.sponsor_forest` guarantees): the pay phase's components,
        the ranks and the legal tests all work in this member space, whose size in a market
        is a fraction of n.
        """
        return self._member_index()[:2]

    def _member_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """members, slot[n], level bounds in members, and each member's parent's slot (-1)."""
        if self._slots is None:
            members = self.members
            slot = np.full(self.n, -1, dtype=np.int32)
            slot[members] = np.arange(members.size, dtype=np.int32)
            bounds = np.zeros(len(self.levels) + 1, dtype=np.int64)
            np.cumsum([rows.size for rows in self.levels], out=bounds[1:])
            p = self.parent[members]
            # A member's parent is a member (depth[parent] = depth - 1 >= 0) or -1.
            pslot = np.where(p >= 0, slot[np.maximum(p, 0)], -1).astype(np.int32)
            self._slots = (members, slot, bounds, pslot)
        return self._slots

    def member_levels(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each level lies among the members, and each member's parent's position.

        Returns ``(bounds, pslot)``: level ``d`` is ``members[bounds[d]:bounds[d + 1]]`` (the
        members of :meth:`member_slots`), ``pslot`` int32 per member (-1 for roots).
        """
        return self._member_index()[2:]

    def member_subtree_sum(self, values: np.ndarray) -> np.ndarray:
        """float64[members]: :meth:`subtree_sum` over the members only.

        ``values`` is given per member (in :meth:`member_slots` order). The additions are
        those of :meth:`subtree_sum` in the same order, so each member's sum is the same to
        the last bit; the passes touch members only, not the n rows.
        """
        bounds, pslot = self.member_levels()
        total = np.array(values, dtype=np.float64)
        for d in range(bounds.size - 2, 0, -1):
            lo, hi = bounds[d], bounds[d + 1]
            np.add.at(total, pslot[lo:hi], total[lo:hi])
        return total

    def bottom_up(self) -> Iterator[np.ndarray]:
        """Levels from the deepest to depth 1 (rows that have a parent)."""
        for d in range(len(self.levels) - 1, 0, -1):
            yield self.levels[d]

    def top_down(self) -> Iterator[np.ndarray]:
        """Levels from depth 1 to the deepest (rows that have a parent)."""
        yield from self.levels[1:]

    def subtree_sum(self, values: np.ndarray, passes: np.ndarray | None = None) -> np.ndarray:
        """Sum of ``values`` over each member's subtree (the member included).

        Args:
            values: float[n] per-row values.
            passes: optional bool[n]; where False the row's subtree total is not added to its
                parent (a breakaway).

        Returns:
            float64[n]; non-members keep their own value.
        """
        total = np.asarray(values, dtype=np.float64).copy()
        for rows in self.bottom_up():
            up = rows if passes is None else rows[passes[rows]]
            np.add.at(total, self.parent[up], total[up])
        return total

    def nearest_ancestor_slots(self, ok_m: np.ndarray) -> np.ndarray:
        """:meth:`nearest_ancestor` in the members' positions (:meth:`member_slots` order).

        Args:
            ok_m: bool per member.

        Returns:
            int32 per member: the position of its nearest strict ancestor for which ``ok_m``
            holds, -1 where none.
        """
        bounds, pslot = self.member_levels()
        found = np.full(pslot.size, -1, dtype=np.int32)
        if not pslot.size:
            return found
        ok_up = np.asarray(ok_m)[np.maximum(pslot, 0)]
        for d in range(1, bounds.size - 1):
            lo, hi = bounds[d], bounds[d + 1]
            found[lo:hi] = np.where(ok_up[lo:hi], pslot[lo:hi], found[pslot[lo:hi]])
        return found

    def nearest_ancestor_of(self, ok: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """:meth:`nearest_ancestor` of ``rows`` only (int64 rows, -1 where none).

        Worked over the members' positions: no n-row result to fill and scatter when only a
        few rows' answers are needed.
        """
        members, slot = self.member_slots()
        found = self.nearest_ancestor_slots(np.asarray(ok)[members])
        at = slot[rows]
        up = np.where(at >= 0, found[np.maximum(at, 0)], -1)
        return np.where(up >= 0, members[np.maximum(up, 0)], -1)

    def nearest_ancestor(self, ok: np.ndarray) -> np.ndarray:
        """Nearest strict ancestor of each member for which ``ok`` holds.

        Args:
            ok: bool[n].

        Returns:
            int32[n] row of that ancestor, -1 where none (and for roots and non-members).
        """
        res = np.full(self.n, -1, dtype=np.int32)
        members, _ = self.member_slots()
        if members.size == 0:
            return res
        # Level by level over the members' positions (slices, not gathers over n rows).
        found = self.nearest_ancestor_slots(np.asarray(ok)[members])
        res[members] = np.where(found >= 0, members[np.maximum(found, 0)], -1)
        return res


def _by_depth(rows: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` ordered by their depths ``d`` (>= 0), and where each depth starts and ends.

    Level ``k`` is ``order[bounds[k]:bounds[k + 1]]``, in the rows' own order within a level.
    """
    # depth fits 16 bits in any realistic tree; a stable int16 sort is a radix sort (O(n)).
    key = d.astype(np.int16) if d.max(initial=0) < np.iinfo(np.int16).max else d
    order = rows[np.argsort(key, kind="stable")]
    bounds = np.concatenate(([0], np.cumsum(np.bincount(d))))
    return order, bounds


def _first_staying_ancestor(parent: np.ndarray, q: np.ndarray, leaving: np.ndarray) -> np.ndarray:
    """int64[len(q)]: for each leaving row ``q``, its first ancestor that stays (-1: none).

    Follows chains of leavers up ``parent`` (not changed).
    """
    up = parent[q].astype(np.int64)
    live = np.flatnonzero((up >= 0) & leaving[np.maximum(up, 0)])
    while live.size:
        up[live] = parent[up[live]]
        live = live[(up[live] >= 0) & leaving[np.maximum(up[live], 0)]]
    return up


def reattach_to_active(parent: np.ndarray, leaving: np.ndarray) -> np.ndarray:
    """Roll-up: re-point every child of a leaving row to its nearest non-leaving ancestor.

    Args:
        parent: int32[n] parent array (modified copy is returned).
        leaving: bool[n] rows that leave the tree this period (their own parent is cleared).

    Returns:
        int32[n] new parent array: leaving rows get -1; rows whose parent left point to the
        first ancestor that stays (-1 if none: they become roots).
    """
    parent = parent.copy()
    q = np.flatnonzero(leaving)
    if q.size == 0:
        return parent
    up = _first_staying_ancestor(parent, q, leaving)
    target = np.full(parent.shape[0], -1, dtype=np.int64)
    target[q] = up
    has_leaving_parent = (parent >= 0) & leaving[np.maximum(parent, 0)] & ~leaving
    kids = np.flatnonzero(has_leaving_parent)
    parent[kids] = target[parent[kids]]
    parent[q] = -1
    return parent


def recompute_depth(parent: np.ndarray, old_depth: np.ndarray) -> np.ndarray:
    """Depths after re-parenting, given depths that still order the forest top-down.

    After a roll-up every row's new parent is one of its old ancestors, so grouping rows by
    their *old* depth is still a valid top-down order; one pass over those groups gives the
    new depths in O(n) without pointer jumping.

    Args:
        parent: int32[n] new parent array (-1 roots and non-members).
        old_depth: int[n] old depths of the members (-1 non-members).

    Returns:
        int16[n] new depths (-1 non-members).
    """
    order = Forest.from_depth(parent, old_depth)
    depth = np.full(parent.shape[0], -1, dtype=np.int16)
    for rows in order.levels:
        p = parent[rows]
        depth[rows] = np.where(p >= 0, depth[np.maximum(p, 0)] + 1, 0)
    return depth


def roll_up(
    parent: np.ndarray, depth: np.ndarray, members: np.ndarray, leaving: np.ndarray
) -> None:
    """Roll-up in place, reading and writing the forest's members' rows only.

    The same forest as :func:`reattach_to_active` followed by :func:`recompute_depth`, whose
    passes go over all n rows: in a market of several companies over one population each
    company's members are a fraction of the rows, and a company quits members every month.

    Args:
        parent: int[n] parent array; a member's parent is a member or -1. Changed in place:
            staying members whose parent leaves point to the first ancestor that stays (-1 if
            none), leaving rows get -1; other rows are not touched.
        depth: int[n] depths of the members (roots 0). Changed in place: recomputed for the
            staying members, -1 for the leaving rows.
        members: int rows of the forest before the roll-up, the leaving ones included.
        leaving: bool[n] rows that leave (members only).
    """
    members = np.asarray(members, dtype=np.int64)
    out = leaving[members]
    q = members[out]
    if q.size == 0:
        return
    stay = members[~out]
    # Read before any parent changes.
    up = _first_staying_ancestor(parent, q, leaving)
    p = parent[stay]
    kids = np.flatnonzero((p >= 0) & leaving[np.maximum(p, 0)])
    if kids.size:
        order = np.argsort(q, kind="stable")
        parent[stay[kids]] = up[order][np.searchsorted(q[order], p[kids])]
    parent[q] = -1
    # Every staying member's new parent is one of its old ancestors, so grouping them by
    # their old depth is still a top-down order (as in recompute_depth).
    rows_by_depth, bounds = _by_depth(stay, depth[stay])
    depth[q] = -1
    for d in range(bounds.size - 1):
        rows = rows_by_depth[bounds[d] : bounds[d + 1]]
        p = parent[rows]
        depth[rows] = np.where(p >= 0, depth[np.maximum(p, 0)] + 1, 0)
