"""Imports every domain's ORM models so that ``Base.metadata`` is complete (for Alembic)."""

from qingzhi.audit.models import AuditHead, AuditRecord
from qingzhi.auth.models import ApiToken, LoginThrottle, User, WebSession
from qingzhi.incidents.models import Incident, IncidentAssignment, IncidentEvent
from qingzhi.jobs.models import Job
from qingzhi.kpi.models import KpiScheme, Reform, ReformUnit
from qingzhi.live.models import LiveEvent, OfficerLive
from qingzhi.org.models import Bureau, Officer, Unit, Zone

# planning (plans domain)
from qingzhi.plans.models import Plan
from qingzhi.store.base import Base

__all__ = [
    "ApiToken",
    "AuditHead",
    "AuditRecord",
    "Base",
    "Bureau",
    "Incident",
    "IncidentAssignment",
    "IncidentEvent",
    "Job",
    "KpiScheme",
    "LiveEvent",
    "LoginThrottle",
    "Officer",
    "OfficerLive",
    "Plan",
    "Reform",
    "ReformUnit",
    "Unit",
    "User",
    "WebSession",
    "Zone",
]
