"""Placement by the enroller ([placement], docs/odd.md, Placement): the rule's choices on a
hand-drawn organisation, and the model's invariants when builders place their recruits."""

import numpy as np
import pytest

from simulation.config import ConfigError
from simulation.model import MLMModel
from simulation.sponsorship import choose_sponsors
from simulation.state import Segment, Status
from simulation.tree import Forest, compute_depth
from tests.helpers import check_invariants, make_model

# The organisation before the month's joiners. Enroller 0 has frontline 1, 2, 3, 4; 1 has
# 5, 6, 7; 2 has 8. 3 is a discount buyer and 6 a wholesale customer (neither may sponsor).
PARENT = np.array([-1, 0, 0, 0, 0, 1, 1, 1, 2])
PV = np.array([100, 100, 100, 300, 50, 100, 100, 100, 500], dtype=float)
# Team volumes: 1: 100 + 300 = 400; 2: 100 + 500 = 600; 3: 300; 4: 50; 5-7: 100; 8: 500.
CAN = np.array([True, True, True, False, True, True, False, True, True])
MEMBERS = np.arange(9)


def choose(enrollers, discount, width=3, can=CAN, place=None):
    team = Forest.from_parent(PARENT).subtree_sum(PV)
    enrollers = np.asarray(enrollers, dtype=np.int64)
    place = np.ones(enrollers.size, dtype=bool) if place is None else np.asarray(place)
    discount = np.asarray(discount)
    return choose_sponsors(PARENT, MEMBERS, team, can, enrollers, place, discount, width)


def test_team_volumes_of_the_hand_drawn_organisation():
    team = Forest.from_parent(PARENT).subtree_sum(PV)
    assert team[[1, 2, 3, 4]] == pytest.approx([400, 600, 300, 50])
    assert team[0] == pytest.approx(1450)


def test_weakest_of_the_strongest_legs():
    # Width 3: the legs that may sponsor are 1 (400), 2 (600), 4 (50); the three strongest
    # are 2, 1, 4 and the weakest of them is 4 (no frontline yet: a discount buyer stays there).
    assert choose([0, 0], [False, True]).tolist() == [4, 4]
    # Width 2: the two strongest are 2 and 1; 1 is weaker. A retailer goes under 1; a discount
    # buyer one level down, since 1 already has 2 frontline members: 5 or 7 (6 is a wholesale
    # customer), both without frontline, the lower row first.
    assert choose([0, 0], [False, True], width=2).tolist() == [1, 5]


def test_legs_that_may_not_sponsor_are_skipped():
    # 4 may not sponsor either: legs 1 (400) and 2 (600), the weaker is 1; 1 has 3 frontline
    # (width 3), so a discount buyer goes under 5.
    can = CAN.copy()
    can[4] = False
    assert choose([0, 0], [False, True], can=can).tolist() == [1, 5]


def test_who_keeps_the_enroller_as_sponsor():
    # 2 has one frontline member (< width 2): builds its own frontline first. -1: no enroller.
    # A recruit the enroller does not place stays. 5 has no frontline at all.
    got = choose([2, -1, 0, 5], [True, False, True, True], width=2, place=[1, 1, 0, 1])
    assert got.tolist() == [2, -1, 0, 5]
    # An enroller whose frontline members may none sponsor keeps the recruit.
    nobody = np.zeros(9, dtype=bool)
    assert choose([0], [True], can=nobody).tolist() == [0]


def test_team_volume_ties_go_to_the_lower_row():
    # Width 3 with 4's volume raised to 400: legs 1 (400), 2 (600), 4 (400); weakest 1 and 4
    # tie at 400 -> 1; a retailer goes under 1.
    pv = PV.copy()
    pv[4] = 400
    team = Forest.from_parent(PARENT).subtree_sum(pv)
    got = choose_sponsors(
        PARENT, MEMBERS, team, CAN, np.array([0]), np.array([True]), np.array([False]), 3
    )
    assert got.tolist() == [1]


PLACED = (
    "segments.enabled=true",
    "segments.discount_share=0.6",
    "segments.wholesale_share=0.5",
    "placement.rule=legs",
    "recruit.pitches_per_month=8",
    "scenario.months=30",
)


