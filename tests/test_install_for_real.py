"""README's "Running it for real", followed on a fresh machine: ``scripts/install-service``
installs the 1555 example into an empty root directory (``--root``: the same tree as on
/, with the paths inside the installed files under it), then an Asterisk runs from the
Asterisk config directory it wrote, the daemon runs as the installed unit's ExecStart says
(working directory, config), and the install must work with nothing added by hand: the
daemon logs into AMI at the first attempt, an agent's phone registers with the password
the install generated for it, and a citizen's call to 1555 is answered by the IVR.
A second run of the script changes nothing and keeps every secret."""
from __future__ import annotations

import asyncio
import configparser
import hashlib
import os
import shlex
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import re
import shutil

from acd.config import load_config
from acd.install_service import set_yaml_key
from dialplan.generate import read_secrets
from dialplan.secrets import phone_keys
from ivr.prompts import build, config_texts
from rig.asterisk import AsteriskSandbox
from rig.asterisk_conf import get_option
from rig.ports import free_port
from rig.sipp import Phones, registration_outcome
from tests.test_daemon_process import wait_for
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

CHECKOUT = Path(__file__).resolve().parent.parent
EXAMPLE = CHECKOUT / "examples" / "1555.yaml"
SCRIPT = CHECKOUT / "scripts" / "install-service"
AGENT = "2001"
#: the example's prompts, rendered once per machine: rendering 262 of them takes the
#: script 7 to 20 s, which tests/test_ivr_prompts.py covers; seeded into the root, the
#: script checks each against its text and keeps it
PROMPT_CACHE = Path.home() / ".cache" / "acd-1555" / "install-test-prompts"


def install(root: Path, config: Path, ami_port: int) -> str:
    """Run the script as an engineer would (the checkout's Python in place of .venv)."""
    env = {**os.environ, "ACD_PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([str(SCRIPT), "--root", str(root), "--config", str(config), "--ami-port", str(ami_port)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def tree_digest(root: Path) -> dict[str, str]:
    """Every file the install wrote but the rendered prompts: path -> content hash and mode."""
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
            for p in sorted(root.rglob("*")) if p.is_file() and "sounds" not in p.parts}


def unit_service(root: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(root / "etc/systemd/system/acd.service", encoding="utf-8")
    return parser["Service"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, str]]:
    """The example config with ports of this module's own (AGI, API, AMI) installed under
    a fresh root; the root, the AMI port and the script's output."""
    directory = tmp_path_factory.mktemp("install")
    source = directory / "1555.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    text = set_yaml_key(text, "daemon.agi_port", str(free_port(24700)))
    source.write_text(set_yaml_key(text, "daemon.api_port", str(free_port(28700))), encoding="utf-8")
    root, ami_port = directory / "root", free_port(25300)
    build(config_texts(load_config(EXAMPLE)), PROMPT_CACHE)
    shutil.copytree(PROMPT_CACHE, root / "usr/share/asterisk/sounds/acd")
    yield root, ami_port, install(root, source, ami_port)


