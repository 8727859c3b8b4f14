"""The planning library's shared value types: stations, calls, organisations, staffing, errors.

Everything here is plain data (frozen dataclasses and numpy arrays): the service that sits on
top converts store rows into these and the results back. Coordinates are WGS-84 lon/lat; times
are minutes; the week is 168 hours starting Monday 00:00 local time (``hour_of_week``).
Bad input raises ``qingzhi.errors.ValidationFailed`` naming the field (a 4xx in the API); a
problem no plan can satisfy raises ``PlanInfeasible`` naming the constraint that cannot be met.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from qingzhi.errors import QingzhiError, ValidationFailed

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
HOURS_PER_WEEK = 168
MINUTES_PER_WEEK = HOURS_PER_WEEK * 60


class PlanInfeasible(QingzhiError):
    """No plan meets the constraints; ``details`` names each constraint that cannot be met."""

    code = "plan_infeasible"
    status = 422
    message = "约束条件无法同时满足"

    def __init__(self, constraints: Sequence[tuple[str, str]]) -> None:
        self.constraints = list(constraints)
        text = "；".join(f"{name}：{why}" for name, why in self.constraints)
        super().__init__(
            f"约束条件无法同时满足：{text}" if text else None,
            details=[{"field": name, "message": why} for name, why in self.constraints],
        )


def bad(field_name: str, message: str) -> ValidationFailed:
    """A validation error about one named field (shorthand for ValidationFailed.field)."""
    return ValidationFailed.field(field_name, message)


@dataclass(frozen=True)
class Station:
    """A police station (派出所): its seat, jurisdiction and headcount.

    ``min_sworn`` / ``min_auxiliary`` are the minimum staffing the allocator must leave;
    ``rural`` decides whether the station takes part in bundling by default.
    """

    code: str
    name: str
    seat: tuple[float, float]  # WGS-84 lon, lat of the station building
    jurisdiction: BaseGeometry | None = None  # WGS-84 polygon
    rural: bool = True
    sworn: int = 0
    auxiliary: int = 0
    min_sworn: int = 0
    min_auxiliary: int = 0


@dataclass(frozen=True, slots=True)
class Call:
    """One valid incident as the planner sees it (the service maps an incident row to this).

    ``minute`` counts from a Monday 00:00 local time (the replay's origin); ``on_scene_minutes``
    is arrival → resolved (the unit's busy time besides travel); ``weight`` is the workload
    weight from category and priority (see ``workload.WorkloadWeights``).
    """

    minute: float
    lon: float
    lat: float
    station: str  # the station whose jurisdiction holds the place (not its central station)
    on_scene_minutes: float
    category: str = ""
    priority: int = 3
    weight: float = 1.0

    @property
    def hour_of_week(self) -> int:
        """0..167, Monday 00:00–01:00 is 0."""
        return int(self.minute // 60) % HOURS_PER_WEEK


@dataclass(frozen=True)
class OperatingUnit:
    """What answers calls: a station running alone, or a central station running its members.

    Its response units are based at ``seat``; ``stations`` are the stations whose calls it
    handles; ``neighbours`` (operating-unit codes, in order of preference) answer its calls
    when none of its own units is free (cross-boundary dispatch), empty when none may.
    """

    code: str
    seat: tuple[float, float]
    stations: tuple[str, ...]
    neighbours: tuple[str, ...] = ()


@dataclass(frozen=True)
class Organisation:
    """A set of operating units covering every station exactly once."""

    units: tuple[OperatingUnit, ...]
    _by_station: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        codes = {u.code for u in self.units}
        if len(codes) != len(self.units):
            raise bad("units", "运行单元编码重复")
        for i, u in enumerate(self.units):
            for s in u.stations:
                if s in seen:
                    raise bad(f"units[{i}].stations", f"派出所 {s} 同时属于 {seen[s]} 和 {u.code}")
                seen[s] = u.code
            for n in u.neighbours:
                if n not in codes:
                    raise bad(f"units[{i}].neighbours", f"未知的运行单元 {n}")
        object.__setattr__(self, "_by_station", seen)

    def unit_of(self, station: str) -> str:
        """The operating unit that handles ``station``'s calls."""
        try:
            return self._by_station[station]
        except KeyError:
            raise bad("station", f"未知的派出所 {station}") from None

    def unit(self, code: str) -> OperatingUnit:
        """The operating unit with ``code``."""
        for u in self.units:
            if u.code == code:
                return u
        raise bad("unit", f"未知的运行单元 {code}")

    @property
    def codes(self) -> tuple[str, ...]:
        """Operating-unit codes in order."""
        return tuple(u.code for u in self.units)


@dataclass(frozen=True)
class Staffing:
    """Response units on duty per operating unit and hour of the week (168 integers each)."""

    on_duty: Mapping[str, IntArray]

    def __post_init__(self) -> None:
        for code, arr in self.on_duty.items():
            a = np.asarray(arr)
            if a.shape != (HOURS_PER_WEEK,):
                raise bad(f"on_duty.{code}", "须为一周 168 个小时的在岗数")
            if (a < 0).any():
                raise bad(f"on_duty.{code}", "在岗数不能为负")

    def at(self, code: str) -> IntArray:
        """The 168 on-duty counts of ``code`` (zeros when absent)."""
        arr = self.on_duty.get(code)
        if arr is None:
            return np.zeros(HOURS_PER_WEEK, dtype=np.int64)
        return np.asarray(arr, dtype=np.int64)

    @classmethod
    def constant(cls, counts: Mapping[str, int]) -> Staffing:
        """The same number on duty every hour of the week."""
        return cls({k: np.full(HOURS_PER_WEEK, int(v), dtype=np.int64) for k, v in counts.items()})


def organisation_alone(stations: Sequence[Station], *, neighbours: bool = False) -> Organisation:
    """Every station runs alone (the pre-bundling organisation); optionally adjacent help."""
    from qingzhi.planning.geometry import adjacency

    adj = adjacency(stations) if neighbours else {}
    return Organisation(
        tuple(
            OperatingUnit(s.code, s.seat, (s.code,), tuple(sorted(adj.get(s.code, ()))))
            for s in stations
        )
    )


def check_codes(known: Collection[str], codes: Sequence[str], name: str) -> None:
    """ValidationFailed naming ``name[i]`` for the first code not in ``known``."""
    pool = set(known)
    for i, c in enumerate(codes):
        if c not in pool:
            raise bad(f"{name}[{i}]", f"未知的派出所 {c}")
