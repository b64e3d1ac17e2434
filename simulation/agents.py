"""Mesa agents whose attributes are views on the model's columnar state.

A :class:`Distributor` holds only its row index ``pid``; reading ``agent.pv`` reads
``model.pop.pv[pid]`` and writing it writes there. So Mesa's tools (AgentSet, DataCollector,
batch_run, SolaraViz) work on agents while every monthly phase stays vectorised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from simulation.state import FIELDS, STATUS_NAMES

if TYPE_CHECKING:
    from simulation.model import MLMModel


def _view(name: str, doc: str) -> property:
    def get(self: Distributor):
        return getattr(self.model.pop, name)[self.pid].item()

    def put(self: Distributor, value) -> None:
        getattr(self.model.pop, name)[self.pid] = value

    return property(get, put, doc=doc)


class Distributor(mesa.Agent):
    """A person who joined the company (active or quit), viewed through the columnar state."""

    def __init__(self, model: MLMModel, pid: int):
        super().__init__(model)
        self.pid = int(pid)

    @property
    def status_name(self) -> str:
        """'distributor' while active, 'quit' after quitting."""
        return STATUS_NAMES[int(self.model.pop.status[self.pid])]

    @property
    def active(self) -> bool:
        """True while the person is a distributor (has not quit)."""
        return self.status_name == "distributor"

    @property
    def net_income(self) -> float:
        """Cumulative net income (own use valued), USD (:func:`simulation.state.net_income`)."""
        return float(self.model.pop.net_income(rows=self.pid))

    @property
    def net_income_strict(self) -> float:
        """Cumulative net income with own use counted as a cost, USD."""
        return float(self.model.pop.net_income(own_use_as_cost=True, rows=self.pid))

    @property
    def costs(self) -> float:
        """Cumulative costs (purchases + kit + fixed - buyback refund), USD."""
        return float(self.model.pop.costs(rows=self.pid))

    def upline(self) -> list[int]:
        """Row indices of the current sponsor chain, nearest first."""
        chain = []
        sponsor = self.model.pop.sponsor
        p = int(sponsor[self.pid])
        while p >= 0:
            chain.append(p)
            p = int(sponsor[p])
        return chain

    def story(self) -> dict:
        """One distributor's story: level, recruits, money in and out so far (USD).

        Money in: commissions, retail sales, buyback refund; money out: purchases, starter
        kit, fixed costs; ``costs`` and ``net_income`` are the state's own definitions.
        """
        pop = self.model.pop
        i = self.pid
        return {
            "id": i,
            "status": self.status_name,
            "level": int(pop.level[i]),
            "joined_month": int(pop.join_month[i]),
            "quit_month": int(pop.quit_month[i]),
            "enroller": int(pop.enroller[i]),
            "recruits": int(pop.recruits[i]),
            "customers": int(pop.customers[i]),
            "rank_last": int(pop.rank_last[i]),
            "rank_highest": int(pop.rank_highest[i]),
            "commissions": float(pop.commissions[i]),
            "retail_sales": float(pop.retail_sales[i]),
            "retail_margin": float(pop.retail_margin[i]),
            "buyback_refund": float(pop.buyback_refund[i]),
            "purchases": float(pop.purchases[i]),
            "kit_cost": float(pop.kit_cost[i]),
            "fixed_costs": float(pop.fixed_costs[i]),
            "own_use_value": float(pop.own_use_value[i]),
            "returns_refund": float(pop.returns_refund[i]),
            "customer_refunds": float(pop.customer_refunds[i]),
            "clawback": float(pop.clawback[i]),
            "costs": self.costs,
            "net_income": self.net_income,
            "net_income_strict": self.net_income_strict,
        }

    def __repr__(self) -> str:
        return f"Distributor(pid={self.pid}, {self.status_name}, level={self.level})"


for _name, _dtype, _fill, _doc in FIELDS:
    if not hasattr(Distributor, _name):
        setattr(Distributor, _name, _view(_name, _doc))
