"""Placement trees of binary and forced-matrix plans (``docs/plans.md``, Binary and Forced matrix).

The placement tree is separate from the sponsor tree: a spillover recruit sits under someone
who did not recruit it. A :class:`PlacementTree` holds, for ``n`` rows,

* ``parent: int32[n]`` (-1 for a root or an unplaced row), ``position: int8[n]`` (the slot
  under the parent: binary ``0`` = left, ``1`` = right; matrix ``0 … width-1`` in arrival
  order), ``kids: int32[n, width]`` (-1 = open slot), ``depth: int32[n]`` and ``placed: bool[n]``;
* the caches the spillover rules need between periods: per-node BFS frontiers, the
  "outside line" of every node, per-sponsor recruit counts.

Recruits are placed one after another in join order (each sees the tree its predecessors
left), under the sponsor's subtree, by one of the rules

* ``extreme_outside`` (binary): follow the sponsor's chosen side down to the end of its outside
  line. Every node lies on exactly one left line and one right line (maximal chains of
  left-child, resp. right-child, edges); a recruit on side ``x`` is appended to the end of the
  sponsor's ``x`` line, so the recruits that go to one line are chained in join order. The rule
  is therefore vectorised: compute each recruit's line, group by line, chain each group.
* ``balanced`` / ``bfs`` (binary, matrix): the first node in breadth-first order from the
  sponsor (top-down, slots left to right) with an open slot. A node's BFS frontier only moves
  forward (slots fill, never reopen; new open slots appear deeper), so each start node keeps a
  lazily expanded queue from period to period: amortised O(1) per recruit.
* ``weak_leg`` (binary): the sponsor's leg with the smaller measure (count of active members
  or their PV this period; ties left); the sponsor's own slot on that side if free, otherwise
  breadth-first inside that leg. Leg measures are subtree sums kept up to date by walking up
  from each new node (O(depth), depth ≈ log2 n because the rule balances).
* ``branch_first`` (matrix): level by level from the sponsor, position 0 under every node of the
  level before any position 1, and so on.

Quitters stay in the tree as inactive nodes: there is no roll-up in a placement tree (moving a
quitter's children up would give its parent more than two / ``width`` children). They do not
block volume: leg volumes are subtree sums through every node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulation.errors import DataError
from simulation.tree import CycleError, Forest, compute_depth

LEFT, RIGHT = 0, 1
# Beyond this many levels the numpy level-by-level subtree sum (one call per level) is slower
# than one Python pass over the rows (deep chains from extreme-outside lines or imported data).
_LEVELS_FOR_LOOP = 20_000
# A batch of fewer than n / _LIST_SHARE recruits is placed on the numpy arrays directly (see
# PlacementTree._place_loop).
_LIST_SHARE = 20


def follow(nxt: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Resolve pointer chains: ``out[v] = value[v]`` where ``nxt[v] < 0``, else ``out[nxt[v]]``.

    Pointer jumping: O(n log L) numpy work for chains of length L.

    Args:
        nxt: int[n] next row in the chain, -1 at a chain's end.
        value: values at the chain ends.

    Raises:
        CycleError: if some chain never ends.
    """
    nxt = np.asarray(nxt, dtype=np.int64).copy()
    out = np.asarray(value).copy()
    live = np.flatnonzero(nxt >= 0)
    rounds = 0
    limit = int(np.ceil(np.log2(max(nxt.size, 2)))) + 2
    while live.size:
        a = nxt[live]
        na = nxt[a]
        done = na < 0
        out[live[done]] = out[a[done]]
        nxt[live] = na
        live = live[~done]
        rounds += 1
        if rounds > limit:
            raise CycleError(live)
    return out


