"""Memory a scenario needs, estimated before anything is allocated.

A scenario within the schema's bounds can still need more memory than the machine has
(50,000,000 persons, or 1,000,000 persons with 1,000 contacts each). :func:`check_fits`
refuses it up front, stating the estimate and the machine's memory, instead of letting the
run exhaust memory after minutes of work.

The estimate is the memory of a run in which everyone joins:

* per person, the state arrays and the model's per-person work arrays:
  :data:`BYTES_PER_PERSON`;
* per social contact (each person's ``mean_degree`` contacts, both directions of an
  edge), the network's index and the temporaries of building it: :data:`BYTES_PER_CONTACT`;
* per joiner, the Mesa agent and the per-distributor tables written at the end (columns as
  arrays, as a table for the report and for Parquet): :data:`BYTES_PER_JOINER`, counted for
  every person, since how many join depends on the run.

Measured on the 2-core machine (Linux, numpy 2, peak resident memory over the
interpreter's): after building, 100,000 persons with 12 contacts 36 MB, 400,000 with 12
140 MB, 3,000,000 with 12 1,055 MB, 100,000 with 100 142 MB: about 220 bytes per person
plus 12 bytes per contact. A run of 100,000 persons in which all joined peaked 62 MB above
its build: about 620 bytes per joiner, before the distributor tables (about 30 columns of
8 bytes, held up to three times while written: 720 bytes more).
"""

from __future__ import annotations

import os

from simulation.errors import ConfigError

# Measured (see the module docstring), rounded up.
BYTES_PER_PERSON = 230
BYTES_PER_CONTACT = 12
BYTES_PER_JOINER = 1_400
# The interpreter with numpy, pandas, Mesa and pyarrow loaded (measured: about 160 MB).
BASE_BYTES = 160 * 1024**2


def estimate_bytes(population: int, mean_degree: int, network: str) -> int:
    """Memory a run of ``population`` persons needs if everyone joins, bytes.

    Args:
        population: persons N.
        mean_degree: mean social contacts per person (ignored for a well-mixed market).
        network: ``market.network``.
    """
    contacts = 0 if network == "well_mixed" else population * mean_degree
    per_person = BYTES_PER_PERSON + BYTES_PER_JOINER
    return BASE_BYTES + population * per_person + contacts * BYTES_PER_CONTACT


def machine_memory() -> int | None:
    """Physical memory of this machine, bytes (``MemTotal``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _gb(n: float) -> str:
    return f"{n / 1024**3:,.1f} GB"


def check_fits(scen: object, source: str) -> None:
    """Refuse a scenario whose estimated memory exceeds the machine's physical memory.

    Args:
        scen: a :class:`~simulation.config.Scenario`.
        source: how the message names the scenario.

    Raises:
        ConfigError: stating the estimate, the machine's memory and what to lower.
    """
    m = scen.market  # type: ignore[attr-defined]
    need = estimate_bytes(m.population, m.mean_degree, m.network)
    have = machine_memory()
    if have is None or need <= have:
        return
    raise ConfigError(
        f"{source}: market.population = {m.population:,} with market.mean_degree = "
        f"{m.mean_degree} needs up to {_gb(need)} of memory (estimate: everyone joins), "
        f"more than this machine's {_gb(have)}; lower the population or the mean degree"
    )
