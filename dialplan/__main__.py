"""``python -m dialplan --config FILE --out DIR``: write the *_generated.conf files.
``python -m dialplan secrets --config FILE --out FILE``: write the agents' SIP passwords
(dialplan/secrets.py)."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from acd.config import ConfigError, load_config
from dialplan.generate import GenerateError, Options, read_secrets, write


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["secrets"]:
        from dialplan.secrets import main as secrets_main

        return secrets_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m dialplan", description=__doc__)
    parser.add_argument("--config", required=True, type=Path, help="the ACD config (YAML)")
    parser.add_argument("--out", required=True, type=Path, help="directory for the *_generated.conf files")
    parser.add_argument("--agi-host", help="FastAGI host (default: daemon.agi_host)")
    parser.add_argument("--agi-port", type=int, help="FastAGI port (default: daemon.agi_port)")
    parser.add_argument("--service-number", help="the number citizens dial (default: the service name)")
    parser.add_argument("--prompts-dir", help="where Asterisk finds <lang>/<prompt> (default: ivr.prompts_dir)")
    parser.add_argument("--wait-retries", type=int, default=10,
                        help="seconds a caller waits for a daemon before the app_queue fallback")
    parser.add_argument("--agents-at", metavar="HOST:PORT",
                        help="agents' phones as static contacts (the sandbox); default: they register")
    parser.add_argument("--secrets", type=Path, help="'<agent id> <SIP password>' lines for registering phones, "
                                                      "'trunk:<name> <password>' for a trunk's digest auth")
    parser.add_argument("--trunk-match", metavar="ADDRESSES",
                        help="override every trunk's 'match' (comma-separated addresses, e.g. 127.0.0.1 for a "
                             "sandbox); default: the config's trunks, or 127.0.0.1 without a 'trunks' section")
    parser.add_argument("--qualify", type=int, default=0, metavar="SECONDS",
                        help="ping registered phones every SECONDS (OPTIONS), so a vanished one is "
                             "unreachable at once rather than when its registration expires; 0: never")
    parser.add_argument("--standby-agi", metavar="HOST:PORT",
                        help="the second daemon's FastAGI (daemon.lease): a caller the first does not "
                             "queue tries it at once")
    parser.add_argument("--nat", action="store_true",
                        help="agents' phones behind NAT: rewrite_contact, force_rport, rtp_symmetric")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        options = Options(agi_host=args.agi_host, agi_port=args.agi_port, service_number=args.service_number,
                          prompts_dir=args.prompts_dir, wait_retries=args.wait_retries, agents_at=args.agents_at,
                          secrets=read_secrets(args.secrets) if args.secrets else {}, trunk_match=args.trunk_match,
                          qualify_frequency=args.qualify, nat=args.nat, standby_agi=args.standby_agi)
        for path in write(config, args.out, options):
            print(path)
    except (ConfigError, GenerateError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
