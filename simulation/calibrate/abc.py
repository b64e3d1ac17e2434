"""ABC-SMC with pyabc, its particles simulated on mlmsim's executors (docs/calibration.md).

pyabc does the inference: priors, the perturbation kernel, importance weights, the epsilon
schedule and the history (an SQLite file, from which an interrupted calibration resumes).
:class:`ExecutorSampler` replaces pyabc's samplers so the simulations run where sweeps run
(in this process, local processes or a Dask cluster) and so the result depends only on the
seed: particle ``i`` of generation ``t`` is found by a task that seeds numpy from
``SeedSequence([seed, t + 1, i])`` and simulates until one particle is accepted (as pyabc's
``MappingSampler``), and the generation is the particles in index order, whatever order the
tasks finish in and however many workers run them.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import cloudpickle
import numpy as np
import pyabc
from tqdm import tqdm

from simulation.calibrate.priors import Prior
from simulation.errors import UserError
from simulation.sweep.executors import run_dask, run_pool

# A particle task gives up after this many rejected simulations in a row (a generation whose
# acceptance rate fell below 1 in this many ends the calibration, see ExecutorSampler).
MAX_EVALS_PER_PARTICLE = 2000

_CACHE: dict[str, Callable[[], Any]] = {}
# pyabc draws from numpy's global generator, shared by the threads of a process: particle
# tasks in threads of one process (a Dask worker with several threads) take turns, so each
# particle's draws stay its own. Use one thread per worker process to simulate in parallel.
_GLOBAL_RNG = threading.Lock()


def _simulate_one(blob: bytes, key: str) -> Callable[[], Any]:
    """Pyabc's simulate function of a generation, unpickled once per worker process."""
    fn = _CACHE.get(key)
    if fn is None:
        _CACHE.clear()
        fn = _CACHE[key] = cloudpickle.loads(blob)
    return fn


def particle_task(task: dict[str, Any]) -> dict[str, Any]:
    """Find one accepted particle per index in ``task["indices"]`` (runs on a worker).

    Each index seeds numpy's and Python's global generators from
    ``SeedSequence([seed, generation + 1, index])`` (pyabc draws parameters from numpy's
    global generator; the model's seed is drawn from it too), then simulates until a particle
    is accepted or :data:`MAX_EVALS_PER_PARTICLE` were rejected.

    Returns:
        ``{"results": [(index, pyabc Sample, evaluations), ...]}``.
    """
    with _GLOBAL_RNG:
        return _particles(task)


def _particles(task: dict[str, Any]) -> dict[str, Any]:
    fn = _simulate_one(task["blob"], task["key"])
    out = []
    for i in task["indices"]:
        state = np.random.SeedSequence([task["seed"], task["t"] + 1, i]).generate_state(8)
        np.random.seed(state)
        random.seed(int(state[0]))
        sample = task["factory"]()
        evals = 0
        while evals < MAX_EVALS_PER_PARTICLE:
            particle = fn()
            evals += 1
            sample.append(particle)
            if particle.accepted:
                break
        out.append((i, sample, evals))
    return {"results": out}


