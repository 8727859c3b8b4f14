"""Request bodies of the planning API and CLI: one per run kind, told apart by ``kind``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from qingzhi.incidents.enums import Category

Code = Annotated[str, Field(min_length=1, max_length=32)]


class Strict(BaseModel):
    """Unknown fields are refused (a misspelt constraint must not be ignored)."""

    model_config = ConfigDict(extra="forbid")


class Weights(Strict):
    """Workload weight of a call: category × priority factor (1 when unset)."""

    category: dict[Category, Annotated[float, Field(ge=0, le=100)]] = {}
    priority: dict[Annotated[int, Field(ge=1, le=5)], Annotated[float, Field(ge=0, le=100)]] = {}


class Headcount(Strict):
    """A station's headcount replacing today's."""

    sworn: int | None = Field(default=None, ge=0, le=10_000)
    auxiliary: int | None = Field(default=None, ge=0, le=10_000)


class RunBase(Strict):
    """What every run reads: the window of calls, weights and minimum staffing."""

    title: str | None = Field(default=None, max_length=200)
    days: int = Field(default=365, ge=7, le=730)
    end: dt.date | None = None
    weights: Weights = Weights()
    min_sworn: dict[Code, Annotated[int, Field(ge=0, le=10_000)]] = {}
    min_sworn_rural: int = Field(default=6, ge=0, le=1000)
    min_sworn_urban: int = Field(default=0, ge=0, le=1000)
    staffing: dict[Code, Headcount] = Field(default={}, max_length=1000)
    duty_hours: float = Field(default=40.0, gt=0, le=80)
    crew: float = Field(default=2.0, ge=1, le=4)


class FixedChoices(Strict):
    """Choices the bundling must keep."""

    members: dict[Code, Code] = {}
    centres: list[Code] = Field(default=[], max_length=100)
    alone: list[Code] = Field(default=[], max_length=100)
    must_bundle: list[Code] = Field(default=[], max_length=100)


class BundleRun(RunBase):
    """Station bundling (捆绑运行) by MIP; the current bundles and no bundling scored beside it."""

    kind: Literal["bundle"]
    participants: list[Code] | None = Field(default=None, max_length=500)
    n_bundles: tuple[int, int] | None = None
    n_bundled: tuple[int, int] | None = None
    max_seat_minutes: float | None = Field(default=None, gt=0, le=600)
    adjacency_rule: Literal["connected", "centre"] = "connected"
    fixed: FixedChoices = FixedChoices()
    min_members: int = Field(default=1, ge=1, le=2)
    max_members: int = Field(default=2, ge=1, le=2)
    travel_weight: float = Field(default=1.0, ge=0, le=1000)
    balance_weight: float = Field(default=0.1, ge=0, le=1000)
    time_limit_s: float = Field(default=60.0, ge=1, le=300)


class AllocateRun(RunBase):
    """Officers moved between operating units by workload (警力跟着警情走)."""

    kind: Literal["allocate"]
    officer_kind: Literal["sworn", "auxiliary"] = "sworn"
    target_minutes: float | None = Field(default=None, gt=0, le=600)
    min_gain_minutes: float = Field(default=0.0, ge=0, le=60)
    bundled: bool = True


class BundleItem(Strict):
    """One bundle of a given bundling: a centre station and its 1–2 members."""

    centre: Code
    members: list[Code] = Field(min_length=1, max_length=2)


class SimulateRun(RunBase):
    """A year of calls replayed before and after bundling and allocation."""

    kind: Literal["simulate"]
    bundles: list[BundleItem] | None = Field(default=None, max_length=100)
    neighbours: bool = False


class Squad(Strict):
    """A traffic squad before integration: the stations it covered and its officers."""

    name: str = Field(min_length=1, max_length=100)
    stations: list[Code] = Field(min_length=1, max_length=50)
    officers: int = Field(ge=0, le=1000)


class RoadsRun(RunBase):
    """Road km by class per station and officer (交所合一)."""

    kind: Literal["roads"]
    squads: list[Squad] = Field(default=[], max_length=50)


PlanRun = Annotated[BundleRun | AllocateRun | SimulateRun | RoadsRun, Field(discriminator="kind")]


class Decision(Strict):
    """An admin's decision on a ready plan."""

    decision: Literal["applied", "rejected"]
    note: str = Field(default="", max_length=500)
