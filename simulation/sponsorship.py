"""Where an enroller places a new member: the sponsor, as opposed to the enroller.

Plans such as doTERRA's separate the two roles. The *enroller* brought the new member and
keeps the enrollment; the *sponsor* is the member's parent in the tree that commissions, team
bonuses and rank legs are paid over. An enroller may place a new member under someone in
their own organisation, who becomes the sponsor (doTERRA, "Enroller vs. Sponsor", doTERRA
University building strategy; "Placement strategy", doTERRA Empowered Success). doTERRA's
training tells builders to place builders on their first and second levels, members who
will only share or only use the product under builders and sharers further down, "where
volume is needed", and to build three legs (the Power of 3); docs/odd.md, "Placement", gives
the rule the model follows and its assumptions.

:func:`choose_sponsors` is the rule over plain arrays (tested by hand on small trees);
:meth:`simulation.model.MLMModel._place` calls it with the model's state.
"""

from __future__ import annotations

import numpy as np


def _children(parent_sorted: np.ndarray, child_sorted: np.ndarray, rows: np.ndarray):
    """Pairs (index into ``rows``, child) of every child of each of ``rows``.

    ``parent_sorted`` / ``child_sorted``: the forest's (parent, child) pairs sorted by parent.
    """
    lo = np.searchsorted(parent_sorted, rows, "left")
    hi = np.searchsorted(parent_sorted, rows, "right")
    count = hi - lo
    owner = np.repeat(np.arange(rows.size), count)
    start = np.repeat(lo - (np.cumsum(count) - count), count)
    return owner, child_sorted[np.arange(int(count.sum())) + start]


def _first_per_group(owner: np.ndarray, keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """Positions of each owner's first pair when sorted by ``keys`` (last key first)."""
    order = np.lexsort((*keys, owner))
    first = np.ones(order.size, dtype=bool)
    first[1:] = owner[order][1:] != owner[order][:-1]
    return order[first]


def choose_sponsors(
    parent: np.ndarray,
    members: np.ndarray,
    team: np.ndarray,
    can_sponsor: np.ndarray,
    enrollers: np.ndarray,
    place: np.ndarray,
    discount: np.ndarray,
    width: int,
) -> np.ndarray:
    """The sponsor of each new member under the rule ``placement.rule = "legs"``.

    For a new member with ``place`` true, enrolled by ``e``:

    * if ``e`` has fewer than ``width`` frontline members, ``e`` (a builder first builds a
      frontline of ``width``: the Power of 3);
    * else the *leg that needs volume*: among ``e``'s frontline members who may sponsor
      (``can_sponsor``: they sell or build), the ``width`` with the largest ``team`` volume,
      and of these the one with the smallest, ``h``;
    * a discount buyer (``discount``) goes one level further when ``h`` already has ``width``
      frontline members: under ``h``'s frontline member who may sponsor and has the fewest
      frontline members (``h`` if none may);
    * ``e`` when no frontline member may sponsor.

    Ties go to the lower row. All choices are made on the organisation as it stands before
    the month's new members (the counts are not updated within the month). New members with
    ``place`` false keep their enroller as sponsor.

    Args:
        parent: int[n] sponsor of each row (-1 root or not a member).
        members: int rows of the organisation before the new members.
        team: float[n] each member's team volume: last month's PV of its whole subtree.
        can_sponsor: bool[n] rows that may take a placed member.
        enrollers: int64[k] enroller of each new member (-1 none).
        place: bool[k] the enroller places this new member.
        discount: bool[k] the new member joined for the discount.
        width: frontline members before placing, and legs balanced.

    Returns:
        int64[k] sponsors (the enroller where nothing is placed).
    """
    sponsors = np.asarray(enrollers, dtype=np.int64).copy()
    which = np.flatnonzero(place & (sponsors >= 0))
    if which.size == 0:
        return sponsors
    members = np.asarray(members, dtype=np.int64)
    par = parent[members].astype(np.int64)
    inside = par >= 0
    order = np.argsort(par[inside], kind="stable")
    parent_sorted, child_sorted = par[inside][order], members[inside][order]
    frontline = np.bincount(parent_sorted, minlength=parent.shape[0])
    e = sponsors[which]
    wide = frontline[e] >= width
    which, e = which[wide], e[wide]
    owner, child = _children(parent_sorted, child_sorted, e)
    ok = can_sponsor[child]
    owner, child = owner[ok], child[ok]
    if child.size == 0:
        return sponsors
    # The `width` strongest legs of each enroller: rank the children by volume, largest first.
    order = np.lexsort((child, -team[child], owner))
    owner, child = owner[order], child[order]
    start = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    rank = np.arange(owner.size) - np.repeat(start, np.diff(np.r_[start, owner.size]))
    keep = rank < width
    owner, child = owner[keep], child[keep]
    pick = _first_per_group(owner, (child, team[child]))
    head = np.full(which.size, -1, dtype=np.int64)
    head[owner[pick]] = child[pick]
    has = head >= 0
    which, head = which[has], head[has]
    target = head.copy()
    deeper = discount[which] & (frontline[head] >= width)
    if deeper.any():
        at = np.flatnonzero(deeper)
        o2, c2 = _children(parent_sorted, child_sorted, head[at])
        ok = can_sponsor[c2]
        o2, c2 = o2[ok], c2[ok]
        if c2.size:
            pick = _first_per_group(o2, (c2, frontline[c2]))
            target[at[o2[pick]]] = c2[pick]
    sponsors[which] = target
    return sponsors
