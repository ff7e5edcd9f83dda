"""The ``acd`` command: ``acd run --config FILE`` (the live daemon), ``acd check --config
FILE`` (validate a config, exit 1 with file:line: reason), ``acd demo`` (the one-machine
live demo), ``acd users ...`` and ``acd privacy purge`` (``acd.auth.commands``),
``acd pins`` and ``acd db`` (the database's schema), ``acd report --config FILE --date
YYYY-MM-DD`` (a live day per interval, ``acd.reports.command``)."""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence

from acd import db_command, pins_command
from acd.config import ConfigError, load_config_for_command

#: LogRecord attributes that are not "extra" fields of a structured log line
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class FieldsFormatter(logging.Formatter):
    """One line per event: time, level, logger, message, then the event's fields as k=v."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if fields:
            line += " " + " ".join(f"{k}={v!r}" for k, v in fields.items())
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line (``--log-format json``), for a log shipper: time, level,
    logger, message, the event's fields as keys, and a traceback as ``exc``. A value
    JSON cannot hold is written as its ``str``; a newline in a message stays escaped, so
    an event is always one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {"at": self.formatTime(record), "level": record.levelname, "logger": record.name,
                                   "message": record.getMessage()}
        line.update((k, v) for k, v in vars(record).items() if k not in _STANDARD and k not in line)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


#: ``--log-format``: how each event is written
FORMATS = {"text": lambda: FieldsFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"),
           "json": lambda: JsonFormatter()}


def setup_logging(level: str, form: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(FORMATS[form]())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def _check(path: str) -> int:
    config = load_config_for_command(path)
    if config is None:
        return 1
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{path}: ok ({len(config.queues)} queues, {len(config.agents)} agents)")
    return 0


def _run(path: str, agi_port: int | None, ami_port: int | None) -> int:
    from acd.daemon.app import Daemon

    try:
        daemon = Daemon(path, agi_port=agi_port, ami_port=ami_port)
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return 1
    asyncio.run(daemon.run())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line, apart from running it (deploy/acd.service's ExecStart is checked
    against it)."""
    parser = argparse.ArgumentParser(prog="acd", description="Automatic call distribution for Asterisk")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", default="text", choices=list(FORMATS),
                        help="text: time level logger: message key=value ...; json: one JSON object a line")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the live daemon (AMI + FastAGI)")
    run.add_argument("--config", required=True)
    run.add_argument("--agi-port", type=int, help="override daemon.agi_port")
    run.add_argument("--ami-port", type=int, help="override daemon.ami_port")
    check = sub.add_parser("check", help="validate a config file")
    check.add_argument("--config", required=True)
    demo = sub.add_parser("demo", help="live demo: sandboxed Asterisk, daemon, sipp citizens and agents")
    demo.add_argument("--config", default=None, help="default: examples/1555.yaml")
    demo.add_argument("--seconds", type=float, default=60.0)
    demo.add_argument("--rate", type=float, default=4.0)
    demo.add_argument("--talk", type=float, default=8.0)
    from acd.auth.commands import add_parsers

    add_parsers(sub)
    pins_command.add_parser(sub)
    db_command.add_parser(sub)
    from acd.reports.command import add_parser as add_report

    add_report(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    if args.command == "check":
        return _check(args.config)
    if args.command == "run":
        return _run(args.config, args.agi_port, args.ami_port)
    if args.command in ("users", "privacy"):
        from acd.auth.commands import run as manage

        return manage(args)
    if args.command == "pins":
        return pins_command.run(args)
    if args.command == "db":
        return db_command.run(args)
    if args.command == "report":
        from acd.reports.command import run as report

        return report(args)
    from acd.demo import main as demo_main

    return demo_main([*(["--config", args.config] if args.config else []), "--seconds", str(args.seconds),
                      "--rate", str(args.rate), "--talk", str(args.talk)])


if __name__ == "__main__":
    sys.exit(main())
