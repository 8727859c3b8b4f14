"""The station × month panel of a reform evaluation (value type, validated on construction).

The kpi service builds one ``Panel`` per outcome from the store: the stations, consecutive
months, the outcome per station and month (a count, or a non-negative mean such as response
minutes), which stations the reform changed and from which month, the residents (optional log
offset) and the stations' neighbours. Bad input raises ``ValidationFailed`` naming the field:
``stations``, ``months``, ``reform_month``, ``values``, ``treated``, ``exposure``,
``neighbours``, ``kind``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from qingzhi.errors import ValidationFailed

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
MIN_CONTROLS = 3  # DiD with fewer control stations is refused
KINDS = ("count", "mean")
MAX_DESIGN_CELLS = 5_000_000  # rows × columns of the dummy design (40 MB of float64)


@dataclass(frozen=True)
class Panel:
    """Station × month outcomes with the reform: which stations, from which month.

    ``values[s, t]`` is a count (``kind="count"``: incidents, repeat calls) or a non-negative
    mean (``kind="mean"``: mean response minutes; fitted by Poisson pseudo-likelihood).
    ``exposure`` (residents, per station or per station-month) enters as a log offset.
    ``neighbours`` maps a station to the stations sharing a boundary with it (either direction
    is enough). Months are consecutive ``datetime64[M]``; ``reform_month`` is the first month
    under the reform. Construction validates and raises ``ValidationFailed`` naming the field.
    """

    stations: tuple[str, ...]
    months: NDArray[np.datetime64]
    values: FloatArray
    treated: BoolArray
    reform_month: np.datetime64
    exposure: FloatArray | None = None
    neighbours: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    outcome: str = "刑事治安警情"
    kind: str = "count"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        stations = tuple(str(s) for s in self.stations)
        if not stations or len(set(stations)) != len(stations):
            raise ValidationFailed.field("stations", "派出所不能为空或重复")
        set_(self, "stations", stations)
        try:
            months = np.asarray(self.months, dtype="datetime64[M]")
        except (ValueError, TypeError) as exc:
            raise ValidationFailed.field("months", "月份格式应为 YYYY-MM") from exc
        try:
            reform = np.asarray(self.reform_month, dtype="datetime64[M]").reshape(())[()]
        except (ValueError, TypeError) as exc:
            raise ValidationFailed.field("reform_month", "月份格式应为 YYYY-MM") from exc
        steps = np.diff(months.astype(np.int64))
        if months.ndim != 1 or len(months) < 2 or np.any(steps != 1):
            raise ValidationFailed.field("months", "月份须连续且至少 2 个月")
        set_(self, "months", months)
        set_(self, "reform_month", reform)
        if not months[0] < reform <= months[-1]:
            raise ValidationFailed.field(
                "reform_month",
                f"改革月份 {reform} 须在数据范围内（{months[0]} 之后、{months[-1]} 及以前），"
                "改革前后都要有数据",
            )
        cells = len(stations) * len(months) * (len(stations) + len(months))
        if cells > MAX_DESIGN_CELLS:
            raise ValidationFailed.field(
                "stations", "派出所数 × 月份数过大（模型矩阵超出上限），请缩小范围或按季度汇总"
            )
        if self.kind not in KINDS:
            raise ValidationFailed.field("kind", "须为 count（计数）或 mean（均值）")
        values = np.asarray(self.values, dtype=np.float64)
        if values.shape != (len(stations), len(months)):
            raise ValidationFailed.field("values", "须为 派出所数 × 月份数 的表")
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValidationFailed.field("values", "须为非负有限数")
        if self.kind == "count" and np.any(values != np.round(values)):
            raise ValidationFailed.field("values", "计数须为整数")
        set_(self, "values", values)
        treated = np.asarray(self.treated, dtype=bool)
        if treated.shape != (len(stations),):
            raise ValidationFailed.field("treated", "须为每个派出所一个是否改革的标记")
        n_t, n_c = int(treated.sum()), int((~treated).sum())
        if n_t == 0:
            raise ValidationFailed.field("treated", "没有改革派出所")
        if n_c < MIN_CONTROLS:
            raise ValidationFailed.field(
                "treated", f"对照派出所只有 {n_c} 个，差分法至少需要 {MIN_CONTROLS} 个"
            )
        set_(self, "treated", treated)
        if self.exposure is not None:
            e = np.asarray(self.exposure, dtype=np.float64)
            if e.shape == (len(stations),):
                e = np.repeat(e[:, None], len(months), axis=1)
            if e.shape != values.shape or not np.all(np.isfinite(e)) or np.any(e <= 0):
                raise ValidationFailed.field("exposure", "人口须为正数，每个派出所（或每月）一个")
            set_(self, "exposure", e)
        known = set(stations)
        sym: dict[str, set[str]] = {s: set() for s in stations}
        for a, bs in self.neighbours.items():
            for b in (a, *bs):
                if b not in known:
                    raise ValidationFailed.field("neighbours", f"未知派出所 {b}")
            for b in bs:
                if b != a:
                    sym[a].add(b)
                    sym[b].add(a)
        set_(self, "neighbours", {s: tuple(sorted(v)) for s, v in sym.items()})

    @property
    def reform_index(self) -> int:
        """Index of the reform month in ``months``."""
        return int((self.reform_month - self.months[0]).astype(np.int64))

    @property
    def ring(self) -> BoolArray:
        """Untreated stations bordering a treated one."""
        treated = {s for s, t in zip(self.stations, self.treated, strict=True) if t}
        return np.array(
            [
                not t and any(n in treated for n in self.neighbours[s])
                for s, t in zip(self.stations, self.treated, strict=True)
            ],
            dtype=bool,
        )