def follow_sum(nxt: np.ndarray, add: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Sums along pointer chains (pointer jumping, O(n log L)).

    ``out[v] = value[v]`` where ``nxt[v] < 0``, else ``add[v] + out[nxt[v]]``.
    """
    nxt = np.asarray(nxt, dtype=np.int64).copy()
    acc = np.where(nxt >= 0, add, value)
    live = np.flatnonzero(nxt >= 0)
    while live.size:
        a = nxt[live]
        acc_a = acc[a]
        na = nxt[a]
        acc[live] = acc[live] + acc_a
        nxt[live] = na
        live = live[na >= 0]
    return acc


def subtree_sum(forest: Forest, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over each member's subtree (itself included), for any depth.

    Uses :meth:`Forest.subtree_sum` (one numpy call per level) unless the tree has more than
    ``_LEVELS_FOR_LOOP`` levels, where one Python pass from the deepest row up is faster.
    """
    if len(forest.levels) <= _LEVELS_FOR_LOOP:
        return forest.subtree_sum(values)
    total = np.asarray(values, dtype=np.float64).copy()
    order = forest.members[::-1].tolist()
    parent = forest.parent.tolist()
    acc = total.tolist()
    for v in order:
        p = parent[v]
        if p >= 0:
            acc[p] += acc[v]
    return np.asarray(acc, dtype=np.float64)


def placement_order(
    new_recruits: np.ndarray,
    sponsor: np.ndarray,
    active: np.ndarray,
    joined_period: np.ndarray,
    placed: np.ndarray,
) -> np.ndarray:
    """The rows to place this period, in the order they are placed.

    The rows are this period's recruits in join order, preceded by active rows not yet placed
    (a tree imported mid-way, or the first period of a plan; by ``joined_period`` then row) and
    by unplaced sponsors of any of them. A recruit that comes before its own sponsor is moved
    to just after the sponsor (the sponsor must be in the tree first); otherwise the order is
    kept.

    Returns:
        int64[m] rows.

    Raises:
        DataError: if the sponsors of the rows to place form a cycle.
    """
    n = sponsor.shape[0]
    new = np.asarray(new_recruits, dtype=np.int64)
    if new.size:
        _, first = np.unique(new, return_index=True)
        new = new[np.sort(first)]
        new = new[~placed[new]]
    in_batch = np.zeros(n, dtype=bool)
    in_batch[new] = True
    late = np.flatnonzero(active & ~placed & ~in_batch)
    late = late[np.lexsort((late, joined_period[late]))]
    batch = np.concatenate((late, new))
    in_batch[late] = True
    while True:
        s = sponsor[batch]
        s = s[s >= 0]
        missing = np.unique(s[~placed[s] & ~in_batch[s]])
        if not missing.size:
            break
        missing = missing[np.lexsort((missing, joined_period[missing]))]
        batch = np.concatenate((missing, batch))
        in_batch[missing] = True
    m = batch.size
    if m == 0:
        return batch
    local = np.full(n, -1, dtype=np.int64)
    local[batch] = np.arange(m)
    s = sponsor[batch]
    up = np.where(s >= 0, local[np.maximum(s, 0)], -1)
    try:
        bdepth = compute_depth(up)
    except CycleError as err:
        rows = ", ".join(str(int(r)) for r in batch[err.rows[:10]])
        raise DataError(f"the sponsors of rows {rows} form a cycle") from None
    if (up < 0).all():
        return batch
    # eff = latest position on the path to the top of the batch: a row is placed right after
    # its last-placed batch ancestor if that comes later than the row itself.
    eff = np.arange(m)
    anc = up.copy()
    live = np.flatnonzero(anc >= 0)
    while live.size:
        a = anc[live]
        new_eff = np.maximum(eff[live], eff[a])
        new_anc = anc[a]
        eff[live] = new_eff
        anc[live] = new_anc
        live = live[new_anc >= 0]
    order = np.lexsort((np.arange(m), bdepth, eff))
    return batch[order]


@dataclass
class PlacementTree:
    """A placement tree with at most ``width`` children per node.

    Attributes:
        width: children per node (2 for binary).
        parent: int32[n] placement parent, -1 for roots and unplaced rows.
        position: int8[n] slot under the parent, -1 for roots and unplaced rows.
        kids: int32[n, width] child in each slot, -1 where open.
        depth: int32[n] depth (roots 0), -1 unplaced.
        placed: bool[n] the row is in the tree.
        recruits: int32[n] recruits placed by a rule under each sponsor so far (alternation).
    """

    width: int
    parent: np.ndarray
    position: np.ndarray
    kids: np.ndarray
    depth: np.ndarray
    placed: np.ndarray
    recruits: np.ndarray
    _queues: dict[int, list[int]] = field(default_factory=dict, repr=False)
    _branch: dict[int, list] = field(default_factory=dict, repr=False)
    _line: np.ndarray | None = field(default=None, repr=False)
    _end: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def empty(cls, n: int, width: int) -> PlacementTree:
        """A tree over ``n`` rows with nobody placed."""
        return cls(
            width=width,
            parent=np.full(n, -1, dtype=np.int32),
            position=np.full(n, -1, dtype=np.int8),
            kids=np.full((n, width), -1, dtype=np.int32),
            depth=np.full(n, -1, dtype=np.int32),
            placed=np.zeros(n, dtype=bool),
            recruits=np.zeros(n, dtype=np.int32),
        )

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.parent.shape[0])

    def grow(self, n: int) -> None:
        """Extend to ``n`` rows (new rows unplaced)."""
        extra = n - self.n
        if extra <= 0:
            return
        self.parent = np.concatenate((self.parent, np.full(extra, -1, np.int32)))
        self.position = np.concatenate((self.position, np.full(extra, -1, np.int8)))
        self.kids = np.concatenate((self.kids, np.full((extra, self.width), -1, np.int32)))
        self.depth = np.concatenate((self.depth, np.full(extra, -1, np.int32)))
        self.placed = np.concatenate((self.placed, np.zeros(extra, bool)))
        self.recruits = np.concatenate((self.recruits, np.zeros(extra, np.int32)))
        self._line = self._end = None

    def forest(self) -> Forest:
        """The placement forest grouped by depth (placed rows only)."""
        return Forest.from_depth(np.where(self.placed, self.parent, -1), self.depth)

    # ------------------------------------------------------------------ imported placement

    def impose(self, rows: np.ndarray, parents: np.ndarray, positions: np.ndarray | None) -> None:
        """Put ``rows`` under the given placement parents (an imported genealogy).

        A row whose position is unknown (-1) keeps its old slot if its parent did not change,
        otherwise takes the first open slot of its parent (siblings in row order). A parent
        that is not placed becomes a root. Rows not named keep their place. The rules' caches
        (frontier queues, outside lines) are rebuilt.

        Raises:
            DataError: naming the rows, if a parent gets more than ``width`` children, two
                children share a slot, a position is out of range, or the tree has a cycle.
        """
        rows = np.asarray(rows, dtype=np.int64)
        parents = np.asarray(parents, dtype=np.int64)
        w = self.width
        pos = (
            np.full(rows.size, -1, dtype=np.int64)
            if positions is None
            else np.asarray(positions, dtype=np.int64)
        )
        bad = rows[(pos >= w) | (pos < -1)]
        if bad.size:
            raise DataError(
                f"placement: rows {_rows(bad)} have a position outside 0..{w - 1} (width {w})"
            )
        keep = (pos < 0) & self.placed[rows] & (self.parent[rows] == parents)
        pos = np.where(keep, self.position[rows], pos)
        self.parent[rows] = parents
        self.position[rows] = pos
        self.placed[rows] = True
        self.placed[parents[parents >= 0]] = True
        child = np.flatnonzero(self.placed & (self.parent >= 0))
        p = self.parent[child].astype(np.int64)
        counts = np.bincount(p, minlength=self.n)
        over = np.flatnonzero(counts > w)
        if over.size:
            kids = child[np.isin(p, over[:3])]
            raise DataError(
                f"placement: rows {_rows(over)} have more than {w} children "
                f"(children: rows {_rows(kids)})"
            )
        known = child[self.position[child] >= 0]
        slot = p[self.position[child] >= 0] * w + self.position[known]
        uniq, cnt = np.unique(slot, return_counts=True)
        if (cnt > 1).any():
            clash = known[np.isin(slot, uniq[cnt > 1])]
            raise DataError(f"placement: rows {_rows(clash)} share a slot under the same parent")
        taken = np.zeros((self.n, w), dtype=bool)
        taken.ravel()[slot] = True
        unknown = child[self.position[child] < 0]
        if unknown.size:
            order = np.argsort(self.parent[unknown], kind="stable")
            unknown = unknown[order]
            up = self.parent[unknown].astype(np.int64)
            start = np.r_[True, up[1:] != up[:-1]]
            idx = np.arange(unknown.size)
            rank = idx - np.maximum.accumulate(np.where(start, idx, 0))
            free = np.cumsum(~taken[up], axis=1)
            self.position[unknown] = np.argmax(free == (rank + 1)[:, None], axis=1)
        self.kids[:] = -1
        self.kids[self.parent[child], self.position[child]] = child
        try:
            self.depth = compute_depth(np.where(self.placed, self.parent, -1), self.placed)
        except CycleError as err:
            raise DataError(
                f"placement: the placement tree has a cycle through rows {_rows(err.rows)}"
            ) from None
        self._queues.clear()
        self._branch.clear()
        self._line = self._end = None

    # ------------------------------------------------------------------ placement by rule

    def place(
        self,
        rows: np.ndarray,
        sponsor: np.ndarray,
        rule: str,
        *,
        preferred: str = "alternate",
        side: np.ndarray | None = None,
        weight: np.ndarray | None = None,
        spill_root: str = "sponsor",
    ) -> None:
        """Place ``rows`` (in this order) under their sponsors by ``rule``.

        Args:
            rows: int rows to place, each after its sponsor (see :func:`placement_order`).
            sponsor: int[n] sponsor of every row (-1: the row becomes a root).
            rule: ``extreme_outside``, ``balanced``/``bfs_sponsor``, ``weak_leg`` or
                ``branch_first``.
            preferred: extreme outside: ``left``, ``right`` or ``alternate`` (each sponsor's
                recruits go left, right, left, ...).
            side: optional int8[n] side chosen per recruit (-1: use ``preferred``).
            weight: weak leg: float64[n] measure of every row (1 per active member or its PV).
            spill_root: ``sponsor`` (default) or ``company``: breadth-first from the root of the
                sponsor's tree instead of the sponsor (a company-wide forced matrix).
        """
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return
        s = sponsor[rows].astype(np.int64)
        roots = rows[s < 0]
        self.parent[roots] = -1
        self.position[roots] = -1
        self.depth[roots] = 0
        self.placed[roots] = True
        if rule == "extreme_outside":
            self._place_outside(rows, s, preferred, side)
        else:
            self._place_loop(rows, s, rule, weight, spill_root)

    def _place_outside(
        self, rows: np.ndarray, s: np.ndarray, preferred: str, side: np.ndarray | None
    ) -> None:
        if self._line is None:
            self._build_lines()
        line, end = self._line, self._end
        n = self.n
        m = rows.size
        idx = np.arange(m)
        has = s >= 0
        # Side of each recruit: given, or the sponsor's preference (alternating per sponsor).
        if preferred == "alternate":
            key = np.where(has, s, -1)
            order = np.lexsort((idx, key))
            ks = key[order]
            start = np.r_[True, ks[1:] != ks[:-1]]
            k = np.empty(m, dtype=np.int64)
            k[order] = idx - np.maximum.accumulate(np.where(start, idx, 0))
            x = (self.recruits[np.maximum(s, 0)] + k) & 1
        else:
            x = np.full(m, LEFT if preferred == "left" else RIGHT, dtype=np.int64)
        if side is not None:
            given = side[rows].astype(np.int64)
            x = np.where(given >= 0, given, x)
        x = np.where(has, x, -1)
        # Line of each recruit: the sponsor's x-line. A sponsor placed before this batch knows
        # it; a sponsor placed in this batch on side x shares its own line's key (follow it),
        # on the other side (or as a root) it starts its own x-line.
        local = np.full(n, -1, dtype=np.int64)
        local[rows] = idx
        sl = np.where(has, local[np.maximum(s, 0)], -1)
        in_batch = sl >= 0
        s_side = np.where(in_batch, x[np.maximum(sl, 0)], -1)
        nxt = np.where(in_batch & (s_side == x), sl, -1)
        xs = np.maximum(x, 0)
        term = np.where(in_batch, s, line[xs, np.maximum(s, 0)])
        lid = follow(nxt, term)
        nr = np.flatnonzero(has)
        if nr.size == 0:
            return
        key = lid[nr] * 2 + x[nr]
        order = nr[np.argsort(key, kind="stable")]
        ks = lid[order] * 2 + x[order]
        first = np.r_[True, ks[1:] != ks[:-1]]
        last = np.r_[ks[1:] != ks[:-1], True]
        gl, gx = lid[order], x[order]
        r_sorted = rows[order]
        par = np.where(first, end[gx, gl], np.r_[-1, r_sorted[:-1]])
        self.parent[r_sorted] = par
        self.position[r_sorted] = gx
        self.kids[par, gx] = r_sorted
        self.placed[r_sorted] = True
        self._fill_depth(rows)
        line[gx, r_sorted] = gl
        end[gx[last], gl[last]] = r_sorted[last]
        np.add.at(self.recruits, s[has], 1)

    def _fill_depth(self, rows: np.ndarray) -> None:
        """Depths of freshly placed ``rows`` (their parents are placed, maybe among them)."""
        local = np.full(self.n, -1, dtype=np.int64)
        local[rows] = np.arange(rows.size)
        p = self.parent[rows].astype(np.int64)
        nxt = np.where(p >= 0, local[np.maximum(p, 0)], -1)
        value = np.where(p >= 0, self.depth[np.maximum(p, 0)].astype(np.int64) + 1, 0)
        self.depth[rows] = follow_sum(nxt, np.ones(rows.size, dtype=np.int64), value)

    def _build_lines(self) -> None:
        n = self.n
        ids = np.arange(n, dtype=np.int64)
        line = np.empty((2, n), dtype=np.int32)
        end = np.empty((2, n), dtype=np.int32)
        for x in (LEFT, RIGHT):
            nxt = np.where(self.placed & (self.position == x), self.parent, -1)
            line[x] = follow(nxt, ids)
            end[x] = ids
            tail = np.flatnonzero(self.placed & (self.kids[:, x] < 0))
            end[x, line[x, tail]] = tail
        self._line, self._end = line, end

    def _place_loop(
        self,
        rows: np.ndarray,
        s: np.ndarray,
        rule: str,
        weight: np.ndarray | None,
        spill_root: str,
    ) -> None:
        # Sequential by nature (each recruit sees the slots its predecessors took): one tight
        # Python pass, then one vectorised write-back. Plain lists index about three times
        # faster than numpy arrays, but converting all n rows costs O(n): a small batch (a
        # month's recruits in a large model) works on the arrays in place instead.
        w = self.width
        small = rows.size * _LIST_SHARE < self.n
        if small:
            kids, depth = self.kids.reshape(-1), self.depth
        else:
            kids, depth = self.kids.ravel().tolist(), self.depth.tolist()
        nonroot = s >= 0
        rows_l = rows[nonroot].tolist()
        starts = s[nonroot]
        if spill_root == "company":
            # Every recruit goes into the tree of its sponsor's root: BFS from that root.
            root = follow(np.where(self.placed, self.parent, -1), np.arange(self.n))
            starts = _roots_of_batch(rows[nonroot], starts, root)
        starts_l = starts.tolist()
        if rule == "weak_leg":
            meas = self._measures(weight)
            out = _loop_weak_leg(
                rows_l,
                starts_l,
                kids,
                depth,
                self._queues,
                meas if small else meas.tolist(),
                weight if small else weight.tolist(),
                self.parent if small else self.parent.tolist(),
            )
        elif rule == "branch_first":
            out = _loop_branch_first(rows_l, starts_l, kids, depth, w, self._branch)
        else:
            out = _loop_bfs(rows_l, starts_l, kids, depth, w, self._queues)
        placed = np.asarray(rows_l, dtype=np.int64)
        par = np.asarray(out[0], dtype=np.int64)
        slot = np.asarray(out[1], dtype=np.int64)
        self.parent[placed] = par
        self.position[placed] = slot
        self.kids[par, slot] = placed
        if not small:
            self.depth[placed] = np.asarray(depth, dtype=np.int32)[placed]
        self.placed[placed] = True
        np.add.at(self.recruits, s[nonroot], 1)
        self._line = self._end = None

    def _measures(self, weight: np.ndarray) -> np.ndarray:
        """Subtree sums of ``weight`` over the current tree (weak-leg measures).

        Integer weights (member counts) give integer measures: Python int additions in the
        placement loop are about a quarter faster than float ones.
        """
        total = subtree_sum(self.forest(), np.where(self.placed, weight, 0))
        if np.issubdtype(np.asarray(weight).dtype, np.integer):
            return np.rint(total).astype(np.int64)
        return total

    # ------------------------------------------------------------------ queries

    def ancestor_below(self, rows: np.ndarray, tops: np.ndarray) -> np.ndarray:
        """The child of ``tops[i]`` whose subtree holds ``rows[i]`` (-1 if none).

        That child heads the leg of ``tops[i]`` the row lies in. Binary lifting over the parent
        array: O(m log depth).
        """
        rows = np.asarray(rows, dtype=np.int64)
        tops = np.asarray(tops, dtype=np.int64)
        steps = self.depth[rows].astype(np.int64) - self.depth[tops] - 1
        ok = (steps >= 0) & self.placed[rows] & self.placed[tops]
        cur = rows.copy()
        n = self.n
        # Sentinel row n: its own parent, so jumps past a root stay put.
        jump = np.append(np.where(self.placed, self.parent, -1), -1).astype(np.int64)
        jump[jump < 0] = n
        k = np.where(ok, steps, 0)
        bit = 0
        while (k >> bit).any():
            sel = ((k >> bit) & 1).astype(bool)
            cur[sel] = jump[cur[sel]]
            bit += 1
            if (k >> bit).any():
                jump = jump[jump]
        res = np.where(ok & (cur < n), cur, -1)
        hit = res >= 0
        res[hit] = np.where(self.parent[res[hit]] == tops[hit], res[hit], -1)
        return res

    def check(self) -> list[str]:
        """Problems with the tree's invariants (empty when it is a valid placement tree)."""
        problems = []
        rows = np.flatnonzero(self.placed & (self.parent >= 0))
        counts = np.bincount(self.parent[rows], minlength=self.n)
        if (counts > self.width).any():
            problems.append(f"rows {_rows(np.flatnonzero(counts > self.width))} are over width")
        if not (self.placed[self.parent[rows]]).all():
            problems.append("a placed row hangs under an unplaced row")
        try:
            depth = compute_depth(np.where(self.placed, self.parent, -1), self.placed)
        except CycleError as err:
            return [*problems, str(err)]
        if not (depth == self.depth).all():
            problems.append("kept depths disagree with the parent array")
        kid_rows = self.kids[self.kids >= 0]
        if (
            kid_rows.size != rows.size
            or not (self.kids[self.parent[rows], self.position[rows]] == rows).all()
        ):
            problems.append("kids and parent arrays disagree")
        return problems


