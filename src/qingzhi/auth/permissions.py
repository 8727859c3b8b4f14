"""Roles and permissions: the one table that says who may do what.

A permission is ``<family>.<verb>``; every route declares the permission it needs, and the
permission-matrix test walks every role against every endpoint family.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role."""

    admin = "admin"
    commander = "commander"
    dispatcher = "dispatcher"
    analyst = "analyst"
    station_chief = "station_chief"
    officer = "officer"
    auxiliary = "auxiliary"
    viewer = "viewer"

    @property
    def label(self) -> str:
        """Chinese name of the role."""
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.admin: "系统管理员",
    Role.commander: "指挥长",
    Role.dispatcher: "接处警调度员",
    Role.analyst: "研判分析员",
    Role.station_chief: "所长",
    Role.officer: "民警",
    Role.auxiliary: "辅警",
    Role.viewer: "只读用户",
}


class Perm(StrEnum):
    """Every permission the code checks."""

    org_read = "org.read"
    org_write = "org.write"
    officer_read = "officer.read"
    officer_write = "officer.write"
    user_manage = "user.manage"
    token_own = "token.own"  # noqa: S105 - a permission name
    audit_read = "audit.read"
    audit_verify = "audit.verify"
    incident_read = "incident.read"
    incident_write = "incident.write"
    incident_dispatch = "incident.dispatch"
    personal_read = "personal.read"
    analysis_read = "analysis.read"
    # evaluation (kpi): scores of one's scope; the bureau's ranking; reform impact; schemes
    kpi_read = "kpi.read"
    kpi_rank = "kpi.rank"
    kpi_impact = "kpi.impact"
    kpi_manage = "kpi.manage"
    # planning (plans domain): read saved plans, run new ones, apply or reject one (admin)
    plan_read = "plan.read"
    plan_run = "plan.run"
    plan_apply = "plan.apply"
    # --- tasks and cases (督办, 快侦快办) ---
    task_read = "task.read"
    task_issue = "task.issue"  # issue, cancel, verify or return (within the issuer's authority)
    task_report = "task.report"  # accept and report as the owner
    case_read = "case.read"
    case_write = "case.write"  # open a case, build its team, notes and outcome
    # community (两队一室): read visits, disputes and posts; log visits, mediate; set up
    # posts, partners and officers' community settings
    community_read = "community.read"
    community_write = "community.write"
    community_manage = "community.manage"
    # briefs (reports domain)
    brief_read = "brief.read"
    brief_make = "brief.make"


_READ = {
    Perm.org_read,
    Perm.officer_read,
    Perm.incident_read,
    Perm.analysis_read,
    Perm.token_own,
    Perm.brief_read,  # briefs
}

# What those who command people and incidents (the bureau's commander, a station chief) may do.
_COMMAND = _READ | {
    Perm.officer_write,
    Perm.audit_read,
    Perm.incident_write,
    Perm.incident_dispatch,
    Perm.personal_read,
    Perm.brief_make,  # briefs
}

# Who evaluates: the bureau's analysts and commanders see the ranking and the reforms' impact,
# and keep the schemes and reforms; a station chief sees the station's own scores.
_EVALUATE = {Perm.kpi_read, Perm.kpi_rank, Perm.kpi_impact, Perm.kpi_manage}
# planning (plans domain): the bureau's commanders and analysts run plans, a station chief reads
# those placed in their scope; only an admin applies (Role.admin holds every permission).
_PLAN_RUN = {Perm.plan_read, Perm.plan_run}
# tasks and cases (督办, 快侦快办): the command centre (dispatchers) and commanders issue to any
# unit, a station chief to the units in the station's scope (qingzhi.tasks.service.check_authority);
# owners accept and report.
_TASKS_READ = {Perm.task_read, Perm.case_read}
_TASKS_COMMAND = _TASKS_READ | {Perm.task_issue, Perm.task_report, Perm.case_write}
# community (两队一室): who reads, who works the zones, who sets them up.
_COMMUNITY_READ = {Perm.community_read}
_COMMUNITY_WORK = {Perm.community_read, Perm.community_write}
_COMMUNITY_ALL = _COMMUNITY_WORK | {Perm.community_manage}

PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.admin: frozenset(Perm),
    Role.commander: frozenset(_COMMAND | _EVALUATE | _PLAN_RUN | _TASKS_COMMAND | _COMMUNITY_ALL),
    Role.dispatcher: frozenset(
        _READ
        | {Perm.incident_write, Perm.incident_dispatch, Perm.personal_read}
        | _TASKS_READ
        | {Perm.task_issue}
        | _COMMUNITY_READ
    ),
    Role.analyst: frozenset(
        _READ | {Perm.brief_make} | _EVALUATE | _PLAN_RUN | _TASKS_READ | _COMMUNITY_READ
    ),
    Role.station_chief: frozenset(
        _COMMAND | _TASKS_COMMAND | _COMMUNITY_ALL | {Perm.kpi_read, Perm.plan_read}
    ),
    Role.officer: frozenset(
        _READ
        | {Perm.incident_write, Perm.personal_read}
        | _TASKS_READ
        | {Perm.task_report, Perm.case_write}
        | _COMMUNITY_WORK
    ),
    Role.auxiliary: frozenset(
        {Perm.org_read, Perm.officer_read, Perm.incident_read, Perm.token_own, Perm.task_read}
        | _COMMUNITY_WORK
    ),
    Role.viewer: frozenset({Perm.org_read, Perm.incident_read, Perm.brief_read} | _COMMUNITY_READ),
}


def allowed(role: Role, perm: Perm) -> bool:
    """Whether ``role`` holds ``perm``."""
    return perm in PERMISSIONS[role]
