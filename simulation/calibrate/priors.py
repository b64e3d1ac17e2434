"""Priors of a calibration: one per scenario parameter, each with its reason.

A prior file (``scenarios/priors/*.toml``, format in ``docs/calibration.md``)::

    [priors."recruit.join_prob"]
    distribution = "uniform"        # uniform | loguniform | normal
    low = 0.1                       # uniform, loguniform: the bounds
    high = 0.9
    reason = "why this range"

    [priors."quit.base_monthly"]
    distribution = "normal"         # truncated to the parameter's valid range
    mean = 0.02
    sd = 0.01
    reason = "..."

Only real-valued scenario parameters (``section.key``) can be calibrated; the prior's support
must lie within the range the scenario format allows for the parameter (``mlmsim schema``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.special import expit

from simulation.config import Scenario, apply_values, unknown_key_message
from simulation.errors import ConfigError, format_validation_error
from simulation.userfile import read_toml

# How far from its mean a normal prior without a finite bound is checked against the scenario
# (check_support): five standard deviations hold all but 6e-7 of its draws.
NORMAL_REACH = 5.0


class PriorSpec(BaseModel):
    """One parameter's prior, as written in the file."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    distribution: Literal["uniform", "loguniform", "normal"]
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    sd: float | None = Field(None, gt=0)
    reason: str = Field(min_length=1, description="Why this prior (a source or an assumption).")

    @model_validator(mode="after")
    def _complete(self) -> PriorSpec:
        if self.distribution == "normal":
            if (
                self.mean is None
                or self.sd is None
                or self.low is not None
                or self.high is not None
            ):
                raise ValueError("a normal prior takes mean and sd (and no low, high)")
        else:
            if (
                self.low is None
                or self.high is None
                or self.mean is not None
                or self.sd is not None
            ):
                raise ValueError(f"a {self.distribution} prior takes low and high (no mean, sd)")
            if not self.low < self.high:
                raise ValueError(f"low ({self.low}) must be below high ({self.high})")
            if self.distribution == "loguniform" and self.low <= 0:
                raise ValueError(f"a loguniform prior needs low > 0, got {self.low}")
        return self


