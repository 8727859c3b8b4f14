"""Erlang B/C against published tables and exact formulas; wait and response quantiles."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from qingzhi.errors import ValidationFailed
from qingzhi.planning.queueing import (
    erlang_b,
    erlang_c,
    mean_wait_table,
    predict,
    response_quantile,
)


def _erlang_c_exact(c: int, a: Fraction) -> Fraction:
    """Erlang C from its textbook definition, in exact rational arithmetic."""
    head = sum((a**k / math.factorial(k) for k in range(c)), Fraction(0))
    tail = a**c / math.factorial(c) * Fraction(c) / (c - a)
    return tail / (head + tail)


@pytest.mark.parametrize(
    ("c", "load", "blocking"),
    # Erlang B table values (e.g. the standard traffic tables: 5 E on 10 trunks blocks 1.84%).
    [(1, 1.0, 0.5), (2, 1.0, 0.2), (10, 5.0, 0.018385), (5, 2.0, 0.036697), (20, 15.0, 0.045593)],
)
def test_erlang_b_matches_the_tables(c: int, load: float, blocking: float) -> None:
    assert erlang_b(c, load) == pytest.approx(blocking, abs=5e-6)


@pytest.mark.parametrize(("c", "a"), [(1, "1/2"), (2, "1"), (3, "2"), (10, "8"), (25, "22")])
def test_erlang_c_equals_the_exact_formula(c: int, a: str) -> None:
    exact = float(_erlang_c_exact(c, Fraction(a)))
    assert erlang_c(c, float(Fraction(a))) == pytest.approx(exact, rel=1e-12)


def test_erlang_c_published_values() -> None:
    # M/M/1: P(wait) = ρ; M/M/2 with a = 1: 1/3; a call centre table value: 10 agents, 8 E → 0.409.
    assert erlang_c(1, 0.7) == pytest.approx(0.7)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=1e-4)


def test_erlang_c_is_stable_for_large_systems() -> None:
    # factorials of 500 overflow a float; the recursion does not
    value = erlang_c(500, 480.0)
    assert 0.0 < value < 1.0
    assert erlang_c(3, 3.0) == 1.0  # unstable: every call waits


def test_mean_wait_is_convex_and_decreasing_in_units() -> None:
    w = mean_wait_table(np.array([3.0]), 60.0, 12)[0]  # 3 calls/h, 1 h busy: a = 3 Erlangs
    assert np.isinf(w[:4]).all()  # c ≤ 3 unstable
    finite = w[4:]
    assert (np.diff(finite) < 0).all()
    assert (np.diff(finite, 2) > 0).all()  # convex (Dyer & Proll 1977)
    # M/M/4, a = 3: E[W] = C/(cμ − λ) = 0.5094 / (4 − 3) hours
    assert w[4] == pytest.approx(erlang_c(4, 3.0) * 60.0)


def test_prediction_of_a_constant_queue() -> None:
    lam = np.full(168, 2.0)
    pred = predict(lam, 60.0, np.full(168, 3, dtype=np.int64))
    cw = erlang_c(3, 2.0)
    assert pred.share_waiting == pytest.approx(cw)
    assert pred.mean_wait_minutes == pytest.approx(cw / (3 / 60 - 2 / 60))
    # no travel: the 90th percentile of W is ln(C / 0.1) / θ
    assert pred.p90_response_minutes == pytest.approx(math.log(cw / 0.1) / (1 / 60), rel=1e-6)
    assert pred.unstable_hours == ()


def test_response_quantile_adds_travel_exactly() -> None:
    # constant travel of 10 minutes shifts every quantile by 10 minutes
    lam, pw, theta = np.array([1.0]), np.array([0.4]), np.array([0.05])
    base = response_quantile(0.9, lam, pw, theta, np.array([0.0]), np.array([1.0]))
    moved = response_quantile(0.9, lam, pw, theta, np.array([10.0]), np.array([1.0]))
    assert moved - base == pytest.approx(10.0, abs=1e-6)
    # P(W = 0) = 0.6 ≥ 0.5: the median response is the travel time alone
    two = response_quantile(0.5, lam, pw, theta, np.array([5.0, 15.0]), np.array([0.5, 0.5]))
    # P(R > r) for r in [5, 15): 0.5 (far half) + 0.5·0.4·exp(−0.05(r − 5)) > 0.5 → r ≥ 15
    assert two == pytest.approx(15.0, abs=1e-6)


def test_unstable_hours_are_reported() -> None:
    lam = np.zeros(168)
    lam[20] = 5.0
    c = np.full(168, 2, dtype=np.int64)
    pred = predict(lam, 60.0, c)
    assert pred.unstable_hours == (20,)
    assert math.isinf(pred.mean_wait_minutes)


def test_bad_input_names_the_field() -> None:
    with pytest.raises(ValidationFailed) as err:
        predict(np.ones(168), 60.0, np.full(168, -1, dtype=np.int64))
    assert err.value.details[0]["field"] == "on_duty"
    with pytest.raises(ValidationFailed):
        predict(np.ones(10), 60.0, np.ones(10, dtype=np.int64))
