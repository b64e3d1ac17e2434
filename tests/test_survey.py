"""Survey answers (metrics.survey): who is asked, how each counts, and the target that fits them.

The shares are worked out by hand on small tables; on model runs the reported net income is
checked against the accounts it is made of, and why a member joined against the segment
they end in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation import results
from simulation.calibrate.targets import load_targets, model_statistics, survey_stat
from simulation.config import load_scenario
from simulation.errors import ConfigError
from simulation.metrics import survey_answers
from simulation.model import MLMModel
from simulation.outcomes import rank_names
from simulation.state import Segment

ROOT = Path(__file__).resolve().parents[1]


def _table(nets, joined_as=None, wholesale=None) -> pd.DataFrame:
    n = len(nets)
    return pd.DataFrame(
        {
            "net_income_reported": np.asarray(nets, dtype=np.float64),
            "joined_as": joined_as or ["builder"] * n,
            "wholesale": wholesale or [False] * n,
        }
    )


def test_survey_answers_by_hand():
    # $100 either way is "broke even", both ends included: -100 and +100 broke even,
    # -100.01 lost, 100.01 profit.
    df = _table([-500.0, -100.01, -100.0, -35.0, 0.0, 100.0, 100.01, 2_000.0])
    a = survey_answers(df)
    assert a == {"lost": 2 / 8, "broke_even": 4 / 8, "profit": 2 / 8, "asked": 8}
    # A band of $600 takes in everything but the $2,000 profit.
    wide = survey_answers(df, band_usd=600.0)
    assert (wide["lost"], wide["broke_even"], wide["profit"]) == (0.0, 7 / 8, 1 / 8)


def test_survey_asks_only_members_who_joined_to_make_money():
    # Discount joiners and wholesale customers are not asked; retailers and builders are.
    df = _table(
        [-500.0, -500.0, -500.0, 50.0, 900.0],
        joined_as=["discount", "builder", "retailer", "builder", "discount"],
        wholesale=[True, False, False, False, False],
    )
    a = survey_answers(df)
    assert a == {"lost": 2 / 3, "broke_even": 1 / 3, "profit": 0.0, "asked": 3}
    nobody = survey_answers(_table([1.0], joined_as=["discount"]))
    assert nobody["asked"] == 0 and np.isnan(nobody["lost"])
    with pytest.raises(ValueError, match="band_usd"):
        survey_answers(df, band_usd=-1.0)
    with pytest.raises(ValueError, match="net_income_reported"):
        survey_answers(df.drop(columns="net_income_reported"))


def _run(*sets: str, seed: int = 3) -> MLMModel:
    scen, _ = load_scenario("classroom", ["scenario.months=24", *sets])
    m = MLMModel(scenario=scen, agents=False, seed=seed)
    m.run()
    return m


def test_reported_net_income_is_strict_net_plus_what_household_product_cost():
    # own_use_paid is own use at its wholesale price: own_use_value / own_use_value_share,
    # whatever the share (0.5 here, and 0: product worth nothing at home still cost money).
    m = _run("buy.own_use_value_share=0.5")
    d = results.distributor_columns(m)
    assert (d["own_use_paid"] > 0).mean() > 0.9
    np.testing.assert_allclose(d["own_use_paid"], 2.0 * d["own_use_value"], rtol=1e-12)
    np.testing.assert_allclose(
        d["net_income_reported"], d["net_income_strict"] + d["own_use_paid"], rtol=0, atol=1e-6
    )
    # Reported = the model's net income + the half of household product it does not value.
    np.testing.assert_allclose(
        d["net_income_reported"], d["net_income"] + 0.5 * d["own_use_paid"], atol=1e-6
    )
    zero = results.distributor_columns(_run("buy.own_use_value_share=0"))
    assert (zero["own_use_value"] == 0).all() and (zero["own_use_paid"] > 0).any()
    np.testing.assert_allclose(
        zero["net_income_reported"], zero["net_income"] + zero["own_use_paid"], atol=1e-6
    )


def test_joined_as_keeps_why_a_member_joined_when_the_segment_changes():
    # Without segments everyone joined as a builder. With them, a builder or retailer who
    # gives up and stays for the discount ends in the discount segment but joined for the
    # business; nobody else's segment changes.
    off = results.distributor_columns(_run())
    assert set(off["joined_as"]) == {"builder"}
    m = _run(
        "segments.enabled=true",
        "segments.discount_share=0.5",
        "segments.retailer_share=0.2",
        "segments.downgrade_prob=1",
    )
    pop, ever = m.pop, m.ever_ids
    same = pop.joined_as[ever] == pop.segment[ever]
    downgraded = (pop.segment[ever] == Segment.DISCOUNT) & (pop.joined_as[ever] != Segment.DISCOUNT)
    assert (same | downgraded).all()
    assert downgraded.sum() > 10
    names = results.distributor_columns(m)["joined_as"]
    assert set(names) == {"discount", "retailer", "builder"}
    assert (names == "discount").sum() == (pop.joined_as[ever] == Segment.DISCOUNT).sum()


def _targets(tmp_path, survey: str):
    src = (ROOT / "scenarios" / "targets" / "realistic_survey.toml").read_text(encoding="utf-8")
    head, _, _ = src.partition("[targets.survey]")
    p = tmp_path / "targets.toml"
    p.write_text(head + "[targets.survey]\n" + survey, encoding="utf-8")
    return p


RANKS = ["Consultant", "Manager", "Director", "Executive", "Elite", "Premier", "Silver"]


def test_survey_target_is_checked(tmp_path):
    ok = load_targets(_targets(tmp_path, "lost = 0.47\nbroke_even = 0.27\nprofit = 0.26\n"), RANKS)
    assert ok.observed[survey_stat("lost")] == 0.47
    assert ok.observed["survey: broke even"] == 0.27
    assert ok.spec()["survey_band_usd"] == 100.0
    with pytest.raises(ConfigError, match=r"targets\.survey.*expected 1"):
        load_targets(_targets(tmp_path, "lost = 0.6\nbroke_even = 0.3\nprofit = 0.3\n"), RANKS)
    with pytest.raises(ConfigError, match=r"targets\.survey\.lost"):
        load_targets(_targets(tmp_path, "lost = 1.2\nbroke_even = 0\nprofit = -0.2\n"), RANKS)
    with pytest.raises(ConfigError, match=r"targets\.survey\.band_usd"):
        load_targets(
            _targets(tmp_path, "lost = 0.5\nbroke_even = 0.25\nprofit = 0.25\nband_usd = -5\n"),
            RANKS,
        )


def test_survey_statistics_of_a_run_are_its_survey_answers(tmp_path):
    # The calibration's statistic and the metric are one computation on the same table.
    m = _run(
        "segments.enabled=true",
        "segments.discount_share=0.5",
        "plan.file=doterra_like",
    )
    run = results.run_data(m)
    names = rank_names(run.plan)
    t = load_targets(
        _targets(tmp_path, "lost = 0.47\nbroke_even = 0.27\nprofit = 0.26\nband_usd = 50\n"),
        [names[i] for i in sorted(k for k in names if k >= 0)],
    )
    stats = model_statistics(run.dist, run.monthly, names, t.spec())
    want = survey_answers(run.dist, band_usd=50.0)
    assert 0 < want["asked"] < len(run.dist)
    for a in ("lost", "broke_even", "profit"):
        assert stats[survey_stat(a)] == want[a]
    assert sum(stats[survey_stat(a)] for a in ("lost", "broke_even", "profit")) == pytest.approx(1)


def test_run_summary_reports_the_survey_answers():
    # summary.json (and the terminal) show the same three shares as the metric, and none
    # when the table has no reported net income (a hand-built or older table).
    from simulation.outcomes import summarise

    run = results.run_data(_run("segments.enabled=true", "segments.discount_share=0.5"))
    s = summarise(run)
    want = survey_answers(run.dist)
    assert (s["survey_lost"], s["survey_broke_even"], s["survey_profit"]) == (
        want["lost"],
        want["broke_even"],
        want["profit"],
    )
    run.dist = run.dist.drop(columns="net_income_reported")
    assert summarise(run)["survey_lost"] is None