def test_the_install_writes_one_secret_in_both_places_private_files_and_is_idempotent(
        installed: tuple[Path, int, str]) -> None:
    root, ami_port, output = installed
    etc = root / "etc/acd"
    assert "systemd is not running here" in output and "cannot be enabled" in output
    config = load_config(etc / "1555.yaml")
    secret = (etc / "ami.secret").read_text().strip()
    manager = (root / "etc/asterisk/manager.conf").read_text()
    assert get_option(manager, config.daemon.ami_username, "secret") == secret and len(secret) >= 24
    assert int(get_option(manager, "general", "port")) == config.daemon.ami_port == ami_port
    assert config.daemon.ami_secret_file == str(etc / "ami.secret")
    assert not re.search(r"^\s+ami_secret:", (etc / "1555.yaml").read_text(), re.M)
    passwords = read_secrets(etc / "phones.secrets")
    assert sorted(passwords) == sorted(phone_keys(config))       # the agents' and the supervisors' phones
    assert f"password={passwords[AGENT]}" in (root / "etc/asterisk/pjsip_generated.conf").read_text()
    modes = {p: stat.S_IMODE((etc / p).stat().st_mode) for p in ("phones.secrets", "ami.secret", "1555.yaml")}
    assert modes == {"phones.secrets": 0o600, "ami.secret": 0o640, "1555.yaml": 0o640}
    assert stat.S_IMODE((root / "etc/asterisk/pjsip_generated.conf").stat().st_mode) == 0o640
    assert config.daemon.queue_log == str(root / "var/log/acd/queue_log")
    assert (root / "var/spool/asterisk/monitor/acd").is_dir()
    assert str(root / "var/log/acd/queue_log") in (root / "etc/logrotate.d/acd").read_text()
    service = unit_service(root)
    assert service["WorkingDirectory"] == str(root / "var/lib/acd")
    assert service["ReadWritePaths"].split() == [str(root / "var/lib/acd"), str(root / "var/log/acd")]

    before = tree_digest(root)
    again = install(root, root.parent / "1555.yaml", ami_port)
    assert "ami.secret: kept" in again and "0 passwords added" in again and "0 prompts rendered" in again
    assert tree_digest(root) == before


async def test_asterisk_and_the_daemon_run_from_the_installed_files(
        installed: tuple[Path, int, str], tmp_path: Path) -> None:
    root, ami_port, _ = installed
    config = load_config(root / "etc/acd/1555.yaml")
    sandbox = AsteriskSandbox(tmp_path / "asterisk", base_config=root / "etc/asterisk", ami_port=ami_port,
                              keep_ami_secret=True)
    service = unit_service(root)
    _, *args = shlex.split(service["ExecStart"])          # acd --log-level info run --config ...
    log = tmp_path / "daemon.log"
    phones = Phones(tmp_path / "phones", 0)
    daemon: subprocess.Popen[bytes] | None = None
    with sandbox:
        phones.sip_port = sandbox.sip_port
        try:
            with open(log, "w") as out:
                daemon = subprocess.Popen([sys.executable, "-m", "acd.cli", *args], cwd=service["WorkingDirectory"],
                                          stdout=out, stderr=subprocess.STDOUT)
            text = await asyncio.to_thread(wait_for, daemon, log, "AMI connected", 20.0)
            assert "retrying" not in text and " ERROR " not in text, text

            # the agent's phone registers with the password the install generated for it
            endpoint = config.agents[AGENT].endpoint
            password = read_secrets(root / "etc/acd/phones.secrets")[AGENT]
            contact = f"sip:{endpoint}@127.0.0.1:{free_port(17100, socket.SOCK_DGRAM)}"
            register = phones.registration(endpoint, contact, password=password)
            assert (await asyncio.to_thread(register.wait, 20)).all_successful, register.diagnostics()
            assert registration_outcome(register) == "registered"
            assert contact in sandbox.cli(f"pjsip show aor {endpoint}")

            # a citizen dialling the service number is answered by the IVR (FastAGI into the daemon)
            citizen = phones.citizens("1555", hold=4.0)
            in_ivr = f"agi://{config.daemon.agi_host}:{config.daemon.agi_port}/ivr"

            def answered_by_the_ivr() -> bool:
                rows = [line.split("!") for line in sandbox.cli("core show channels concise").splitlines()]
                return any(len(r) > 6 and r[4] == "Up" and r[5] == "AGI" and r[6].startswith(in_ivr) for r in rows)

            await eventually(answered_by_the_ivr, timeout=15, what="the citizen's call up in the IVR")
            assert (await asyncio.to_thread(citizen.wait, 20)).all_successful, citizen.diagnostics()
            assert [e.event for e in citizen.events()][:2] == ["invite", "answered"]
            assert "IVR handlers could not be built" not in log.read_text()
        finally:
            phones.stop_all()
            if daemon is not None and daemon.poll() is None:
                daemon.terminate()
                daemon.wait(15)
    assert "Traceback" not in log.read_text(), log.read_text()
