"""Imports every domain's ORM models so that ``Base.metadata`` is complete (for Alembic)."""

from qingzhi.audit.models import AuditHead, AuditRecord
from qingzhi.auth.models import ApiToken, LoginThrottle, User, WebSession
from qingzhi.cases.models import Case, CaseIncident, CaseMember, CaseNote  # cases (快侦快办)

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

# duty rosters (w15-demo)
from qingzhi.duty.models import DutyRoster, DutyShift
from qingzhi.incidents.models import Incident, IncidentAssignment, IncidentEvent
from qingzhi.jobs.models import Job
from qingzhi.kpi.models import KpiScheme, Reform, ReformUnit
from qingzhi.live.models import LiveEvent, OfficerLive
from qingzhi.org.models import Bureau, Officer, Unit, Zone

# planning (plans domain)
from qingzhi.plans.models import Plan
from qingzhi.reports.models import Brief, BriefRun  # briefs
from qingzhi.store.base import Base
from qingzhi.tasks.models import (  # tasks (督办)
    Task,
    TaskAttachment,
    TaskOperation,
    TaskReport,
    TaskUnit,
)

__all__ = [
    "ApiToken",
    "AuditHead",
    "AuditRecord",
    "Base",
    "Brief",
    "BriefRun",
    "Bureau",
    "Case",
    "CaseIncident",
    "CaseMember",
    "CaseNote",
    "CommunityOfficer",
    "Dispute",
    "DisputeCall",
    "DisputeParty",
    "DutyRoster",
    "DutyShift",
    "Incident",
    "IncidentAssignment",
    "IncidentEvent",
    "Job",
    "KpiScheme",
    "LiveEvent",
    "LoginThrottle",
    "MediationSession",
    "Officer",
    "OfficerLive",
    "Partner",
    "Plan",
    "Post",
    "Reform",
    "ReformUnit",
    "Task",
    "TaskAttachment",
    "TaskOperation",
    "TaskReport",
    "TaskUnit",
    "Unit",
    "User",
    "Visit",
    "WebSession",
    "Zone",
]
