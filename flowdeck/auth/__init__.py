"""Sharing flowdeck on a LAN safely: credentials, login sessions, and the guard in front of every request."""

from flowdeck.auth.access import Authenticator, LoginLimiter
from flowdeck.auth.bodies import BodyLimit
from flowdeck.auth.credentials import ROLES, CredentialStore, Role
from flowdeck.auth.guard import COOKIE, Gate, Guard, role_of
from flowdeck.auth.login import register_login

__all__ = [
    "COOKIE",
    "ROLES",
    "Authenticator",
    "BodyLimit",
    "CredentialStore",
    "Gate",
    "Guard",
    "LoginLimiter",
    "Role",
    "register_login",
    "role_of",
]
