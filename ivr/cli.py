"""``ivr prompts build --config FILE --out DIR``: render the config's prompts."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from acd.config import ConfigError, load_config
from ivr.prompts import PromptBuildError, build, config_texts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ivr", description="The 1555 IVR's tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    prompts = commands.add_parser("prompts", help="the IVR's recorded prompts")
    prompt_commands = prompts.add_subparsers(dest="action", required=True)
    build_parser = prompt_commands.add_parser(
        "build", help="render every prompt text with espeak-ng and sox into <out>/<lang>/<id>.wav (8 kHz); "
                      "a number prompt into <id>-1 .. <id>-<up_to> and <id>-over")
    build_parser.add_argument("--config", required=True, type=Path)
    build_parser.add_argument("--out", required=True, type=Path,
                              help="e.g. /usr/share/asterisk/sounds/acd (the config's ivr.prompts_dir)")
    build_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        texts = config_texts(config)
        if not texts:
            print(f"{args.config}: no prompts to build", file=sys.stderr)
            return 0

        def bar(jobs):  # type: ignore[no-untyped-def]
            from tqdm import tqdm  # type: ignore[import-untyped]

            return tqdm(jobs, desc="prompts", unit="prompt", disable=args.quiet)

        report = build(texts, args.out, progress=bar)
    except (ConfigError, PromptBuildError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{len(report.rendered)} rendered, {len(report.unchanged)} unchanged, in {args.out}")
    return 0
