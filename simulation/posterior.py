"""Drawing from the posterior of a calibrated scenario (``mlmsim run --posterior``).

A calibrated scenario file (written by ``mlmsim calibrate``; the format is defined in
``docs/calibration.md``, "The calibrated scenario file") holds the posterior median in its
ordinary sections, so ``mlmsim run`` of it runs the median, and records the posterior in its
``[posterior]`` section (:class:`simulation.config.Posterior`)::

    [posterior]
    parameters = ["recruit.join_prob", "quit.base_monthly"]   # scenario keys, section.key
    samples = "posterior.parquet"                              # relative to this file
    median = { "recruit.join_prob" = 0.41, "quit.base_monthly" = 0.023 }
    method = "ABC-SMC (pyabc 0.13.0)"
    [posterior.provenance]
    targets = "doterra_us_2017.toml"

The samples file is Parquet with one row per posterior sample (particle), one numeric column
per parameter (named exactly as in ``parameters``) and a ``weight`` column (importance
weights of ABC-SMC particles: finite, >= 0, not all 0; normalised here; a file without it
weighs every sample the same). Other columns (``distance``) are not read.

``mlmsim run --posterior`` draws parameter sets from the samples: draw ``d`` takes the sample
row chosen by ``numpy.random.default_rng(SeedSequence(seed, spawn_key=(3, d)))`` with the
weights, so a draw depends only on the scenario's seed and ``d``, never on how many draws,
seeds or workers there are. (Spawn keys 0, 1 and 2 are the sweep's seeds and designs.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pyarrow.types as pat

from simulation.config import Posterior as PosteriorRecord
from simulation.config import Scenario, key_hint, scenario_keys
from simulation.errors import ConfigError, UserError
from simulation.userfile import check_input_file

WEIGHT = "weight"
# Spawn key of the posterior draws under the scenario's seed (sweeps use 0, 1 and 2).
DRAW_KEY = 3
# assumption: ABC-SMC and neural posteriors keep at most some 10^5-10^6 samples of a few
# parameters (a few megabytes of Parquet); 256 MiB bounds the read of a wrong file.
MAX_SAMPLES_BYTES = 256 * 1024 * 1024
# Keys a posterior cannot set: what identifies the run, the plan, the posterior itself.
FIXED = ("scenario.", "plan.", "posterior.")


def check_record(record: PosteriorRecord, source: str) -> None:
    """Check a scenario's ``[posterior]`` before drawing from it (not the samples yet).

    Args:
        record: the scenario's ``posterior`` section.
        source: the scenario file, for messages.

    Raises:
        UserError: no posterior recorded (not a calibrated scenario); a parameter that is
            not a scenario key (naming the closest valid ones), is fixed (seed, months, plan)
            or is listed twice; a median whose names differ from the parameters.
    """
    if not record.parameters or not record.samples:
        raise UserError(
            f"{source}: --posterior needs a calibrated scenario, whose [posterior] names its "
            "parameters and samples file (mlmsim calibrate writes one; docs/calibration.md); "
            + (
                "this file has none"
                if not record.parameters and not record.samples
                else f"posterior.{'parameters' if not record.parameters else 'samples'} is empty"
            )
        )
    keys = set(scenario_keys())
    for name in record.parameters:
        if name.startswith(FIXED):
            raise ConfigError(
                f"{source}: posterior.parameters: {name!r} cannot be drawn from a posterior "
                "(the seed, months, name, plan and posterior are fixed; calibrate behavioural "
                "and market parameters)"
            )
        if name not in keys:
            # The same wording as a mistyped --set or scenario key: the closest valid keys.
            raise ConfigError(
                f"{source}: posterior.parameters: unknown key '{name}'; {key_hint(name)}"
            )
    dup = next((n for n in record.parameters if record.parameters.count(n) > 1), None)
    if dup is not None:
        raise ConfigError(f"{source}: posterior.parameters: {dup!r} is listed twice")
    if set(record.median) != set(record.parameters):
        missing = sorted(set(record.parameters) - set(record.median))
        extra = sorted(set(record.median) - set(record.parameters))
        what = "; ".join(
            part
            for part in (
                f"no median for {', '.join(missing)}" if missing else "",
                f"a median for {', '.join(extra)}, which is not in parameters" if extra else "",
            )
            if part
        )
        raise ConfigError(f"{source}: posterior.median: {what}")


@dataclass
class Posterior:
    """A calibrated scenario's posterior, read and checked.

    Attributes:
        record: the ``[posterior]`` table.
        scenario_file: the scenario file that holds it.
        samples_file: the Parquet file of samples (resolved).
        values: the samples, shape ``(n_samples, n_parameters)``, columns in the order of
            ``record.parameters``.
        weights: normalised weights, shape ``(n_samples,)`` (sum 1).
    """

    record: PosteriorRecord
    scenario_file: Path
    samples_file: Path
    values: np.ndarray
    weights: np.ndarray

    @property
    def parameters(self) -> list[str]:
        """The calibrated parameters (``section.key``), in the record's order."""
        return list(self.record.parameters)

    def row(self, draw: int, seed: int) -> int:
        """The sample row of draw ``draw`` under master seed ``seed`` (see the module doc)."""
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(DRAW_KEY, draw)))
        return int(rng.choice(len(self.weights), p=self.weights))

    def values_at(self, row: int) -> dict[str, float]:
        """The parameter values of sample ``row`` (``{"section.key": value}``)."""
        return {k: float(v) for k, v in zip(self.parameters, self.values[row], strict=True)}

    def describe(self) -> dict[str, Any]:
        """As plain data for a manifest: files, parameters, median, sample count, provenance."""
        return {
            "scenario_file": str(self.scenario_file),
            "samples_file": str(self.samples_file),
            "parameters": self.parameters,
            "median": dict(self.record.median),
            "samples": len(self.weights),
            "weighted": bool(not np.allclose(self.weights, self.weights[0])),
            "method": self.record.method,
            "provenance": dict(self.record.provenance),
            "draw_rule": f"row of draw d = numpy.random.default_rng(SeedSequence(seed, "
            f"spawn_key=({DRAW_KEY}, d))).choice(samples, p=weights)",
        }


