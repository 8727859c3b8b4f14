"""The demo's people: synthetic officers with police numbers, names, teams and duty status.

A ``Roster`` numbers people in the order they are added (sworn ``031001``…, auxiliaries
``F00001``…) and draws each one's name and duty status from the seeded generator it holds; teams
are shared out by ``TEAM_SHARE``. Names are common Chinese surnames (Chongqing-weighted) and
given-name characters; all are made up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from qingzhi.demo.draws import apportion, pick
from qingzhi.org.enums import DutyStatus, OfficerKind, Team

log = logging.getLogger(__name__)

TEAM_SHARE = {Team.case: 0.42, Team.community: 0.40, Team.command: 0.18}
DUTY_SHARE = {
    DutyStatus.on_duty: 0.46,
    DutyStatus.off_duty: 0.44,
    DutyStatus.leave: 0.06,
    DutyStatus.training: 0.04,
}
SWORN_NUMBER_BASE = 31000
SURNAMES = (
    "陈李王张刘杨黄周吴谭何罗冉向邓唐蒋曾彭秦余胡徐廖游熊谢袁龙文程傅汪钟任"
    "付马郑田孙杜夏魏蔡朱肖梁冯宋韩颜雷"
)
GIVEN = (
    "伟强军勇明华建国平志刚峰磊涛斌超浩杰鹏飞宇洋辉亮林波春兰芳丽娟敏静燕"
    "霞玲婷雪梅红英秀萍丹琳佳欣怡思雨晨阳俊凯旭东海江川渝"
)


@dataclass
class Person:
    """One officer of the demo: police number, name, kind, unit code, team, zone, duty."""

    number: str
    name: str
    kind: OfficerKind
    unit: str
    team: Team | None
    zone: str | None = None
    duty: DutyStatus = DutyStatus.off_duty


@dataclass
class Roster:
    """The people in the order they were added, each with a drawn name and duty status."""

    rng: np.random.Generator
    people: list[Person] = field(default_factory=list)
    _sworn: int = 0
    _auxiliary: int = 0

    def add(
        self, unit: str, kind: OfficerKind, team: Team | None, zone: str | None = None
    ) -> Person:
        """A new person of ``kind`` in ``unit`` (numbered next of their kind)."""
        if kind == OfficerKind.sworn:
            self._sworn += 1
            number = f"{SWORN_NUMBER_BASE + self._sworn:06d}"
        else:
            self._auxiliary += 1
            number = f"F{self._auxiliary:05d}"
        p = Person(number, self._name(), kind, unit, team, zone, self._duty())
        self.people.append(p)
        return p

    def add_many(self, unit: str, kind: OfficerKind, n: int) -> None:
        """``n`` new people of ``kind`` in ``unit`` in no team (headquarters and squads)."""
        for _ in range(n):
            self.add(unit, kind, None)

    def _name(self) -> str:
        surname = SURNAMES[int(self.rng.integers(len(SURNAMES)))]
        n_given = 1 if self.rng.random() < 0.3 else 2
        return surname + "".join(GIVEN[int(self.rng.integers(len(GIVEN)))] for _ in range(n_given))

    def _duty(self) -> DutyStatus:
        keys = list(DUTY_SHARE)
        return keys[int(pick(self.rng, [DUTY_SHARE[k] for k in keys]))]


def teams(n: int) -> list[Team]:
    """``n`` team slots shared by ``TEAM_SHARE`` (case, then community, then command)."""
    counts = apportion(list(TEAM_SHARE.values()), n)
    return [t for t, c in zip(TEAM_SHARE, counts, strict=True) for _ in range(int(c))]
