"""``acd db upgrade`` and ``acd db current``: the database's schema by hand.

The daemon migrates at every start, so an operator needs these only to migrate before
a rolling upgrade (the old daemon keeps running on a schema that only ever grows), to
see where a database is, or to check a backup restored from an older release.
"""
from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from acd import migrate
from acd.config import load_config_for_command


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="the database's schema: migrate it, or show its revision")
    actions = db.add_subparsers(dest="db_command", required=True)
    for name, text in (("upgrade", "migrate daemon.database_url to this release's schema"),
                       ("current", "print the database's revision and this release's")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--config", required=True)
        action.add_argument("--url", default=None, help="another database than daemon.database_url")


async def _run(command: str, url: str) -> int:
    db = create_async_engine(url)
    try:
        if command == "upgrade":
            async with db.begin() as conn:
                applied = await conn.run_sync(migrate.upgrade)
            print(f"migrated: {', '.join(applied)}" if applied else f"already at {migrate.head()}")
            return 0
        async with db.connect() as conn:
            found = await conn.run_sync(migrate.current)
            empty = not await conn.run_sync(lambda c: inspect(c).get_table_names())
        head = migrate.head()
        state = "up to date" if found == head else "needs 'acd db upgrade'"
        where = found or ("empty" if empty else "unversioned (made before migrations)")
        print(f"database {where}; this release {head}: {state}")
        return 0 if found == head else 3
    except migrate.SchemaMismatch as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()


def run(args: argparse.Namespace) -> int:
    config = load_config_for_command(args.config)
    if config is None:
        return 1
    return asyncio.run(_run(args.db_command, args.url or config.daemon.database_url))
