"""Where the demo's calls happen: samplers of points in the county, in metres.

A township is drawn by population (the county seat gets an extra urban weight for crime and
disorder); the point is near the township seat, anywhere in the township (a pool of uniform points:
villages), on a synthetic trunk **road** (most traffic calls), or at one of a dozen persistent
**hotspots** (markets, the bus station, night-life streets) that draw a share of crime and
disorder. A point that falls outside the county moves near its township's seat.
"""

from __future__ import annotations

import logging

import numpy as np
import shapely

from qingzhi.demo.county import County
from qingzhi.demo.draws import FloatArray, IntArray, pick, points_in
from qingzhi.geo.projection import project_geometry, to_metres

log = logging.getLogger(__name__)

URBAN_WEIGHT = {  # extra weight per resident in the county seat, by category
    "criminal": 1.5,
    "public_order": 1.4,
    "traffic": 1.2,
    "dispute": 1.0,
    "assistance": 1.1,
    "invalid": 1.2,
}
ROAD_SHARE = {  # share of points on trunk roads
    "criminal": 0.05,
    "public_order": 0.05,
    "traffic": 0.80,
    "dispute": 0.05,
    "assistance": 0.12,
    "invalid": 0.05,
}
HOTSPOT_SHARE = {"criminal": 0.18, "public_order": 0.22}  # persistent hotspots (治安乱点)
N_HOTSPOTS_URBAN, N_HOTSPOTS_RURAL = 8, 4
HOTSPOT_SD_M = 120.0
SEAT_SD_M = {"urban": 1_300.0, "rural": 1_100.0}  # points around the township seat
UNIFORM_SHARE = 0.30  # of township points: anywhere in the township (villages)
ROAD_JITTER_M = 25.0
POOL_SIZE = 2_000  # uniform points per township (villages)
VILLAGE_JITTER_M = 30.0
SETTLE_SD_M = 200.0  # a point outside the county moves this near its township's seat


