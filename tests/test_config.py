"""Scenario files: defaults, overrides, and a corpus of broken files with their exact messages."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulation.cli import main
from simulation.config import Scenario, load_scenario, schema

BAD = Path(__file__).parent / "data" / "bad_scenarios"

# file -> fragments the one-line message must contain (file name is always checked too)
EXPECTED = {
    "01_unknown_section": ["unknown key 'markets'"],
    "02_unknown_key": [
        "unknown key 'market.populaton'",
        "closest valid keys: market.population",
    ],
    "03_population_string": ["market.population = 'many'", "valid integer"],
    "04_population_negative": ["market.population = -5", "greater than or equal to 10"],
    "05_population_too_small": ["market.population = 3", "greater than or equal to 10"],
    "06_join_prob_above_one": ["recruit.join_prob = 1.5", "less than or equal to 1"],
    "07_bad_network_kind": ["market.network = 'hexagonal'", "small_world"],
    "08_edge_list_without_file": ["needs market.edge_list"],
    "09_odd_small_world_degree": ["market.mean_degree = 7", "even"],
    "10_founders_exceed_population": ["market.founders (50)", "market.population (20)"],
    "11_months_zero": ["scenario.months = 0", "greater than or equal to 1"],
    "12_seed_negative": ["scenario.seed = -1", "greater than or equal to 0"],
    "13_not_toml": ["not valid TOML"],
    "14_section_not_table": ["market = 5"],
    "15_fatigue_negative": ["recruit.fatigue = -0.1", "greater than or equal to 0"],
    "16_bool_as_string": ["quit.enabled = 'sometimes'", "valid boolean"],
    "17_churn_above_one": ["retail.churn_monthly = 2", "less than or equal to 1"],
    "18_unknown_plan": ["plan file 'no_such_plan' not found"],
    "19_degree_above_population": ["market.mean_degree (40)", "market.population (20)"],
    "20_recruit_mode": ["recruit.mode = 'telepathy'", "uniform_sponsor"],
    "21_buyback_share": ["quit.buyback_share = 1.2", "less than or equal to 1"],
    "22_starter_kit_negative": ["costs.starter_kit_usd = -60", "greater than or equal to 0"],
    "23_list_for_number": ["buy.own_use_pv = [60, 70]", "valid number"],
    "24_plan_unknown_component": [
        "bad_plan_unknown_component.toml",
        "unknown table 'unilevel_plus'",
    ],
    "25_plan_bad_percentages": [
        "bad_plan_percentages.toml",
        "unilevel.percentages",
        "between 0 and 1",
    ],
}


def test_corpus_is_complete():
    files = {p.stem for p in BAD.glob("[0-9]*.toml")}
    assert files == set(EXPECTED)
    assert len(files) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_scenario_message_and_exit_code(name, capsys, tmp_path):
    path = BAD / f"{name}.toml"
    code = main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet", "--no-figures"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.startswith("error: ")
    if name not in ("24_plan_unknown_component", "25_plan_bad_percentages"):
        assert path.name in err
    for fragment in EXPECTED[name]:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert not (tmp_path / "run").exists(), "nothing may be written for a bad scenario"


def test_cli_process_exit_code_and_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "simulation", "run", str(BAD / "02_unknown_key.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "unknown key 'market.populaton'" in proc.stderr


def test_set_overrides_any_parameter():
    scen, _ = load_scenario(
        "classroom", ["market.population=500", "recruit.refusals=false", "plan.file=unilevel_5"]
    )
    assert scen.market.population == 500
    assert scen.recruit.refusals is False


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("market.population=ten", "market.population = 'ten'"),
        ("markt.population=10", "unknown key 'markt.population'"),
        ("population=10", "unknown key 'population'"),
        ("market.population", "expected section.key=value"),
        ("market.colour=1", "unknown key 'market.colour'"),
    ],
)
def test_bad_overrides(item, fragment, capsys):
    code = main(["run", "--set", item, "--quiet", "--no-figures"])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err


def test_every_field_has_a_description():
    def walk(model, prefix=""):
        for name, field in model.model_fields.items():
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, Scenario.__mro__[1]):
                walk(ann, f"{prefix}{name}.")
            else:
                assert field.description, f"{prefix}{name} has no description"

    walk(Scenario)


def test_schema_is_generated_and_names_sections():
    s = schema()
    assert set(s["properties"]) >= {"scenario", "market", "recruit", "plan"}
    assert json.dumps(s)  # serialisable