def _roots_of_batch(rows: np.ndarray, sponsors: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Root of each sponsor's tree, for sponsors placed before or earlier in this batch."""
    n = root.shape[0]
    local = np.full(n, -1, dtype=np.int64)
    local[rows] = np.arange(rows.size)
    nxt = local[sponsors]
    return follow(nxt, root[sponsors])


def _bfs_slot(start: int, kids: list[int], w: int, queues: dict[int, list[int]]):
    """First open slot breadth-first from ``start``: (node, slot). Out of the hot loops."""
    b = start * w
    for j in range(w):
        if kids[b + j] < 0:
            return start, j
    q = queues.get(start)
    if q is None:
        # q[0] is the index of the queue's head; q[1:] the BFS frontier, lazily expanded.
        q = [2, start, *kids[b : b + w]]
        queues[start] = q
    h = q[0]
    while True:
        f = q[h]
        b = f * w
        for j in range(w):
            if kids[b + j] < 0:
                if h > 4096 and 2 * h > len(q):
                    del q[1:h]
                    h = 1
                q[0] = h
                return f, j
        q.extend(kids[b : b + w])
        h += 1


def _loop_bfs(rows, starts, kids, depth, w, queues):
    """Breadth-first placement (binary ``balanced``, matrix ``bfs_sponsor``)."""
    out_p: list[int] = []
    out_s: list[int] = []
    for r, st in zip(rows, starts, strict=True):
        b = st * w
        # Fast path: the start node itself has an open slot (binary: checked inline).
        if kids[b] < 0:
            f, slot = st, 0
        elif w == 2 and kids[b + 1] < 0:
            f, slot = st, 1
        else:
            f, slot = _bfs_slot(st, kids, w, queues)
        kids[f * w + slot] = r
        depth[r] = depth[f] + 1
        out_p.append(f)
        out_s.append(slot)
    return out_p, out_s


def _loop_weak_leg(rows, sponsors, kids, depth, queues, meas, weight, parent):
    """Binary ``weak_leg``: the sponsor's leg with the smaller measure, BFS inside it."""
    out_p: list[int] = []
    out_s: list[int] = []
    for r, sp in zip(rows, sponsors, strict=True):
        cl = kids[2 * sp]
        cr = kids[2 * sp + 1]
        m_left = meas[cl] if cl >= 0 else 0
        m_right = meas[cr] if cr >= 0 else 0
        x = 0 if m_left <= m_right else 1
        c = cr if x else cl
        if c < 0:
            f, slot = sp, x
        elif kids[2 * c] < 0:
            f, slot = c, 0
        elif kids[2 * c + 1] < 0:
            f, slot = c, 1
        else:
            f, slot = _bfs_slot(c, kids, 2, queues)
        kids[2 * f + slot] = r
        depth[r] = depth[f] + 1
        parent[r] = f
        out_p.append(f)
        out_s.append(slot)
        add = weight[r]
        meas[r] = add
        if add:
            # Keep every ancestor's leg measure current (depth ~ log2 n under this rule).
            a = f
            while a >= 0:
                meas[a] += add
                a = parent[a]
    return out_p, out_s


def _loop_branch_first(rows, starts, kids, depth, w, state):
    """Matrix ``branch_first``: level by level, position k under every node before k + 1."""
    out_p: list[int] = []
    out_s: list[int] = []
    for r, st in zip(rows, starts, strict=True):
        cur = state.get(st)
        if cur is None:
            cur = [[st], 0, 0]  # nodes of the current level, position k, scan index i
            state[st] = cur
        level, k, i = cur
        while True:
            while i < len(level) and kids[level[i] * w + k] >= 0:
                i += 1
            if i < len(level):
                break
            k += 1
            i = 0
            if k == w:
                # Every slot of this level is taken: the next level is final.
                level = [c for f in level for c in kids[f * w : f * w + w]]
                k = 0
        cur[0], cur[1], cur[2] = level, k, i
        f = level[i]
        kids[f * w + k] = r
        depth[r] = depth[f] + 1
        out_p.append(f)
        out_s.append(k)
    return out_p, out_s


def _rows(rows: np.ndarray, limit: int = 10) -> str:
    rows = np.asarray(rows).ravel()
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    return shown if rows.size <= limit else f"{shown} (and {rows.size - limit} more)"


def place_period(
    tree: PlacementTree,
    inp,
    *,
    rule: str,
    preferred: str = "alternate",
    weak_measure: str = "count",
    spill_root: str = "sponsor",
) -> None:
    """Bring the placement tree up to date with one period's input.

    Imported placement (``inp.placement``, with ``inp.leg``) is applied first; every other
    row to place (see :func:`placement_order`) is placed by ``rule``. Without imported
    placement, ``inp.leg`` (if given) is each recruit's chosen side for ``extreme_outside``.
    """
    n = inp.n
    tree.grow(n)
    leg = inp.leg
    if inp.placement is not None:
        placement = np.asarray(inp.placement, dtype=np.int64)
        given = np.flatnonzero(placement >= 0)
        if given.size:
            pos = None if leg is None else np.asarray(leg, dtype=np.int64)[given]
            tree.impose(given, placement[given], pos)
        leg = None
    rows = placement_order(
        inp.new_recruits, inp.sponsor, inp.active, inp.joined_period, tree.placed
    )
    if rows.size == 0:
        return
    weight = None
    if rule == "weak_leg":
        weight = inp.active.astype(np.int64)
        if weak_measure == "volume":
            weight = np.where(inp.active, inp.pv, 0.0)
    tree.place(
        rows,
        inp.sponsor,
        rule,
        preferred=preferred,
        side=leg,
        weight=weight,
        spill_root=spill_root,
    )
