"""docs/odd.md, the ODD+D model description, keeps up with the model it describes.

Not a check of the prose, but of its coverage: every phase, random stream, recruit rule and
scenario section of the code is named in the description, so a new mechanism that lands
without being described fails here with the names to add.
"""

from __future__ import annotations

import re
from pathlib import Path

from simulation import behaviour, config, model

ODD = Path(__file__).resolve().parents[1] / "docs" / "odd.md"

# The sections the ODD+D protocol requires (Müller et al. 2013, Table 1).
ODD_D_ELEMENTS = (
    "Purpose",
    "Entities, state variables and scales",
    "Process overview and scheduling",
    "Theoretical and empirical background",
    "Individual decision making",
    "Learning",
    "Individual sensing",
    "Individual prediction",
    "Interaction",
    "Collectives",
    "Heterogeneity",
    "Stochasticity",
    "Observation",
    "Implementation details",
    "Initialisation",
    "Input data",
    "Submodels",
)


def _text() -> str:
    return ODD.read_text(encoding="utf-8")


def _headings(text: str) -> list[str]:
    return [
        re.sub(r"^#+\s*([IVX]+\.[a-z]+\s+)?", "", h) for h in re.findall(r"^#+ .*$", text, re.M)
    ]


def test_every_odd_d_element_has_a_heading():
    heads = _headings(_text())
    missing = [e for e in ODD_D_ELEMENTS if e not in heads]
    assert not missing, f"docs/odd.md lacks the ODD+D sections {missing}"
    for extra in ("How to cite", "Mechanisms in progress", "References"):
        assert extra in heads


def test_every_phase_stream_rule_and_section_is_described():
    text = _text()
    names = {
        "phase": list(behaviour.PHASES),
        "random stream": list(model.STREAMS),
        "recruit rule (recruit.mode)": list(behaviour.RULES["recruit"]),
        "scenario section": [f"[{s}]" for s in config.Scenario.model_fields],
    }
    for what, items in names.items():
        absent = [n for n in items if f"`{n}`" not in text and f"**{n.capitalize()}" not in text]
        assert not absent, (
            f"docs/odd.md does not describe the {what}(s) {absent}: add them to the process "
            "overview, design concepts and submodels (or, while in progress, to 'Mechanisms "
            "in progress')"
        )


def test_state_variables_are_all_named():
    text = _text()
    from simulation.state import FIELDS

    absent = [name for name, *_ in FIELDS if f"`{name}`" not in text]
    assert not absent, f"docs/odd.md (I.ii) does not list the state variables {absent}"


def test_internal_links_point_to_headings():
    text = _text()
    anchors = set()
    for h in re.findall(r"^#+ (.*)$", text, re.M):
        a = re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-")
        anchors.add(a)
    for link in re.findall(r"\]\(#([^)]+)\)", text):
        assert link in anchors, f"docs/odd.md links to #{link}, which is no heading"
