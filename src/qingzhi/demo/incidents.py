"""A year of synthetic 110 calls for the demo county (pure numpy: no database, no web).

``generate_incidents(county, days=365, seed=…, start=…)`` returns ``IncidentSpec`` records, one per
call, valid or not, sorted by reception time. Each spec maps 1:1 onto the intake body
(``IncidentSpec.to_intake()``): source_id, received_at, category, subtype, description, address,
caller_phone, location {lon, lat, datum: wgs84}, priority, valid, invalid_reason, the lifecycle
times, plus the demo-only fields (station_code, repeat_of, case and mediation outcomes).

How the calls are made (every figure lives in the parameter block below, with its source):

* **Volume** — about 60,000 valid incidents a year (seed: "60,000+ valid incidents so far this
  year") and invalid calls making up about 30% of all calls (domain reference: "invalid about
  30%"). Daily counts are Poisson around a rate shaped by category-specific **hour-of-day**,
  **weekday** and **month** profiles and a **Spring Festival** window (more family disputes,
  gambling, fights and traffic accidents; fewer ordinary calls on the eve and first days).
* **Places** — a township is drawn by population (the county seat gets an extra urban weight for
  crime and disorder); the point is near the township seat, anywhere in the township (villages),
  on a synthetic trunk **road** (most traffic calls), or at one of a dozen persistent **hotspots**
  (markets, the bus station, night-life streets) that draw a share of crime and disorder.
* **Contagion** — burglary and theft follow a self-exciting (Hawkes) cluster process: each event
  triggers on average ``BRANCHING`` offspring within a few hundred metres and a few days, the
  near-repeat pattern of Johnson & Bowers (2004) and the ETAS-style model of Mohler et al. (2011).
* **Repeat calls** — some incidents get duplicate calls minutes later (invalid, ``duplicate``,
  ``repeat_of`` the first), and some disputes and noise complaints recur at the same address days
  later (valid, ``repeat_of`` the earlier one).
* **Lifecycle** — dispatch within about 1–3 minutes (reference: hand over within 3 minutes),
  arrival after the drive from the handling station (distance over road speed) plus a queue delay
  when the station is busy, handling time by category, then closure.
* **Cases and disputes** — criminal incidents carry clearance (about 84%) and fast clearance
  (about 91.2% of cleared cases cleared within ``FAST_CLEAR_HOURS``) from the seed; disputes carry
  mediation (median about 30 minutes: seed "disputes … now settled in about 30 minutes").

Everything is synthetic and labelled so; same county, seed, start and days → identical specs.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from qingzhi.demo.county import County
from qingzhi.geo.projection import to_lonlat, to_metres

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# =====================================================================================
# Parameters (one place). Sources: /shared/reference/110-domain.md ("ref") and the seed.
# =====================================================================================
VALID_PER_YEAR = 60_000  # seed: "60,000+ valid incidents so far this year"
INVALID_SHARE = 0.30  # ref: invalid calls about 30% of all calls (silent, pranks, malicious)
# Category shares of valid incidents. ref: traffic about 30% of a city desk's calls (mostly
# congestion); criminal + public order about 10% of all calls (≈ 14% of valid ones); a station's
# daily work is mostly disputes, fights and other public-order matters, and help requests.
CATEGORY_SHARE = {
    "criminal": 0.09,
    "public_order": 0.14,
    "traffic": 0.28,
    "dispute": 0.26,
    "assistance": 0.23,
}
CATEGORIES = tuple(CATEGORY_SHARE)
# Subtypes (codes of qingzhi.incidents.enums.SUBTYPES), their share in the category and usual
# priority (1 特急, 2 紧急, 3 一般, 4 咨询). ref: reports, help requests, class-three incidents.
SUBTYPES: dict[str, tuple[tuple[str, float, int], ...]] = {
    "criminal": (
        ("theft", 0.30, 3),  # traditional theft: the seed's 84% clearance figure
        ("burglary", 0.14, 2),
        ("vehicle_theft", 0.08, 3),
        ("theft_from_vehicle", 0.05, 3),
        ("pickpocketing", 0.04, 3),
        ("fraud", 0.10, 3),
        ("telecom_fraud", 0.12, 3),  # seed: 20 telecom-fraud suspects, 1.8 million yuan recovered
        ("assault", 0.09, 1),
        ("robbery", 0.02, 1),
        ("snatching", 0.02, 2),
        ("drugs", 0.02, 3),
        ("other_criminal", 0.02, 3),
    ),
    "public_order": (
        ("fight", 0.30, 2),
        ("gambling", 0.12, 3),
        ("noise", 0.20, 3),
        ("disturbance", 0.12, 2),
        ("property_damage", 0.08, 3),
        ("minor_theft", 0.08, 3),
        ("threat", 0.05, 2),
        ("drug_use", 0.02, 3),
        ("other_public_order", 0.03, 3),
    ),
    "traffic": (
        ("accident_property", 0.38, 3),
        ("accident_injury", 0.14, 1),
        ("congestion", 0.22, 3),  # ref: traffic calls are mostly congestion
        ("drunk_driving", 0.04, 2),
        ("hit_and_run", 0.03, 2),
        ("road_hazard", 0.08, 2),
        ("illegal_parking", 0.09, 4),
        ("other_traffic", 0.02, 3),
    ),
    "dispute": (
        ("family_dispute", 0.26, 3),
        ("neighbour_dispute", 0.24, 3),
        ("labour_dispute", 0.10, 3),
        ("consumer_dispute", 0.10, 3),
        ("land_dispute", 0.09, 3),
        ("debt_dispute", 0.08, 3),
        ("traffic_dispute", 0.09, 3),
        ("other_dispute", 0.04, 3),
    ),
    "assistance": (
        ("missing_elderly", 0.07, 2),  # ref: missing elderly people, children, mentally ill
        ("missing_child", 0.03, 1),
        ("missing_person", 0.04, 2),
        ("mental_illness", 0.06, 2),
        ("suicide_attempt", 0.03, 1),
        ("drowning", 0.01, 1),
        ("fall", 0.03, 1),
        ("fire", 0.03, 1),
        ("utility_hazard", 0.06, 2),  # ref: water, power, gas hazards
        ("locked_out", 0.16, 4),
        ("lost_property", 0.14, 4),
        ("medical", 0.08, 2),
        ("animal", 0.06, 3),
        ("other_assistance", 0.20, 4),
    ),
}
# Hour-of-day profiles (local time, 0–23): relative weights.
HOURLY = {
    "criminal": [3, 3, 3, 3, 2, 2, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 4, 3],
    "public_order": [6, 5, 3, 2, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 6, 7, 8, 9, 10, 9, 8],
    "traffic": [2, 1, 1, 1, 1, 2, 4, 9, 10, 7, 6, 6, 7, 6, 6, 7, 8, 10, 10, 7, 5, 4, 3, 2],
    "dispute": [2, 1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 7, 7, 7, 7, 7, 7, 8, 9, 9, 8, 5, 3],
    "assistance": [3, 2, 2, 2, 2, 2, 3, 4, 6, 7, 7, 7, 6, 6, 6, 6, 6, 7, 7, 7, 6, 5, 4, 3],
    "invalid": [4, 4, 3, 3, 2, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 6, 5],
}
BURGLARY_NIGHT = [8, 9, 9, 8, 6, 3, 2, 2, 3, 4, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 5, 6, 7]
# Weekday (Mon..Sun): disorder and disputes rise at weekends, traffic on Fridays.
WEEKDAY = {
    "criminal": [1.0, 1.0, 1.0, 1.0, 1.05, 1.05, 1.0],
    "public_order": [0.9, 0.9, 0.9, 0.95, 1.1, 1.25, 1.15],
    "traffic": [1.0, 0.95, 0.95, 1.0, 1.15, 1.05, 1.0],
    "dispute": [0.95, 0.95, 0.95, 0.95, 1.0, 1.15, 1.1],
    "assistance": [1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.05],
    "invalid": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
}
# Month (Jan..Dec): summer brings fights, noise, drowning; winter fewer outdoor incidents.
MONTHLY = {
    "criminal": [1.0, 0.95, 0.95, 1.0, 1.0, 1.05, 1.1, 1.1, 1.0, 1.0, 1.0, 1.05],
    "public_order": [0.9, 0.9, 0.9, 0.95, 1.05, 1.15, 1.25, 1.2, 1.05, 0.95, 0.9, 0.9],
    "traffic": [1.1, 1.05, 0.95, 1.0, 1.0, 0.95, 1.0, 1.0, 1.0, 1.1, 0.95, 1.0],
    "dispute": [1.05, 1.1, 1.0, 1.0, 1.0, 1.0, 1.05, 1.0, 0.95, 0.95, 0.95, 1.0],
    "assistance": [0.95, 0.95, 0.95, 1.0, 1.0, 1.1, 1.2, 1.15, 1.0, 0.95, 0.9, 0.95],
    "invalid": [1.0] * 12,
}
# Spring Festival (春节): first day of the lunar year; multipliers from 10 days before to 7 after.
SPRING_FESTIVAL = {
    2020: (1, 25),
    2021: (2, 12),
    2022: (2, 1),
    2023: (1, 22),
    2024: (2, 10),
    2025: (1, 29),
    2026: (2, 17),
    2027: (2, 6),
    2028: (1, 26),
    2029: (2, 13),
    2030: (2, 3),
}
FESTIVAL_WINDOW = (-10, 7)
FESTIVAL_FACTOR = {  # people come home: gambling, family quarrels, drink-driving and crashes
    "criminal": 1.15,  # theft before the festival
    "public_order": 1.35,
    "traffic": 1.30,
    "dispute": 1.40,
    "assistance": 1.10,
    "invalid": 1.10,
}
FESTIVAL_BOOST_SUBTYPES = ("gambling", "family_dispute", "drunk_driving", "fight", "debt_dispute")
# Places.
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
# Near-repeat contagion (Hawkes cluster process) for burglary and theft.
CONTAGION_SUBTYPES = ("burglary", "theft", "theft_from_vehicle")
BRANCHING = 0.35  # mean offspring per event (< 1: a stable process)
CONTAGION_DAYS = 4.0  # mean delay of an offspring
CONTAGION_SD_M = 180.0  # spatial spread of an offspring
# Repeat calls.
DUPLICATE_SHARE = 0.06  # valid incidents followed by 1–2 duplicate calls (invalid: duplicate)
DUPLICATE_DELAY_MIN = (2.0, 40.0)
RECUR_SUBTYPES = ("family_dispute", "neighbour_dispute", "noise", "debt_dispute", "land_dispute")
RECUR_SHARE = 0.10  # of those: the matter recurs at the same address days later (valid)
RECUR_DAYS = (1.0, 21.0)
INVALID_REASONS = {  # share of invalid calls other than duplicates; ref: silent, prank, malicious
    "hang_up": 0.42,
    "prank": 0.12,
    "malicious": 0.03,
    "test": 0.04,
    "non_police": 0.30,  # ref: labour, commercial, consumer matters transferred elsewhere
    "enquiry": 0.09,
}
# Lifecycle.
DISPATCH_MEDIAN_S = 75.0  # ref: hand over to the handling unit within 3 minutes
TURNOUT_S = 120.0
SPEED_KMH = {"urban": 28.0, "rural": 42.0}
DETOUR = 1.35  # road distance over straight-line distance
LOAD_WINDOW_S = 3600.0
LOAD_CAPACITY = {"urban": 6, "rural": 2}  # incidents per hour a station absorbs without queueing
QUEUE_MIN_PER_EXCESS = 9.0
HANDLING_MEDIAN_MIN = {
    "criminal": 75.0,
    "public_order": 45.0,
    "traffic": 50.0,
    "dispute": 30.0,
    "assistance": 40.0,
}
CLOSE_MEDIAN_MIN = 20.0
# Cases (快侦快办). seed: traditional theft clearance 84%; fast clearance (快破) 91.2%.
CLEARANCE_RATE = 0.84
FAST_CLEARANCE_RATE = 0.912  # share of cleared cases cleared within FAST_CLEAR_HOURS
FAST_CLEAR_HOURS = 72.0
CLEARANCE_BY_SUBTYPE = {"telecom_fraud": 0.55, "fraud": 0.7, "assault": 0.95, "robbery": 0.95}
# Disputes (矛盾纠纷调解). seed: settled in about 30 minutes.
MEDIATION_RATE = 0.88
MEDIATION_MEDIAN_MIN = 30.0
MEDIATION_OUTCOMES = (("settled", 0.90), ("partial", 0.06), ("unresolved", 0.04))
LOCAL_OFFSET = dt.timedelta(hours=8)  # Asia/Shanghai has no daylight saving
DEFAULT_START = dt.date(2025, 1, 1)
DEFAULT_SEED = 110


# =====================================================================================
# The record
# =====================================================================================


@dataclass(frozen=True, slots=True)
class IncidentSpec:
    """One synthetic 110 call, valid or not, with its lifecycle and outcomes."""

    source_id: str
    received_at: dt.datetime
    category: str
    subtype: str | None
    description: str
    address: str
    caller_phone: str
    lon: float
    lat: float
    priority: int
    valid: bool
    invalid_reason: str | None
    station_code: str
    dispatched_at: dt.datetime | None
    arrived_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    repeat_of: str | None = None
    cleared: bool | None = None
    cleared_at: dt.datetime | None = None
    fast_cleared: bool | None = None
    mediated: bool | None = None
    mediation_outcome: str | None = None
    mediation_minutes: float | None = None
    datum: str = "wgs84"
    synthetic: bool = True

    def to_intake(self) -> dict[str, Any]:
        """The intake JSON body (plus lifecycle times), as the incident intake takes it."""
        return {
            "source_id": self.source_id,
            "received_at": self.received_at.isoformat(),
            "category": self.category,
            "subtype": self.subtype,
            "description": self.description,
            "address": self.address,
            "caller_phone": self.caller_phone,
            "location": {"lon": self.lon, "lat": self.lat, "datum": self.datum},
            "priority": self.priority,
            "valid": self.valid,
            "invalid_reason": self.invalid_reason,
            "dispatched_at": _iso(self.dispatched_at),
            "arrived_at": _iso(self.arrived_at),
            "resolved_at": _iso(self.resolved_at),
            "closed_at": _iso(self.closed_at),
            "synthetic": self.synthetic,
        }

    def extras(self) -> dict[str, Any]:
        """The demo-only fields beyond the intake body: station, repeat, case, mediation."""
        return {
            "station_code": self.station_code,
            "repeat_of": self.repeat_of,
            "cleared": self.cleared,
            "cleared_at": _iso(self.cleared_at),
            "fast_cleared": self.fast_cleared,
            "mediated": self.mediated,
            "mediation_outcome": self.mediation_outcome,
            "mediation_minutes": self.mediation_minutes,
        }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# =====================================================================================
# Text (synthetic): villages, roads, descriptions
# =====================================================================================

_VILLAGE_A = "新桥石龙凤白黄竹青花长高双合永太明金兴安平柏松杨"
_VILLAGE_B = ("桥", "湾", "坝", "沟", "坪", "岭", "塘", "林", "庙", "堰", "口", "河")
_ROADS = (
    "迎宾大道",
    "牡丹大道",
    "工农路",
    "新华路",
    "人民东路",
    "人民西路",
    "桂溪路",
    "北门街",
    "南门街",
    "东环路",
    "西环路",
    "明月大道",
    "长安街",
    "文化路",
    "建设路",
)
_PLACES = ("小区", "农贸市场", "超市", "菜市场", "广场", "车站", "茶馆", "KTV", "网吧", "工地")
_DESC: dict[str, str] = {
    "theft": "报警人称其停放在{p}附近的电动车被盗窃",
    "burglary": "报警人称回家发现房门被撬，家中现金及物品被盗，疑似入室盗窃",
    "vehicle_theft": "报警人称其停放的摩托车被盗",
    "theft_from_vehicle": "报警人称其车窗被砸，车内财物被盗窃",
    "pickpocketing": "报警人称在{p}手机被扒窃",
    "fraud": "报警人称被他人以介绍工作为由骗取钱款",
    "telecom_fraud": "报警人称接到冒充客服电话，被骗转账",
    "assault": "报警人称被他人殴打致伤，需要救治",
    "robbery": "报警人称在{p}附近被人持刀抢走财物",
    "snatching": "报警人称在路边被人抢走挎包",
    "drugs": "群众举报{p}附近疑似有人贩卖毒品",
    "other_criminal": "报警人报称发生刑事案件，请求出警",
    "fight": "{p}有多人打架，请求处置",
    "gambling": "群众举报{p}有人聚众赌博",
    "noise": "报警人称楼上{p}噪音扰民",
    "disturbance": "{p}有人酒后滋事",
    "property_damage": "报警人称其门窗被人故意损坏",
    "minor_theft": "报警人称放在{p}的物品被人拿走",
    "threat": "报警人称被他人威胁恐吓",
    "drug_use": "群众举报{p}有人疑似吸毒",
    "other_public_order": "报警人反映治安问题，请求处置",
    "accident_property": "两车发生剐擦，无人员受伤",
    "accident_injury": "发生交通事故，有人员受伤",
    "congestion": "路段车辆拥堵，请求疏导",
    "drunk_driving": "群众举报有人疑似酒后驾车",
    "hit_and_run": "报警人称被车辆撞伤后对方驾车逃逸",
    "road_hazard": "路面有障碍物，影响通行",
    "illegal_parking": "车辆乱停堵塞通道",
    "other_traffic": "报警人反映交通问题",
    "family_dispute": "报警人称与家人发生争吵，请求调解",
    "neighbour_dispute": "报警人称与邻居因琐事发生纠纷",
    "labour_dispute": "报警人称被拖欠工资，与老板发生争执",
    "consumer_dispute": "报警人称在{p}消费时与商家发生纠纷",
    "land_dispute": "报警人称与邻居因土地边界发生纠纷",
    "debt_dispute": "报警人称他人欠款不还，发生争执",
    "traffic_dispute": "双方因交通事故赔偿发生争执",
    "other_dispute": "报警人称与他人发生纠纷，请求调解",
    "missing_elderly": "报警人称家中老人外出未归",
    "missing_child": "报警人称孩子在{p}走失",
    "missing_person": "报警人称家人失联",
    "mental_illness": "报警人称有精神异常人员在{p}滋扰",
    "suicide_attempt": "报警人称有人欲轻生，情况紧急",
    "drowning": "报警人称有人落水",
    "fall": "报警人称有人从高处坠落",
    "fire": "报警人称{p}附近起火",
    "utility_hazard": "报警人称{p}附近燃气泄漏",
    "locked_out": "报警人称钥匙遗失，被锁门外",
    "lost_property": "报警人称在{p}遗失钱包",
    "medical": "报警人称有人突发疾病倒地",
    "animal": "报警人称{p}附近有蛇进入民宅",
    "other_assistance": "报警人请求帮助",
}
_INVALID_DESC = {
    "hang_up": "来电无声后挂断，回拨无人接听",
    "prank": "来电骚扰，无警情",
    "malicious": "恶意报假警",
    "test": "测试来电",
    "non_police": "非警务事项，已告知并移交相关部门",
    "enquiry": "来电咨询办事事项，已解答",
    "duplicate": "同一事项重复报警",
}
_NON_POLICE_SUBTYPES = ("labour_dispute", "consumer_dispute", "debt_dispute")
_PHONE_PREFIX = (130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 157, 158, 159,
                 166, 173, 177, 180, 181, 183, 185, 186, 187, 189, 191, 199)  # fmt: skip


# =====================================================================================
# The generator
# =====================================================================================


def _profile(days: Sequence[dt.date], key: str, festival: NDArray[np.bool_]) -> FloatArray:
    month = np.array([MONTHLY[key][d.month - 1] for d in days])
    wday = np.array([WEEKDAY[key][d.weekday()] for d in days])
    fest = np.where(festival, FESTIVAL_FACTOR[key], 1.0)
    return np.asarray(month * wday * fest, dtype=np.float64)


def _festival_days(days: Sequence[dt.date]) -> NDArray[np.bool_]:
    out = np.zeros(len(days), dtype=bool)
    for i, d in enumerate(days):
        for year in (d.year - 1, d.year, d.year + 1):
            if year in SPRING_FESTIVAL:
                m, dd = SPRING_FESTIVAL[year]
                off = (d - dt.date(year, m, dd)).days
                if FESTIVAL_WINDOW[0] <= off <= FESTIVAL_WINDOW[1]:
                    out[i] = True
    return out


def _times(
    rng: np.random.Generator, day_weight: FloatArray, n: int, hourly: Sequence[float]
) -> FloatArray:
    """``n`` times (seconds since start): days by weight, hours by profile, uniform within."""
    day = rng.choice(len(day_weight), size=n, p=day_weight / day_weight.sum())
    h = np.asarray(hourly, dtype=np.float64)
    hour = rng.choice(24, size=n, p=h / h.sum())
    return np.asarray(day * 86400.0 + hour * 3600.0 + rng.uniform(0, 3600.0, n), dtype=np.float64)


class _Geo:
    """Point samplers for the county in metres (seats, township pools, roads, hotspots)."""

    def __init__(self, county: County, rng: np.random.Generator) -> None:
        self.county = county
        towns = county.townships
        self.codes = [t.code for t in towns]
        self.urban = np.array([t.urban for t in towns])
        self.pop = np.array([t.population for t in towns], dtype=np.float64)
        sx, sy = to_metres([t.seat[0] for t in towns], [t.seat[1] for t in towns], county.epsg)
        self.seat = np.column_stack([sx, sy])
        self.polys = [
            shapely.transform(
                t.polygon, lambda c: np.column_stack(to_metres(c[:, 0], c[:, 1], county.epsg))
            )
            for t in towns
        ]
        for p in self.polys:
            shapely.prepare(p)
        # A pool of uniform points per township (villages).
        self.pool = [self._uniform(p, 2_000, rng) for p in self.polys]
        # Roads: segments in metres, weighted by length.
        segs = np.array([[a[0], a[1], b[0], b[1]] for a, b in county.roads], dtype=np.float64)
        ax, ay = to_metres(segs[:, 0], segs[:, 1], county.epsg)
        bx, by = to_metres(segs[:, 2], segs[:, 3], county.epsg)
        self.roads = np.column_stack([ax, ay, bx, by])
        length = np.hypot(bx - ax, by - ay)
        self.road_p = length / length.sum()
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

    @staticmethod
    def _uniform(poly: Any, n: int, rng: np.random.Generator) -> FloatArray:
        minx, miny, maxx, maxy = poly.bounds
        out = np.empty((0, 2))
        while len(out) < n:
            pts = rng.uniform((minx, miny), (maxx, maxy), size=(n, 2))
            out = np.concatenate([out, pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])]])
        return np.asarray(out[:n], dtype=np.float64)

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

    def sample(
        self, rng: np.random.Generator, n: int, key: str
    ) -> tuple[FloatArray, FloatArray, IntArray]:
        """``n`` points for calls of category ``key`` (x, y metres; township index)."""
        w = self.pop * np.where(self.urban, URBAN_WEIGHT[key], 1.0)
        town = rng.choice(len(w), size=n, p=w / w.sum())
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
            pick = rng.integers(len(self.pool[i]), size=len(sel))
            xy[sel] = self.pool[i][pick] + rng.normal(0.0, 30.0, (len(sel), 2))
        # on a road
        road = u < road_cut
        k = int(road.sum())
        seg = self.roads[rng.choice(len(self.roads), size=k, p=self.road_p)]
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
            x[out] = self.seat[fallback[out], 0] + rng.normal(0, 200.0, len(out))
            y[out] = self.seat[fallback[out], 1] + rng.normal(0, 200.0, len(out))
            town[out] = self.locate(x[out], y[out])
            still = out[town[out] < 0]
            x[still], y[still] = self.seat[fallback[still], 0], self.seat[fallback[still], 1]
            town[still] = fallback[still]
        return x, y, town


def _subtypes(rng: np.random.Generator, key: str, n: int, festival: NDArray[np.bool_]) -> Any:
    names = [s[0] for s in SUBTYPES[key]]
    p = np.array([s[1] for s in SUBTYPES[key]])
    base = rng.choice(len(names), size=n, p=p / p.sum())
    boost = [j for j, s in enumerate(names) if s in FESTIVAL_BOOST_SUBTYPES]
    if boost and festival.any():  # during the festival the boosted subtypes take a larger share
        pf = p.copy()
        pf[boost] *= 2.0
        fest_pick = rng.choice(len(names), size=n, p=pf / pf.sum())
        base = np.where(festival, fest_pick, base)
    return np.array(names, dtype=object)[base]


def generate_incidents(
    county: County,
    *,
    days: int = 365,
    seed: int = DEFAULT_SEED,
    start: dt.date = DEFAULT_START,
) -> list[IncidentSpec]:
    """Synthetic 110 calls for ``days`` days from ``start`` (local dates), sorted by time."""
    if days < 1:
        raise ValueError("days must be at least 1")
    rng = np.random.default_rng([seed, county.seed])
    geo = _Geo(county, rng)
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    festival = _festival_days(dates)
    scale = days / 365.0

    # ---- expected extra valid incidents from contagion and recurrence, to hit the target
    contagion_share = sum(
        CATEGORY_SHARE["criminal"] * s[1]
        for s in SUBTYPES["criminal"]
        if s[0] in CONTAGION_SUBTYPES
    )
    recur_share = sum(
        CATEGORY_SHARE[c] * s[1] * RECUR_SHARE
        for c in ("dispute", "public_order")
        for s in SUBTYPES[c]
        if s[0] in RECUR_SUBTYPES
    )
    inflation = 1.0 + contagion_share * BRANCHING / (1.0 - BRANCHING) + recur_share
    base_valid = VALID_PER_YEAR * scale / inflation

    cols: dict[str, list[Any]] = {k: [] for k in ("t", "cat", "sub", "x", "y", "town")}
    for ci, key in enumerate(CATEGORIES):
        weight = _profile(dates, key, festival)
        n = int(rng.poisson(base_valid * CATEGORY_SHARE[key]))
        day = rng.choice(days, size=n, p=weight / weight.sum())
        sub = _subtypes(rng, key, n, festival[day])
        hourly = np.asarray(HOURLY[key], dtype=np.float64)
        hour = rng.choice(24, size=n, p=hourly / hourly.sum())
        if key == "criminal":  # burglaries happen at night
            night = np.asarray(BURGLARY_NIGHT, dtype=np.float64)
            is_burg = sub == "burglary"
            hour[is_burg] = rng.choice(24, size=int(is_burg.sum()), p=night / night.sum())
        t = day * 86400.0 + hour * 3600.0 + rng.uniform(0.0, 3600.0, n)
        x, y, town = geo.sample(rng, n, key)
        cols["t"].append(t)
        cols["cat"].append(np.full(n, ci))
        cols["sub"].append(sub)
        cols["x"].append(x)
        cols["y"].append(y)
        cols["town"].append(town)
    t = np.concatenate(cols["t"])
    cat = np.concatenate(cols["cat"]).astype(np.int64)
    sub = np.concatenate(cols["sub"])
    x = np.concatenate(cols["x"])
    y = np.concatenate(cols["y"])
    town = np.concatenate(cols["town"]).astype(np.int64)
    parent = np.full(len(t), -1, dtype=np.int64)

    # ---- near-repeat contagion: generations of offspring of burglary/theft events
    horizon = days * 86400.0
    gen = np.flatnonzero(np.isin(sub, CONTAGION_SUBTYPES))
    while len(gen):
        k = rng.poisson(BRANCHING, size=len(gen))
        src = np.repeat(gen, k)
        if not len(src):
            break
        ot = t[src] + rng.exponential(CONTAGION_DAYS * 86400.0, len(src))
        keep = ot < horizon
        src, ot = src[keep], ot[keep]
        ox = x[src] + rng.normal(0.0, CONTAGION_SD_M, len(src))
        oy = y[src] + rng.normal(0.0, CONTAGION_SD_M, len(src))
        ox, oy, otown = geo.settle(ox, oy, town[src], rng)
        first = len(t)
        t = np.concatenate([t, ot])
        cat = np.concatenate([cat, cat[src]])
        sub = np.concatenate([sub, sub[src]])
        x, y, town = np.concatenate([x, ox]), np.concatenate([y, oy]), np.concatenate([town, otown])
        parent = np.concatenate([parent, np.full(len(src), -1)])  # contagion is not a repeat call
        gen = np.arange(first, len(t))

    n_valid_core = len(t)
    phone = rng.integers(0, 10**8, size=n_valid_core)  # the caller (suffix of the number)
    prefix = rng.integers(0, len(_PHONE_PREFIX), size=n_valid_core)

    # ---- recurring matters at the same address (valid repeats)
    rec = np.flatnonzero(np.isin(sub, RECUR_SUBTYPES) & (rng.random(n_valid_core) < RECUR_SHARE))
    rt = t[rec] + rng.uniform(*RECUR_DAYS, len(rec)) * 86400.0
    keep = rt < horizon
    rec, rt = rec[keep], rt[keep]
    valid = np.ones(n_valid_core + len(rec), dtype=bool)
    t = np.concatenate([t, rt])
    cat = np.concatenate([cat, cat[rec]])
    sub = np.concatenate([sub, sub[rec]])
    x = np.concatenate([x, x[rec] + rng.normal(0, 10.0, len(rec))])
    y = np.concatenate([y, y[rec] + rng.normal(0, 10.0, len(rec))])
    town = np.concatenate([town, town[rec]])
    phone = np.concatenate([phone, phone[rec]])
    prefix = np.concatenate([prefix, prefix[rec]])
    parent = np.concatenate([parent, rec])
    n_valid = len(t)

    # ---- duplicate calls minutes after a valid incident (invalid: duplicate)
    dup_src = np.flatnonzero(rng.random(n_valid) < DUPLICATE_SHARE)
    dup_src = np.repeat(dup_src, rng.integers(1, 3, size=len(dup_src)))
    dt_min = rng.uniform(*DUPLICATE_DELAY_MIN, len(dup_src))
    dup_t = t[dup_src] + dt_min * 60.0
    keep = dup_t < horizon
    dup_src, dup_t = dup_src[keep], dup_t[keep]
    same_caller = rng.random(len(dup_src)) < 0.5
    dup_phone = np.where(same_caller, phone[dup_src], rng.integers(0, 10**8, len(dup_src)))
    dup_prefix = np.where(
        same_caller, prefix[dup_src], rng.integers(0, len(_PHONE_PREFIX), len(dup_src))
    )

    # ---- other invalid calls
    n_invalid_total = round(n_valid * INVALID_SHARE / (1.0 - INVALID_SHARE))
    n_other = max(n_invalid_total - len(dup_src), 0)
    inv_weight = _profile(dates, "invalid", festival)
    inv_t = _times(rng, inv_weight, n_other, HOURLY["invalid"])
    inv_x, inv_y, inv_town = geo.sample(rng, n_other, "invalid")
    reasons = list(INVALID_REASONS)
    rp = np.array([INVALID_REASONS[r] for r in reasons])
    inv_reason = np.array(reasons, dtype=object)[rng.choice(len(reasons), n_other, p=rp / rp.sum())]

    # ---- assemble every call
    n_dup = len(dup_src)
    all_t = np.concatenate([t, dup_t, inv_t])
    all_x = np.concatenate([x, x[dup_src], inv_x])
    all_y = np.concatenate([y, y[dup_src], inv_y])
    all_town = np.concatenate([town, town[dup_src], inv_town])
    all_cat = np.concatenate([cat, cat[dup_src], np.full(n_other, -1)])
    all_sub = np.concatenate([sub, sub[dup_src], np.full(n_other, None, dtype=object)])
    all_valid = np.concatenate([valid, np.zeros(n_dup + n_other, dtype=bool)])
    all_reason = np.concatenate(
        [
            np.full(n_valid, None, dtype=object),
            np.full(n_dup, "duplicate", dtype=object),
            inv_reason,
        ]
    )
    all_parent = np.concatenate([parent, dup_src, np.full(n_other, -1)])
    all_phone = np.concatenate([phone, dup_phone, rng.integers(0, 10**8, n_other)])
    all_prefix = np.concatenate([prefix, dup_prefix, rng.integers(0, len(_PHONE_PREFIX), n_other)])
    # Non-police matters are labour / consumer / debt quarrels sent to other departments.
    non_police = all_reason == "non_police"
    all_cat[non_police] = CATEGORIES.index("dispute")
    all_sub[non_police] = np.array(_NON_POLICE_SUBTYPES, dtype=object)[
        rng.integers(0, len(_NON_POLICE_SUBTYPES), int(non_police.sum()))
    ]
    other_invalid = all_cat < 0
    all_cat[other_invalid] = CATEGORIES.index("assistance")

    return _finish(
        rng=rng,
        county=county,
        geo=geo,
        start=start,
        t=all_t,
        x=all_x,
        y=all_y,
        town=all_town,
        cat=all_cat,
        sub=all_sub,
        valid=all_valid,
        reason=all_reason,
        parent=all_parent,
        phone=all_phone,
        prefix=all_prefix,
    )


def _finish(
    *,
    rng: np.random.Generator,
    county: County,
    geo: _Geo,
    start: dt.date,
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    town: IntArray,
    cat: IntArray,
    sub: NDArray[Any],
    valid: NDArray[np.bool_],
    reason: NDArray[Any],
    parent: IntArray,
    phone: IntArray,
    prefix: IntArray,
) -> list[IncidentSpec]:
    """Lifecycle, outcomes, text and identifiers; the specs sorted by reception time."""
    n = len(t)
    t = np.floor(t)  # whole seconds
    order = np.lexsort((np.arange(n), t))
    urban = geo.urban[town]

    # ---- priority
    prio_of = {s[0]: s[2] for c in SUBTYPES.values() for s in c}
    priority = np.array([prio_of.get(s, 3) if s else 4 for s in sub], dtype=np.int64)
    shift = rng.choice([-1, 0, 1], size=n, p=[0.08, 0.84, 0.08])
    priority = np.clip(priority + shift, 1, 4)
    priority[~valid] = np.where(reason[~valid] == "duplicate", priority[~valid], 4)

    # ---- load: valid incidents at the same station in the previous hour
    load = np.zeros(n)
    for i in range(len(geo.codes)):
        sel = np.flatnonzero(valid & (town == i))
        ts = np.sort(t[sel])
        load[sel] = np.searchsorted(ts, t[sel], side="left") - np.searchsorted(
            ts, t[sel] - LOAD_WINDOW_S, side="left"
        )
    capacity = np.where(urban, LOAD_CAPACITY["urban"], LOAD_CAPACITY["rural"])
    excess = np.maximum(load - capacity, 0)

    # ---- lifecycle (seconds since start)
    dispatch = DISPATCH_MEDIAN_S * rng.lognormal(0.0, 0.5, n) * (0.6 + 0.2 * (priority - 1))
    dispatch += 15.0 * excess
    dist = np.hypot(x - geo.seat[town, 0], y - geo.seat[town, 1]) * DETOUR
    speed = np.where(urban, SPEED_KMH["urban"], SPEED_KMH["rural"]) / 3.6
    travel = TURNOUT_S + dist / speed * rng.lognormal(0.0, 0.2, n)
    queue = rng.exponential(QUEUE_MIN_PER_EXCESS * 60.0, n) * excess
    handling_median = np.array([HANDLING_MEDIAN_MIN[c] for c in CATEGORIES])[cat] * 60.0
    handling = handling_median * rng.lognormal(0.0, 0.6, n)
    is_dispute = valid & (cat == CATEGORIES.index("dispute"))
    mediated = is_dispute & (rng.random(n) < MEDIATION_RATE)
    mediation_min = MEDIATION_MEDIAN_MIN * rng.lognormal(0.0, 0.45, n)
    handling = np.where(mediated, mediation_min * 60.0, handling)
    t_dispatch = t + np.round(dispatch)
    t_arrive = t_dispatch + np.round(travel + queue)
    t_resolve = t_arrive + np.round(handling)
    t_close = t_resolve + np.round(CLOSE_MEDIAN_MIN * 60.0 * rng.lognormal(0.0, 0.5, n))
    inv_close = t + np.round(60.0 * rng.lognormal(0.3, 0.5, n))

    # ---- criminal cases: clearance and fast clearance
    is_crime = valid & (cat == CATEGORIES.index("criminal"))
    p_clear = np.array([CLEARANCE_BY_SUBTYPE.get(s, 1.0) if s else 1.0 for s in sub])
    mix = p_clear[is_crime].mean() if is_crime.any() else 1.0
    p_clear = np.clip(p_clear * CLEARANCE_RATE / mix, 0.0, 0.99)
    cleared = is_crime & (rng.random(n) < p_clear)
    fast = cleared & (rng.random(n) < FAST_CLEARANCE_RATE)
    fast_h = rng.uniform(2.0, FAST_CLEAR_HOURS, n)
    slow_h = FAST_CLEAR_HOURS + rng.lognormal(np.log(24.0 * 12), 0.8, n)
    t_cleared = t + np.round(np.where(fast, fast_h, slow_h) * 3600.0)

    # ---- dispute outcomes
    outcomes = [o for o, _ in MEDIATION_OUTCOMES]
    op = np.array([p for _, p in MEDIATION_OUTCOMES])
    outcome = np.array(outcomes, dtype=object)[rng.choice(len(outcomes), n, p=op / op.sum())]

    # ---- identifiers: 110-YYYYMMDD-NNNNN by local day, in reception order
    base = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC) - LOCAL_OFFSET
    day = (t // 86400).astype(np.int64)
    seq = np.zeros(n, dtype=np.int64)
    sorted_day = day[order]
    first_of_day = np.searchsorted(sorted_day, sorted_day, side="left")
    seq[order] = np.arange(n) - first_of_day + 1
    day_text = [
        (start + dt.timedelta(days=d)).strftime("%Y%m%d") for d in range(int(day.max()) + 1)
    ]
    ids = [f"110-{day_text[d]}-{q:05d}" for d, q in zip(day.tolist(), seq.tolist(), strict=True)]

    lon, lat = to_lonlat(x, y, county.epsg)
    villages = _village_names(county, rng)
    road_no = rng.integers(1, 400, n).tolist()
    group_no = rng.integers(1, 12, n).tolist()
    place = rng.integers(0, len(_PLACES), n).tolist()
    road_pick = rng.integers(0, len(_ROADS), n).tolist()
    village_pick = rng.integers(0, 8, n).tolist()
    epoch = base.timestamp()
    utc = dt.UTC

    def when(seconds: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(epoch + seconds, utc)

    # A repeat keeps the address of the first call about the matter (its root).
    root = np.arange(n)
    has_parent = parent >= 0
    root[has_parent] = parent[has_parent]
    while True:
        up = parent[root]
        nxt = np.where(up >= 0, up, root)
        if np.array_equal(nxt, root):
            break
        root = nxt
    # Plain Python lists: indexing them in the loop is far faster than numpy scalars.
    towns = county.townships
    town_l, root_l, urban_l = town.tolist(), root.tolist(), urban.tolist()
    cat_l, valid_l, reason_l, parent_l = (
        cat.tolist(),
        valid.tolist(),
        reason.tolist(),
        parent.tolist(),
    )
    sub_l, prio_l, phone_l, prefix_l = (
        sub.tolist(),
        priority.tolist(),
        phone.tolist(),
        prefix.tolist(),
    )
    lon_l, lat_l = np.round(lon, 6).tolist(), np.round(lat, 6).tolist()
    t_l, td_l, ta_l = t.tolist(), t_dispatch.tolist(), t_arrive.tolist()
    tr_l, tc_l, ti_l, tcl_l = (
        t_resolve.tolist(),
        t_close.tolist(),
        inv_close.tolist(),
        t_cleared.tolist(),
    )
    crime_l, disp_l, cleared_l, fast_l = (
        is_crime.tolist(),
        is_dispute.tolist(),
        cleared.tolist(),
        fast.tolist(),
    )
    med_l, medmin_l, outcome_l = (
        mediated.tolist(),
        np.round(mediation_min, 1).tolist(),
        outcome.tolist(),
    )

    specs: list[IncidentSpec] = []
    for i in order.tolist():
        r = root_l[i]
        rt = towns[town_l[r]]
        if urban_l[r]:
            address = f"{rt.full_name}{_ROADS[road_pick[r]]}{road_no[r]}号"
        else:
            address = f"{rt.full_name}{villages[town_l[r]][village_pick[r]]}村{group_no[r]}组"
        st = sub_l[i]
        ok = valid_l[i]
        why = reason_l[i]
        text = _DESC.get(st, "报警求助").format(p=_PLACES[place[i]]) if ok else _INVALID_DESC[why]
        crime, disp = crime_l[i], disp_l[i]
        specs.append(
            IncidentSpec(
                source_id=ids[i],
                received_at=when(t_l[i]),
                category=CATEGORIES[cat_l[i]],
                subtype=st if (ok or why in ("duplicate", "non_police")) else None,
                description=text,
                address=address,
                caller_phone=f"{_PHONE_PREFIX[prefix_l[i]]}{phone_l[i]:08d}",
                lon=lon_l[i],
                lat=lat_l[i],
                priority=prio_l[i],
                valid=ok,
                invalid_reason=None if ok else why,
                station_code=towns[town_l[i]].code,
                dispatched_at=when(td_l[i]) if ok else None,
                arrived_at=when(ta_l[i]) if ok else None,
                # An invalid call is settled on the telephone (received → resolved → closed).
                resolved_at=when(tr_l[i]) if ok else when(ti_l[i]),
                closed_at=when(tc_l[i]) if ok else when(ti_l[i]),
                repeat_of=ids[parent_l[i]] if parent_l[i] >= 0 else None,
                cleared=cleared_l[i] if crime else None,
                cleared_at=when(tcl_l[i]) if crime and cleared_l[i] else None,
                fast_cleared=fast_l[i] if crime else None,
                mediated=med_l[i] if disp else None,
                mediation_outcome=(outcome_l[i] if med_l[i] else "referred") if disp else None,
                mediation_minutes=medmin_l[i] if med_l[i] else None,
            )
        )
    return specs


def _village_names(county: County, rng: np.random.Generator) -> list[list[str]]:
    """Eight synthetic village names per township."""
    out = []
    for _ in county.townships:
        names: list[str] = []
        while len(names) < 8:
            a = _VILLAGE_A[int(rng.integers(len(_VILLAGE_A)))]
            b = _VILLAGE_B[int(rng.integers(len(_VILLAGE_B)))]
            if a + b not in names:
                names.append(a + b)
        out.append(names)
    return out
