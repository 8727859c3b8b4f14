"""Which rural stations the reform bundles, and which the pre-reform traffic squads served.

The seed: 17 of the 24 rural stations are bundled into 8 central stations (7 pairs and 1 triple of
adjacent stations; the most populous tend to keep running alone), and before the reform 5 rural
traffic squads each served 3 nearby stations. Both are drawn once per county seed, so the
pre-reform and the reformed organisation of one county agree on them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from qingzhi.demo.shapes import adjacent
from qingzhi.demo.townships import Township

log = logging.getLogger(__name__)

BUNDLE_SIZES = (2, 2, 2, 2, 2, 2, 2, 3)  # 7 pairs + 1 triple = 17 member stations (seed)
N_TRAFFIC_SQUADS = 5  # pre-reform rural traffic squads (seed)
SQUAD_STATIONS = 3  # stations a pre-reform squad served (seed)
_SEARCH_STEPS = 20_000  # give up one choice of members after this many steps


def choose_bundles(
    rural: Sequence[Township], rng: np.random.Generator
) -> tuple[tuple[str, ...], ...]:
    """8 bundles (7 pairs + 1 triple) of adjacent rural stations; the 7 busiest stay alone."""
    n = len(rural)
    adj = [
        [j for j in range(n) if j != i and adjacent(rural[i].polygon, rural[j].polygon)]
        for i in range(n)
    ]
    pops = np.array([t.population for t in rural], dtype=np.float64)
    n_members = sum(BUNDLE_SIZES)
    for _attempt in range(500):
        # Leave out 7 stations, favouring the most populous (they keep running alone).
        p = pops**2 / (pops**2).sum()
        alone = set(rng.choice(n, size=n - n_members, replace=False, p=p).tolist())
        members = [i for i in range(n) if i not in alone]
        found = _exact_bundles(members, adj, rng)
        if found is not None:
            bundles = sorted(
                (tuple(sorted(rural[i].code for i in b)) for b in found), key=lambda b: b[0]
            )
            return tuple(bundles)
    raise RuntimeError("no bundling of adjacent stations found")  # pragma: no cover


def _exact_bundles(
    members: list[int], adj: list[list[int]], rng: np.random.Generator
) -> list[tuple[int, ...]] | None:
    """Partition ``members`` into adjacent pairs and one connected triple, or None."""
    steps = [0]

    def solve(left: frozenset[int], triple_used: bool) -> list[tuple[int, ...]] | None:
        steps[0] += 1
        if steps[0] > _SEARCH_STEPS:
            return None
        if not left:
            return [] if triple_used else None
        a = min(left)
        nbrs = [b for b in adj[a] if b in left]
        rng_order = [nbrs[k] for k in rng.permutation(len(nbrs))]
        options: list[tuple[int, ...]] = []
        if not triple_used:
            for b in rng_order:
                for c in adj[a] + adj[b]:
                    if c in left and c not in (a, b) and c > b:
                        options.append((a, b, c))
        options.extend((a, b) for b in rng_order)
        for opt in options:
            rest = solve(left - set(opt), triple_used or len(opt) == 3)
            if rest is not None:
                return [opt, *rest]
        return None

    return solve(frozenset(members), False)


def traffic_groups(
    rural: Sequence[Township], rng: np.random.Generator
) -> tuple[tuple[str, ...], ...]:
    """5 groups of 3 nearby rural stations: each pre-reform traffic squad's area."""
    xy = np.array([t.seat for t in rural]) * np.array([96.2, 111.0])  # km, roughly
    n = len(rural)
    hosts = [int(rng.integers(n))]
    while len(hosts) < N_TRAFFIC_SQUADS:  # farthest-point sampling
        d = np.min(np.linalg.norm(xy[:, None, :] - xy[hosts][None, :, :], axis=2), axis=1)
        hosts.append(int(np.argmax(d)))
    taken = set(hosts)
    groups: list[list[int]] = [[h] for h in hosts]
    for _ in range(SQUAD_STATIONS - 1):
        for g in groups:
            d = np.linalg.norm(xy - xy[g[0]], axis=1)
            for j in np.argsort(d, kind="stable"):
                if int(j) not in taken:
                    g.append(int(j))
                    taken.add(int(j))
                    break
    return tuple(tuple(rural[i].code for i in g) for g in groups)
