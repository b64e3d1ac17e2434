"""A plan file that extends another (``[plan] extends``, docs/plans.md, "One plan on top of
another"): whole tables replaced, the rest inherited, worked by hand."""

from pathlib import Path

import pytest

from simulation.plans import PeriodInput, load_plan
from simulation.plans.engine import read_plan_file, resolve_plan_path
from simulation.sweep.spec import read_plan

ROOT = Path(__file__).resolve().parents[1]

PARENT = """
[plan]
name = "parent"
description = "the parent's"

[qualification]
min_pv = 50

[unilevel]
percentages = [0.10, 0.05]
compression = "dynamic"

[cap]
ratio = 0.4
"""

CHILD = """
[plan]
name = "child"
extends = "parent.toml"

[unilevel]
percentages = [0.20]
"""


def write(tmp_path: Path, **files: str) -> None:
    for name, text in files.items():
        (tmp_path / f"{name}.toml").write_text(text, encoding="utf-8")


def test_a_child_replaces_whole_tables_and_inherits_the_rest(tmp_path):
    write(tmp_path, parent=PARENT, child=CHILD)
    plan = load_plan(tmp_path / "child.toml")
    raw = plan.raw
    # Its own [plan] table, without `extends`; the parent's description is not kept.
    assert raw["plan"] == {"name": "child"}
    assert plan.meta.name == "child" and plan.meta.description == ""
    # [unilevel] is the child's whole table: one level, and the default compression (the
    # parent's "dynamic" is not merged in).
    assert raw["unilevel"] == {"percentages": [0.20]}
    # [qualification] and [cap] are the parent's.
    assert raw["qualification"] == {"min_pv": 50} and raw["cap"] == {"ratio": 0.4}
    # Paid: 0 sponsors 1 and 1 sponsors 2, 60 PV each (above the parent's 50 PV minimum).
    # 0 earns 20% of 1's 60 PV = 12 and nothing on 2 (one level); 1 earns 20% of 2's = 12.
    # The cap, 40% of 180 PV = 72, does not bind.
    pay = plan.engine().pay(PeriodInput.of([-1, 0, 1], [60.0, 60.0, 60.0]))
    assert pay.total.tolist() == pytest.approx([12.0, 12.0, 0.0])


def test_a_chain_of_plans_is_read_from_the_bottom_up(tmp_path):
    grandchild = '[plan]\nname = "grandchild"\nextends = "child.toml"\n\n[cap]\nratio = 0.1\n'
    write(tmp_path, parent=PARENT, child=CHILD, grandchild=grandchild)
    raw = read_plan_file(tmp_path / "grandchild.toml")
    assert list(raw) == ["plan", "qualification", "unilevel", "cap"]  # the parent's order
    assert raw["plan"] == {"name": "grandchild"}
    assert raw["unilevel"] == {"percentages": [0.20]}
    assert raw["cap"] == {"ratio": 0.1} and raw["qualification"] == {"min_pv": 50}


def test_the_shipped_doterra_plans_are_built_on_each_other():
    base = read_plan_file(resolve_plan_path("unilevel_7_dt"))
    like = read_plan_file(resolve_plan_path("doterra_like"))
    pools = read_plan_file(resolve_plan_path("doterra_pools"))
    # doterra_like = unilevel_7_dt + the Power of 3; doterra_pools = doterra_like with ranks to
    # Diamond + four pools.
    assert {k: v for k, v in like.items() if k not in ("plan", "structure_bonus")} == {
        k: v for k, v in base.items() if k != "plan"
    }
    assert like["structure_bonus"]["amounts"] == [50.0, 250.0, 1500.0]
    assert {k: v for k, v in pools.items() if k not in ("plan", "ranks", "pool")} == {
        k: v for k, v in like.items() if k not in ("plan", "ranks")
    }
    assert [r["name"] for r in pools["ranks"]["table"]][-3:] == ["Gold", "Platinum", "Diamond"]
    assert len(pools["pool"]) == 4
    assert "extends" not in pools["plan"] and pools["plan"]["name"].endswith("leadership pools")
    # A sweep or a calibration reads the same tables as a run.
    assert read_plan("doterra_pools", ROOT, "test")["data"] == load_plan("doterra_pools").raw
