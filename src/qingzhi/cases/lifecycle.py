"""The case lifecycle, one table: open (侦查中) → cleared (已破案) or suspended (中止侦查);
suspended → open (恢复侦查) or cleared. Also the case categories and team roles."""

from __future__ import annotations

from enum import StrEnum

from qingzhi.lifecycle import Lifecycle


class CaseStatus(StrEnum):
    """Where a case is."""

    open = "open"
    cleared = "cleared"
    suspended = "suspended"

    @property
    def label(self) -> str:
        """Chinese name."""
        return CASE.label(self)


CASE = Lifecycle(
    noun="案件",
    labels={
        CaseStatus.open: "侦查中",
        CaseStatus.cleared: "已破案",
        CaseStatus.suspended: "中止侦查",
    },
    transitions={
        CaseStatus.open: {CaseStatus.cleared, CaseStatus.suspended},
        CaseStatus.suspended: {CaseStatus.open, CaseStatus.cleared},
        CaseStatus.cleared: set(),
    },
)


class Role(StrEnum):
    """A team member's role in a rapid case (快侦快办)."""

    lead = "lead"
    member = "member"

    @property
    def label(self) -> str:
        """Chinese name."""
        return "主办" if self is Role.lead else "协办"


# Case categories (the groups the rates are given by) and the incident subtypes in each.
CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "theft": (
        "盗窃",
        ("theft", "burglary", "vehicle_theft", "theft_from_vehicle", "pickpocketing"),
    ),
    "fraud": ("诈骗", ("fraud", "telecom_fraud")),
    "violent": (
        "侵犯人身与两抢",
        ("robbery", "snatching", "assault", "homicide", "kidnapping", "rape"),
    ),
    "drugs": ("毒品", ("drugs",)),
    "other": ("其他刑事", ("arson", "other_criminal")),
}
CATEGORY_LABELS = {code: label for code, (label, _) in CATEGORIES.items()}
_OF_SUBTYPE = {sub: code for code, (_, subs) in CATEGORIES.items() for sub in subs}


def category_of(subtype: str | None) -> str:
    """The case category of an incident subtype (``other`` when unknown)."""
    return _OF_SUBTYPE.get(subtype or "", "other")
