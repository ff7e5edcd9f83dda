"""``scripts/install-service``: README's "Running it for real" as one command, run on the
Asterisk host as root after ``./run setup``. Idempotent: a second run changes nothing
that the first one wrote, keeps every secret and the engineer's edits of the installed
config, and says what it did at each step.

The layout (``Layout``) is the one place that names the production paths:

| path | owner, mode | what |
| --- | --- | --- |
| /etc/acd/1555.yaml | root:acd 0640 | the config (copied once; edit it there) |
| /etc/acd/ami.secret | root:acd 0640 | the AMI secret, also in Asterisk's manager.conf |
| /etc/acd/phones.secrets | root:root 0600 | the phones' SIP passwords, agents' and supervisors' (only the generator reads it) |
| /var/lib/acd | acd:acd 0750 | the daemon's working directory (SQLite records when used) |
| /var/log/acd | acd:acd 0750 | queue_log (rotated by /etc/logrotate.d/acd) and the agents' roster |
| /var/log/acd/queue_log | acd:acd 0660 | the one queue_log: the daemon and Asterisk (in group acd) append to it |
| /var/spool/asterisk/monitor/acd | asterisk:asterisk 0750 | recordings: MixMonitor writes them as Asterisk |
| /etc/asterisk | asterisk:asterisk 0640 files | the base config and the *_generated.conf files |
| /usr/share/asterisk/sounds/acd | root, 0755 | the IVR's prompts (ivr.prompts_dir) |
| /etc/systemd/system/acd.service | root 0644 | the unit, with this checkout's virtualenv |

``--root DIR`` installs the same tree under DIR, with the paths inside the installed
config, unit and logrotate file under DIR too, so the tree runs where it is (the test
tests/test_install_for_real.py starts Asterisk and the daemon from it). There no user is
created and no owner set: that needs the real root.
"""
from __future__ import annotations

import argparse
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from acd.config import ConfigError, load_config
from dialplan.generate import GenerateError, Options, read_secrets, write
from dialplan.secrets import phone_keys, update_secrets
from rig.asterisk_conf import get_option, set_option

CHECKOUT = Path(__file__).resolve().parent.parent
BASE_CONFIG = CHECKOUT / "asterisk-config"
UNIT = CHECKOUT / "deploy" / "acd.service"
LOGROTATE = CHECKOUT / "deploy" / "logrotate.conf"
USER = "acd"
ASTERISK_USER = "asterisk"
#: where Asterisk's base files keep a copy of a file they replace, once
BACKUP_SUFFIX = ".before-acd"


class InstallError(RuntimeError):
    """A step that cannot be done; the message says what to do."""


def shared_queue_log_name(queue_log: Path, log_dir: Path | None = None) -> str:
    """logger.conf's ``queue_log_name`` that makes Asterisk append to the daemon's
    queue_log: main/logger.c (16.28) opens ``<astlogdir>/<queue_log_name>`` whatever the
    name, so a file elsewhere is named relative to Asterisk's log directory (``log_dir``;
    default: the base config's ``astlogdir``)."""
    if log_dir is None:
        log_dir = Path(get_option((BASE_CONFIG / "asterisk.conf").read_text(encoding="utf-8"), "directories",
                                  "astlogdir"))
    return os.path.relpath(queue_log, log_dir)


