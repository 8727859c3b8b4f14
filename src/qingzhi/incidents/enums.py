"""Incident categories, subtypes, priorities and invalid-call reasons, with Chinese labels."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Category(StrEnum):
    """The five categories of a 110 incident."""

    criminal = "criminal"
    public_order = "public_order"
    traffic = "traffic"
    dispute = "dispute"
    assistance = "assistance"

    @property
    def label(self) -> str:
        """Chinese name."""
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    Category.criminal: "刑事",
    Category.public_order: "治安",
    Category.traffic: "交通",
    Category.dispute: "纠纷",
    Category.assistance: "求助",
}

# Subtypes per category (code -> Chinese label); the codes are what clients send.
SUBTYPES: dict[Category, dict[str, str]] = {
    Category.criminal: {
        "theft": "盗窃",
        "burglary": "入室盗窃",
        "vehicle_theft": "盗窃车辆",
        "theft_from_vehicle": "车内盗窃",
        "pickpocketing": "扒窃",
        "fraud": "诈骗",
        "telecom_fraud": "电信网络诈骗",
        "robbery": "抢劫",
        "snatching": "抢夺",
        "assault": "故意伤害",
        "homicide": "故意杀人",
        "kidnapping": "绑架",
        "rape": "强奸",
        "drugs": "毒品犯罪",
        "arson": "放火",
        "other_criminal": "其他刑事",
    },
    Category.public_order: {
        "fight": "打架斗殴",
        "gambling": "赌博",
        "prostitution": "卖淫嫖娼",
        "drug_use": "吸毒",
        "noise": "噪音扰民",
        "disturbance": "寻衅滋事",
        "property_damage": "故意损毁财物",
        "minor_theft": "小额盗窃",
        "trespass": "非法侵入住宅",
        "threat": "威胁恐吓",
        "mass_incident": "群体性事件",
        "other_public_order": "其他治安",
    },
    Category.traffic: {
        "accident_injury": "交通事故（伤人）",
        "accident_property": "交通事故（财损）",
        "congestion": "交通拥堵",
        "drunk_driving": "酒驾醉驾",
        "hit_and_run": "交通肇事逃逸",
        "road_hazard": "道路障碍",
        "illegal_parking": "违法停车",
        "other_traffic": "其他交通",
    },
    Category.dispute: {
        "family_dispute": "家庭纠纷",
        "neighbour_dispute": "邻里纠纷",
        "labour_dispute": "劳资纠纷",
        "consumer_dispute": "消费纠纷",
        "land_dispute": "土地山林纠纷",
        "debt_dispute": "债务纠纷",
        "traffic_dispute": "交通纠纷",
        "other_dispute": "其他纠纷",
    },
    Category.assistance: {
        "missing_person": "人员走失",
        "missing_child": "儿童走失",
        "missing_elderly": "老人走失",
        "mental_illness": "精神障碍人员",
        "suicide_attempt": "轻生",
        "drowning": "溺水",
        "fall": "坠落",
        "fire": "火灾",
        "utility_hazard": "水电气险情",
        "locked_out": "开锁求助",
        "lost_property": "财物遗失",
        "medical": "急病求助",
        "animal": "动物险情",
        "other_assistance": "其他求助",
    },
}


def subtype_label(category: Category, subtype: str | None) -> str:
    """Chinese name of a subtype (the code itself when unknown)."""
    if not subtype:
        return ""
    return SUBTYPES[category].get(subtype, subtype)


class Priority(IntEnum):
    """Urgency: 1 red (特急), 2 orange (紧急), 3 yellow (一般), 4 blue (咨询)."""

    red = 1
    orange = 2
    yellow = 3
    blue = 4

    @property
    def label(self) -> str:
        """Chinese name."""
        return {1: "特急", 2: "紧急", 3: "一般", 4: "咨询"}[self.value]


class InvalidReason(StrEnum):
    """Why a call is not a valid incident (无效警情)."""

    hang_up = "hang_up"
    prank = "prank"
    malicious = "malicious"
    duplicate = "duplicate"
    test = "test"
    non_police = "non_police"
    enquiry = "enquiry"

    @property
    def label(self) -> str:
        """Chinese name."""
        return INVALID_LABELS[self]


INVALID_LABELS = {
    InvalidReason.hang_up: "挂断/无声",
    InvalidReason.prank: "骚扰/恶作剧",
    InvalidReason.malicious: "恶意报警",
    InvalidReason.duplicate: "重复报警",
    InvalidReason.test: "测试",
    InvalidReason.non_police: "非警务求助（已移交）",
    InvalidReason.enquiry: "咨询",
}


class RoutedBy(StrEnum):
    """How the handling unit was found."""

    jurisdiction = "jurisdiction"  # the point lies in a station's jurisdiction
    nearest = "nearest"  # outside every jurisdiction: nearest station, flagged for review
    address = "address"  # no coordinates: matched on the address text
    queue = "queue"  # nothing matched: queued for the command centre
    manual = "manual"  # transferred by a person
