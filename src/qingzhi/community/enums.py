"""Enumerations of community policing with their Chinese labels, and the two lifecycles declared
once: a dispute's (矛盾纠纷: reported → mediating → settled / partially settled / not settled /
referred → followed up → closed) and a household visit's (planned → done, or cancelled)."""

from __future__ import annotations

import logging
from enum import StrEnum

from qingzhi.lifecycle import Lifecycle

log = logging.getLogger(__name__)


class DisputeKind(StrEnum):
    """The type of a dispute."""

    family = "family"
    neighbour = "neighbour"
    land_property = "land_property"
    labour = "labour"
    consumer = "consumer"
    traffic_accident = "traffic_accident"
    other = "other"


class Risk(StrEnum):
    """A dispute's risk of escalating."""

    low = "low"
    medium = "medium"
    high = "high"


class DisputeStatus(StrEnum):
    """Where a dispute stands."""

    reported = "reported"
    mediating = "mediating"
    settled = "settled"
    partially_settled = "partially_settled"
    not_settled = "not_settled"
    referred = "referred"
    followed_up = "followed_up"
    closed = "closed"


# The outcomes of mediation: a follow-up date is set when a dispute reaches one of them, and
# calls within 30 days after it are linked to it.
SETTLEMENTS = frozenset(
    {
        DisputeStatus.settled,
        DisputeStatus.partially_settled,
        DisputeStatus.not_settled,
        DisputeStatus.referred,
    }
)
# Settled in the community (小事不出社区): not referred elsewhere, not left unsettled.
IN_COMMUNITY = frozenset({DisputeStatus.settled, DisputeStatus.partially_settled})

DISPUTE = Lifecycle(
    noun="矛盾纠纷",
    labels={
        DisputeStatus.reported: "已登记",
        DisputeStatus.mediating: "调解中",
        DisputeStatus.settled: "调解成功",
        DisputeStatus.partially_settled: "部分调解",
        DisputeStatus.not_settled: "调解未成",
        DisputeStatus.referred: "已移交",
        DisputeStatus.followed_up: "已回访",
        DisputeStatus.closed: "已结案",
    },
    transitions={
        DisputeStatus.reported: {DisputeStatus.mediating, DisputeStatus.referred},
        DisputeStatus.mediating: SETTLEMENTS,
        DisputeStatus.settled: {DisputeStatus.followed_up},
        DisputeStatus.partially_settled: {DisputeStatus.followed_up, DisputeStatus.mediating},
        DisputeStatus.not_settled: {
            DisputeStatus.followed_up,
            DisputeStatus.mediating,
            DisputeStatus.referred,
        },
        DisputeStatus.referred: {DisputeStatus.followed_up},
        DisputeStatus.followed_up: {DisputeStatus.closed},
        DisputeStatus.closed: (),
    },
)


class VisitStatus(StrEnum):
    """A household visit planned, done or cancelled."""

    planned = "planned"
    done = "done"
    cancelled = "cancelled"


VISIT = Lifecycle(
    noun="走访",
    labels={
        VisitStatus.planned: "计划",
        VisitStatus.done: "已走访",
        VisitStatus.cancelled: "已取消",
    },
    transitions={
        VisitStatus.planned: {VisitStatus.done, VisitStatus.cancelled},
        VisitStatus.done: (),
        VisitStatus.cancelled: (),
    },
)


class VisitPurpose(StrEnum):
    """Why a household or business is visited."""

    prevention = "prevention"
    dispute_screening = "dispute_screening"
    return_visit = "return_visit"
    key_person = "key_person"
    other = "other"


class VisitTarget(StrEnum):
    """A household or a business."""

    household = "household"
    business = "business"


class PartnerKind(StrEnum):
    """The community's people who mediate beside the police."""

    secretary = "secretary"
    grid_worker = "grid_worker"
    lawyer = "lawyer"
    other = "other"


class SessionOutcome(StrEnum):
    """How one mediation session ended."""

    agreed = "agreed"
    partial = "partial"
    failed = "failed"
    adjourned = "adjourned"


LABELS: dict[str, str] = {
    DisputeKind.family: "家庭纠纷",
    DisputeKind.neighbour: "邻里纠纷",
    DisputeKind.land_property: "土地山林/房产纠纷",
    DisputeKind.labour: "劳资纠纷",
    DisputeKind.consumer: "消费纠纷",
    DisputeKind.traffic_accident: "交通事故纠纷",
    DisputeKind.other: "其他纠纷",
    Risk.low: "低",
    Risk.medium: "中",
    Risk.high: "高",
    VisitPurpose.prevention: "宣传防范",
    VisitPurpose.dispute_screening: "矛盾摸排",
    VisitPurpose.return_visit: "回访",
    VisitPurpose.key_person: "重点人员",
    VisitPurpose.other: "其他",
    VisitTarget.household: "住户",
    VisitTarget.business: "商户",
    PartnerKind.secretary: "社区书记",
    PartnerKind.grid_worker: "网格员",
    PartnerKind.lawyer: "律师",
    PartnerKind.other: "其他",
    SessionOutcome.agreed: "达成协议",
    SessionOutcome.partial: "部分达成",
    SessionOutcome.failed: "未达成",
    SessionOutcome.adjourned: "择期再调",
}

# The incident subtypes of category dispute, as dispute kinds (the rest: other).
KIND_OF_SUBTYPE = {
    "family_dispute": DisputeKind.family,
    "neighbour_dispute": DisputeKind.neighbour,
    "labour_dispute": DisputeKind.labour,
    "consumer_dispute": DisputeKind.consumer,
    "land_dispute": DisputeKind.land_property,
    "property_dispute": DisputeKind.land_property,
    "traffic_dispute": DisputeKind.traffic_accident,
}


def label(value: StrEnum) -> str:
    """The Chinese name of any of these values (a lifecycle state included)."""
    if isinstance(value, DisputeStatus):
        return DISPUTE.label(value)
    if isinstance(value, VisitStatus):
        return VISIT.label(value)
    return LABELS[value]


# The community's audit actions in words (the dispute's timeline shows them).
ACTION_LABELS = {
    "incident.create": "110 报警（自动登记纠纷）",
    "incident.import": "110 报警导入（自动登记纠纷）",
    "dispute.create": "登记纠纷",
    "dispute.update": "修改纠纷",
    "dispute.session": "记录调解",
    "dispute.call_linked": "关联再次报警",
    "dispute.read_personal": "查看当事人完整信息",
    **{f"dispute.{s.value}": DISPUTE.label(s) for s in DisputeStatus},
    "visit.done": "登记走访",
    "visit.planned": "计划走访",
    "visit.cancelled": "取消走访",
    "officer.community": "设置社区警务",
    "community_post.create": "新建社区警务室",
    "community_partner.create": "新增协作人员",
}
