"""Who is acting: the principal every service call carries (for permissions, scope and audit)."""

from __future__ import annotations

from dataclasses import dataclass, field

from qingzhi.auth.permissions import Perm, Role, allowed
from qingzhi.auth.scope import Scope
from qingzhi.errors import PermissionDenied


@dataclass(frozen=True)
class Actor:
    """A user (or the system) acting in one request or command."""

    user_id: int | None
    name: str
    role: Role
    scope: Scope
    request_id: str | None = None
    unit_id: int | None = None
    via: str = field(default="system")

    def can(self, perm: Perm) -> bool:
        """Whether this actor's role holds ``perm``."""
        return allowed(self.role, perm)

    def require(self, perm: Perm) -> None:
        """Raise PermissionDenied unless this actor's role holds ``perm``."""
        if not self.can(perm):
            raise PermissionDenied(details={"permission": str(perm), "role": str(self.role)})


def system_actor(name: str = "system", request_id: str | None = None) -> Actor:
    """The actor for CLI commands and the loader: bureau-wide admin."""
    return Actor(
        user_id=None,
        name=name,
        role=Role.admin,
        scope=Scope.bureau(),
        request_id=request_id,
        via="cli",
    )
