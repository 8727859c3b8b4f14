"""Imports every domain's ORM models so that ``Base.metadata`` is complete (for Alembic)."""

from qingzhi.audit.models import AuditHead, AuditRecord
from qingzhi.auth.models import ApiToken, LoginThrottle, User, WebSession

# duty rosters (w15-demo)
from qingzhi.duty.models import DutyRoster, DutyShift
from qingzhi.incidents.models import Incident, IncidentAssignment, IncidentEvent
from qingzhi.jobs.models import Job
from qingzhi.live.models import LiveEvent, OfficerLive
from qingzhi.org.models import Bureau, Officer, Unit, Zone
from qingzhi.store.base import Base

__all__ = [
    "ApiToken",
    "AuditHead",
    "AuditRecord",
    "Base",
    "Bureau",
    "DutyRoster",
    "DutyShift",
    "Incident",
    "IncidentAssignment",
    "IncidentEvent",
    "Job",
    "LiveEvent",
    "LoginThrottle",
    "Officer",
    "OfficerLive",
    "Unit",
    "User",
    "WebSession",
    "Zone",
]
