"""Platform role bindings and the admin audit log, with the authz rule: only platform-admins administer roles."""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

PLATFORM_ROLES = ("platform-admin", "platform-operator", "platform-viewer")
ADMIN_ROLE = "platform-admin"


class Unauthenticated(Exception):
    """The caller is unknown."""


class Forbidden(Exception):
    """The caller is known but may not do this."""


class Conflict(Exception):
    """The subject already holds the role."""


class NotFound(Exception):
    """No such binding."""


@dataclass(frozen=True)
class RoleBinding:
    id: str
    subject: str
    role: str
    created_by: str


@dataclass(frozen=True)
class AuditEvent:
    id: int
    actor: str
    action: str
    subject: str
    role: str
    at: str


class RoleStore:
    """In-memory stand-in for the platform_role_bindings and admin_audit_log tables."""

    def __init__(self, seed: dict[str, str]) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._bindings: dict[str, RoleBinding] = {}
        self._audit: list[AuditEvent] = []
        for subject, role in seed.items():
            binding = RoleBinding(f"rb-{next(self._ids)}", subject, role, "seed")
            self._bindings[binding.id] = binding

    def role_of(self, user: str | None) -> str:
        if not user:
            raise Unauthenticated("X-Platform-User is required")
        roles = {b.role for b in self._bindings.values() if b.subject == user}
        if not roles:
            raise Unauthenticated(f"unknown user {user!r}")
        return next(role for role in PLATFORM_ROLES if role in roles)

    def _require_admin(self, user: str | None) -> None:
        if self.role_of(user) != ADMIN_ROLE:
            raise Forbidden(f"{user} is not a {ADMIN_ROLE}")

    def list_bindings(self, user: str | None) -> list[dict]:
        self._require_admin(user)
        with self._lock:
            return [asdict(b) for b in self._bindings.values()]

    def bind(self, user: str | None, subject: str, role: str) -> dict:
        self._require_admin(user)
        if not subject or role not in PLATFORM_ROLES:
            raise ValueError(f"subject is required and role must be one of {', '.join(PLATFORM_ROLES)}")
        with self._lock:
            if any(b.subject == subject and b.role == role for b in self._bindings.values()):
                raise Conflict(f"{subject} already holds {role}")
            binding = RoleBinding(f"rb-{next(self._ids)}", subject, role, str(user))
            self._bindings[binding.id] = binding
            self._record(str(user), "role.bind", binding)
        return asdict(binding)

    def revoke(self, user: str | None, binding_id: str) -> None:
        self._require_admin(user)
        with self._lock:
            binding = self._bindings.pop(binding_id, None)
            if binding is None:
                raise NotFound(binding_id)
            self._record(str(user), "role.revoke", binding)

    def audit_log(self, user: str | None) -> list[dict]:
        self._require_admin(user)
        with self._lock:
            return [asdict(event) for event in reversed(self._audit)]

    def _record(self, actor: str, action: str, binding: RoleBinding) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        self._audit.append(AuditEvent(len(self._audit) + 1, actor, action, binding.subject, binding.role, at))


DEFAULT_SEED = {"alice": "platform-admin", "oscar": "platform-operator", "victor": "platform-viewer"}
