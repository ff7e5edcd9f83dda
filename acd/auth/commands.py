"""``acd users ...`` and ``acd privacy purge``: managing people and erasing old personal
data from the command line, against the database of a config's ``daemon.database_url``
(the same one the running daemon uses; both may run at once).

Passwords are read from the terminal (twice), or from the first line of standard input
when it is not a terminal (scripts: ``printf '%s\\n' "$PW" | acd users add ...``), never
from the command line, where ``ps`` would show them. Every change is kept in the audit
log as ``cli:<the operating-system user>``.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from acd.auth.audit import AuditLog
from acd.auth.roles import RIGHTS, ROLES
from acd.auth.store import AuthStore, UserError
from acd.config import load_config_for_command


def add_parsers(sub: Any) -> None:
    """The ``users`` and ``privacy`` subcommands of ``acd``."""
    users = sub.add_parser("users", help="people who may use the API: add, passwd, disable, enable, list, token")
    actions = users.add_subparsers(dest="users_command", required=True)
    add = actions.add_parser("add", help="add a user (the password is asked for)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=list(ROLES))
    add.add_argument("--agent", help="the agent id of an agent user")
    add.add_argument("--unit", action="append", default=[], help="a back-office unit of a backoffice user (repeat)")
    for name, text in (("passwd", "set a user's password (ends its sessions)"),
                       ("disable", "stop a user: no login, sessions and tokens refused at once"),
                       ("enable", "let a disabled user log in again")):
        actions.add_parser(name, help=text).add_argument("name")
    actions.add_parser("list", help="users and tokens")
    token = actions.add_parser("token", help="a bearer token for a program (printed once)")
    token.add_argument("name")
    token.add_argument("--scope", action="append", required=True, choices=list(RIGHTS),
                       help="a right the token carries (repeat); its user's role must hold it")
    token.add_argument("--label", help="what the token is for (e.g. 'wallboard hall B')")
    token.add_argument("--days", type=float, help="expires after this many days (default: never)")
    revoke = actions.add_parser("revoke", help="revoke a token by its id (the part after acd_)")
    revoke.add_argument("token_id")
    privacy = sub.add_parser("privacy", help="erase caller numbers and notes older than privacy.retention_days")
    privacy_actions = privacy.add_subparsers(dest="privacy_command", required=True)
    privacy_actions.add_parser("purge", help="erase now what the retention setting says is too old")
    for parser in [*actions.choices.values(), *privacy_actions.choices.values()]:
        parser.add_argument("--config", required=True, help="the daemon's config (its daemon.database_url)")


def run(args: argparse.Namespace) -> int:
    config = load_config_for_command(args.config)
    if config is None:
        return 1
    try:
        return asyncio.run(_run(args, config))
    except UserError as error:
        print(f"acd {args.command}: {error}", file=sys.stderr)
        return 1


def _password(prompt: str) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass("again: ") != first:
        raise UserError("the two passwords differ")
    return first


def _check_against_config(config: Any, agent_id: str | None, units: list[str]) -> None:
    """An agent user is an agent of the config, a back-office user's units are its units:
    a typo would make a login that can do nothing, and say nothing about why."""
    from acd.config.back_office import back_office_of

    if agent_id is not None and agent_id not in config.agents:
        raise UserError(f"no agent {agent_id!r} in {config.source}")
    office = back_office_of(config)
    known = set(office.units) if office is not None else set()
    unknown = [unit for unit in units if unit not in known]
    if unknown:
        raise UserError(f"no back-office unit {unknown[0]!r} in {config.source} "
                        f"(units: {', '.join(sorted(known)) or 'none'})")


async def _run(args: argparse.Namespace, config: Any) -> int:
    db = create_async_engine(config.daemon.database_url)
    who = f"cli:{getpass.getuser()}"
    audit = AuditLog(db)
    try:
        if args.command == "privacy":
            from acd.config.access import privacy_of
            from acd.records.retention import purge

            days = privacy_of(config).retention_days
            if days is None:
                print(f"{args.config}: no privacy.retention_days set; nothing is erased", file=sys.stderr)
                return 1
            erased = await purge(db, days, now=time.time(), who=who, via="cli")
            print(f"erased personal data older than {days} days: {erased.calls} calls, {erased.tickets} tickets, "
                  f"{erased.ticket_events} ticket history notes")
            return 0
        store = AuthStore(db)
        await store.prepare()
        command = args.users_command
        if command == "add":
            _check_against_config(config, args.agent, args.unit)
            user = await store.add_user(args.name, _password(f"password for {args.name}"), args.role,
                                        agent_id=args.agent, units=args.unit)
            await audit.record(who=who, via="cli", action="user.add", target=user.name,
                               after={"role": user.role, "agent_id": user.agent_id, "units": list(user.units)})
            print(f"user {user.name} added ({user.role})")
        elif command == "passwd":
            await store.set_password(args.name, _password(f"new password for {args.name}"))
            await audit.record(who=who, via="cli", action="user.passwd", target=args.name)
            print(f"password of {args.name} changed; its sessions ended")
        elif command in ("disable", "enable"):
            await store.set_disabled(args.name, command == "disable")
            await audit.record(who=who, via="cli", action=f"user.{command}", target=args.name,
                               after={"disabled": command == "disable"})
            print(f"user {args.name} {command}d")
        elif command == "list":
            for user in await store.users():
                extra = user.agent_id or ",".join(user.units)
                print(f"{user.name}\t{user.role}\t{extra or '-'}\t{'disabled' if user.disabled else 'enabled'}")
            for row in await store.tokens():
                state = "revoked" if row["revoked"] else "active"
                print(f"token {row['id']}\t{row['user_name']}\t{','.join(row['scopes'])}\t{state}\t"
                      f"{row['label'] or ''}")
        elif command == "token":
            token = await store.issue_token(args.name, args.scope, label=args.label, days=args.days)
            await audit.record(who=who, via="cli", action="token.issue", target=token.split("_")[1],
                               after={"user": args.name, "scopes": sorted(args.scope)})
            print(token)
        elif command == "revoke":
            await store.revoke_token(args.token_id)
            await audit.record(who=who, via="cli", action="token.revoke", target=args.token_id)
            print(f"token {args.token_id} revoked")
        return 0
    finally:
        await db.dispose()
