"""The files of an install agree with each other, so they cannot drift apart again (the
example said AMI 5038/acd-secret while manager.conf said 15038/change-me, and a new
install retried its AMI login forever): the example config and asterisk-config/
manager.conf, the example and the paths the unit, the logrotate file and
scripts/install-service use; and the script's config edits keep the engineer's lines."""
from __future__ import annotations

import configparser
from pathlib import Path

import pytest
import yaml

from acd.config import load_config, load_config_text
from acd.install_service import InstallError, Layout, set_yaml_key
from rig.asterisk_conf import get_option

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "1555.yaml"
MANAGER = (ROOT / "asterisk-config" / "manager.conf").read_text(encoding="utf-8")


def test_the_example_logs_into_the_ami_that_manager_conf_opens() -> None:
    daemon = load_config(EXAMPLE).daemon
    assert int(get_option(MANAGER, "general", "port")) == daemon.ami_port
    assert get_option(MANAGER, "general", "enabled") == "yes"
    assert get_option(MANAGER, "general", "bindaddr") == daemon.ami_host
    assert get_option(MANAGER, daemon.ami_username, "permit").split("/")[0] == daemon.ami_host
    # the secret is not in the example in clear: the install writes one to the file beside
    # the config and the same one into manager.conf (tests/test_install_for_real.py)
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["daemon"]
    assert "ami_secret" not in raw and raw["ami_secret_file"] == "ami.secret"
    assert daemon.ami_secret_file == str(EXAMPLE.parent / "ami.secret")


def test_the_example_uses_the_paths_the_install_makes_and_the_unit_and_logrotate_name() -> None:
    daemon = load_config(EXAMPLE).daemon
    layout = Layout(Path("/"), Path("/etc/asterisk"))
    assert Path(daemon.queue_log) == layout.logs / "queue_log"
    # MixMonitor takes a relative path under Asterisk's monitor directory, not the daemon's
    assert Path(daemon.recordings_dir).is_absolute() and Path(daemon.recordings_dir) == layout.recordings
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy" / "acd.service", encoding="utf-8")
    service = unit["Service"]
    assert service["WorkingDirectory"] == str(layout.state)
    assert str(Path(daemon.queue_log).parent) in service["ReadWritePaths"].split()
    assert f"--config {layout.config}" in service["ExecStart"]
    assert (ROOT / "deploy" / "logrotate.conf").read_text().count(f"{daemon.queue_log} {{") == 1


def test_the_install_sets_config_keys_keeping_every_other_line_and_comment() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    changed = set_yaml_key(set_yaml_key(text, "daemon.ami_port", "25038"), "daemon.api_port", "18080")
    before, after = text.splitlines(), changed.splitlines()
    assert len(after) == len(before) + 1                       # api_port added, ami_port replaced in place
    assert [line for line in after if line not in before] == ["  api_port: 18080", "  ami_port: 25038"]
    config = load_config_text(changed, str(EXAMPLE))
    assert (config.daemon.ami_port, config.daemon.api_port) == (25038, 18080)
    assert set_yaml_key(changed, "daemon.ami_port", "25038") == changed
    with pytest.raises(InstallError, match="block style"):
        set_yaml_key("daemon: {ami_port: 1}\n", "daemon.ami_port", "2")