@dataclass(frozen=True)
class Layout:
    root: Path
    asterisk_dir: Path

    def at(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    @property
    def real(self) -> bool:
        """The machine itself (owners are set, users created), not a tree under ``--root``."""
        return self.root == Path("/")

    @property
    def etc(self) -> Path:
        return self.at("/etc/acd")

    @property
    def config(self) -> Path:
        return self.etc / "1555.yaml"

    @property
    def ami_secret(self) -> Path:
        return self.etc / "ami.secret"

    @property
    def phones(self) -> Path:
        return self.etc / "phones.secrets"

    @property
    def state(self) -> Path:
        return self.at("/var/lib/acd")

    @property
    def logs(self) -> Path:
        return self.at("/var/log/acd")

    @property
    def recordings(self) -> Path:
        return self.at("/var/spool/asterisk/monitor/acd")

    @property
    def sounds(self) -> Path:
        return self.at("/usr/share/asterisk/sounds")

    @property
    def unit(self) -> Path:
        return self.at("/etc/systemd/system/acd.service")

    @property
    def logrotate(self) -> Path:
        return self.at("/etc/logrotate.d/acd")


def say(message: str) -> None:
    print(f"install-service: {message}", flush=True)


class Installer:
    def __init__(self, layout: Layout, source_config: Path, *, ami_port: int, venv: Path, qualify: int,
                 replace_config: bool, prompts: bool, run: Callable[[list[str]], int] | None = None) -> None:
        self.layout = layout
        self.source_config = source_config
        self.ami_port = ami_port
        self.venv = venv
        self.qualify = qualify
        self.replace_config = replace_config
        self.prompts = prompts
        self.run = run or _run

    def install(self) -> None:
        os.umask(0o027)          # nothing written here is for every user of the machine
        self.users()
        self.directories()
        secret = self.secret()
        self.config()
        self.phones()
        self.asterisk(secret)
        if self.prompts:
            self.prompt_files()
        self.service()
        self.reload_asterisk()

    # ------------------------------------------------------------------ steps
    def users(self) -> None:
        if not self.layout.real:
            say(f"--root {self.layout.root}: no user created, no owner set (that needs the real root)")
            return
        try:
            pwd.getpwnam(ASTERISK_USER)
        except KeyError:
            raise InstallError("no 'asterisk' user: Asterisk is not installed (./run setup installs it)") from None
        try:
            pwd.getpwnam(USER)
            say(f"user {USER}: exists")
        except KeyError:
            self._must(["useradd", "--system", "--user-group", "--home-dir", "/var/lib/acd", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", "--comment", "ACD daemon", USER])
            say(f"user {USER}: created (system user and group, no login)")
        # Asterisk appends app_queue's lines to the daemon's queue_log (docs/records.md, "The queue_log")
        self._must(["usermod", "--append", "--groups", USER, ASTERISK_USER])
        say(f"user {ASTERISK_USER}: in group {USER} (restart Asterisk once for it to take effect)")

    def directories(self) -> None:
        lay = self.layout
        for path, owner, mode in ((lay.etc, ("root", USER), 0o750), (lay.state, (USER, USER), 0o750),
                                  (lay.logs, (USER, USER), 0o750),
                                  (lay.recordings, (ASTERISK_USER, ASTERISK_USER), 0o750)):
            path.mkdir(parents=True, exist_ok=True)
            self._own(path, owner, mode)
            say(f"{path}: {owner[0]}:{owner[1]} {mode:o}")
        queue_log = lay.logs / "queue_log"
        if not queue_log.exists():
            queue_log.touch()
        self._own(queue_log, (USER, USER), 0o660)
        lay.asterisk_dir.mkdir(parents=True, exist_ok=True)

    def secret(self) -> str:
        """The AMI secret: kept once made; on a first run the installed config's clear
        ``ami_secret`` when it has one (its Asterisk already uses it), else a new one."""
        path = self.layout.ami_secret
        if path.is_file() and path.read_text(encoding="utf-8").strip():
            say(f"{path}: kept")
            return path.read_text(encoding="utf-8").splitlines()[0].strip()
        clear = None
        if self.layout.config.is_file() and not self.replace_config:
            clear = load_config(self.layout.config).daemon.ami_secret if _has_key(
                self.layout.config.read_text(encoding="utf-8"), "daemon", "ami_secret") else None
        value = clear or secrets.token_urlsafe(24)
        path.write_text(value + "\n", encoding="utf-8")
        self._own(path, ("root", USER), 0o640)
        say(f"{path}: " + ("the config's ami_secret moved here" if clear else "new random secret"))
        return value

    def config(self) -> None:
        lay = self.layout
        if lay.config.is_file() and not self.replace_config:
            say(f"{lay.config}: kept (edit it there; --replace-config copies {self.source_config} again)")
        else:
            shutil.copyfile(self.source_config, lay.config)
            say(f"{lay.config}: copied from {self.source_config}")
        text = original = lay.config.read_text(encoding="utf-8")
        for key, value in self.config_keys().items():
            text = set_yaml_key(text, key, value)
        text = remove_yaml_key(text, "daemon", "ami_secret")
        if text != original:
            lay.config.write_text(text, encoding="utf-8")
            say(f"{lay.config}: set {', '.join(self.config_keys())}")
        self._own(lay.config, ("root", USER), 0o640)
        try:
            config = load_config(lay.config)
        except ConfigError as error:
            raise InstallError(f"the config does not load: {error}") from None
        say(f"{lay.config}: ok ({len(config.queues)} queues, {len(config.agents)} agents)")

    def config_keys(self) -> dict[str, str]:
        """``section.key`` -> value: what the install decides in the config (the AMI login
        that matches the manager.conf it writes, the directories it made)."""
        lay = self.layout
        keys = {"daemon.ami_host": "127.0.0.1", "daemon.ami_port": str(self.ami_port), "daemon.ami_username": USER,
                "daemon.ami_secret_file": lay.ami_secret.name, "daemon.queue_log": str(lay.logs / "queue_log"),
                "daemon.recordings_dir": str(lay.recordings)}
        if not lay.real:     # Asterisk finds the prompts by absolute path, not under its own sounds dir
            keys["ivr.prompts_dir"] = str(self.prompts_dir())
        return keys

    def prompts_dir(self) -> Path:
        """Where the prompts go: ``ivr.prompts_dir``, under Asterisk's sounds directory
        when relative (as Asterisk reads it)."""
        name = str(getattr(load_config(self.layout.config).ivr, "prompts_dir", None) or "acd")
        if not Path(name).is_absolute():
            return self.layout.sounds / name
        if self.layout.real or Path(name).is_relative_to(self.layout.root):
            return Path(name)
        return self.layout.at(name)

    def phones(self) -> None:
        config = load_config(self.layout.config)
        report = update_secrets(self.layout.phones, phone_keys(config))
        self._own(self.layout.phones, ("root", "root"), 0o600)
        say(f"{self.layout.phones}: {len(report.added)} passwords added, {len(report.kept)} kept")

    def asterisk(self, secret: str) -> None:
        lay = self.layout
        for source in sorted(BASE_CONFIG.glob("*.conf")):
            text = source.read_text(encoding="utf-8")
            if source.name == "manager.conf":
                text = set_option(set_option(text, "general", "port", str(self.ami_port)), USER, "secret", secret)
            if source.name == "logger.conf" and lay.real:
                text = set_option(text, "general", "queue_log_name", shared_queue_log_name(lay.logs / "queue_log"))
            self._install_file(lay.asterisk_dir / source.name, text)
        config = load_config(lay.config)
        options = Options(secrets=read_secrets(lay.phones), qualify_frequency=self.qualify)
        for path in write(config, lay.asterisk_dir, options):
            self._own(path, (ASTERISK_USER, ASTERISK_USER), 0o640)
        say(f"{lay.asterisk_dir}: base config from {BASE_CONFIG.name}/ and the *_generated.conf files")

    def _install_file(self, target: Path, text: str) -> None:
        if target.is_file():
            current = target.read_text(encoding="utf-8", errors="replace")
            if current == text:
                return
            backup = target.with_name(target.name + BACKUP_SUFFIX)
            if not backup.exists():
                shutil.copy2(target, backup)
                say(f"{target}: replaced; the previous file is {backup}")
        target.write_text(text, encoding="utf-8")
        self._own(target, (ASTERISK_USER, ASTERISK_USER), 0o640)

    def prompt_files(self) -> None:
        from ivr.prompts import build, config_texts

        out = self.prompts_dir()
        report = build(config_texts(load_config(self.layout.config)), out)
        for path in (out, *out.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)   # Asterisk reads them
        say(f"{out}: {len(report.rendered)} prompts rendered, {len(report.unchanged)} unchanged")

    def service(self) -> None:
        lay = self.layout
        unit = UNIT.read_text(encoding="utf-8")
        for old, new in (("/opt/acd-1555/.venv", str(self.venv)), ("/opt/acd-1555", str(CHECKOUT)),
                         ("/etc/acd/1555.yaml", str(lay.config)), ("/var/lib/acd", str(lay.state)),
                         ("/var/log/acd", str(lay.logs))):
            if old not in unit:
                raise InstallError(f"{UNIT} no longer names {old}: update acd/install_service.py with it")
            unit = unit.replace(old, new)
        for path, text in ((lay.unit, unit), (lay.logrotate, LOGROTATE.read_text(encoding="utf-8").replace(
                "/var/log/acd", str(lay.logs)))):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            path.chmod(0o644)
            say(f"{path}: installed")
        if lay.real and Path("/run/systemd/system").is_dir() and shutil.which("systemctl"):
            self._must(["systemctl", "daemon-reload"])
            self._must(["systemctl", "enable", "acd.service"])
            say("acd.service enabled; start it with: systemctl start acd")
        else:
            exec_start = next(line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("ExecStart="))
            say(f"systemd is not running here: {lay.unit} is installed but cannot be enabled; run the daemon "
                f"yourself: cd {lay.state} && {'runuser -u ' + USER + ' -- ' if lay.real else ''}{exec_start}")

    def reload_asterisk(self) -> None:
        commands = ["manager reload", "dialplan reload", "module reload res_pjsip.so", "module reload app_queue.so"]
        asterisk = shutil.which("asterisk") or "/usr/sbin/asterisk"
        if self.layout.real and self.run([asterisk, "-rx", "core show version"]) == 0:
            for command in commands:
                self._must([asterisk, "-rx", command])
            say("Asterisk reloaded (calls in progress stay up)")
            return
        say("Asterisk is not running (or --root): when it runs, "
            + "; ".join(f"asterisk -rx '{c}'" for c in commands) + "; or start it")

    # ------------------------------------------------------------------ helpers
    def _own(self, path: Path, owner: tuple[str, str], mode: int) -> None:
        path.chmod(mode)
        if self.layout.real:
            shutil.chown(path, owner[0], owner[1])

    def _must(self, command: list[str]) -> None:
        if self.run(command) != 0:
            raise InstallError(f"{' '.join(command)} failed")


def _run(command: list[str]) -> int:
    return subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode


# ---------------------------------------------------------------------- YAML lines
def _section(lines: list[str], section: str) -> tuple[int, int, str]:
    """The top-level block ``section:`` (header index, end index, its keys' indent);
    InstallError when it is absent or written in flow style (``daemon: {...}``)."""
    header = next((i for i, line in enumerate(lines) if re.match(rf"^{re.escape(section)}:\s*(#.*)?$", line)), None)
    if header is None:
        if any(line.startswith(f"{section}:") for line in lines):
            raise InstallError(f"write the config's '{section}' section in block style (one key a line)")
        lines.append(f"{section}:")
        return len(lines) - 1, len(lines), "  "
    end, indent = header + 1, None
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith((" ", "#"))):
        if indent is None and lines[end].strip() and not lines[end].lstrip().startswith("#"):
            indent = lines[end][:len(lines[end]) - len(lines[end].lstrip())]
        end += 1
    return header, end, indent or "  "


def _key_line(lines: list[str], start: int, end: int, indent: str, key: str) -> int | None:
    pattern = re.compile(rf"^{re.escape(indent)}{re.escape(key)}:(\s|$)")
    return next((i for i in range(start + 1, end) if pattern.match(lines[i])), None)


def _has_key(text: str, section: str, key: str) -> bool:
    lines = text.splitlines()
    if not any(re.match(rf"^{re.escape(section)}:\s*(#.*)?$", line) for line in lines):
        return False
    start, end, indent = _section(lines, section)
    return _key_line(lines, start, end, indent, key) is not None


def set_yaml_key(text: str, dotted: str, value: str) -> str:
    """``text`` with ``section.key: value`` (a plain scalar), keeping every other line and
    comment: the engineer's config is commented, and a YAML round trip would drop them."""
    section, key = dotted.split(".", 1)
    lines = text.splitlines()
    start, end, indent = _section(lines, section)
    found = _key_line(lines, start, end, indent, key)
    scalar = value if re.match(r"^[A-Za-z0-9_./:+-]+$", value) else "'" + value.replace("'", "''") + "'"
    if found is not None:
        lines[found] = f"{indent}{key}: {scalar}"
    else:
        lines.insert(start + 1, f"{indent}{key}: {scalar}")
    return "\n".join(lines) + "\n"


def remove_yaml_key(text: str, section: str, key: str) -> str:
    if not _has_key(text, section, key):
        return text
    lines = text.splitlines()
    start, end, indent = _section(lines, section)
    found = _key_line(lines, start, end, indent, key)
    assert found is not None
    del lines[found]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/install-service", description=__doc__.split("\n\n")[0],
                                     epilog="Run as root after ./run setup; again after any change.")
    parser.add_argument("--config", type=Path, default=CHECKOUT / "examples" / "1555.yaml",
                        help="the config to install as /etc/acd/1555.yaml when none is there (default: the example)")
    parser.add_argument("--replace-config", action="store_true", help="copy --config over the installed one")
    parser.add_argument("--root", type=Path, default=Path("/"),
                        help="install under this directory instead of / (no users, no owners); default /")
    parser.add_argument("--asterisk-dir", default="/etc/asterisk", help="Asterisk's config directory (under --root)")
    parser.add_argument("--ami-port", type=int, help="AMI port (default: asterisk-config/manager.conf's, 5038)")
    parser.add_argument("--qualify", type=int, default=30, metavar="SECONDS",
                        help="ping registered phones every SECONDS (python -m dialplan --qualify); default 30")
    parser.add_argument("--venv", type=Path, default=CHECKOUT / ".venv",
                        help="the virtualenv the unit runs acd from (default: this checkout's .venv)")
    parser.add_argument("--no-prompts", action="store_true", help="skip rendering the IVR prompts")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    layout = Layout(root, root / args.asterisk_dir.lstrip("/"))
    ami_port = args.ami_port or int(get_option((BASE_CONFIG / "manager.conf").read_text(), "general", "port"))
    if layout.real and os.geteuid() != 0:
        print("install-service: run it as root (or give --root DIR to try it under a directory)", file=sys.stderr)
        return 2
    installer = Installer(layout, args.config.resolve(), ami_port=ami_port, venv=args.venv.absolute(),
                          qualify=args.qualify, replace_config=args.replace_config, prompts=not args.no_prompts)
    try:
        installer.install()
    except (InstallError, ConfigError, GenerateError, OSError) as error:
        print(f"install-service: error: {error}", file=sys.stderr)
        return 1
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
