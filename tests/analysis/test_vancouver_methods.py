"""Regression on the Vancouver police records for the analysis methods other than prediction.

Trends, Gi*, the Knox test, the space-time scan and the control charts, each run on real records
(located rows, 2022-2023) with its figures pinned, so that a change in any method shows. The
prediction methods are pinned in ``test_vancouver.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from qingzhi.analysis import hotspots, nearrepeat, trends, warning
from qingzhi.analysis.events import EventTable
from qingzhi.analysis.grid import grid_for

# real-data regressions on years of Vancouver records
pytestmark = pytest.mark.slow

BNE = "Break and Enter Residential/Other"
TFV = "Theft from Vehicle"


def _between(ev: EventTable, start: str, end: str) -> EventTable:
    return ev.select((ev.t >= np.datetime64(start)) & (ev.t < np.datetime64(end)))


def _day(value: str) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


def test_trends_on_vancouver(vancouver: EventTable) -> None:
    year = _between(vancouver, "2023-01-01", "2024-01-01")
    monthly = trends.count_table(year.t, "M").counts[:, 0].tolist()
    assert monthly == [2468, 2443, 2826, 2535, 2758, 2964, 2969, 3076, 2893, 2779, 2310, 2625]
    tfv = vancouver.of_categories([TFV])
    # 同比: Theft from Vehicle in 2023-Q4 against 2022-Q4 (92 days each): flat, not significant
    q4 = trends.change_test(
        len(_between(tfv, "2023-10-01", "2024-01-01")),
        len(_between(tfv, "2022-10-01", "2023-01-01")),
        current_exposure=92,
        previous_exposure=92,
    )
    assert (q4.current, q4.previous, q4.direction) == (1673, 1664, "flat")
    assert q4.p_value == pytest.approx(0.8899, abs=1e-4)
    # CompStat at 2024-01-01: +9.6% on the previous 28 days is still noise (p 0.18)
    week, month = trends.compstat(tfv.t, "2024-01-01")
    assert (week.current, week.period_over_period.previous, week.year_on_year.previous) == (
        108,
        106,
        126,
    )
    assert (month.current, month.period_over_period.previous) == (468, 427)
    assert month.period_over_period.p_value == pytest.approx(0.1812, abs=1e-4)
    assert not month.period_over_period.significant
    profile = trends.hour_of_week(_between(tfv, "2023-01-01", "2024-01-01").t)
    assert int(profile.sum()) == 7379 and int(profile.argmax()) == 144  # Sunday 00:00-01:00


def test_gi_star_on_vancouver_burglary(vancouver: EventTable) -> None:
    bne = _between(vancouver.of_categories([BNE]), "2023-01-01", "2024-01-01")
    grid = grid_for(bne.x, bne.y, 150.0)
    counts = np.bincount(grid.flat_index(bne.x, bne.y), minlength=grid.n_cells)
    result = hotspots.gi_star(counts.reshape(grid.shape).astype(float), 1.5, q=0.05)
    assert (len(bne), grid.n_cells) == (1193, 6432)
    assert (int(result.hot.sum()), int(result.cold.sum())) == (248, 0)
    assert float(np.nanmax(result.z)) == pytest.approx(19.7126, abs=1e-3)


def test_knox_finds_near_repeat_burglary_in_vancouver(vancouver: EventTable) -> None:
    bne = _between(vancouver.of_categories([BNE]), "2023-01-01", "2024-01-01")
    k = nearrepeat.knox_test(bne.x, bne.y, bne.t_days, permutations=99)
    # the near-repeat pattern: within 100 m and 7 days, 2.2 times the pairs of chance
    assert k.observed[0].tolist() == [56, 37, 32, 31]
    assert k.ratio[0, 0] == pytest.approx(2.2, abs=0.05) and k.p_value[0, 0] == 0.01
    assert k.significant()[0, 0]
    # and it fades with distance: nothing at 300-400 m
    assert not k.significant()[3].any()


def test_scan_weekly_on_vancouver_burglary(vancouver: EventTable) -> None:
    # A year of weekly scans (500 m cells, the year before as baseline). A baseline that gave
    # places without history a token expectation alarmed in 35 of these 52 weeks, 27 times on a
    # single call; with the Good-Turing share no alarm rests on one call.
    bne = vancouver.of_categories([BNE])
    day = bne.t.astype("datetime64[D]").astype(np.int64)
    results = []
    for end in range(_day("2023-01-08"), _day("2024-01-01"), 7):
        window = (day >= end - 372) & (day < end)
        ev = bne.select(window)
        grid = grid_for(ev.x, ev.y, 500.0)
        results.append(
            warning.scan_on_grid(
                grid,
                ev.x,
                ev.y,
                day[window],
                history_start=end - 372,
                recent_start=end - 7,
                end=end,
            )
        )
    alarms = [r for r in results if r.alarm]
    assert len(results) == 52 and len(alarms) == 8
    assert min(r.observed for r in alarms) >= 2
    assert sorted(int(r.observed) for r in alarms) == [2, 2, 3, 3, 4, 5, 7, 8]


def test_control_charts_on_vancouver(vancouver: EventTable) -> None:
    year = _between(vancouver, "2023-01-01", "2024-01-01")
    assert year.category is not None
    charts = {c.group: c for c in warning.control_charts(year.t, year.category, freq="W")}
    alarms = {g: (len(c.shewhart_alarms), len(c.cusum_alarms)) for g, c in charts.items()}
    assert alarms[BNE] == (0, 0)
    assert alarms["Mischief"] == (3, 3)
    assert alarms[TFV] == (5, 11)
    assert alarms["Theft of Bicycle"] == (3, 20)  # the summer rise, against a winter baseline
