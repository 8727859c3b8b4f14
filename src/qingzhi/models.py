"""Imports every domain's ORM models so that ``Base.metadata`` is complete (for Alembic)."""

from qingzhi.audit.models import AuditHead, AuditRecord
from qingzhi.auth.models import ApiToken, LoginThrottle, User, WebSession

# community (两队一室)
from qingzhi.community.models import (
    CommunityOfficer,
    Dispute,
    DisputeCall,
    DisputeParty,
    MediationSession,
    Partner,
    Post,
    Visit,
)
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
    "CommunityOfficer",
    "Dispute",
    "DisputeCall",
    "DisputeParty",
    "Incident",
    "IncidentAssignment",
    "IncidentEvent",
    "Job",
    "LiveEvent",
    "LoginThrottle",
    "MediationSession",
    "Officer",
    "OfficerLive",
    "Partner",
    "Post",
    "Unit",
    "User",
    "Visit",
    "WebSession",
    "Zone",
]
