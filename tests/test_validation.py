"""Validation: exact checks in degenerate settings, the calibration scenario, the command.

The month-batched expectations are first checked against the textbook laws they reduce to
with one joiner a month, then the model is run over many seeds and its mean compared with
the batched expectation (given the realised monthly counts) within a few standard errors.
The share who never recruit and the Bass curve are tested in ``tests/test_math.py``.
"""

import math
import re
from pathlib import Path

import numpy as np
import pytest

from simulation import behaviour, cli
from simulation import validation as v
from simulation.config import load_scenario
from simulation.model import MLMModel
from simulation.validation import calibration
from tests.helpers import check_invariants

ROOT = Path(__file__).resolve().parents[1]

TREES = v.TreeDesign(seeds=tuple(range(40)))  # the same runs as tests/test_math.py (cached)


# --------------------------------------------------------------------------------------------
# the derivations, one joiner at a time, against the textbook laws


def one_at_a_time(n: int):
    """Monthly counts of a tree grown one joiner a month from one founder to n members."""
    return np.arange(1, n, dtype=float), np.ones(n - 1)


def test_batched_recruits_reduce_to_harmonic_numbers():
    n = 50
    d, j = one_at_a_time(n)
    join_month = np.arange(n)  # person i + 1 joined in month i
    got = v.rrt_expected_recruits(join_month, d, j)
    book = v.rrt_textbook_recruits(np.arange(1, n + 1), n)
    assert np.allclose(got, book)
    assert book[0] == pytest.approx(sum(1 / k for k in range(1, n)))  # the root: H_{n-1}
    assert book[-1] == 0  # the last joiner has no recruits yet
    assert got.sum() == pytest.approx(n - 1)  # everyone but the root is someone's recruit


def test_batched_levels_reduce_to_stirling_numbers():
    d, j = one_at_a_time(5)
    # (1 + z)(1 + z/2)(1 + z/3)(1 + z/4) = (24 + 50 z + 35 z^2 + 10 z^3 + z^4) / 24
    expected = np.array([24, 50, 35, 10, 1]) / 24
    assert np.allclose(v.rrt_expected_levels(d, j, founders=1), expected)
    assert np.allclose(v.rrt_textbook_levels(5), expected)
    assert v.rrt_textbook_levels(200).sum() == pytest.approx(200)


def test_never_recruit_probabilities_sum_to_half_the_tree():
    n = 40
    d, j = one_at_a_time(n)
    p = v.rrt_never_recruit_probability(np.arange(n), d, j)
    assert p[0] == 0  # the root is picked by the second joiner
    assert p.sum() == pytest.approx(n / 2)  # node i >= 2 is a leaf w.p. (i - 1)/(n - 1)


def test_preferential_leaves_reduce_to_two_thirds():
    for n in (2, 3, 10, 500):
        d, j = one_at_a_time(n)
        assert v.preferential_expected_leaves(d, j, founders=1) == pytest.approx((2 * n - 1) / 3)
    # Batched: 3 joiners pick among 1 founder (weight 1 -> all join it): 3 leaves.
    assert v.preferential_expected_leaves([1.0], [3.0], founders=1) == pytest.approx(3.0)


def test_pyramid_formulas_by_hand():
    assert v.pyramid_level_sizes(1, 2, 10) == [1, 2, 4, 3]
    # The bottom 3, plus 2 of the 4 above (3 recruits fill 2 sponsors: 2 + 1).
    assert v.pyramid_never_recruited(1, 2, 10) == 5
    assert v.pyramid_level_sizes(2, 3, 8) == [2, 6]
    assert v.pyramid_monthly_level_sizes(1, 2, 2) == [1, 4, 4]
    assert sum(v.pyramid_monthly_level_sizes(3, 4, 5)) == 3 * 5**5


def test_stepped_and_continuous_logistic_by_hand():
    x = v.bass_recursion(100, pitches=1, join_prob=0.5, spontaneous=0.0, x0=0.1, months=1)
    q = 1 - (1 - 0.5 / 100) ** 10
    assert x[1] == pytest.approx(0.1 + 0.9 * q)
    assert v.logistic_continuous(0.1, 1.0, [0.0])[0] == pytest.approx(0.1)
    assert v.logistic_continuous(0.5, 2.0, [100.0])[0] == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------
# the model against the batched expectations


