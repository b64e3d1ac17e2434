"""The posterior of a calibrated scenario: its ``[posterior]`` record, samples and draws.

A calibrated scenario file holds the posterior median in its ordinary sections (so ``mlmsim
run`` of it runs the median) and records the whole posterior in a ``[posterior]`` table::

    [posterior]
    parameters = ["recruit.join_prob", "quit.base_rate"]     # section.key of the scenario
    samples = "realistic_posterior.parquet"                  # relative to this file
    median = { "recruit.join_prob" = 0.31, "quit.base_rate" = 0.045 }
    provenance = { method = "ABC-SMC (pyabc)", targets = "...", simulations = 5000 }

The samples file is Parquet with one row per posterior sample, one numeric column per
parameter (named exactly as in ``parameters``) and optionally a ``weight`` column (importance
weights of ABC-SMC particles: finite, >= 0, not all 0; without it every sample weighs the
same). The format is defined in ``docs/calibration.md`` ("Calibrated scenario files").

``mlmsim run --posterior`` draws parameter sets from the samples: draw ``d`` takes the sample
row chosen by ``numpy.random.default_rng(SeedSequence(seed, spawn_key=(3, d)))`` with the
weights, so a draw depends only on the scenario's seed and ``d``, never on how many draws,
seeds or workers there are. (Spawn keys 0, 1 and 2 are the sweep's seeds and designs.)

This module knows nothing of the scenario's sections; the caller checks the parameter names
(:func:`check_record` gets the valid keys) and validates each drawn scenario.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pyarrow.types as pat
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulation.errors import ConfigError, UserError, format_validation_error
from simulation.userfile import check_input_file, read_toml

TABLE = "posterior"
WEIGHT = "weight"
# Spawn key of the posterior draws under the scenario's seed (sweeps use 0, 1 and 2).
DRAW_KEY = 3
# assumption: ABC-SMC and neural posteriors keep at most some 10^5-10^6 samples of a few
# parameters (a few megabytes of Parquet); 256 MiB bounds the read of a wrong file.
MAX_SAMPLES_BYTES = 256 * 1024 * 1024


class PosteriorRecord(BaseModel):
    """``[posterior]``: the calibrated parameters, their samples file and median."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    parameters: list[str] = Field(
        min_length=1, description="The calibrated parameters, section.key of the scenario."
    )
    samples: str = Field(
        min_length=1,
        description="Parquet file of posterior samples (one column per parameter, optional "
        "'weight'), relative to the scenario file.",
    )
    median: dict[str, float] = Field(
        description="Posterior median of each parameter (the values the file's sections hold)."
    )
    provenance: dict[str, Any] = Field(
        default_factory=dict,
        description="How the posterior was made: method, targets, simulations, seed, date.",
    )


def check_record(
    table: Any, source: str, valid_keys: Iterable[str], key_hint: Callable[[str], str]
) -> PosteriorRecord:
    """Validate a scenario file's ``[posterior]`` table (its shape and names, not the samples).

    Args:
        table: the parsed ``[posterior]`` table.
        source: the scenario file, for messages.
        valid_keys: every ``section.key`` of the scenario format.
        key_hint: the closest valid keys to a name (:func:`simulation.config.key_hint`).

    Raises:
        ConfigError: not a table, an unknown or missing key, a parameter that is not a
            scenario parameter (naming the closest valid ones) or is listed twice, a median
            whose names differ from the parameters.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [posterior] must be a table, got {table!r}")
    try:
        record = PosteriorRecord.model_validate(table, strict=True)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source, prefix=TABLE)) from None
    keys = set(valid_keys)
    for name in record.parameters:
        if name in ("scenario.seed", "scenario.months", "scenario.name") or name.startswith(
            "plan."
        ):
            raise ConfigError(
                f"{source}: posterior.parameters: {name!r} cannot be calibrated (seeds, months, "
                "names and the plan are fixed; calibrate scenario parameters)"
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
    return record


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
            "provenance": self.record.provenance,
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


def from_scenario_file(
    scenario_file: Path, valid_keys: Iterable[str], key_hint: Callable[[str], str]
) -> Posterior:
    """The posterior recorded in a calibrated scenario file, samples read and checked.

    Raises:
        UserError: the file has no ``[posterior]`` table (it is not a calibrated scenario),
            the table is malformed, or its samples file is (see :func:`load`).
    """
    data = read_toml(scenario_file, "scenario")
    if TABLE not in data:
        raise UserError(
            f"{scenario_file}: --posterior needs a calibrated scenario, with a [posterior] "
            "table naming its parameters and samples (docs/calibration.md); this file has none"
        )
    record = check_record(data[TABLE], str(scenario_file), valid_keys, key_hint)
    return load(record, Path(scenario_file))