class PriorFile(BaseModel):
    """A whole prior file: ``[priors."section.key"]`` tables."""

    model_config = ConfigDict(extra="forbid")

    priors: dict[str, PriorSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Prior:
    """A checked prior: the parameter, its distribution and the parameter's valid range."""

    key: str
    distribution: str
    args: dict[str, float]
    reason: str
    valid: tuple[float, float]  # the scenario format's bounds (may be infinite)

    def describe(self) -> str:
        """``uniform(0.1, 0.9)``, ``normal(0.02, 0.01) in [0, 1]``."""
        a = self.args
        if self.distribution == "normal":
            lo, hi = self.valid
            return f"normal({a['mean']:g}, {a['sd']:g}) truncated to [{lo:g}, {hi:g}]"
        return f"{self.distribution}({a['low']:g}, {a['high']:g})"

    def support(self) -> tuple[float, float]:
        """The interval where the prior density is positive."""
        if self.distribution == "normal":
            return self.valid
        return self.args["low"], self.args["high"]

    def ends(self) -> tuple[float, float]:
        """The lowest and highest values a calibration may run the model at.

        A uniform or log-uniform prior's bounds; a normal prior's valid range where it is
        finite, else ``NORMAL_REACH`` standard deviations from its mean.
        """
        if self.distribution != "normal":
            return self.args["low"], self.args["high"]
        lo, hi = self.valid
        reach = NORMAL_REACH * self.args["sd"]
        return (
            lo if math.isfinite(lo) else self.args["mean"] - reach,
            hi if math.isfinite(hi) else self.args["mean"] + reach,
        )

    def on_logit_scale(self) -> bool:
        """Whether the ``logit`` kernel scale moves this prior (uniform and log-uniform do)."""
        return self.distribution in ("uniform", "loguniform")

    def from_logit(self, z: float) -> float:
        """The parameter value at ``z`` on the logit scale (``docs/calibration.md``).

        ``u = 1 / (1 + exp(-z))`` is the prior's cumulative probability, so a standard
        logistic ``z`` gives exactly this prior: uniform ``low + (high - low) u``, log-uniform
        ``low (high / low)^u``. ``z`` = 0 is the uniform's midpoint and the log-uniform's
        geometric mean. A normal prior is not moved (it has no bound to thin out against).
        """
        if not self.on_logit_scale():
            return float(z)
        u = float(expit(z))
        lo, hi = self.args["low"], self.args["high"]
        if self.distribution == "uniform":
            return min(hi, max(lo, lo + (hi - lo) * u))
        return min(hi, max(lo, lo * (hi / lo) ** u))

    def as_dict(self) -> dict[str, Any]:
        """Plain data (manifest, report)."""
        return {
            "key": self.key,
            "distribution": self.distribution,
            **self.args,
            "reason": self.reason,
        }


def valid_range(key: str, where: str) -> tuple[float, float]:
    """The bounds the scenario format allows for real-valued parameter ``key``.

    Strict bounds (``gt``/``lt``) are returned as the bound itself: a prior must then stay
    strictly inside, which :func:`load_priors` checks.

    Raises:
        ConfigError: not a scenario parameter, or not a real number.
    """
    section, _, name = key.partition(".")
    sec = Scenario.model_fields.get(section)
    fields = getattr(sec.annotation, "model_fields", {}) if sec is not None else {}
    if name not in fields or section == "posterior":
        raise ConfigError(unknown_key_message(key, where))
    f = fields[name]
    if f.annotation is not float:
        kind = getattr(f.annotation, "__name__", str(f.annotation))
        raise ConfigError(
            f"{where}: {key} is of type {kind}; only real-valued parameters (float) can be "
            "calibrated"
        )
    lo, hi = -math.inf, math.inf
    for m in f.metadata:
        if isinstance(m, Ge):
            lo = float(m.ge)
        elif isinstance(m, Gt):
            lo = float(m.gt)
        elif isinstance(m, Le):
            hi = float(m.le)
        elif isinstance(m, Lt):
            hi = float(m.lt)
    return lo, hi


def load_priors(path: Path | str) -> list[Prior]:
    """Read and check a prior file; priors come back in the file's order.

    Raises:
        ConfigError: naming the file and the parameter: an unknown parameter, one that is not
            real-valued, a malformed prior, or a prior reaching outside the parameter's range.
    """
    p = Path(path)
    where = f"--priors {p}"
    data = read_toml(p, "priors")
    try:
        pf = PriorFile.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, where)) from None
    out = []
    for key, spec in pf.priors.items():
        lo, hi = valid_range(key, f"{where}: priors")
        at = f'{where}: priors."{key}"'
        if spec.distribution == "normal":
            if not lo <= spec.mean <= hi:
                raise ConfigError(
                    f"{at}: mean = {spec.mean} is outside the valid range of {key}, "
                    f"[{lo:g}, {hi:g}]"
                )
            args = {"mean": spec.mean, "sd": spec.sd}
        else:
            if spec.low < lo or spec.high > hi:
                raise ConfigError(
                    f"{at}: {spec.distribution}({spec.low:g}, {spec.high:g}) reaches outside the "
                    f"valid range of {key}, [{lo:g}, {hi:g}] (`mlmsim schema`)"
                )
            args = {"low": spec.low, "high": spec.high}
        out.append(Prior(key, spec.distribution, args, spec.reason, (lo, hi)))
    return out


def check_support(priors: list[Prior], scenario: dict[str, Any], where: str) -> None:
    """Refuse priors that would run the scenario at values it does not accept.

    Each parameter is valid on its own (:func:`load_priors`), but the scenario also checks
    parameters together (``segments.discount_share`` + ``segments.retailer_share`` <= 1, for
    example): a prior reaching past such a limit would lose runs in the middle of a
    calibration. The scenario is validated with each prior at either end of its support
    (:meth:`Prior.ends`), the others at the scenario's values, then with every prior at its
    low end together and at its high end together.

    Args:
        priors: the checked priors.
        scenario: the resolved scenario data the calibration runs (``--set`` applied).
        where: how messages name the prior file (``--priors FILE``).

    Raises:
        ConfigError: naming the prior, the value and the scenario's own message.
    """
    cases = [
        ({p.key: v}, f'priors."{p.key}" = {p.describe()} at {v:g}')
        for p in priors
        for v in p.ends()
    ]
    if len(priors) > 1:
        for i, end in ((0, "low"), (1, "high")):
            values = {p.key: p.ends()[i] for p in priors}
            cases.append((values, f"every prior at its {end} end together"))
    for values, what in cases:
        try:
            Scenario.model_validate(apply_values(scenario, values, where))
        except ValidationError as err:
            e = err.errors()[0]
            at = ".".join(str(x) for x in e["loc"])
            msg = e["msg"].removeprefix("Value error, ")
            raise ConfigError(
                f"{where}: {what}: the scenario refuses it ({at}: {msg}); narrow the prior"
            ) from None