def test_rrt_expected_recruits_of_the_ith_joiner():
    row = v.check_rrt_recruits_of_ith(TREES, ranks=(1, 2, 25, 100, 1000))
    print(row.expected, "|", row.model, "|", row.note)
    assert row.passed, row.model
    exp, book = row.values["expected"], row.values["textbook"]
    # Batching matters for the first joiners (the founder takes the whole first batch) ...
    assert exp[1] > 2 * book[1]
    # ... and hardly at all from a few hundred joiners on.
    for i in (100, 1000):
        assert abs(exp[i] - book[i]) < 0.1 * book[i]


def test_rrt_expected_count_per_level():
    row = v.check_rrt_levels(TREES)
    print(row.expected, "|", row.model)
    assert row.passed, row.model
    assert len(row.values["levels"]) >= 8
    ml = row.values["mean_level"]
    # A month's joiners cannot sponsor each other: the batched tree is shallower.
    assert ml["observed"] < ml["textbook"] - 1


def test_preferential_recruiting_leaf_share():
    row = v.check_preferential_leaf_share(TREES)
    print(row.expected, "|", row.model)
    assert row.passed, row.model
    assert abs(row.values["observed"] - 2 / 3) < 0.02
    assert abs(row.values["textbook"] - 2 / 3) < 1e-3


def test_pyramid_level_sizes_and_bottom_share():
    row = v.check_pyramid(founders=1, r=4, levels=7)
    assert row.passed, row.model
    assert row.values["sizes"] == [4**k for k in range(7)]
    assert row.values["bottom"] == pytest.approx(4096 / 5461)
    assert row.values["never"] == pytest.approx(4096 / 5461)


def test_pyramid_in_a_finite_market():
    row = v.check_pyramid_finite(founders=1, r=5, population=20000)
    assert row.passed, row.model
    assert row.values["sizes"][-1] == 20000 - 19531
    assert row.values["never"] == 16000


def test_pyramid_everyone_recruits_every_month():
    row = v.check_pyramid_every_month(founders=1, r=2, months=8)
    assert row.passed, row.model
    assert sum(row.values["sizes"]) == 3**8


def test_well_mixed_adoption_follows_the_stepped_logistic_curve():
    row = v.check_logistic(v.WellMixedDesign(seeds=tuple(range(12)), spontaneous=0.0, months=30))
    print(row.model, "|", row.note)
    assert row.passed, row.model
    # The continuous curve at r = c a is far off with monthly steps; the matched rate is close.
    assert row.values["continuous_gap"] > 0.2
    assert row.values["continuous_gap_matched"] < row.values["continuous_gap"]


def test_unilevel_on_a_chain_pays_the_sum_of_its_percentages():
    row = v.check_unilevel_chain(months=12)
    assert row.passed, row.model
    eng = v.unilevel_chain_engine([0.10, 0.05, 0.02], bv=200.0)
    assert eng["by_upline"] == pytest.approx([20.0, 10.0, 4.0, 0.0])
    assert eng["total"] == pytest.approx(200.0 * 0.17)
    paid, expected = v.run_unilevel_chain_model(months=8)
    assert paid[0] == pytest.approx(8.0)  # month 1: the recruit's 100 BV pays the founder 8%
    assert np.array_equal(np.round(paid, 9), np.round(expected, 9))


@pytest.mark.parametrize(
    "rule",
    [
        behaviour.preferential_recruit,
        behaviour.pyramid_recruit(3),
        behaviour.pyramid_recruit(2, every_month=True),
    ],
)
def test_replacement_recruit_rules_keep_the_model_invariants(rule):
    scen = v.quiet_scenario(
        "market.population=400",
        "market.founders=2",
        "recruit.fixed_join_prob=0.05",
        "quit.enabled=true",
        "retail.enabled=true",
        "scenario.months=10",
    )
    m = MLMModel(scenario=scen, rules={"recruit": rule})
    for _ in range(10):
        m.step()
        check_invariants(m)
    assert m.stats["ever_joined"] > 2


def test_pyramid_rule_rejects_a_bad_r():
    with pytest.raises(ValueError, match="positive integer, got 0"):
        behaviour.pyramid_recruit(0)


# --------------------------------------------------------------------------------------------
# the calibration scenario and the command


@pytest.mark.parametrize("name", ["realistic", "realistic_plain"])
def test_realistic_scenario_cites_its_sources(name):
    scen, path = load_scenario(name)
    assert 20_000 <= scen.market.population <= 150_000  # a town or a small city
    assert 60 <= scen.scenario.months <= 120
    text = path.read_text(encoding="utf-8")
    for cited in ("Herbalife", "DSA Code of Ethics", "FitzPatrick", "Young Living"):
        assert cited in text
    # Every parameter line says where its value comes from, or that nothing published does.
    section = None
    for line in text.splitlines():
        if line.startswith("["):
            section = line
        elif "=" in line and not line.startswith("#") and section != "[scenario]":
            assert "#" in line, f"no source beside: {line}"


