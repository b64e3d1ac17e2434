"""The scenario's parameters as a whole: their keys, provenance coverage, and the page.

:mod:`simulation.provenance` holds where each default comes from; this module walks the
scenario classes (:mod:`simulation.config`) against it: every parameter's key
(:func:`scenario_keys`), which lack an entry (:func:`coverage`), the counts per kind, the
sentence the report's first card states about the costs behind its loss figure
(:func:`loss_assumptions`) and ``docs/parameters.md`` (:func:`parameters_markdown`;
``python docs/gen_parameters.py`` rewrites it).
"""

from __future__ import annotations

import json
from typing import Any

from simulation.config import Scenario, parameter_reading, scenario_keys
from simulation.provenance import KINDS, MARKET_PROVENANCE, PROVENANCE


def market_sections() -> dict[str, Any]:
    """The market sections of a scenario with ``[[companies]]``: name -> their class."""
    # Imported here: the market module brings in the model, which this module does not need.
    from simulation.market import Choice, Expansion, Switching  # noqa: PLC0415

    return {"switching": Switching, "choice": Choice, "expansion": Expansion}


def market_keys() -> list[str]:
    """Every ``section.key`` of the market sections (``[switching]``, ...), in file order."""
    return [f"{s}.{k}" for s, cls in market_sections().items() for k in cls.model_fields]


def coverage() -> tuple[list[str], list[str]]:
    """``(missing, unknown)``: parameters without an entry, entries naming no parameter.

    Scenario parameters against :data:`PROVENANCE`, the market sections' against
    :data:`MARKET_PROVENANCE`.
    """
    missing, unknown = [], []
    for keys, table in ((scenario_keys(), PROVENANCE), (market_keys(), MARKET_PROVENANCE)):
        missing += [k for k in keys if k not in table]
        unknown += sorted(set(table) - set(keys))
    return missing, unknown


# The parameters the share who lose money depends on most directly: what joining and staying
# cost, and how much of the purchases count as a cost (``docs/parameters.md``).
LOSS_COST_KEYS = (
    "costs.starter_kit_usd",
    "costs.fixed_usd_monthly",
    "buy.autoship_share",
    "buy.own_use_value_share",
)


def loss_assumptions(scenario: Any) -> str:
    """One sentence stating the cost values behind a run's loss figure and where each is from.

    For the report's first card: each of :data:`LOSS_COST_KEYS` with the value ``scenario``
    used and whether that value is a published figure, an assumption (the default of either
    kind) or set by the scenario itself.

    Args:
        scenario: a :class:`simulation.config.Scenario`.
    """
    default = Scenario()
    phrases = {
        "costs.starter_kit_usd": "a starter kit of ${:,.2f}",
        "costs.fixed_usd_monthly": "${:,.2f} a month of fees, samples and events",
        "buy.autoship_share": "{:.0%} of members topping up to the monthly minimum",
        "buy.own_use_value_share": "household product valued at {:.0%} of its price",
    }
    parts = []
    for key in LOSS_COST_KEYS:
        section, _, name = key.partition(".")
        value = getattr(getattr(scenario, section), name)
        if value != getattr(getattr(default, section), name):
            origin = "set by this scenario"
        elif PROVENANCE[key].kind == "source":
            origin = "a published figure"
        else:
            origin = "an assumption"
        parts.append(f"{phrases[key].format(value)} ({origin})")
    return (
        "The costs behind this figure: "
        + ", ".join(parts[:-1])
        + f" and {parts[-1]}; docs/parameters.md gives the source or reason for each."
    )


def counts() -> dict[str, int]:
    """How many scenario parameters have each kind of provenance (kind -> count)."""
    out = dict.fromkeys(KINDS, 0)
    for key in scenario_keys():
        entry = PROVENANCE.get(key)
        if entry is not None:
            out[entry.kind] += 1
    return out


_INTRO = """\
Every parameter of a scenario file with its default, its unit, when the model reads it and
where the default comes from. `read` is `start` (read once, when the model is built) or
`monthly` (read every month, so a mid-run change takes effect; `docs/model.md`). `kind` is

* **source**: a published figure (organisation or author, title, year, the figure);
* **assumption**: no publication gives the value; the reason and a plausible range are
  given, so a sensitivity analysis knows what to vary (`benchmarks/bench_assumptions.py`
  moves each assumption to both ends of its range; `docs/sweeps.md` for Morris and Sobol);
* **setting**: not an empirical quantity (a name, seed, length, switch or mode).

Of {total} parameters, {source} have a published source, {assumption} are assumptions and
{setting} are settings.

`mlmsim schema` shows the same unit and provenance on every parameter
(`"provenance": {{"kind": ..., "text": ...}}`, with `"plausible": [low, high]` for an
assumption). Compensation-plan parameters live in plan
files, which cite their own sources (`docs/plans.md`). The model itself is described in
`docs/model.md` and, in the ODD+D protocol, in `docs/odd.md`.
"""


_MARKET_INTRO = """\
## Markets of several companies

A scenario with `[[companies]]` (`docs/market.md`) has three more sections, read by the
market (not `--set` keys: a company changes its own scenario in its `set` table). Their
defaults, with where each comes from, as above.
"""


def _default_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return f'"{value}"' if value else '""'
    return json.dumps(value)


def _cell(text: str) -> str:
    """Text safe in a markdown table cell (no pipes, no line breaks, no HTML tags)."""
    for a, b in (("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("\n", " ")):
        text = text.replace(a, b)
    return text


def _section_table(
    heading: str, section: str, cls: Any, table: dict[str, Any], *, read: bool
) -> list[str]:
    """One section's table: each parameter's default, unit, kind and provenance.

    ``read``: with the column saying when the model reads it (scenario parameters only; the
    market sections have no ``--set`` keys).
    """
    lines = [
        heading,
        "",
        f"| parameter | default | unit |{' read |' if read else ''} kind | provenance |",
        f"| --- | --- | --- |{' --- |' if read else ''} --- | --- |",
    ]
    defaults = cls()
    for name in cls.model_fields:
        key = f"{section}.{name}"
        p = table[key]
        default = _default_text(getattr(defaults, name))
        when = f" {parameter_reading(key)} |" if read else ""
        cells = f"| `{name}` | `{_cell(default)}` | {_cell(p.unit)} |{when}"
        lines.append(f"{cells} {p.kind} | {_cell(p.text)} |")
    lines.append("")
    return lines


def parameters_markdown() -> str:
    """The page ``docs/parameters.md``: every parameter, its default, unit, reading, provenance.

    Raises:
        ValueError: a scenario parameter has no provenance entry (named in the message).
    """
    missing, unknown = coverage()
    if missing or unknown:
        raise ValueError(
            f"provenance table out of date: missing {missing}, unknown {unknown} "
            "(edit simulation/provenance.py)"
        )
    n = counts()
    lines = [
        "# Scenario parameters and where their defaults come from",
        "",
        "<!-- Generated by `python docs/gen_parameters.py` from simulation/config.py and "
        "simulation/provenance.py;",
        "     do not edit by hand: tests/test_provenance.py checks that it is current. -->",
        "",
        _INTRO.format(
            total=sum(n.values()),
            source=n["source"],
            assumption=n["assumption"],
            setting=n["setting"],
        ),
    ]
    for section, field in Scenario.model_fields.items():
        lines += _section_table(f"## [{section}]", section, field.annotation, PROVENANCE, read=True)
    lines += [_MARKET_INTRO]
    for section, cls in market_sections().items():
        lines += _section_table(f"### [{section}]", section, cls, MARKET_PROVENANCE, read=False)
    return "\n".join(lines)
