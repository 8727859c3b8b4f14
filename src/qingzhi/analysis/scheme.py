"""Scoring schemes (考核方案): TOML text → a validated, versioned ``Scheme``.

A scheme picks indicators from ``qingzhi.analysis.indicators``, their weights (non-negative,
summing to 1 within 1e-9), their direction (default: the catalogue's) and how each is normalised:

* ``normalise = "target"`` with ``target = X`` (X > 0): the value against a fixed target;
* ``normalise = "group"``: the value against the mean of the station's group (urban / rural /
  central stations: whatever group the service gives each station).

The normalised value is ``1 + s·(v − ref) / ref`` with ``s = +1`` when higher is better and ``−1``
when lower is better: 1.0 on the reference, 1.1 ten per cent better. It is linear in the value,
so a station's score is the percentage by which it beats its references, weighted; the weighted
sum × 100 is the score (100 = on reference everywhere).

Example (the default, ``DEFAULT_SCHEME_TOML``, weighs prevention most)::

    name = "主防导向派出所绩效考核"
    [indicators.prevention_rate]
    weight = 0.30
    normalise = "group"
    [indicators.dispatch_3min]
    weight = 0.20
    normalise = "target"
    target = 0.95

Every error raises ``ValidationFailed`` naming its field (``indicators.<id>.weight``, …), all
errors at once in ``details``. The **version** is the SHA-256 of the scheme's canonical JSON
(comments and layout do not change it; any weight, direction, normalisation or target does), so
a stored score names exactly the scheme that made it and can be recomputed from it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import tomllib
from dataclasses import dataclass
from typing import Any

from qingzhi.analysis.indicators import INDICATOR_BY_ID, Direction
from qingzhi.errors import ValidationFailed

log = logging.getLogger(__name__)

WEIGHT_TOLERANCE = 1e-9
NORMALISATIONS = ("target", "group")
DIRECTIONS = ("higher", "lower")
_TOP_KEYS = {"name", "description", "indicators"}
_ITEM_KEYS = {"weight", "direction", "normalise", "target"}


@dataclass(frozen=True)
class SchemeItem:
    """One indicator in a scheme: its weight, direction and normalisation."""

    indicator: str
    weight: float
    direction: Direction
    normalise: str  # "target" | "group"
    target: float | None = None


@dataclass(frozen=True)
class Scheme:
    """A validated scoring scheme; ``version`` identifies its content."""

    name: str
    description: str
    items: tuple[SchemeItem, ...]
    digest: str  # sha256 hex of the canonical JSON

    @property
    def version(self) -> str:
        """Short content version (the digest's first 12 hex digits)."""
        return self.digest[:12]

    def item(self, indicator_id: str) -> SchemeItem:
        """The item for an indicator (KeyError when the scheme does not use it)."""
        for it in self.items:
            if it.indicator == indicator_id:
                return it
        raise KeyError(indicator_id)

    def canonical(self) -> dict[str, Any]:
        """The canonical content (what the digest is computed from)."""
        return _canonical(self.name, self.description, self.items)


def _canonical(name: str, description: str, items: tuple[SchemeItem, ...]) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "indicators": {
            it.indicator: {
                "weight": it.weight,
                "direction": it.direction,
                "normalise": it.normalise,
                "target": it.target,
            }
            for it in sorted(items, key=lambda i: i.indicator)
        },
    }