def _weighted_median_by_definition(x: np.ndarray, w: np.ndarray) -> float:
    """The smallest sample value v with the weight of the samples <= v at least half the total.

    Written from the definition (a scan over the distinct values), not with the calibration's
    cumulative-sum search, so that the two are checked against each other.
    """
    total = float(w.sum())
    for value in sorted(set(x.tolist())):
        if float(w[x <= value].sum()) >= 0.5 * total - 1e-12 * total:
            return value
    raise AssertionError("no weighted median")


def _shipped_posteriors():
    return sorted(
        p.stem
        for p in (ROOT / "scenarios").glob("*.toml")
        if "\n[posterior]" in p.read_text(encoding="utf-8")
    )


def test_a_shipped_calibrated_scenario_is_set_to_its_recorded_posterior():
    """A shipped posterior is copied into a scenario by hand: every copy must agree.

    The calibrated lines run the median, the [posterior] table records it, the samples file
    holds the particles it was taken from, and the header's recalibration command names the
    files and settings the provenance records.
    """
    import tomllib

    import pandas as pd

    from simulation.calibrate import DEFAULT_POPULATION

    names = _shipped_posteriors()
    assert "realistic" in names
    for name in names:
        path = ROOT / "scenarios" / f"{name}.toml"
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
        post = data["posterior"]
        keys = post["parameters"]
        for key in keys:
            section, field = key.split(".")
            assert data[section][field] == post["median"][key], f"{name}: {key}"
            value = re.escape(f"{field} = {data[section][field]!r}")
            line = next(ln for ln in text.splitlines() if re.match(value, ln))
            assert "[calibrated]" in line, f"{name}: {key} is not marked [calibrated]"
        samples = pd.read_parquet(path.parent / post["samples"])
        prov = post["provenance"]
        assert len(samples) == prov["population"], name
        w = samples["weight"].to_numpy(dtype=np.float64)
        assert np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0, name
        for key in keys:
            x = samples[key].to_numpy(dtype=np.float64)
            assert _weighted_median_by_definition(x, w) == post["median"][key], f"{name}: {key}"
        header = "\n".join(ln for ln in text.splitlines() if ln.startswith("#"))
        command = header[header.index("mlmsim calibrate") :]
        parts = [
            f"scenarios/targets/{prov['targets']}",
            f"scenarios/priors/{prov['priors']}",
            f"--seed {prov['seed']}",
        ]
        if prov["population"] != DEFAULT_POPULATION:  # the default need not be written
            parts.append(f"--population {prov['population']}")
        # The method records the kernel's scale; the command names it (the default changed).
        scale = "logit" if post["method"].endswith("kernel on the logit scale") else "natural"
        parts.append(f"--kernel-scale {scale}")
        if "min_ess" in prov:  # the posterior is the generation a stopping rule kept
            parts.append(f"--min-ess {prov['min_ess']:g}")
        for part in parts:
            assert part in command, f"{name}: the recalibration command lacks {part!r}"


def test_weighted_median_by_definition_on_a_hand_example():
    # Weights 1, 1, 2 on 3, 1, 2 (sorted: 1 -> 1, 2 -> 2, 3 -> 1; total 4): the samples <= 1
    # weigh 1 (< 2), those <= 2 weigh 3 (>= 2): the median is 2. Equal halves pick the lower.
    assert _weighted_median_by_definition(np.array([3.0, 1.0, 2.0]), np.array([1.0, 1, 2])) == 2
    assert _weighted_median_by_definition(np.array([5.0, 7.0]), np.array([1.0, 1.0])) == 5


def test_calibration_rows_state_source_population_and_range():
    rows = v.calibration_rows(v.CalibrationDesign(seeds=(1,)))
    assert {r.name for r in rows} >= {"calib_no_pay_year", "calib_top1", "calib_attrition"}
    for r in rows:
        assert r.kind == "calibration"
        assert r.source and r.population and r.expected and r.model
        lo, hi = r.values["range"]
        assert r.passed == (lo <= r.values["model"] <= hi)
    by = {r.name: r.values["model"] for r in rows}
    shares = by["calib_lost"] + by["calib_broke_even"] + by["calib_profit"]
    assert shares == pytest.approx(1.0)
    # The shipped scenario has member segments: the survey asks those who joined to make
    # money, and the note gives everyone who joined too.
    run = rows[0].values["run"]
    assert 0 < run["asked_share"] < 1
    assert "Asked:" in next(r.note for r in rows if r.name == "calib_lost")
    # Without member segments everyone joined to make money: the survey asks everyone.
    plain = v.calibration_rows(v.CalibrationDesign(seeds=(1,), scenario="realistic_plain"))
    run = plain[0].values["run"]
    assert run["asked_share"] == 1.0 and run["lost"] == run["lost_everyone"]
    assert "Asked:" not in next(r.note for r in plain if r.name == "calib_lost")


