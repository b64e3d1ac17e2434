"""Running a calibration: inputs checked, pilot, ABC-SMC (resumable), posterior and outputs.

The output folder (``results/calibrations/<scenario>-<targets>`` by default):

- ``calibration.json``: the inputs that determine the result and their fingerprint (a rerun
  into the same folder resumes only the same calibration);
- ``pilot.parquet``: the prior-predictive pilot (parameters and statistics), which fixes the
  distance's scales and the first threshold, and shows which published figures the priors
  can reach at all (:func:`prior_check`);
- ``history.db``: pyabc's history (SQLite), one entry per finished generation;
- ``posterior.parquet``: the last generation's particles (parameters, ``weight``,
  ``distance``);
- ``predictive.parquet``: posterior-predictive runs (parameters, seed, statistics, outcomes);
- ``calibrated.toml``: the scenario with the posterior medians and its ``[posterior]`` table;
- ``report.html``: the posterior-predictive report page; ``manifest.json``: versions, timings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation import results, safepath
from simulation.calibrate.priors import Prior
from simulation.calibrate.targets import Targets, format_stat, in_usd, is_fitted
from simulation.errors import UserError
from simulation.userfile import dotted_keys

CALIBRATION_FILE = "calibration.json"
PILOT_FILE = "pilot.parquet"
HISTORY_FILE = "history.db"
# Where the kernel proposing new particles works (--kernel-scale; docs/calibration.md).
KERNEL_SCALES = ("natural", "logit")
POSTERIOR_FILE = "posterior.parquet"
PREDICTIVE_FILE = "predictive.parquet"
CALIBRATED_FILE = "calibrated.toml"
REPORT_FILE = "report.html"
MANIFEST_FILE = "manifest.json"

# Posterior-predictive runs drawn from the posterior for the report (at most the population).
PREDICTIVE_RUNS = 100
# Below this share of the particles, the final population's effective sample size is
# reported as too low to trust the posterior's intervals (an assumption, a rule of thumb;
# fit F of docs/calibration.md ended at 1.5 of 100, the shipped fit at 15.0).
LOW_ESS_SHARE = 0.2
# MAD -> standard deviation of a normal distribution.
MAD_TO_SD = 1.4826
# A published figure with fewer than this share of the prior-predictive pilot's runs beyond it
# lies in the priors' tail (an assumption: the two-sided 95% convention). The posterior can
# still reach it, but only from a corner of the priors that few particles explore.
PRIOR_TAIL = 0.025


#: Keys of :meth:`Calibration.spec` that say when to stop, not what is fitted: left out of the
#: fingerprint, so a folder resumes with another budget or stopping rule.
STOPPING = ("generations", "simulations", "min_ess")

#: Keys :meth:`Calibration.spec` writes only when not at these values.
SPEC_DEFAULTS = {"income_basis": "year", "kernel_scale": "natural"}


@dataclass
class Calibration:
    """A checked calibration: what to fit, how, and with which budget.

    Attributes:
        name: the calibration's name (scenario and target file).
        scenario_data: the raw scenario file's data with ``--set`` applied (written back).
        context: what a worker needs (:func:`simulation.calibrate.simulate.run_once`).
        priors: the priors, in the file's order.
        targets: the targets.
        population: particles per generation.
        generations: most generations (None: until the simulations' budget is spent).
        simulations: most simulations, pilot included (None: until ``generations``).
        seed: the calibration seed.
        sources: file names of the scenario, targets and priors (for the provenance).
        kernel_scale: where the proposal kernel works: ``"natural"`` (the parameters as they
            are) or ``"logit"`` (uniform and log-uniform priors on the logit scale).
        min_ess: stop when a generation's effective sample size falls below this share of
            the particles; the results are then the generation before it
            (:func:`healthy_generation`). None: no such stop.
    """

    name: str
    scenario_data: dict[str, Any]
    context: dict[str, Any]
    priors: list[Prior]
    targets: Targets
    population: int
    generations: int | None
    simulations: int | None
    seed: int
    sources: dict[str, str] = field(default_factory=dict)
    kernel_scale: str = "natural"
    min_ess: float | None = None

    @property
    def keys(self) -> list[str]:
        """The calibrated parameters."""
        return [p.key for p in self.priors]

    def spec(self) -> dict[str, Any]:
        """Everything the result depends on (not the executor: it does not change it)."""
        targets = self.targets.spec()
        options = {"income_basis": targets["income_basis"], "kernel_scale": self.kernel_scale}
        return {
            "scenario": self.context["scenario"],
            "plan": self.context["plan"]["data"],
            "priors": [p.as_dict() for p in self.priors],
            "observed": self.targets.observed,
            "weights": self.targets.weights,
            "buckets": targets["buckets"],
            # Only when not the default (SPEC_DEFAULTS), so that calibrations made before
            # these options existed keep their fingerprint (and resume).
            **{k: v for k, v in options.items() if v != SPEC_DEFAULTS[k]},
            "population": self.population,
            "generations": self.generations,
            "simulations": self.simulations,
            # A stopping rule, like the budget; only when set (earlier folders' specs).
            **({"min_ess": self.min_ess} if self.min_ess is not None else {}),
            "seed": self.seed,
        }

    def fingerprint(self) -> str:
        """A hash of :meth:`spec` without the budget and the stopping rule.

        A longer run, or one stopped by another rule, continues a shorter one.
        """
        spec = {k: v for k, v in self.spec().items() if k not in STOPPING}
        blob = json.dumps(spec, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def spec_differences(stored: dict[str, Any], spec: dict[str, Any], most: int = 4) -> list[str]:
    """What differs between a stored calibration's inputs and this one's, in words.

    Both are :meth:`Calibration.spec` as JSON holds it; the budget is left out (a longer run
    continues a shorter one). A key this calibration has and the stored one lacks is usually
    a scenario field added by a newer mlmsim: the message says so.
    """
    now = json.loads(json.dumps(spec, default=str))
    skip = ("fingerprint", "generations", "simulations")
    # The spec leaves these out at their defaults (older calibrations keep their fingerprint):
    # compare them at their values, so that "natural" reads as such, not as missing.
    a = dotted_keys({**SPEC_DEFAULTS, **{k: v for k, v in stored.items() if k not in skip}})
    b = dotted_keys({**SPEC_DEFAULTS, **{k: v for k, v in now.items() if k not in skip}})
    words = []
    for key in sorted(a.keys() | b.keys()):
        if key not in a:
            words.append(f"{key} (not in the stored calibration: a newer mlmsim's field?)")
        elif key not in b:
            words.append(f"{key} (only in the stored calibration)")
        elif a[key] != b[key]:
            words.append(f"{key} ({a[key]!r} there, {b[key]!r} here)")
    if len(words) > most:
        words = [*words[:most], f"and {len(words) - most} more"]
    return words


def _read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _check_folder(fingerprint: str, spec: dict[str, Any]) -> Any:
    def check(folder: Path) -> None:
        f = folder / CALIBRATION_FILE
        if f.is_file():
            stored = _read_json_object(f)
            have = None if stored is None else stored.get("fingerprint")
            if have != fingerprint:
                what = (
                    "; it differs in " + "; ".join(spec_differences(stored, spec))
                    if isinstance(stored, dict)
                    else " (its calibration.json cannot be read)"
                )
                raise UserError(
                    f"--out {folder}: holds another calibration (a calibration resumes only "
                    "with the same scenario, targets, priors, seed, population and kernel "
                    f"scale){what}; "
                    "choose another folder to start this one"
                )
        elif any(not p.name.startswith(".") for p in folder.iterdir()):
            raise UserError(
                f"--out {folder}: is not empty and holds no calibration; choose another folder"
            )

    return check


def prior_check(
    pilot: pd.DataFrame, observed: dict[str, float], weights: dict[str, float] | None = None
) -> list[dict[str, Any]]:
    """Where each published figure falls among the prior-predictive pilot's runs.

    A posterior only reweights what the priors produce: a figure no pilot run reaches is one
    the calibration cannot cover whatever its budget, which the pilot shows in minutes rather
    than after an hour of generations.

    Args:
        pilot: the pilot's table (one row per run, a column per statistic).
        observed: ``{statistic: published value}`` (log10(1 + USD) for incomes).
        weights: ``{statistic: weight}`` of the target file (default 1 each).

    Returns:
        One row per target, in ``observed``'s order: ``statistic``; ``published``, ``low``
        and ``high`` (the runs' smallest and largest values; USD for incomes); ``below``, the
        share of runs below the published figure (a tie counts half; ``low``, ``high`` and
        ``below`` are None when no run gave a number); ``verdict``:
        ``"outside"`` when the figure lies outside [low, high] (no run reached it),
        ``"tail"`` when fewer than :data:`PRIOR_TAIL` of the runs lie beyond it, else
        ``"inside"``. A statistic no run produced a number for is ``"outside"``. ``fitted``:
        false for a statistic of weight 0 (shown, not in the distance).
    """
    weights = weights or {}
    rows = []
    for k, obs in observed.items():
        x = pilot[k].to_numpy(dtype=np.float64)
        x = x[np.isfinite(x)]
        if x.size:
            lo, hi = float(x.min()), float(x.max())
            below = float(((x < obs).sum() + 0.5 * (x == obs).sum()) / x.size)
            beyond = min(below, 1.0 - below)
            verdict = "inside"
            if obs < lo or obs > hi:
                verdict = "outside"
            elif beyond < PRIOR_TAIL:
                verdict = "tail"
        else:
            lo = hi = below = None
            verdict = "outside"

        def show(v: float | None, usd: bool = in_usd(k)) -> float | None:
            return None if v is None else (10**v - 1 if usd else v)

        rows.append(
            {
                "statistic": k,
                "published": show(obs),
                "low": show(lo),
                "high": show(hi),
                "below": below,
                "runs": int(x.size),
                "verdict": verdict,
                "fitted": is_fitted(weights, k),
            }
        )
    return rows


def prior_warnings(rows: list[dict[str, Any]]) -> list[str]:
    """One sentence per :func:`prior_check` row that is not ``"inside"``."""
    fmt = format_stat
    out = []
    for r in rows:
        k = r["statistic"]
        if r["verdict"] == "outside":
            where = (
                "no run gave a number"
                if not r["runs"]
                else f"the {r['runs']} runs gave {fmt(k, r['low'])} to {fmt(k, r['high'])}"
            )
            out.append(
                f"'{k}' published {fmt(k, r['published'])} lies outside the prior predictive "
                f"({where}): no parameter set drawn from the priors reached it, "
                + (
                    "so the posterior cannot cover it"
                    if r["fitted"]
                    else "and it is not fitted (weight 0 in the target file)"
                )
            )
        elif r["verdict"] == "tail":
            beyond = min(r["below"], 1.0 - r["below"])
            out.append(
                f"'{k}' published {fmt(k, r['published'])} lies in the prior predictive's tail "
                f"({100 * beyond:.1f}% of {r['runs']} runs beyond it)"
            )
    return out


def prior_summary(rows: list[dict[str, Any]]) -> list[str]:
    """At most two sentences: the targets outside the prior predictive, those in its tail."""
    out = []
    for verdict, what in (
        (
            "outside",
            "outside the prior predictive (no pilot run reached them; the posterior "
            "cannot cover them)",
        ),
        (
            "tail",
            f"in the prior predictive's tail (fewer than {100 * PRIOR_TAIL:.1f}% of the "
            "pilot runs beyond them)",
        ),
    ):
        names = [
            r["statistic"] + ("" if r["fitted"] else " (not fitted)")
            for r in rows
            if r["verdict"] == verdict
        ]
        if names:
            out.append(f"{len(names)} published figure(s) {what}: " + ", ".join(names))
    return out


def prior_draws(priors: list[Prior], n: int, rng: np.random.Generator) -> list[dict[str, float]]:
    """``n`` parameter sets drawn from the priors with ``rng``."""
    cols = {}
    for p in priors:
        a = p.args
        if p.distribution == "uniform":
            cols[p.key] = rng.uniform(a["low"], a["high"], n)
        elif p.distribution == "loguniform":
            cols[p.key] = np.exp(rng.uniform(np.log(a["low"]), np.log(a["high"]), n))
        else:
            # scipy.stats: 1.3 s more at every CLI start (python -X importtime), only here.
            from scipy import stats as sps  # noqa: PLC0415

            lo, hi = p.valid
            mu, sd = a["mean"], a["sd"]
            dist = sps.truncnorm((lo - mu) / sd, (hi - mu) / sd, loc=mu, scale=sd)
            cols[p.key] = dist.ppf(rng.uniform(0, 1, n))
    return [{k: float(cols[k][i]) for k in cols} for i in range(n)]


def scales(table: pd.DataFrame, names: list[str]) -> dict[str, float]:
    """Each statistic's spread over the prior predictive: MAD x 1.4826, else SD, else 1."""
    out = {}
    for k in names:
        x = table[k].to_numpy(dtype=np.float64)
        s = MAD_TO_SD * float(np.median(np.abs(x - np.median(x))))
        if not s > 0:
            s = float(np.std(x))
        out[k] = s if s > 0 else 1.0
    return out


def distance(stats: pd.DataFrame, observed: dict[str, float], w: dict[str, float]) -> np.ndarray:
    """The weighted L2 distance of each row of ``stats`` (``w`` = weight / scale)."""
    d = np.zeros(len(stats))
    for k, o in observed.items():
        d += (w[k] * (stats[k].to_numpy(dtype=np.float64) - o)) ** 2
    return np.sqrt(d)


def distance_weights(pilot: pd.DataFrame, targets: Targets) -> tuple[dict, dict]:
    """The distance's terms: each statistic's scale over ``pilot`` and its weight / scale."""
    names = list(targets.observed)
    sc = scales(pilot, names)
    return sc, {k: targets.weights[k] / sc[k] for k in names}


def calibration_distance(folder: Path, targets: Targets) -> tuple[dict[str, float], float | None]:
    """The distance the calibration in ``folder`` measures, for runs against ``targets``.

    Its weights over the scales of its prior-predictive pilot (:func:`scales`), to pass to
    :func:`distance`: so a setting tried with ``--evaluate`` can be compared with the
    thresholds the calibration reached.

    Args:
        folder: a calibration's output folder (``calibration.json`` and ``pilot.parquet``;
            ``--check-priors`` writes both).
        targets: the target file the runs are measured against.

    Returns:
        ``{statistic: weight / scale}``, and the calibration's final threshold (None when it
        has run no generation).

    Raises:
        UserError: the folder holds no calibration or no pilot, or its calibration was fitted
            to other figures or weights than ``targets``.
    """
    where = f"--distance-from {folder}"
    spec_path, pilot_path = folder / CALIBRATION_FILE, folder / PILOT_FILE
    spec = _read_json_object(spec_path) or {}
    try:
        observed, weights = dict(spec["observed"]), dict(spec["weights"])
    except (KeyError, TypeError, ValueError):
        raise UserError(
            f"{where}: holds no calibration that can be read (a folder `mlmsim calibrate` "
            f"wrote, with {CALIBRATION_FILE})"
        ) from None
    if not pilot_path.is_file():
        raise UserError(
            f"{where}: has no {PILOT_FILE} yet (run the calibration, or --check-priors, first)"
        )
    for k, o in targets.observed.items():
        if k not in observed or observed[k] != o or weights.get(k) != targets.weights[k]:
            raise UserError(
                f"{where}: that calibration was fitted to other figures: {k!r} is "
                + (
                    "not among them"
                    if k not in observed
                    else f"{observed[k]:.6g} at weight {weights.get(k)} there, {o:.6g} at "
                    f"weight {targets.weights[k]} in --targets"
                )
            )
    if set(observed) != set(targets.observed):
        extra = sorted(set(observed) - set(targets.observed))[0]
        raise UserError(f"{where}: that calibration also fitted {extra!r}, which --targets lacks")
    _, w = distance_weights(pd.read_parquet(pilot_path), targets)
    try:  # no manifest before the first generation: no threshold yet
        final = float(
            (_read_json_object(folder / MANIFEST_FILE) or {})["calibration"]["final_epsilon"]
        )
    except (KeyError, TypeError, ValueError):
        final = None
    return w, final


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size of importance weights, ``(sum w)^2 / sum w^2``.

    N equal weights give N; one particle holding all the weight gives 1. A posterior whose
    ESS is a small share of its particles rests on a few of them: its intervals are too
    narrow (``LOW_ESS_SHARE``).
    """
    w = np.asarray(w, dtype=np.float64)
    return float(w.sum() ** 2 / np.square(w).sum())


class EssCollapseError(Exception):
    """A generation's effective sample size fell below ``--min-ess``: stop sampling."""


def healthy_generation(ess: list[float], population: int, min_ess: float | None) -> int:
    """The generation whose particles are the posterior, under the stopping rule ``min_ess``.

    The generation before the first one (from generation 1) whose effective sample size is
    below ``min_ess x population``; the last generation when none is, or when ``min_ess`` is
    None. Generation 0, the first after the pilot, is used even when its own is below: there
    is none before it. The rule reads the stored generations only, so a run stopped by it and
    a run that went on past the collapse (a larger budget, or a resume) give the same answer.

    Args:
        ess: each stored generation's effective sample size, generation 0 first.
        population: particles per generation.
        min_ess: the share, or None.
    """
    if min_ess is None:
        return len(ess) - 1
    for t in range(1, len(ess)):
        if ess[t] < min_ess * population:
            return t - 1
    return len(ess) - 1


def ess_warning(summary: dict[str, Any], population: int) -> str | None:
    """The warning a posterior resting on few particles gets, or None."""
    if not summary["ess_low"]:
        return None
    return (
        f"the final population's effective sample size is {summary['ess']:.1f} of "
        f"{population} particles (below {LOW_ESS_SHARE:.0%}): a few particles hold most of "
        "the weight, so the posterior's intervals are too narrow and its medians rest on "
        "those few; "
        + (
            "try the kernel on the logit scale (--kernel-scale logit), "
            if summary.get("kernel_scale", "natural") == "natural"
            else ""
        )
        + "run more particles (--population) or calibrate fewer parameters"
        + (
            ""
            if summary.get("min_ess") is not None
            else "; --min-ess stops a calibration when a generation's falls below a share"
        )
    )


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``x`` with weights ``w`` (the smallest x with weight share >= q)."""
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order]) / np.sum(w)
    return float(x[order][min(int(np.searchsorted(cw, q)), len(x) - 1)])


def predictive_runs(
    context: dict[str, Any],
    draws: list[dict[str, float]],
    seeds: np.ndarray,
    workers: int,
    scheduler: str | None,
    outcomes: bool,
) -> pd.DataFrame:
    """Run the scenario of ``context`` once per (draw, seed) on the executors; one row each.

    Columns: ``index``, ``seed``, the draw's values, every target statistic, and with
    ``outcomes`` the run's outcomes as ``outcome: <name>``. A draw of ``{}`` runs the
    scenario's own values. Raises UserError when runs were lost.
    """
    from simulation.calibrate.abc import run_particles  # noqa: PLC0415 - pyabc: 4 s import
    from simulation.calibrate.simulate import predictive_task  # noqa: PLC0415 - mesa: 0.9 s

    tasks = [
        {"index": i, "values": v, "seed": int(s), "context": context, "outcomes": outcomes}
        for i, (v, s) in enumerate(zip(draws, seeds, strict=True))
    ]
    got: dict[int, dict[str, Any]] = {}

    def on_result(res: dict[str, Any]) -> None:
        got[res["index"]] = res

    lost = run_particles(tasks, workers, scheduler, on_result, fn=predictive_task)
    if lost:
        raise UserError(
            f"{lost} predictive run(s) were lost (a run failed or a worker died: the warnings "
            "above say which); run again"
        )
    rows = []
    for i in range(len(tasks)):
        r = got[i]
        row = {"index": i, "seed": r["seed"], **r["values"], **r["stats"]}
        if outcomes:
            row.update({f"outcome: {k}": v for k, v in (r["outcomes"] or {}).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    safepath.atomic_write(path, lambda p: frame.to_parquet(p, index=False))


def run_calibration(
    cal: Calibration,
    out: Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = True,
    report: bool = True,
    pilot_only: bool = False,
) -> dict[str, Any]:
    """Run (or resume) ``cal`` into ``out``; returns a summary (see the module doc for files).

    With ``pilot_only`` only the pilot runs (``calibration.json`` and ``pilot.parquet`` are
    written; a later run of the same calibration reuses the pilot) and the summary holds
    ``pilot``, ``prior_check`` (:func:`prior_check`), ``wall_s`` and ``out``.

    Raises:
        UserError: the folder holds another calibration, or runs were lost.
    """
    # pyabc (4 s) and matplotlib (0.7 s) load here, not at the CLI's start. The outputs'
    # module loads now rather than after the hour of generations, so the code that writes the
    # outputs is the code that ran them even if the package is replaced meanwhile (a lazy
    # import at the end once met a newer outputs module beside older modules already loaded).
    from simulation.calibrate import abc, outputs  # noqa: PLC0415

    t_start = time.perf_counter()
    fp = cal.fingerprint()
    say = print if progress else (lambda *a, **k: None)
    with safepath.locked_folder(out, check=_check_folder(fp, cal.spec())) as out:
        results.write_json({"fingerprint": fp, **cal.spec()}, out / CALIBRATION_FILE)
        # 1. The prior-predictive pilot: scales of the distance and the first threshold.
        pilot_path = out / PILOT_FILE
        if pilot_path.is_file():
            pilot = pd.read_parquet(pilot_path)
            say(f"pilot: {len(pilot)} prior-predictive runs (stored)")
        else:
            rng = np.random.default_rng(np.random.SeedSequence([cal.seed, 0]))
            draws = prior_draws(cal.priors, cal.population, rng)
            seeds = rng.integers(0, 2**31 - 1, cal.population)
            say(f"pilot: {cal.population} prior-predictive runs")
            pilot = predictive_runs(cal.context, draws, seeds, workers, scheduler, outcomes=False)
            _write_parquet(pilot, pilot_path)
        check = prior_check(pilot, cal.targets.observed, cal.targets.weights)
        if pilot_only:
            return {
                "pilot": len(pilot),
                "prior_check": check,
                "wall_s": time.perf_counter() - t_start,
                "out": out,
            }
        for w in prior_warnings(check):  # now, not only at the end: an hour may follow
            say(f"  warning: {w}", file=sys.stderr)
        sc, fixed = distance_weights(pilot, cal.targets)
        pilot_d = distance(pilot, cal.targets.observed, fixed)
        # 2. ABC-SMC, resumed from the history if there is one.
        db = f"sqlite:///{(out / HISTORY_FILE).resolve()}"
        sampler = abc.ExecutorSampler(cal.seed, workers, scheduler, progress)
        model = partial(abc_model_ref(), cal.context)
        resumed = 0
        if (out / HISTORY_FILE).is_file():
            smc = abc.build_abc(
                model, cal.priors, fixed, cal.population, sampler, None, cal.kernel_scale
            )
            history = smc.load(db, 1)
            resumed = history.n_populations
            if resumed == 0:  # interrupted in its first generation: start again
                (out / HISTORY_FILE).unlink()
        if resumed == 0:
            eps0 = float(np.median(pilot_d))
            smc = abc.build_abc(
                model, cal.priors, fixed, cal.population, sampler, eps0, cal.kernel_scale
            )
            smc.new(db, dict(cal.targets.observed))
        else:
            say(f"resuming after generation {resumed - 1} ({HISTORY_FILE})")
        budget = None if cal.simulations is None else cal.simulations - len(pilot)
        gens = (cal.generations if cal.generations is not None else 10**6) - resumed
        done_sims = int(smc.history.total_nr_simulations)
        stopped = None

        ess_of: dict[int, float] = {}  # a stored generation's weights never change

        def stored_ess() -> list[float]:
            for t in range(len(ess_of), int(smc.history.max_t) + 1):
                ess_of[t] = effective_sample_size(smc.history.get_distribution(m=0, t=t)[1])
            return list(ess_of.values())

        def before(t: int) -> None:
            # The stopping rule, checked on the stored generations before sampling another.
            if cal.min_ess is not None and t >= 2:
                ess = stored_ess()
                if healthy_generation(ess, cal.population, cal.min_ess) < len(ess) - 1:
                    raise EssCollapseError

        if gens > 0 and (budget is None or done_sims < budget):
            sampler.report = say
            sampler.before = before
            try:
                smc.run(
                    minimum_epsilon=0.0,
                    max_nr_populations=gens,
                    max_total_nr_simulations=np.inf if budget is None else budget,
                )
            except EssCollapseError:
                pass  # said below, with the generation the results come from
            except AssertionError as err:
                # pyabc refuses a generation whose importance weights do not sum to a
                # number (they underflow when the proposal kernel has shrunk far in many
                # dimensions). The generations before it are complete and stored: end there.
                if "not normalized" not in str(err):
                    raise
                last = int(smc.history.max_t)
                stopped = (
                    f"generation {last + 1} could not be weighted (pyabc: {err}); the "
                    f"results are those of generation {last}, the last complete one"
                )
                say(f"stopped early: {stopped}")
        history = smc.history
        pops = history.get_all_populations()
        pops = pops[pops["t"] >= 0]
        ess_by_gen = stored_ess()
        t_used = healthy_generation(ess_by_gen, cal.population, cal.min_ess)
        if t_used < len(ess_by_gen) - 1:
            bad = t_used + 1
            stopped = (
                f"generation {bad}'s effective sample size fell to {ess_by_gen[bad]:.1f} of "
                f"{cal.population} particles (below --min-ess {cal.min_ess:g}); the results are "
                f"those of generation {t_used}, the last one above it"
            )
            say(f"stopped early: {stopped}")
        pop = history.get_population(t_used)
        post = pd.DataFrame(
            [abc.natural_values(cal.priors, cal.kernel_scale, p.parameter) for p in pop.particles]
        )
        post["weight"] = np.array([p.weight for p in pop.particles], dtype=np.float64)
        post["weight"] /= post["weight"].sum()
        post["distance"] = np.array([p.distance for p in pop.particles], dtype=np.float64)
        ess = effective_sample_size(post["weight"].to_numpy())
        _write_parquet(post, out / POSTERIOR_FILE)
        sims = int(history.total_nr_simulations) + len(pilot)
        gen_table = pd.DataFrame(
            {
                "generation": pops["t"].to_numpy(dtype=np.int64),
                "epsilon": pops["epsilon"].to_numpy(dtype=np.float64),
                "simulations": pops["samples"].to_numpy(dtype=np.int64),
                "particles": pops["particles"].to_numpy(dtype=np.int64),
                "ess": ess_by_gen,
            }
        )
        w = post["weight"].to_numpy()
        median = {k: weighted_quantile(post[k].to_numpy(), w, 0.5) for k in cal.keys}
        interval = {
            k: (
                weighted_quantile(post[k].to_numpy(), w, 0.05),
                weighted_quantile(post[k].to_numpy(), w, 0.95),
            )
            for k in cal.keys
        }
        # 3. Posterior predictive, for the report.
        files = [CALIBRATION_FILE, PILOT_FILE, HISTORY_FILE, POSTERIOR_FILE]
        predictive = None
        if not report:  # a page of an earlier, shorter run would no longer match
            (out / PREDICTIVE_FILE).unlink(missing_ok=True)
            (out / REPORT_FILE).unlink(missing_ok=True)
        else:
            k = min(PREDICTIVE_RUNS, len(post))
            rng = np.random.default_rng(np.random.SeedSequence([cal.seed, 1]))
            idx = rng.choice(len(post), size=k, p=w)
            draws = [{c: float(post[c].iloc[i]) for c in cal.keys} for i in idx]
            seeds = rng.integers(0, 2**31 - 1, k)
            say(f"posterior predictive: {k} runs")
            predictive = predictive_runs(
                cal.context, draws, seeds, workers, scheduler, outcomes=True
            )
            _write_parquet(predictive, out / PREDICTIVE_FILE)
            files.append(PREDICTIVE_FILE)
        summary = {
            "name": cal.name,
            "parameters": cal.keys,
            "median": median,
            "interval90": interval,
            "generations": len(gen_table),
            "simulations": sims,
            "pilot": len(pilot),
            # The threshold of the generation the posterior is (the last, unless --min-ess
            # stopped the calibration after a collapse).
            "final_epsilon": float(gen_table["epsilon"].iloc[t_used]),
            "min_ess": cal.min_ess,
            "posterior_generation": t_used,
            "ess": ess,
            "ess_low": ess < LOW_ESS_SHARE * len(post),
            "kernel_scale": cal.kernel_scale,
            "resumed_after": resumed,
            "stopped_early": stopped,
            "scales": sc,
            "prior_check": check,
            "method": method(abc.version(), cal.kernel_scale),
            "seed": cal.seed,
        }
        outputs.write_calibrated(out, cal, summary)
        files.append(CALIBRATED_FILE)
        if report and predictive is not None:
            outputs.write_report(out, cal, summary, post, pilot, predictive, gen_table)
            files.append(REPORT_FILE)
        wall = time.perf_counter() - t_start
        manifest = {
            "calibration": summary,
            "fingerprint": fp,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": {**results.versions(), "pyabc": abc.version()},
            "git_commit": results.git_commit(),
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
            "executor": f"dask:{scheduler}" if scheduler else f"workers={workers}",
            "timings_s": {"wall": wall, "per_simulation": wall / max(sims, 1)},
            "generations": gen_table.to_dict(orient="records"),
            "files": [*files, MANIFEST_FILE],
        }
        results.write_json(manifest, out / MANIFEST_FILE)
        summary["wall_s"] = wall
        summary["out"] = out
        summary["files"] = manifest["files"]
        return summary


def method(pyabc_version: str, kernel_scale: str) -> str:
    """The method as the provenance records it: the kernel's scale only when not natural."""
    scale = "" if kernel_scale == "natural" else f", kernel on the {kernel_scale} scale"
    return f"ABC-SMC (pyabc {pyabc_version}){scale}"


def abc_model_ref() -> Any:
    """The worker-side model function (imported here so pickles refer to it by name)."""
    from simulation.calibrate.simulate import abc_model  # noqa: PLC0415 - mesa: 0.9 s

    return abc_model