class ExecutorSampler(pyabc.sampler.Sampler):
    """A pyabc sampler that runs particles on mlmsim's executors, deterministically.

    Args:
        seed: the calibration seed.
        workers: local processes (1: in this process).
        scheduler: a Dask scheduler address (instead of local processes).
        progress: show a progress bar per generation on stderr.
    """

    def __init__(
        self, seed: int, workers: int = 1, scheduler: str | None = None, progress: bool = True
    ):
        super().__init__()
        self.seed = int(seed)
        self.workers = workers
        self.scheduler = scheduler
        self.progress = progress
        self.report: Callable[[str], None] = lambda line: None
        # Called with the generation about to be sampled; may raise to stop the calibration.
        self.before: Callable[[int], None] = lambda t: None

    def _chunks(self, n: int) -> list[list[int]]:
        """Particle indices per task: a few tasks per worker (the result does not depend on it)."""
        per = max(1, min(8, n // (4 * max(self.workers, 1))))
        return [list(range(a, min(a + per, n))) for a in range(0, n, per)]

    def sample_until_n_accepted(
        self,
        n,
        simulate_one,
        t,
        *,
        max_eval=np.inf,
        all_accepted=False,
        ana_vars=None,
    ):
        """One generation: ``n`` accepted particles, in index order (see the module doc)."""
        self.before(int(t))
        blob = cloudpickle.dumps(simulate_one)
        key = hashlib.sha256(blob).hexdigest()
        tasks = [
            {
                "blob": blob,
                "key": key,
                "seed": self.seed,
                "t": int(t),
                "indices": idx,
                "factory": self.sample_factory,
            }
            for idx in self._chunks(n)
        ]
        found: dict[int, tuple[Any, int]] = {}
        bar = tqdm(
            total=n,
            unit="particle",
            desc=f"generation {t}",
            disable=not self.progress,
            dynamic_ncols=True,
            leave=False,
        )

        def on_result(res: dict[str, Any]) -> None:
            for i, sample, evals in res["results"]:
                found[i] = (sample, evals)
            bar.update(len(res["results"]))
            sims = sum(e for _, e in found.values())
            bar.set_postfix(simulations=sims, refresh=False)

        try:
            lost = run_particles(tasks, self.workers, self.scheduler, on_result)
        finally:
            bar.close()
        if lost:
            raise UserError(
                f"generation {t}: {lost} particle task(s) were lost (a run failed or a worker "
                "died: the warnings above say which); the finished generations are kept: run "
                "the same command to resume"
            )
        sample = self._create_empty_sample()
        evals = 0
        for i in range(n):
            part, e = found[i]
            sample = sample + part
            evals += e
        if sample.n_accepted < n:
            sample.ok = False  # a particle task gave up: the acceptance rate is too low
        self.nr_evaluations_ = evals
        eps = ana_vars.eps(t) if ana_vars is not None and t >= 0 else float("nan")
        self.report(
            f"generation {t}: epsilon {eps:.4g}, {sample.n_accepted} accepted of {evals} "
            f"simulations ({sample.n_accepted / max(evals, 1):.1%})"
        )
        return sample


def run_particles(
    tasks: list[dict[str, Any]],
    workers: int,
    scheduler: str | None,
    on_result: Callable[[dict[str, Any]], None],
    fn: Callable[[dict[str, Any]], dict[str, Any]] = particle_task,
) -> int:
    """Run tasks in this process, local processes or on Dask (the sweep executors)."""
    if scheduler:
        return run_dask(tasks, scheduler, on_result, fn=fn)
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            on_result(fn(t))
        return 0
    return run_pool(tasks, min(workers, len(tasks)), on_result, fn=fn)


def prior_distribution(priors: list[Prior], scale: str = "natural") -> pyabc.Distribution:
    """Pyabc's prior: uniform, log-uniform, or normal truncated to the valid range.

    With ``scale="logit"`` the uniform and log-uniform priors are given on the logit scale
    (a standard logistic: :meth:`Prior.from_logit` maps it back to exactly the prior), so
    the kernel that proposes new particles never thins out against a bound.
    """
    rvs = {}
    for p in priors:
        a = p.args
        if scale == "logit" and p.on_logit_scale():
            rvs[p.key] = pyabc.RV("logistic", 0.0, 1.0)
        elif p.distribution == "uniform":
            rvs[p.key] = pyabc.RV("uniform", a["low"], a["high"] - a["low"])
        elif p.distribution == "loguniform":
            rvs[p.key] = pyabc.RV("loguniform", a["low"], a["high"])
        else:
            lo, hi = p.valid
            mu, sd = a["mean"], a["sd"]
            rvs[p.key] = pyabc.RV("truncnorm", (lo - mu) / sd, (hi - mu) / sd, mu, sd)
    return pyabc.Distribution(**rvs)


def quiet_pyabc() -> None:
    """Pyabc logs every generation at INFO on stderr; the calibration prints its own lines."""
    logging.getLogger("ABC").setLevel(logging.WARNING)
    logging.getLogger("pyabc").setLevel(logging.WARNING)


def build_abc(
    model: Callable[[Any], dict[str, float]],
    priors: list[Prior],
    fixed_weights: dict[str, float],
    population: int,
    sampler: ExecutorSampler,
    initial_eps: float | None,
    scale: str = "natural",
) -> pyabc.ABCSMC:
    """The ABC-SMC: fixed weighted L2 distance, median epsilon schedule, Gaussian kernel.

    Args:
        model: ``pars -> {statistic: value}`` (picklable).
        priors: the priors.
        fixed_weights: ``{statistic: weight / scale}`` of the distance.
        population: particles per generation.
        sampler: the executor sampler.
        initial_eps: the first generation's threshold (a new calibration); None when
            resuming: the next threshold is then the median distance of the last stored
            generation, as it would have been without the interruption.
        scale: the kernel's scale, ``"natural"`` or ``"logit"`` (:func:`prior_distribution`);
            ``model`` takes parameter values on their own scale either way: on the logit
            scale it is called through :func:`natural_values`.
    """
    quiet_pyabc()
    if scale != "natural":
        model = partial(_on_natural_scale, priors, scale, model)
    return pyabc.ABCSMC(
        models=model,
        parameter_priors=prior_distribution(priors, scale),
        distance_function=pyabc.PNormDistance(p=2, fixed_weights=fixed_weights),
        population_size=population,
        sampler=sampler,
        eps=pyabc.QuantileEpsilon(
            initial_epsilon="from_sample" if initial_eps is None else float(initial_eps),
            alpha=0.5,
        ),
        transitions=pyabc.MultivariateNormalTransition(),
    )


def natural_values(priors: list[Prior], scale: str, values: Any) -> dict[str, float]:
    """A particle's values (on ``scale``: pyabc's parameters) as parameter values."""
    values = dict(values)
    if scale == "natural":
        return {p.key: float(values[p.key]) for p in priors}
    return {p.key: p.from_logit(float(values[p.key])) for p in priors}


def _on_natural_scale(
    priors: list[Prior], scale: str, model: Callable[[Any], dict[str, float]], pars: Any
) -> dict[str, float]:
    return model(natural_values(priors, scale, pars))


def version() -> str:
    """Pyabc's version (for the provenance)."""
    return str(getattr(pyabc, "__version__", "?"))
