"""Reform impact: panel validation, hand-computed YoY and DiD, synthetic control, caveats."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qingzhi.analysis.impact import (
    Panel,
    did,
    displacement,
    evaluate_impact,
    event_study,
    naive_yoy,
    placebo_in_time,
)
from qingzhi.analysis.kpi_sim import simulate_panel
from qingzhi.analysis.rates import rate_ratio_interval
from qingzhi.analysis.synth import synthetic_control, weights
from qingzhi.errors import ValidationFailed

MONTHS = np.datetime64("2024-01", "M") + np.arange(24)


def exact_panel(rate_ratio: float = 0.5, kind: str = "count", n_treated: int = 3) -> Panel:
    """Counts that follow the model exactly: station level × month level × effect."""
    level = np.array([40.0, 60.0, 80.0, 100.0, 50.0, 70.0, 90.0, 30.0])  # 3 treated, 5 controls
    month = np.where(np.arange(24) < 12, 4.0, 3.0)  # a county-wide fall of 25%
    treated = np.arange(8) < n_treated
    effect = np.where(treated[:, None] & (np.arange(24) >= 12)[None, :], rate_ratio, 1.0)
    return Panel(
        stations=tuple(f"P{i}" for i in range(8)),
        months=MONTHS,
        values=level[:, None] * month[None, :] * effect,
        treated=treated,
        reform_month=np.datetime64("2025-01"),
        kind=kind,
    )


def test_naive_yoy_hand_computed() -> None:
    p = exact_panel()
    t, c = naive_yoy(p, "treated"), naive_yoy(p, "controls")
    # Treated: 3 × 0.5 against 4 → -62.5%; controls: 3 against 4 → -25%.
    assert t.change == pytest.approx(-0.625) and c.change == pytest.approx(-0.25)
    assert t.months == 12 and t.previous == 180 * 4 * 12
    exact = rate_ratio_interval(int(t.current), int(t.previous))
    assert (t.low, t.high) == pytest.approx((exact.low - 1, exact.high - 1))


def test_did_recovers_the_ratio_of_a_panel_that_follows_the_model() -> None:
    for rr in (0.5, 1.0, 1.25):
        d = did(exact_panel(rr), draws=99)
        # (3 × rr / 4) / (3 / 4): the county's fall is not credited to the reform.
        assert d.rate_ratio == pytest.approx(rr, rel=1e-6)
        assert d.low <= rr <= d.high and d.high - d.low < 1e-3
        assert (d.n_treated, d.n_controls) == (3, 5)
    # The same holds for a mean outcome fitted by Poisson pseudo-likelihood.
    m = did(exact_panel(0.8, kind="mean"), draws=99)
    assert m.rate_ratio == pytest.approx(0.8, rel=1e-6)


def test_stations_without_any_event_are_dropped_and_named() -> None:
    p = exact_panel()
    v = p.values.copy()
    v[7] = 0.0  # a control station with no incident in two years
    d = did(Panel(**{**p.__dict__, "values": v}), draws=99)
    assert d.dropped == ("P7",) and (d.n_treated, d.n_controls) == (3, 4)
    assert d.rate_ratio == pytest.approx(0.5, rel=1e-6)


def test_negbin_family_and_its_limits() -> None:
    p = simulate_panel(7, rate_ratio=0.6)
    nb = did(p, family="negbin", draws=199)
    po = did(p, draws=199)
    assert nb.alpha is not None and 0 < nb.alpha < 0.1
    assert nb.low <= 0.6 <= nb.high and abs(np.log(nb.rate_ratio / po.rate_ratio)) < 0.05
    with pytest.raises(ValidationFailed) as err:
        did(exact_panel(kind="mean"), family="negbin")
    assert err.value.details[0]["field"] == "family"
    with pytest.raises(ValidationFailed) as err:
        did(p, family="gaussian")
    assert err.value.details[0]["field"] == "family"


def panel_kwargs() -> dict[str, Any]:
    p = exact_panel()
    return {
        "stations": p.stations,
        "months": p.months,
        "values": p.values,
        "treated": p.treated,
        "reform_month": p.reform_month,
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reform_month": "2026-03"}, "reform_month"),
        ({"reform_month": "2024-01"}, "reform_month"),
        ({"reform_month": "2023-12"}, "reform_month"),
        ({"reform_month": "soon"}, "reform_month"),
        ({"treated": np.array([True] * 6 + [False] * 2)}, "treated"),
        ({"treated": np.zeros(8, dtype=bool)}, "treated"),
        ({"treated": np.ones(3, dtype=bool)}, "treated"),
        ({"months": np.datetime64("2024-01", "M") + np.arange(24) * 2}, "months"),
        ({"values": -np.ones((8, 24))}, "values"),
        ({"values": np.full((8, 24), 1.5)}, "values"),
        ({"values": np.ones((8, 23))}, "values"),
        ({"exposure": np.zeros(8)}, "exposure"),
        ({"neighbours": {"P0": ("Q9",)}}, "neighbours"),
        ({"kind": "ratio"}, "kind"),
        ({"stations": ("A",) * 8}, "stations"),
        (  # 2,000 stations × 24 months: the model matrix would not fit a request's bounds
            {
                "stations": tuple(f"X{i}" for i in range(2000)),
                "values": np.zeros((2000, 24)),
                "treated": np.arange(2000) < 10,
            },
            "stations",
        ),
    ],
)
def test_bad_panels_name_the_field(change, field) -> None:
    with pytest.raises(ValidationFailed) as err:
        Panel(**(panel_kwargs() | change))
    assert err.value.status == 422
    assert err.value.details[0]["field"] == field


def test_event_study_and_placebo_on_a_simulated_panel() -> None:
    p = simulate_panel(3, rate_ratio=0.5)
    es = event_study(p, draws=199)
    assert es.offsets == tuple(range(-12, 12)) and es.n_leads == 11
    ref = es.offsets.index(-1)
    assert es.rate_ratio[ref] == 1.0
    after, before = slice(ref + 1, None), slice(0, ref)
    # Months after: about half; months before: about the same (each against the month before
    # the reform, so single months are noisy: their intervals and their mean are tested).
    assert abs(np.mean(np.log(es.rate_ratio[after])) - np.log(0.5)) < 0.1
    assert abs(np.mean(np.log(es.rate_ratio[before]))) < 0.1
    assert np.sum((es.low[after] <= 0.5) & (es.high[after] >= 0.5)) >= 10
    assert np.sum((es.low[before] <= 1.0) & (es.high[before] >= 1.0)) >= 9
    assert np.all(es.high[after] < 1.0)
    assert es.pretrend_p > 0.05
    binned = event_study(p, max_leads=3, max_lags=2, draws=99)
    assert binned.offsets == (-3, -2, -1, 0, 1, 2) and binned.n_leads == 2
    pl = placebo_in_time(p, draws=199)
    assert pl.low <= 1.0 <= pl.high
    short = Panel(**(panel_kwargs() | {"reform_month": "2024-03"}))
    with pytest.raises(ValidationFailed) as err:
        placebo_in_time(short)
    assert err.value.details[0]["field"] == "reform_month"


def test_displacement_finds_injected_spill_over_and_refuses_without_far_controls() -> None:
    moved = displacement(simulate_panel(5, rate_ratio=0.5, spill=1.3), draws=199)
    assert moved.low > 1.0 and moved.low <= 1.3 <= moved.high
    assert (moved.n_treated, moved.n_controls) == (4, 5)  # 4 neighbours against 5 far controls
    quiet = displacement(simulate_panel(5, rate_ratio=0.5), draws=199)
    assert quiet.low <= 1.0 <= quiet.high
    with pytest.raises(ValidationFailed) as err:
        displacement(simulate_panel(5, n_ring=7))
    assert err.value.details[0]["field"] == "neighbours"
    with pytest.raises(ValidationFailed) as err:
        displacement(exact_panel())
    assert err.value.details[0]["field"] == "neighbours"


def test_synthetic_control_hand_case() -> None:
    rng = np.random.default_rng(0)
    donors = rng.uniform(5, 15, (24, 6))
    target = donors @ np.array([0.3, 0.7, 0, 0, 0, 0])
    w = weights(target[:12], donors[:12])
    assert w == pytest.approx([0.3, 0.7, 0, 0, 0, 0], abs=1e-4)
    values = np.vstack([target * np.where(np.arange(24) >= 12, 0.5, 1.0), donors.T])
    p = Panel(
        stations=("T", *[f"D{i}" for i in range(6)]),
        months=MONTHS,
        values=values,
        treated=np.array([True] + [False] * 6),
        reform_month=np.datetime64("2025-01"),
        kind="mean",
    )
    s = synthetic_control(p)
    u = s.unit("T")
    assert u.rate_ratio == pytest.approx(0.5, rel=1e-3)
    assert u.pre_rmspe < 1e-3 and u.in_hull
    assert u.p_value == pytest.approx(1 / 7) and s.min_p == pytest.approx(1 / 7)
    assert s.donors == tuple(f"D{i}" for i in range(6))
    with pytest.raises(ValidationFailed) as err:
        synthetic_control(exact_panel(), min_donors=6)  # 5 controls
    assert err.value.details[0]["field"] == "method"


def test_evaluate_impact_reports_everything_with_caveats() -> None:
    r = evaluate_impact(simulate_panel(11, rate_ratio=0.5), draws=199)
    assert r.yoy_treated is not None and r.yoy_controls is not None
    assert r.placebo is not None and r.displacement is not None and r.synthetic is not None
    assert r.notes == {}
    assert len(r.synthetic.units) == 17  # one synthetic control per treated station
    text = "\n".join(r.caveats)
    for phrase in ("同比", "均值回归", "平行趋势", "转移", "合成控制", "报警数而非发案数", "聚类"):
        assert phrase in text, phrase
    # The seed's figure is shown beside the controls' change and the DiD.
    assert f"{abs(r.yoy_treated.change) * 100:.1f}%" in r.caveats[1]
    assert f"{abs(r.yoy_controls.change) * 100:.1f}%" in r.caveats[1]
    small = evaluate_impact(exact_panel(n_treated=4), draws=99)  # 4 controls
    assert small.synthetic is None and "合成控制至少需要" in small.notes["synthetic"]
    assert "displacement" in small.notes


def test_regression_to_the_mean_is_flagged_when_treated_peaked_before_the_reform() -> None:
    p = simulate_panel(13, rate_ratio=1.0)
    v = p.values.copy()
    v[p.treated, 9:12] *= 1.4  # treated chosen after a bad quarter
    peaked = Panel(**{**p.__dict__, "values": np.round(v)})
    flagged = "\n".join(evaluate_impact(peaked, draws=99, synthetic=False).caveats)
    plain = "\n".join(evaluate_impact(p, draws=99, synthetic=False).caveats)
    assert "回落风险明显" in flagged and "回落风险明显" not in plain