def _digest(content: dict[str, Any]) -> str:
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def parse_scheme(text: str) -> Scheme:
    """Parse and validate a scheme's TOML text; ``ValidationFailed`` names every bad field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationFailed.field("scheme", f"TOML 格式错误：{exc}") from exc
    return scheme_from_dict(data)


def scheme_from_dict(data: dict[str, Any]) -> Scheme:
    """Validate a parsed scheme (the TOML's dictionary) into a ``Scheme``."""
    errors: list[tuple[str, str]] = []
    for key in sorted(set(data) - _TOP_KEYS):
        errors.append((key, "未知的配置项"))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(("name", "须填写方案名称"))
        name = ""
    description = data.get("description", "")
    if not isinstance(description, str):
        errors.append(("description", "须为文本"))
        description = ""
    raw_items = data.get("indicators")
    items: list[SchemeItem] = []
    if not isinstance(raw_items, dict) or not raw_items:
        errors.append(("indicators", "须至少包含一个指标（[indicators.<指标代码>]）"))
        raw_items = {}
    for ind_id, raw in raw_items.items():
        item = _item(str(ind_id), raw, errors)
        if item is not None:
            items.append(item)
    if items and len(items) == len(raw_items):
        total = math.fsum(it.weight for it in items)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            errors.append(("indicators", f"各指标权重之和须为 1（当前为 {total:.12g}）"))
        elif not any(it.weight > 0 for it in items):
            errors.append(("indicators", "至少一个指标的权重须大于 0"))
    if errors:
        field, message = errors[0]
        raise ValidationFailed(
            f"{field}：{message}",
            details=[{"field": f, "message": m} for f, m in errors],
        )
    ordered = tuple(sorted(items, key=lambda i: i.indicator))
    digest = _digest(_canonical(name.strip(), description, ordered))
    log.debug("scheme %s parsed: %d indicators", digest[:12], len(ordered))
    return Scheme(name.strip(), description, ordered, digest)


def _item(ind_id: str, raw: Any, errors: list[tuple[str, str]]) -> SchemeItem | None:
    path = f"indicators.{ind_id}"
    ind = INDICATOR_BY_ID.get(ind_id)
    if ind is None:
        known = "、".join(INDICATOR_BY_ID)
        errors.append((path, f"未知指标（可用：{known}）"))
        return None
    if not isinstance(raw, dict):
        errors.append((path, "须为表（weight、normalise 等）"))
        return None
    ok = True
    for key in sorted(set(raw) - _ITEM_KEYS):
        errors.append((f"{path}.{key}", "未知的配置项"))
        ok = False
    weight = _number(raw.get("weight"))
    if weight is None:
        errors.append((f"{path}.weight", "须填写权重（数字）"))
        ok = False
    elif weight < 0:
        errors.append((f"{path}.weight", "权重不能为负数"))
        ok = False
    elif weight > 0 and not ind.available:
        errors.append((f"{path}.weight", f"该指标暂无数据（{ind.data_note}），权重须为 0"))
        ok = False
    direction = raw.get("direction", ind.direction)
    if direction not in DIRECTIONS:
        errors.append((f"{path}.direction", '须为 "higher"（越高越好）或 "lower"（越低越好）'))
        ok = False
    normalise = raw.get("normalise")
    target: float | None = None
    if normalise not in NORMALISATIONS:
        errors.append(
            (f"{path}.normalise", '须为 "target"（对照目标值）或 "group"（对照同组均值）')
        )
        ok = False
    elif normalise == "target":
        target = _number(raw.get("target"))
        if target is None or target <= 0:
            errors.append((f"{path}.target", "对照目标值时须填写大于 0 的目标值"))
            ok = False
    elif "target" in raw:
        errors.append((f"{path}.target", '仅在 normalise = "target" 时填写'))
        ok = False
    if not ok or weight is None:
        return None
    return SchemeItem(ind_id, weight, direction, str(normalise), target)


DEFAULT_SCHEME_TOML = """\
# 主防导向派出所绩效考核（默认方案）：主防类指标权重最高（合计 0.60）。
# 案件类指标列出但权重为 0（不以办案数量论主防）；专项行动暂无数据，权重为 0。
# 某考核期没有某类记录（如尚无纠纷、走访）时，该指标不计权重，其余权重按比例放大。
name = "主防导向派出所绩效考核"
description = "以防为主：看警情是否减少、是否反复，而非办了多少案件"

[indicators.prevention_rate]
weight = 0.25
normalise = "group"

[indicators.prevention_change]
weight = 0.10
normalise = "group"

[indicators.repeat_share]
weight = 0.10
normalise = "group"

[indicators.disputes_settled]
weight = 0.10
normalise = "group"

[indicators.visit_coverage]
weight = 0.05
normalise = "group"

[indicators.operation_effect]
weight = 0
normalise = "group"

[indicators.dispatch_3min]
weight = 0.15
normalise = "target"
target = 0.95

[indicators.arrival_5min_town]
weight = 0.15
normalise = "target"
target = 0.90

[indicators.mediation_30min]
weight = 0.05
normalise = "target"
target = 0.8

[indicators.clearance]
weight = 0
normalise = "group"

[indicators.fast_clearance]
weight = 0
normalise = "group"

[indicators.supervision_on_time]
weight = 0.05
normalise = "target"
target = 0.95
"""


def default_scheme() -> Scheme:
    """The default prevention-oriented scheme (``DEFAULT_SCHEME_TOML``)."""
    return parse_scheme(DEFAULT_SCHEME_TOML)
