"""Who may use the API: users and roles, page sessions, programs' tokens, the audit log."""
from acd.auth.audit import AuditLog
from acd.auth.roles import ROLES, Identity
from acd.auth.store import AuthStore, User, UserError

__all__ = ["ROLES", "AuditLog", "AuthStore", "Identity", "User", "UserError"]
