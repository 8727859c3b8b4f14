"""The words of the demo's calls (synthetic): addresses, descriptions, callers' numbers.

An address in the county seat is a street and number, elsewhere a village and its group (组) in
the township; a repeat call keeps the address of the first call about its matter. Descriptions
follow the subtype (with a place: a market, a KTV …), or say why a call was invalid. Callers
have mobile numbers of the common prefixes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from qingzhi.demo.county import County
from qingzhi.demo.draws import IntArray
from qingzhi.demo.townships import Township

log = logging.getLogger(__name__)

VILLAGES_PER_TOWNSHIP = 8
VILLAGE_A = "新桥石龙凤白黄竹青花长高双合永太明金兴安平柏松杨"
VILLAGE_B = ("桥", "湾", "坝", "沟", "坪", "岭", "塘", "林", "庙", "堰", "口", "河")
ROADS = (
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
PLACES = ("小区", "农贸市场", "超市", "菜市场", "广场", "车站", "茶馆", "KTV", "网吧", "工地")
DESCRIPTIONS: dict[str, str] = {
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
INVALID_DESCRIPTIONS = {
    "hang_up": "来电无声后挂断，回拨无人接听",
    "prank": "来电骚扰，无警情",
    "malicious": "恶意报假警",
    "test": "测试来电",
    "non_police": "非警务事项，已告知并移交相关部门",
    "enquiry": "来电咨询办事事项，已解答",
    "duplicate": "同一事项重复报警",
}
PHONE_PREFIXES = (130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 157, 158, 159,
                 166, 173, 177, 180, 181, 183, 185, 186, 187, 189, 191, 199)  # fmt: skip


def draw_callers(rng: np.random.Generator, n: int) -> tuple[IntArray, IntArray]:
    """``n`` callers: the number's last 8 digits, and the index of its prefix."""
    number = rng.integers(0, 10**8, size=n)
    prefix = rng.integers(0, len(PHONE_PREFIXES), size=n)
    return number, prefix


def phone_number(prefix: int, number: int) -> str:
    """The 11-digit mobile number of a caller drawn by ``draw_callers``."""
    return f"{PHONE_PREFIXES[prefix]}{number:08d}"


@dataclass(frozen=True)
class Wording:
    """The drawn words of ``n`` calls: village names per township, and per call the street
    number, village group, place, street and village."""

    villages: list[list[str]]
    road_no: list[int]
    group_no: list[int]
    place: list[int]
    road: list[int]
    village: list[int]

    def address(self, town: Township, town_index: int, urban: bool, i: int) -> str:
        """The address of call ``i`` in ``town``: a street in the seat, else a village group."""
        if urban:
            return f"{town.full_name}{ROADS[self.road[i]]}{self.road_no[i]}号"
        village = self.villages[town_index][self.village[i]]
        return f"{town.full_name}{village}村{self.group_no[i]}组"

    def description(self, i: int, subtype: str | None, valid: bool, reason: str | None) -> str:
        """What call ``i`` reported (a valid call), or why it was invalid."""
        if valid:
            return DESCRIPTIONS.get(subtype or "", "报警求助").format(p=PLACES[self.place[i]])
        return INVALID_DESCRIPTIONS[reason or ""]


def draw_wording(county: County, rng: np.random.Generator, n: int) -> Wording:
    """The words of ``n`` calls in ``county``."""
    villages = _village_names(county, rng)
    return Wording(
        villages=villages,
        road_no=rng.integers(1, 400, n).tolist(),
        group_no=rng.integers(1, 12, n).tolist(),
        place=rng.integers(0, len(PLACES), n).tolist(),
        road=rng.integers(0, len(ROADS), n).tolist(),
        village=rng.integers(0, VILLAGES_PER_TOWNSHIP, n).tolist(),
    )


def _village_names(county: County, rng: np.random.Generator) -> list[list[str]]:
    """Eight synthetic village names per township."""
    out = []
    for _ in county.townships:
        names: list[str] = []
        while len(names) < VILLAGES_PER_TOWNSHIP:
            a = VILLAGE_A[int(rng.integers(len(VILLAGE_A)))]
            b = VILLAGE_B[int(rng.integers(len(VILLAGE_B)))]
            if a + b not in names:
                names.append(a + b)
        out.append(names)
    return out
