"""Enumerations of the organisation domain, with their Chinese labels."""

from __future__ import annotations

from enum import StrEnum


class UnitKind(StrEnum):
    """What a unit is."""

    urban_station = "urban_station"
    rural_station = "rural_station"
    central_station = "central_station"
    traffic_squad = "traffic_squad"
    criminal_investigation = "criminal_investigation"
    command_centre = "command_centre"
    patrol = "patrol"
    other = "other"

    @property
    def label(self) -> str:
        """Chinese name of the kind."""
        return UNIT_KIND_LABELS[self]

    @property
    def is_station(self) -> bool:
        """True for a territorial police station (派出所) that owns a jurisdiction."""
        return self in (UnitKind.urban_station, UnitKind.rural_station)


UNIT_KIND_LABELS = {
    UnitKind.urban_station: "城区派出所",
    UnitKind.rural_station: "农村派出所",
    UnitKind.central_station: "中心派出所",
    UnitKind.traffic_squad: "交巡警中队",
    UnitKind.criminal_investigation: "刑侦大队",
    UnitKind.command_centre: "情指中心",
    UnitKind.patrol: "巡特警",
    UnitKind.other: "其他单位",
}


class OfficerKind(StrEnum):
    """Sworn officer (民警) or auxiliary (辅警)."""

    sworn = "sworn"
    auxiliary = "auxiliary"


class Team(StrEnum):
    """A station's parts (两队一室): case team, community team, command room."""

    case = "case"
    community = "community"
    command = "command"


class DutyStatus(StrEnum):
    """Whether an officer is on the roster now."""

    on_duty = "on_duty"
    off_duty = "off_duty"
    leave = "leave"
    training = "training"


LABELS: dict[str, str] = {
    OfficerKind.sworn: "民警",
    OfficerKind.auxiliary: "辅警",
    Team.case: "办案队",
    Team.community: "社区队",
    Team.command: "综合指挥室",
    DutyStatus.on_duty: "在岗",
    DutyStatus.off_duty: "休息",
    DutyStatus.leave: "请假",
    DutyStatus.training: "培训",
}
