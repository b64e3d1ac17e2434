"""Mesa's own batch runner on MLMModel: the rows it returns are the model's monthly rows.

Mesa 3.3's ``batch_run`` reads the collector at index ``model.steps - 1`` for the last row
(mesa issue #2514, fixed after 3.3): with our collector, which also records month 0, the last
row it returns is month ``months - 1``. The ``month`` column says which month a row is.
"""

import math

import mesa
import pytest

from simulation import results
from simulation.collect import MONTHLY_COLUMNS
from simulation.model import MLMModel

PARAMS = {"population": 300, "months": 6, "join_prob": [0.3, 0.6], "seed": [1, 2]}


def direct(join_prob: float, seed: int, months: int = 6):
    model = MLMModel(population=300, months=months, join_prob=join_prob, seed=seed)
    model.run()
    return results.monthly_table(model).set_index("month")


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def batch(**kwargs):
    return mesa.batch_run(
        MLMModel,
        parameters=kwargs.pop("parameters", PARAMS),
        iterations=1,
        max_steps=100,
        display_progress=False,
        **kwargs,
    )


def test_every_row_equals_the_direct_run_of_the_same_seed():
    rows = batch(number_processes=1, data_collection_period=1)
    assert len(rows) == 4 * 6  # 2 join_prob x 2 seeds, months 0-5 (see module docstring)
    tables = {(jp, s): direct(jp, s) for jp in (0.3, 0.6) for s in (1, 2)}
    for row in rows:
        assert row["month"] == row["Step"]
        expected = tables[(row["join_prob"], row["seed"])].loc[row["month"]]
        for col in MONTHLY_COLUMNS:
            if col != "month":
                assert same(row[col], expected[col]), (row["RunId"], row["Step"], col)
    # Parameters change the outcome, seeds the luck.
    last = {(r["join_prob"], r["seed"]): r["ever_joined"] for r in rows if r["Step"] == 5}
    assert last[(0.6, 1)] > last[(0.3, 1)] and last[(0.6, 2)] > last[(0.3, 2)]


def test_end_of_run_rows_and_the_final_month():
    rows = batch(number_processes=1, data_collection_period=-1)
    assert len(rows) == 4 and {r["Step"] for r in rows} == {5}
    # The final month through batch_run in Mesa 3.3: ask for one month more.
    more = batch(
        parameters={**PARAMS, "months": 7, "join_prob": 0.6, "seed": 2},
        number_processes=1,
        data_collection_period=-1,
    )
    (row,) = more
    final = direct(0.6, 2).loc[6]
    assert row["month"] == 6
    assert all(same(row[c], final[c]) for c in MONTHLY_COLUMNS if c != "month")


@pytest.mark.timeout(600)  # a bound for a hung pool, generous for a busy machine
def test_two_processes_return_the_same_rows():
    def key(r):
        return (r["join_prob"], r["seed"], r["Step"])

    one = sorted(batch(number_processes=1, data_collection_period=-1), key=key)
    two = sorted(batch(number_processes=2, data_collection_period=-1), key=key)
    strip = [{k: v for k, v in r.items() if k != "RunId"} for r in (*one, *two)]
    for a, b in zip(strip[:4], strip[4:], strict=True):
        assert a.keys() == b.keys() and all(a[k] == b[k] or same(a[k], b[k]) for k in a)
