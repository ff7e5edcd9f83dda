"""People and programs that may use the API: users with a role and an argon2 password
hash, page sessions (a cookie) and bearer tokens with scopes, all in the database.

Hashing a password costs tens of milliseconds of CPU on purpose; it runs in a worker
thread so a login never holds the daemon's event loop (and routing) up.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.auth.roles import ROLES, Identity, check_scopes, check_user_name
from acd.auth.schema import api_tokens, create_auth_tables, sessions, users

#: shortest password accepted
MIN_PASSWORD = 10
#: a session's ``last_seen`` is written at most this often (not on every wallboard poll)
TOUCH_EVERY = 60.0
#: identities kept in memory at most (``remember_for``); past it the memory starts afresh
_REMEMBER_AT_MOST = 10_000


class UserError(ValueError):
    """A user command that cannot be done (unknown user, bad role, weak password)."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    agent_id: str | None
    units: tuple[str, ...]
    disabled: bool

    def identity(self, via: str, rights: frozenset[str] | None = None, csrf: str | None = None) -> Identity:
        return Identity(self.name, self.role, ROLES[self.role] if rights is None else rights & ROLES[self.role],
                        via, self.agent_id, self.units, csrf)


def _user(row: Any) -> User:
    return User(row.name, row.role, row.agent_id, tuple(row.units or ()), bool(row.disabled))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class AuthStore:
    def __init__(self, db: AsyncEngine, *, now: Callable[[], float] = time.time, session_hours: float = 12.0,
                 hasher: PasswordHasher | None = None, remember_for: float = 0.0) -> None:
        """``db``: the call records' engine; ``hasher``: argon2's defaults unless given
        (tests pass a cheap one). ``remember_for``: seconds a session's or token's
        identity is kept in memory once looked up (0: every request asks the database).
        A wallboard or exporter polling many times a second then costs one query a
        period, not one a request; a change made by this store (logout, disable, new
        password, revoke) forgets them all at once, one made by another process (the
        ``acd users`` command) takes effect within ``remember_for``."""
        self.db = db
        self.remember_for = remember_for
        self._remembered: dict[str, tuple[float, Identity]] = {}
        self._pending: dict[str, asyncio.Future[Identity | None]] = {}
        self.now = now
        self.session_seconds = session_hours * 3600
        self.hasher = hasher or PasswordHasher()
        # verifying against this when the user is unknown makes "no such user" cost as
        # much as "wrong password", so timing does not tell which names exist (made at
        # the first login, in a worker thread like every hash)
        self._dummy: str | None = None

    async def prepare(self) -> None:
        async with self.db.begin() as conn:
            await conn.run_sync(create_auth_tables)

    # -- users -------------------------------------------------------------------------------
    def _check_password(self, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise UserError(f"a password is at least {MIN_PASSWORD} characters")

    async def add_user(self, name: str, password: str, role: str, *, agent_id: str | None = None,
                       units: Sequence[str] = ()) -> User:
        try:
            check_user_name(name)
        except ValueError as error:
            raise UserError(str(error)) from None
        if role not in ROLES:
            raise UserError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        if (role == "agent") != (agent_id is not None):
            raise UserError("an agent user needs --agent (its agent id), and only an agent user has one")
        if role == "backoffice" and not units:
            raise UserError("a backoffice user needs --unit (the units whose tickets it works)")
        if role != "backoffice" and units:
            raise UserError("only a backoffice user has units")
        self._check_password(password)
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        at = self.now()
        async with self.db.begin() as conn:
            if (await conn.execute(select(users.c.name).where(users.c.name == name))).first() is not None:
                raise UserError(f"user {name!r} exists already")
            await conn.execute(users.insert().values(name=name, password_hash=hashed, role=role, agent_id=agent_id,
                                                     units=list(units), disabled=False, created_at=at, updated_at=at))
        return User(name, role, agent_id, tuple(units), False)

    async def user(self, name: str) -> User | None:
        async with self.db.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.name == name))).first()
        return _user(row) if row is not None else None

    async def users(self) -> list[User]:
        async with self.db.connect() as conn:
            return [_user(row) for row in (await conn.execute(select(users).order_by(users.c.name))).all()]

    async def set_password(self, name: str, password: str) -> None:
        """A new password; the user's sessions end (whoever knew the old one is out)."""
        self._check_password(password)
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        await self._change(name, password_hash=hashed)

    async def set_disabled(self, name: str, disabled: bool = True) -> None:
        """A disabled user cannot log in, and its sessions and tokens stop working at once."""
        await self._change(name, disabled=disabled)

    def _remember(self, key: str, identity: Identity | None) -> Identity | None:
        if identity is not None and self.remember_for > 0:
            if len(self._remembered) >= _REMEMBER_AT_MOST:
                self._remembered.clear()
            self._remembered[key] = (self.now() + self.remember_for, identity)
        return identity

    async def _recall_or(self, key: str, lookup: Callable[[], Awaitable[Identity | None]]) -> Identity | None:
        """The remembered identity of ``key``, or ``lookup()``'s; readers asking at once
        for the same key share one lookup (a wallboard's many connections do not all hit
        the database when the memory expires)."""
        recalled = self._recalled(key)
        if recalled is not None:
            return recalled
        if self.remember_for <= 0:
            return await lookup()
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(lookup())
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        return self._remember(key, await asyncio.shield(pending))

    def _recalled(self, key: str) -> Identity | None:
        found = self._remembered.get(key)
        if found is None:
            return None
        if self.now() >= found[0]:
            del self._remembered[key]
            return None
        return found[1]

    async def _change(self, name: str, **values: Any) -> None:
        self._remembered.clear()
        async with self.db.begin() as conn:
            done = await conn.execute(update(users).where(users.c.name == name).values(updated_at=self.now(), **values))
            if done.rowcount != 1:
                raise UserError(f"no user {name!r}")
            await conn.execute(delete(sessions).where(sessions.c.user_name == name))

    async def check_password(self, name: str, password: str) -> User | None:
        """The user, when ``password`` is theirs and they are not disabled; else None."""
        async with self.db.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.name == name))).first()
        if row is None and self._dummy is None:
            self._dummy = await asyncio.to_thread(self.hasher.hash, secrets.token_hex(16))
        hashed: str = row.password_hash if row is not None else self._dummy or ""
        try:
            await asyncio.to_thread(self.hasher.verify, hashed, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled:
            return None
        return _user(row)

    # -- page sessions ---------------------------------------------------------------------
    async def open_session(self, user: User, remote: str | None) -> tuple[str, str]:
        """A new session: (the cookie's secret, its CSRF token)."""
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        at = self.now()
        async with self.db.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.last_seen < at - self.session_seconds))
            await conn.execute(sessions.insert().values(id=_digest(secret), user_name=user.name, csrf=csrf,
                                                        created_at=at, last_seen=at, remote=remote))
        return secret, csrf

    async def session(self, secret: str) -> Identity | None:
        """The identity of a session cookie, if the session is live and its user enabled;
        using it keeps it alive (idle sessions end after ``session_hours``)."""
        key = _digest(secret)
        return await self._recall_or(key, lambda: self._session(key))

    async def _session(self, key: str) -> Identity | None:
        at = self.now()
        async with self.db.connect() as conn:
            row = (await conn.execute(select(sessions.c.csrf, sessions.c.last_seen, users)
                                      .join(users, users.c.name == sessions.c.user_name)
                                      .where(sessions.c.id == key))).first()
        if row is None or row.disabled or at - row.last_seen > self.session_seconds:
            return None
        if at - row.last_seen > TOUCH_EVERY:
            async with self.db.begin() as conn:
                await conn.execute(update(sessions).where(sessions.c.id == key).values(last_seen=at))
        return _user(row).identity("session", csrf=row.csrf)

    async def close_session(self, secret: str) -> None:
        self._remembered.clear()
        async with self.db.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.id == _digest(secret)))

    # -- programs' bearer tokens -------------------------------------------------------------
    async def issue_token(self, name: str, scopes: Sequence[str], *, label: str | None = None,
                          days: float | None = None) -> str:
        """A new token for user ``name`` with ``scopes`` (a subset of its role's rights);
        the token itself is returned once and only its digest is kept."""
        user = await self.user(name)
        if user is None:
            raise UserError(f"no user {name!r}")
        try:
            granted = check_scopes(user.role, list(scopes))
        except ValueError as error:
            raise UserError(str(error)) from None
        if not granted:
            raise UserError("a token needs at least one --scope")
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        at = self.now()
        async with self.db.begin() as conn:
            await conn.execute(api_tokens.insert().values(
                id=token_id, secret_hash=_digest(secret), user_name=name, scopes=sorted(granted), label=label,
                created_at=at, expires_at=at + days * 86400 if days else None, revoked=False))
        return f"acd_{token_id}_{secret}"

    async def revoke_token(self, token_id: str) -> None:
        self._remembered.clear()
        async with self.db.begin() as conn:
            done = await conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked=True))
        if done.rowcount != 1:
            raise UserError(f"no token {token_id!r}")

    async def tokens(self) -> list[dict[str, Any]]:
        async with self.db.connect() as conn:
            rows = (await conn.execute(select(api_tokens).order_by(api_tokens.c.created_at))).all()
        return [{k: v for k, v in row._mapping.items() if k != "secret_hash"} for row in rows]

    async def token(self, token: str) -> Identity | None:
        """The identity a bearer token carries: its user's, narrowed to its scopes."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "acd":
            return None
        return await self._recall_or(_digest(token), lambda: self._token(parts))

    async def _token(self, parts: list[str]) -> Identity | None:
        async with self.db.connect() as conn:
            row = (await conn.execute(select(api_tokens.c.secret_hash, api_tokens.c.scopes, api_tokens.c.revoked,
                                             api_tokens.c.expires_at, users)
                                      .join(users, users.c.name == api_tokens.c.user_name)
                                      .where(api_tokens.c.id == parts[1]))).first()
        if row is None or row.revoked or row.disabled or not hmac.compare_digest(row.secret_hash, _digest(parts[2])):
            return None
        if row.expires_at is not None and self.now() > row.expires_at:
            return None
        return _user(row).identity(f"token:{parts[1]}", frozenset(row.scopes or ()))
