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

PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.admin: frozenset(Perm),
    Role.commander: frozenset(_COMMAND),
    Role.dispatcher: frozenset(
        _READ | {Perm.incident_write, Perm.incident_dispatch, Perm.personal_read}
    ),
    Role.analyst: frozenset(_READ | {Perm.brief_make}),  # briefs: analysts make them
    Role.station_chief: frozenset(_COMMAND),
    Role.officer: frozenset(_READ | {Perm.incident_write, Perm.personal_read}),
    Role.auxiliary: frozenset(
        {Perm.org_read, Perm.officer_read, Perm.incident_read, Perm.token_own}
    ),
    Role.viewer: frozenset({Perm.org_read, Perm.incident_read, Perm.brief_read}),
}


def allowed(role: Role, perm: Perm) -> bool:
    """Whether ``role`` holds ``perm``."""
    return perm in PERMISSIONS[role]
