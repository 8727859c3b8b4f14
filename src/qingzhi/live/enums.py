"""Officer live status (实时状态) and the kinds of live events."""

from __future__ import annotations

from enum import StrEnum


class LiveStatus(StrEnum):
    """What an officer is doing now."""

    available = "available"
    dispatched = "dispatched"
    on_scene = "on_scene"
    off_duty = "off_duty"

    @property
    def label(self) -> str:
        """Chinese name."""
        return LIVE_STATUS_LABELS[self]


LIVE_STATUS_LABELS = {
    LiveStatus.available: "空闲",
    LiveStatus.dispatched: "出警中",
    LiveStatus.on_scene: "处警中",
    LiveStatus.off_duty: "不在岗",
}


class EventKind(StrEnum):
    """The kinds of events on the bus."""

    incident = "incident"  # an incident created or changed: payload is its map feature
    incidents_bulk = "incidents.bulk"  # many incidents at once: clients reload the layer
    positions = "officer.positions"  # a batch of positions of one unit's officers
    officer = "officer.status"  # an officer's live status changed