def test_survey_rows_ask_the_members_who_joined_to_make_money():
    """With segments on, the survey rows ask only the members who did not join for the
    discount; the note's figure over everyone who joined mixes in the discount joiners."""
    sets = ("market.population=20000", "segments.enabled=true", "recruit.pitches_per_month=6")
    run = v.simulate_realistic("realistic", 1, sets)
    assert 0 < run["asked_share"] < 1
    assert run["asked"] == round(run["asked_share"] * run["ever_joined"])
    for a in ("lost", "broke_even", "profit"):
        assert 0 <= run[a] <= 1 and 0 <= run[f"{a}_everyone"] <= 1
    assert run["lost"] + run["broke_even"] + run["profit"] == pytest.approx(1)
    # Discount joiners count their household product at its price and pay $2 a month: most
    # of them end within $100 of zero, so everyone together breaks even more often.
    assert run["broke_even_everyone"] > run["broke_even"]
    note = calibration._survey_note(run)
    assert f"lost {100 * run['lost_everyone']:.1f}%" in note


def test_mlmsim_validate_quick_prints_the_table(tmp_path, capsys):
    out = tmp_path / "validation.md"
    status = cli.main(["validate", "--quick", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0
    lines = printed.splitlines()
    assert lines[:2] == ["Exact checks", "============"] and "Calibration" in lines
    table = [ln for ln in lines if not ln.startswith("markdown table: ")]  # a long tmp path
    assert max(map(len, table)) <= 80
    assert not any(ln.endswith("...") for ln in table), "a value was cut"
    prefixes = ("rrt_", "preferential_", "pyramid_", "bass_", "logistic_", "unilevel_", "calib_")
    rows = [ln for ln in lines if re.fullmatch(r"\S+ \.{3,} (pass|FAIL|outside)", ln)]
    assert len(rows) == 18 and all(ln.startswith(prefixes) for ln in rows)
    assert all(ln.split()[-1] in ("pass", "FAIL", "outside") for ln in rows)
    assert all(ln.split()[-1] == "pass" for ln in rows if not ln.startswith("calib"))
    assert "10/10 exact checks pass" in printed
    outside = [ln.split()[0] for ln in rows if ln.endswith(" outside")]
    flat = " ".join(printed.split())
    if outside:
        assert f"Outside their published range: {', '.join(outside)}." in flat
        assert "docs/validation.md, 'Figures outside their published range, explained'" in flat
        assert "### Figures outside their published range, explained" in (
            Path(__file__).parents[1] / "docs" / "validation.md"
        ).read_text(encoding="utf-8")
    md = out.read_text(encoding="utf-8")
    assert "| check | what | source | population | expected | model | result |" in md
    assert md.count("| `calib_") == 8


def test_the_terminal_table_wraps_long_values_within_80_columns_and_cuts_nothing():
    long = "levels [" + ", ".join(str(4**k) for k in range(12)) + "]; bottom 75.00% (limit 75.0%)"
    rows = [
        v.Row(name="a_check", kind="exact", what="what " * 30, source="s", population="p",
              expected=long, model="x9 " * 40, passed=True, note="", rerun="", values={}),
        v.Row(name="calib_figure", kind="calibration", what="a figure", source="s",
              population="p", expected="$272-$2,424", model="$139", passed=False, note="",
              rerun="", values={}),
    ]  # fmt: skip
    text = v.to_text(rows)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 80
    assert lines[2] == "a_check " + "." * (80 - len("a_check  pass")) + " pass"
    calib = next(i for i, ln in enumerate(lines) if ln.startswith("calib_figure "))
    assert lines[calib].endswith(" outside") and lines[calib + 1] == "  a figure"

    def field(name: str, start: int) -> str:
        i = next(k for k in range(start, len(lines)) if lines[k].startswith(f"  {name} "))
        parts = [lines[i][11:]]
        while i + 1 < len(lines) and lines[i + 1].startswith(" " * 11):
            i += 1
            parts.append(lines[i][11:])
        return " ".join(parts)

    assert field("expected", 0) == long and field("model", 0) == ("x9 " * 40).strip()
    assert field("expected", calib) == "$272-$2,424" and field("model", calib) == "$139"


def test_harmonic_numbers():
    assert v.harmonic(0) == 0
    assert v.harmonic(4) == pytest.approx(1 + 1 / 2 + 1 / 3 + 1 / 4)
    assert v.harmonic(10**5) == pytest.approx(math.log(10**5) + 0.5772156649, abs=1e-5)


def test_the_validation_doc_lists_every_check():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "validation.md").read_text("utf-8")
    s = v.sizes(quick=True)
    expected = [
        "rrt_leaf_share",
        "rrt_recruits_of_ith",
        "rrt_levels",
        "preferential_leaf_share",
        "pyramid_levels",
        "pyramid_finite_market",
        "pyramid_every_month",
        "bass_curve",
        "logistic_curve",
        "unilevel_chain",
        *(f"calib_{k}" for k in v.PUBLISHED),
    ]
    assert s.calibration.scenario == "realistic"
    for name in expected:
        assert f"`{name}`" in doc, name
    assert "mlmsim validate" in doc


@pytest.mark.parametrize(
    ("sets", "rule"),
    [
        ([], behaviour.pitch_recruit),
        (["recruit.mode=uniform_sponsor"], behaviour.uniform_recruit),
        (["recruit.mode=preferential"], behaviour.preferential_recruit),
    ],
)
def test_scenario_files_select_the_recruit_rule_from_the_registry(sets, rule):
    m = MLMModel(scenario=v.quiet_scenario(*sets), agents=False)
    assert m.rules["recruit"] is rule


def test_pyramid_mode_from_a_scenario_grows_the_textbook_levels():
    # Chain letter, r = 3, one founder: level k has 3^(k-1) members, joining in month k - 1.
    scen = v.quiet_scenario(
        "recruit.mode=pyramid",
        "recruit.pyramid_r=3",
        "market.founders=1",
        "market.population=1000",
        "scenario.months=4",
    )
    m = MLMModel(scenario=scen, agents=False).run()
    levels = np.bincount(m.pop.level[m.ever_ids])
    assert levels[1:].tolist() == [1, 3, 9, 27, 81]


def test_a_fractional_fixed_pitch_count_keeps_its_expected_value():
    scen = v.quiet_scenario("recruit.pitch_count=fixed", "recruit.pitches_per_month=0.5")
    m = MLMModel(scenario=scen, agents=False)
    counts = behaviour._pitch_counts(m, np.random.default_rng(0), np.arange(40_000), 0.5)
    assert set(np.unique(counts)) == {0, 1}
    # Bernoulli(0.5) mean over 40,000 draws: standard error 0.0025.
    assert abs(counts.mean() - 0.5) < 4 * 0.0025


def test_a_calibrated_scenario_is_validated_over_posterior_draws(tmp_path):
    # A posterior whose weight sits on one sample: every draw runs its values, each with its
    # own seed (d + 1); the rows then show the band over the runs, not a single seed.
    import pyarrow as pa
    import pyarrow.parquet as pq

    samples = {
        "recruit.join_prob": [0.2, 0.6, 0.9],
        "quit.base_monthly": [0.05, 0.03, 0.01],
        "weight": [0.0, 1.0, 0.0],
    }
    pq.write_table(pa.table(samples), tmp_path / "post.parquet")
    _, path = load_scenario("classroom")
    text = path.read_text(encoding="utf-8") + (
        '\n[posterior]\nparameters = ["recruit.join_prob", "quit.base_monthly"]\n'
        'samples = "post.parquet"\n'
        'median = { "recruit.join_prob" = 0.6, "quit.base_monthly" = 0.03 }\n'
    )
    scen = tmp_path / "calibrated.toml"
    scen.write_text(text, encoding="utf-8")
    design = v.CalibrationDesign(seeds=(1,), scenario=str(scen), draws=10)
    runs, what = v.calibration_runs(design)
    assert what == "10 posterior draws (each its own seed)"
    assert [seed for _, seed in runs] == list(range(1, 11))
    assert all(sets == ("recruit.join_prob=0.6", "quit.base_monthly=0.03") for sets, _ in runs)
    # Without draws, or for a scenario without a posterior: one run per seed, nothing set.
    assert v.calibration_runs(v.CalibrationDesign(seeds=(1, 2), scenario=str(scen)))[0] == [
        ((), 1),
        ((), 2),
    ]
    rows = v.calibration_rows(design)
    lost = next(r for r in rows if r.name == "calib_lost_purchases")
    assert len(lost.values["per_seed"]) == 10
    assert "90% of runs" in lost.model
    assert "10 posterior draws" in next(r for r in rows if r.name == "calib_no_pay_year").note