class Recording(MLMModel):
    """Keeps each month's joiners, enrollers, sponsors and the sponsors' two uplines as placed."""

    def __init__(self, *args, **kwargs):
        self.placed = []
        super().__init__(*args, **kwargs)

    def _place(self, joiners, enrollers, before):
        super()._place(joiners, enrollers, before)
        sponsor = self.pop.sponsor
        s = sponsor[joiners].copy()
        up1 = sponsor[np.maximum(s, 0)]
        up2 = sponsor[np.maximum(up1, 0)]
        self.placed.append((joiners.copy(), enrollers.copy(), s, up1, up2))


def run_placed(*extra, seed=1):
    m = make_model(*PLACED, *extra, scenario="classroom", seed=seed)
    rec = Recording(scenario=m.scenario, seed=seed)
    for _ in range(rec.scenario.scenario.months):
        rec.step()
        check_invariants(rec)
    return rec


def test_placed_members_sit_in_their_enrollers_organisation():
    m = run_placed()
    pop = m.pop
    joiners, enr, spo, up1, up2 = (np.concatenate(x) for x in zip(*m.placed, strict=True))
    moved = spo != enr
    assert moved.sum() > 20  # the rule placed members
    # At placing: the sponsor is the enroller's frontline member or one of theirs.
    assert ((up1[moved] == enr[moved]) | (up2[moved] == enr[moved])).all()
    # A builder enrolled every placed member.
    assert (pop.joined_as[enr[moved]] == Segment.BUILDER).all()
    # Builders are never placed; the placed joined to sell or for the discount.
    assert (pop.joined_as[joiners[moved]] != Segment.BUILDER).all()
    # Enrollers keep the enrollment: every recruit's enroller is who brought them.
    assert np.array_equal(pop.enroller[joiners], enr)
    # Personal recruits are counted for the enroller, placed or not.
    assert np.array_equal(pop.recruits, np.bincount(enr[enr >= 0], minlength=pop.n))
    # The sponsor forest of active members stays a forest and depths agree with it.
    active = pop.status == Status.DISTRIBUTOR
    depth = compute_depth(np.where(active, pop.sponsor, -1), active)
    assert np.array_equal(depth[active], pop.depth[active])
    # Wholesale customers stay leaves; nobody is sponsored by a discount buyer by placement.
    kids = np.flatnonzero(active & (pop.sponsor >= 0))
    assert not pop.wholesale[pop.sponsor[kids]].any()


def test_placement_is_reproducible_and_off_by_default():
    a, b = run_placed(seed=3), run_placed(seed=3)
    assert np.array_equal(a.pop.sponsor, b.pop.sponsor)
    assert np.array_equal(a.pop.commissions, b.pop.commissions)
    # Off (the default rule): every joiner is sponsored by its enroller when it joins.
    off = MLMModel(scenario=make_model(*PLACED[:-3]).scenario, seed=3)
    assert off.scenario.placement.rule == "enroller"
    off.run()
    j = off.ever_ids
    first = (off.pop.status[j] == Status.DISTRIBUTOR) & (off.pop.enroller[j] >= 0)
    kept = off.pop.status[off.pop.enroller[j[first]]] == Status.DISTRIBUTOR
    assert np.array_equal(off.pop.sponsor[j[first]][kept], off.pop.enroller[j[first]][kept])


def test_placement_needs_segments():
    with pytest.raises(ConfigError, match=r"placement.rule = .legs.*segments.enabled"):
        make_model("placement.rule=legs")


def test_builders_are_placed_on_the_second_level_with_builder_share():
    m = run_placed("placement.builder_share=1", "placement.share=0", seed=4)
    joiners, enr, spo, up1, _ = (np.concatenate(x) for x in zip(*m.placed, strict=True))
    moved = spo != enr
    assert moved.sum() > 5
    # Only builders moved (share 0), each under a frontline member of its enroller.
    assert (m.pop.joined_as[joiners[moved]] == Segment.BUILDER).all()
    assert (up1[moved] == enr[moved]).all()


def test_fewer_placed_with_a_smaller_share():
    def moved(share):
        m = run_placed(f"placement.share={share}", seed=2)
        return sum(int((s != e).sum()) for _, e, s, _, _ in m.placed)

    assert moved(0.0) == 0
    assert 0 < moved(0.3) < moved(1.0)
