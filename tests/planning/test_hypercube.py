"""The hypercube model: hand-solved small chains, M/M/N laws, the approximation against exact."""

from __future__ import annotations

import numpy as np
import pytest

from qingzhi.errors import ValidationFailed
from qingzhi.planning.hypercube import (
    HypercubeSystem,
    correction_factors,
    preference_from_travel,
    solve_approx,
    solve_exact,
)
from qingzhi.planning.queueing import erlang_c


def _random_system(n: int, j: int, per_unit_load: float, seed: int) -> HypercubeSystem:
    rng = np.random.default_rng(seed)
    units = rng.uniform(0, 20, (n, 2))
    atoms = rng.uniform(0, 20, (j, 2))
    travel = np.linalg.norm(units[:, None] - atoms[None], axis=2) * 1.4 / 0.5  # 30 km/h
    lam = rng.gamma(2.0, 1.0, j)
    lam = lam / lam.sum() * n * per_unit_load / 60.0
    return HypercubeSystem(lam, travel, 60.0, preference_from_travel(travel))


def test_one_unit_is_mm1() -> None:
    travel = np.array([[4.0, 8.0]])
    s = HypercubeSystem(np.array([0.2, 0.3]) / 60, travel, 60.0, np.zeros((2, 1), dtype=np.int64))
    for res in (solve_exact(s), solve_approx(s)):
        assert res.workload[0] == pytest.approx(0.5)
        assert res.p_wait == pytest.approx(0.5)
        assert res.mean_wait == pytest.approx(0.5 / (1 / 60 - 0.5 / 60))
        assert res.mean_travel == pytest.approx(0.4 * 4 + 0.6 * 8)


def test_two_units_two_atoms_by_hand() -> None:
    # Atom 0 prefers unit 0, atom 1 unit 1. States (b1 b0): 00, 01 (unit 0 busy), 10, 11.
    l0, l1, mu = 0.3 / 60, 0.6 / 60, 1 / 60
    q = np.array(
        [
            [-(l0 + l1), l0, l1, 0.0],  # 00 → 01 (atom 0 to unit 0), 10 (atom 1 to unit 1)
            [mu, -(mu + l0 + l1), 0.0, l0 + l1],  # 01: unit 1 takes every call
            [mu, 0.0, -(mu + l0 + l1), l0 + l1],  # 10: unit 0 takes every call
            [0.0, mu, mu, -2 * mu],  # 11: loss chain (the queue is a tail off this vertex)
        ]
    )
    a = np.vstack([q.T[:-1], np.ones(4)])
    pi = np.linalg.solve(a, np.array([0, 0, 0, 1.0]))
    rho = (l0 + l1) / (2 * mu)
    tail = pi[3] * rho / (1 - rho)
    pi_inf, tail = pi / (1 + tail), tail / (1 + tail)
    travel = np.array([[2.0, 10.0], [9.0, 3.0]])
    s = HypercubeSystem(np.array([l0, l1]), travel, 60.0, np.array([[0, 1], [1, 0]]))
    res = solve_exact(s)
    assert res.p_wait == pytest.approx(pi_inf[3] + tail)
    assert res.p_wait == pytest.approx(erlang_c(2, 0.9))  # the busy count is M/M/2
    assert res.workload[0] == pytest.approx(pi_inf[1] + pi_inf[3] + tail)
    # atom 0's calls: unit 0 when free (states 00, 10), unit 1 in state 01, either when queued
    lam = l0 + l1
    to_unit1 = l0 / lam * (pi_inf[1] + res.p_wait / 2)
    assert res.dispatch[1, 0] == pytest.approx(to_unit1)
    share0 = l0 / lam
    expect_travel0 = (to_unit1 * 9.0 + (share0 - to_unit1) * 2.0) / share0
    assert res.atom_travel[0] == pytest.approx(expect_travel0)


def test_exact_workloads_add_up_to_the_offered_load() -> None:
    s = _random_system(6, 12, 0.4, seed=3)
    res = solve_exact(s)
    assert res.workload.sum() == pytest.approx(s.load)
    assert res.dispatch.sum() == pytest.approx(1.0)
    assert res.p_wait == pytest.approx(erlang_c(6, s.load))


def test_correction_factors_reproduce_the_mmn_law() -> None:
    # with equal workloads r, P(first free unit is the (k+1)-th choice) = Q_k r^k (1 − r);
    # summed over k it is the chance that some unit is free, 1 − C(N, a)
    n, load = 6, 3.0
    q = correction_factors(load, n)
    r = load / n
    k = np.arange(n)
    assert q[0] == pytest.approx(1.0)
    assert float(np.sum(q * r**k * (1 - r))) == pytest.approx(1.0 - erlang_c(n, load))


@pytest.mark.parametrize(("n", "seed"), [(3, 1), (5, 2), (7, 3), (9, 4)])
def test_approximation_within_two_percent_of_exact(n: int, seed: int) -> None:
    s = _random_system(n, 20, 0.3, seed)
    exact, approx = solve_exact(s), solve_approx(s)
    assert approx.mean_response == pytest.approx(exact.mean_response, rel=0.02)
    assert np.abs(approx.workload - exact.workload).max() < 0.03
    assert approx.p_wait == pytest.approx(exact.p_wait)


def test_a_nearer_unit_answers_more_of_an_atoms_calls() -> None:
    s = _random_system(4, 8, 0.3, seed=7)
    res = solve_exact(s)
    for j in range(8):
        first, last = s.preference[j, 0], s.preference[j, -1]
        assert res.dispatch[first, j] > res.dispatch[last, j]


def test_own_units_first_in_the_preference() -> None:
    travel = np.array([[1.0, 9.0], [2.0, 8.0], [3.0, 1.0]])
    pref = preference_from_travel(travel, first=[[2], [0, 1]])
    assert pref[0].tolist() == [2, 0, 1]
    assert pref[1].tolist() == [1, 0, 2]


def test_bad_systems_are_refused() -> None:
    travel = np.ones((2, 2))
    with pytest.raises(ValidationFailed):  # not a permutation
        HypercubeSystem(np.array([0.01, 0.01]), travel, 60.0, np.array([[0, 0], [1, 0]]))
    with pytest.raises(ValidationFailed):  # unstable: 3 Erlangs on 2 units
        HypercubeSystem(np.array([1.5, 1.5]) / 60, travel, 60.0, np.array([[0, 1], [1, 0]]))


def test_exact_model_is_the_same_for_atoms_split_in_two() -> None:
    # an atom split into two halves with the same travel (and so the same dispatch order) moves
    # the chain exactly as before: the rates are summed per state and unit
    sysm = _random_system(6, 12, 0.5, seed=4)
    rates = np.concatenate([sysm.atom_rates / 2, sysm.atom_rates / 2])
    travel = np.concatenate([sysm.travel, sysm.travel], axis=1)
    split = HypercubeSystem(rates, travel, sysm.busy_minutes, preference_from_travel(travel))
    a, b = solve_exact(sysm), solve_exact(split)
    np.testing.assert_allclose(a.workload, b.workload, rtol=1e-10)
    assert a.mean_response == pytest.approx(b.mean_response, rel=1e-10)
    np.testing.assert_allclose(b.atom_travel[:12], a.atom_travel, rtol=1e-10)