class Places:
    """Point samplers for the county in metres (seats, township pools, roads, hotspots)."""

    def __init__(self, county: County, rng: np.random.Generator) -> None:
        towns = county.townships
        self.urban = np.array([t.urban for t in towns])
        self.pop = np.array([t.population for t in towns], dtype=np.float64)
        sx, sy = to_metres([t.seat[0] for t in towns], [t.seat[1] for t in towns], county.epsg)
        self.seat = np.column_stack([sx, sy])
        self.polys = [project_geometry(t.polygon, county.epsg) for t in towns]
        for p in self.polys:
            shapely.prepare(p)
        self.pool = [points_in(p, POOL_SIZE, rng, batch=POOL_SIZE) for p in self.polys]
        # Roads: segments in metres, weighted by length.
        segs = np.array([[a[0], a[1], b[0], b[1]] for a, b in county.roads], dtype=np.float64)
        ax, ay = to_metres(segs[:, 0], segs[:, 1], county.epsg)
        bx, by = to_metres(segs[:, 2], segs[:, 3], county.epsg)
        self.roads = np.column_stack([ax, ay, bx, by])
        self.road_length = np.hypot(bx - ax, by - ay)
        # Persistent hotspots: near urban seats and the largest rural seats.
        urban_idx = np.flatnonzero(self.urban)
        rural_idx = np.flatnonzero(~self.urban)
        big_rural = rural_idx[np.argsort(-self.pop[rural_idx], kind="stable")[:N_HOTSPOTS_RURAL]]
        spots = []
        for k in range(N_HOTSPOTS_URBAN):
            i = urban_idx[k % len(urban_idx)]
            spots.append(self.seat[i] + rng.normal(0.0, 900.0, 2))
        for i in big_rural:
            spots.append(self.seat[i] + rng.normal(0.0, 300.0, 2))
        self.hotspots = np.array(spots)
        self.hotspot_p = rng.dirichlet(np.full(len(spots), 2.0))

    def locate(self, x: FloatArray, y: FloatArray) -> IntArray:
        """The township index of each point, or -1 outside the county."""
        town = np.full(len(x), -1, dtype=np.int64)
        for i, p in enumerate(self.polys):
            todo = town < 0
            if not todo.any():
                break
            inside = shapely.contains_xy(p, x[todo], y[todo])
            town[np.flatnonzero(todo)[inside]] = i
        return town

    def town_weight(self, key: str) -> FloatArray:
        """Each township's relative weight for calls of category ``key``."""
        return np.asarray(self.pop * np.where(self.urban, URBAN_WEIGHT[key], 1.0), np.float64)

    def mean_factor(self, key: str, factor: FloatArray) -> float:
        """How much ``factor`` (per township) raises the county's calls of ``key``."""
        w = self.town_weight(key)
        return float((w * factor).sum() / w.sum())

    def sample_within(
        self, rng: np.random.Generator, n: int, key: str, weight: FloatArray
    ) -> tuple[FloatArray, FloatArray, IntArray]:
        """``n`` points like ``sample``'s, townships weighted by population × ``weight``, each
        landing in a township of positive ``weight`` (points at hotspots or on roads elsewhere
        are drawn again)."""
        parts: list[tuple[FloatArray, FloatArray, IntArray]] = []
        got = 0
        while got < n:
            x, y, town = self.sample(rng, n - got, key, weight)
            keep = weight[town] > 0
            parts.append((x[keep], y[keep], town[keep]))
            got += int(keep.sum())
        if not parts:
            return np.empty(0), np.empty(0), np.empty(0, dtype=np.int64)
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )

    def sample(
        self, rng: np.random.Generator, n: int, key: str, factor: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray, IntArray]:
        """``n`` points for calls of category ``key`` (x, y metres; township index), townships
        weighted by population (× ``factor`` when given)."""
        w = self.town_weight(key)
        town = pick(rng, w if factor is None else w * factor, n)
        u = rng.random(n)
        road_cut = ROAD_SHARE[key]
        hot_cut = road_cut + HOTSPOT_SHARE.get(key, 0.0)
        xy = np.empty((n, 2))
        # near the township seat / anywhere in the township
        near = u >= hot_cut
        sd = np.where(self.urban[town], SEAT_SD_M["urban"], SEAT_SD_M["rural"])
        xy[near] = (
            self.seat[town[near]] + rng.normal(0.0, 1.0, (int(near.sum()), 2)) * sd[near, None]
        )
        village = near & (rng.random(n) < UNIFORM_SHARE)
        for i in np.unique(town[village]):
            sel = np.flatnonzero(village & (town == i))
            at = self.pool[i][rng.integers(len(self.pool[i]), size=len(sel))]
            xy[sel] = at + rng.normal(0.0, VILLAGE_JITTER_M, (len(sel), 2))
        # on a road
        road = u < road_cut
        k = int(road.sum())
        seg = self.roads[pick(rng, self.road_length, k)]
        f = rng.random(k)[:, None]
        xy[road] = seg[:, :2] + f * (seg[:, 2:] - seg[:, :2]) + rng.normal(0, ROAD_JITTER_M, (k, 2))
        # at a hotspot
        hot = (u >= road_cut) & (u < hot_cut)
        k = int(hot.sum())
        spot = rng.choice(len(self.hotspots), size=k, p=self.hotspot_p)
        xy[hot] = self.hotspots[spot] + rng.normal(0.0, HOTSPOT_SD_M, (k, 2))
        return self.settle(xy[:, 0], xy[:, 1], town, rng)

    def settle(
        self, x: FloatArray, y: FloatArray, fallback: IntArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray, IntArray]:
        """Assign townships; a point outside the county moves near its fallback's seat."""
        town = self.locate(x, y)
        out = np.flatnonzero(town < 0)
        if len(out):
            x, y = x.copy(), y.copy()
            x[out] = self.seat[fallback[out], 0] + rng.normal(0, SETTLE_SD_M, len(out))
            y[out] = self.seat[fallback[out], 1] + rng.normal(0, SETTLE_SD_M, len(out))
            town[out] = self.locate(x[out], y[out])
            still = out[town[out] < 0]
            x[still], y[still] = self.seat[fallback[still], 0], self.seat[fallback[still], 1]
            town[still] = fallback[still]
        return x, y, town
