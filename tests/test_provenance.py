"""Every scenario default says where it comes from: a source, an assumption or a setting."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from simulation import config, parameters, provenance
from simulation.provenance import MARKET_PROVENANCE, PROVENANCE, Provenance

ROOT = Path(__file__).resolve().parents[1]
# Scenario parameters and the market sections of a scenario with [[companies]].
EVERY = {**PROVENANCE, **MARKET_PROVENANCE}


def section_class(section: str):
    """The pydantic class of a scenario section or of a market section."""
    if section in config.Scenario.model_fields:
        return config.Scenario.model_fields[section].annotation
    return parameters.market_sections()[section]


def test_every_scenario_parameter_has_provenance_and_every_entry_exists():
    missing, unknown = parameters.coverage()
    assert not missing, (
        f"{len(missing)} scenario parameter(s) have no provenance entry: "
        f"{', '.join(missing)}. Add each to PROVENANCE in simulation/provenance.py as a "
        "source (author/organisation, title, year, figure), 'assumption: <reason; plausible "
        "range>' or a setting, then run python docs/gen_parameters.py."
    )
    assert not unknown, (
        f"provenance entries name parameters that do not exist: {', '.join(unknown)}. "
        "Remove or rename them in simulation/provenance.py."
    )


def test_scenario_keys_are_exactly_the_config_fields():
    # Independent of parameters.scenario_keys(): walk the JSON Schema the CLI prints.
    schema = config.schema()
    keys = set()
    for section, ref in schema["properties"].items():
        name = ref["$ref"].rsplit("/", 1)[-1]
        keys |= {f"{section}.{k}" for k in schema["$defs"][name]["properties"]}
    assert keys == set(parameters.scenario_keys())
    assert len(keys) >= 50


@pytest.mark.parametrize("key", sorted(EVERY))
def test_each_entry_is_well_formed(key):
    p = EVERY[key]
    assert p.kind in provenance.KINDS
    assert p.unit.strip(), f"{key}: empty unit (use '-' for names, switches, choices)"
    assert len(p.text) >= 20, f"{key}: provenance text too short to say anything"
    if p.kind == "source":
        # A citation names a year of publication.
        assert re.search(r"\b(19|20)\d\d\b", p.text), f"{key}: a source must name its year"
    if p.kind == "assumption":
        assert p.text.startswith("assumption: "), key
        assert p.plausible is not None, f"{key}: an assumption gives its plausible range"
    else:
        assert p.plausible is None, key


@pytest.mark.parametrize("key", sorted(k for k, p in EVERY.items() if p.plausible is not None))
def test_plausible_range_holds_the_default_and_both_ends_are_valid(key):
    section, _, name = key.partition(".")
    cls = section_class(section)
    low, high = EVERY[key].plausible
    default = getattr(cls(), name)
    assert low <= default <= high, f"{key}: default {default} outside {low}..{high}"
    for end in (low, high):
        if cls.model_fields[name].annotation is int:
            assert end == int(end), f"{key}: an integer parameter needs integer ends"
            end = int(end)
        # Raises a ValidationError if an end is not a value the parameter accepts.
        cls.__pydantic_validator__.validate_assignment(cls.model_construct(), name, end)
    assert f"plausible range {low:g} to {high:g}." in EVERY[key].text


def test_provenance_rejects_malformed_entries():
    with pytest.raises(ValueError, match="expected one of"):
        Provenance("guess", "assumption: x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="starts with"):
        Provenance("assumption", "no prefix")
    with pytest.raises(ValueError, match="starts with"):
        Provenance("source", "assumption: a source cannot say this")
    with pytest.raises(ValueError, match="empty"):
        Provenance("setting", "  ")
    with pytest.raises(ValueError, match="only assumptions"):
        Provenance("source", "Someone 2001, a figure", plausible=(0, 1))
    with pytest.raises(ValueError, match="low < high"):
        Provenance("assumption", "assumption: backwards", plausible=(2, 1))


def test_counts_add_up_and_known_sources_are_cited():
    n = parameters.counts()
    assert sum(n.values()) == len(parameters.scenario_keys())
    # Defaults that published documents give, each checked against its figure.
    assert PROVENANCE["quit.buyback_share"].kind == "source"
    assert config.Quit().buyback_share == 0.9 and "90%" in PROVENANCE["quit.buyback_share"].text
    kit = PROVENANCE["costs.starter_kit_usd"]
    assert kit.kind == "source" and "$60.70" in kit.text
    assert abs(config.Costs().starter_kit_usd - 60.70) < 1.0
    degree = PROVENANCE["market.mean_degree"]
    assert degree.kind == "source" and "9-15" in degree.text
    assert 9 <= config.Market().mean_degree <= 15
    # The three cost assumptions the loss figure hangs on are marked as assumptions.
    for key in ("costs.fixed_usd_monthly", "buy.autoship_share", "buy.own_use_value_share"):
        assert PROVENANCE[key].kind == "assumption", key


def test_mlmsim_schema_shows_provenance_and_unit_on_every_parameter():
    out = subprocess.run(
        [sys.executable, "-m", "simulation", "schema"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    schema = json.loads(out.stdout)
    seen = 0
    for section, ref in schema["properties"].items():
        props = schema["$defs"][ref["$ref"].rsplit("/", 1)[-1]]["properties"]
        for name, prop in props.items():
            key = f"{section}.{name}"
            assert key in PROVENANCE, f"{key} has no provenance (simulation/provenance.py)"
            entry = PROVENANCE[key]
            assert prop["provenance"]["kind"] == entry.kind, key
            assert prop["provenance"]["text"] == entry.text, key
            if entry.plausible is not None:
                assert prop["provenance"]["plausible"] == list(entry.plausible), key
            assert prop["unit"], key
            assert prop["read"] == config.parameter_reading(key), key
            seen += 1
    assert seen == len(PROVENANCE)
    assert schema["$defs"]["Costs"]["properties"]["fixed_usd_monthly"]["provenance"][
        "text"
    ].startswith("assumption: ")


def test_parameters_page_is_current():
    page = ROOT / "docs" / "parameters.md"
    expected = parameters.parameters_markdown()
    assert page.read_text(encoding="utf-8") == expected, (
        "docs/parameters.md is out of date with simulation/config.py or "
        "simulation/provenance.py: run python docs/gen_parameters.py"
    )


def test_parameters_page_lists_every_parameter_with_its_default_and_reading():
    text = parameters.parameters_markdown()
    rows = {}
    section = None
    for line in text.splitlines():
        if line.startswith("## ["):
            section = line[4:-1]
        elif line.startswith("## "):
            section = None  # the market sections, checked below
        elif section and line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[f"{section}.{cells[0].strip('`')}"] = cells
    assert set(rows) == set(parameters.scenario_keys())
    assert rows["costs.fixed_usd_monthly"][1:5] == [
        "`25.0`",
        "usd per distributor-month",
        "monthly",
        "assumption",
    ]
    assert rows["buy.autoship_share"][3] == "start"
    assert rows["market.network"][1] == '`"small_world"`'
    n = parameters.counts()
    assert f"{n['source']} have a published source" in text


def test_parameters_page_lists_the_market_sections_with_their_defaults():
    """Each key of [switching], [choice] and [expansion] has a row under its heading with
    its default (read off the pydantic class independently of the page code) and kind."""
    text = parameters.parameters_markdown()
    market = text[text.index("## Markets of several companies") :]
    rows, section = {}, None
    for line in market.splitlines():
        if line.startswith("### ["):
            section = line[5:-1]
        elif line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[f"{section}.{cells[0].strip('`')}"] = cells
    assert set(rows) == set(MARKET_PROVENANCE) == set(parameters.market_keys())
    assert rows["switching.customer_follow_share"][1:4] == [
        "`0.7`",
        "probability per customer",
        "assumption",
    ]
    assert rows["choice.customers_switch"][1] == "`true`"
    for key, cells in rows.items():
        section, _, name = key.partition(".")
        assert cells[1] == f"`{json.dumps(getattr(section_class(section)(), name))}`", key


def test_gen_parameters_writes_the_page_and_check_detects_a_stale_one(tmp_path):
    script = ROOT / "docs" / "gen_parameters.py"
    page = tmp_path / "parameters.md"

    def run(*args):
        return subprocess.run(
            [sys.executable, str(script), "--page", str(page), *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )

    assert run("--check").returncode == 1  # no page yet
    assert run().returncode == 0
    assert page.read_text(encoding="utf-8") == parameters.parameters_markdown()
    assert run("--check").returncode == 0
    page.write_text(page.read_text(encoding="utf-8") + "edited by hand\n", "utf-8")
    stale = run("--check")
    assert stale.returncode == 1
    assert "out of date" in stale.stderr and "gen_parameters.py" in stale.stderr


def test_assumption_benchmark_moves_one_assumption_to_both_ends_of_its_range():
    import importlib.util

    path = ROOT / "benchmarks" / "bench_assumptions.py"
    spec = importlib.util.spec_from_file_location("bench_assumptions", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.one_at_a_time(
        "classroom",
        [1],
        ["costs.fixed_usd_monthly"],
        ["market.population=400", "market.founders=4", "scenario.months=12"],
    )
    (row,) = result["rows"]
    assert (row["low"], row["high"]) == PROVENANCE["costs.fixed_usd_monthly"].plausible
    # $0 against $150 a month of fees: more of the same people end the year in loss.
    loss = row["share_net_loss"]
    assert loss["low"] < loss["high"]
    assert loss["delta"] == pytest.approx(loss["high"] - loss["low"])
    assert "`costs.fixed_usd_monthly` | 25 | 0 to 150 |" in bench.table(result)


def test_loss_assumptions_states_the_cost_values_and_their_origin():
    default = config.Scenario()
    assert parameters.loss_assumptions(default) == (
        "The costs behind this figure: a starter kit of $60.00 (a published figure), $25.00 "
        "a month of fees, samples and events (an assumption), 70% of members topping up to "
        "the monthly minimum (an assumption) and household product valued at 80% of its "
        "price (an assumption); docs/parameters.md gives the source or reason for each."
    )
    changed = config.Scenario(costs={"fixed_usd_monthly": 0}, buy={"autoship_share": 0.3})
    text = parameters.loss_assumptions(changed)
    assert "$0.00 a month of fees, samples and events (set by this scenario)" in text
    assert "30% of members topping up to the monthly minimum (set by this scenario)" in text
    assert "a starter kit of $60.00 (a published figure)" in text
    for key in parameters.LOSS_COST_KEYS:
        assert key in PROVENANCE