def load(record: PosteriorRecord, scenario_file: Path) -> Posterior:
    """Read and check the samples file of ``record`` (a file of ``scenario_file``).

    Raises:
        UserError: the file is missing, not a regular file, too large or not Parquet; a
            parameter column is missing or not numeric; a value is not finite; no rows; a
            weight is negative or not finite, or every weight is 0.
    """
    path = Path(record.samples)
    if not path.is_absolute():
        path = scenario_file.parent / path
    where = f"{scenario_file}: posterior.samples"
    try:
        check_input_file(path, where, MAX_SAMPLES_BYTES)
    except UserError as err:
        raise UserError(f"{err}; the posterior's samples are needed by --posterior") from None
    try:
        schema = pq.read_schema(path)
    except Exception as err:  # pyarrow raises several types for a file that is not Parquet
        raise UserError(f"{path}: not a Parquet file of posterior samples ({err})") from None
    names = list(schema.names)
    missing = [p for p in record.parameters if p not in names]
    if missing:
        raise UserError(
            f"{path}: no column for {', '.join(missing)} (the parameters of "
            f"{scenario_file} [posterior]); the file has: {', '.join(names) or 'no columns'}"
        )
    columns = [*record.parameters, *([WEIGHT] if WEIGHT in names else [])]
    try:
        table = pq.read_table(path, columns=columns)
    except Exception as err:
        raise UserError(f"{path}: cannot be read: {err}") from None
    if table.num_rows == 0:
        raise UserError(f"{path}: no samples (0 rows)")
    cols = {}
    for name in columns:
        col = table.column(name)
        if not (pat.is_floating(col.type) or pat.is_integer(col.type)):
            raise UserError(f"{path}: column '{name}' holds {col.type}, expected numbers")
        arr = col.to_numpy(zero_copy_only=False).astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise UserError(
                f"{path}: column '{name}', data row {int(bad[0]) + 1}: {float(arr[bad[0]])} is "
                "not a finite number"
            )
        cols[name] = arr
    if WEIGHT in cols:
        w = cols[WEIGHT]
        neg = np.flatnonzero(w < 0)
        if neg.size:
            raise UserError(
                f"{path}: column 'weight', data row {int(neg[0]) + 1}: {float(w[neg[0]])} is "
                "negative"
            )
        total = math.fsum(w)
        if total <= 0:
            raise UserError(f"{path}: column 'weight': every weight is 0")
        weights = w / total
    else:
        weights = np.full(table.num_rows, 1.0 / table.num_rows)
    values = np.column_stack([cols[p] for p in record.parameters])
    return Posterior(record, scenario_file, path, values, weights)


def from_scenario(scenario: Scenario, scenario_file: Path) -> Posterior:
    """The posterior a calibrated scenario records, checked and its samples read.

    Raises:
        UserError: see :func:`check_record` and :func:`load`.
    """
    check_record(scenario.posterior, str(scenario_file))
    return load(scenario.posterior, Path(scenario_file))
