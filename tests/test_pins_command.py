"""``acd pins generate``: each agent its own random PIN, hashed into a 0600 file, the
clear ones shown once; the config loads them and the daemon checks them."""
from __future__ import annotations

from pathlib import Path

from acd.cli import main
from acd.config import load_config
from acd.config.pins import pin_verifies

CONFIG = """\
service: {name: test, languages: [el]}
skills: {topic:a: A}
queues:
  q: {requires: {topic:a: 1}}
agents:
  '11': {skills: {topic:a: 3}}
  '12': {skills: {topic:a: 3}}
  '13': {skills: {topic:a: 3}}
daemon:
  pins_file: agents.pins
"""


def generate(capsys, config: Path, *extra: str) -> dict[str, str]:
    assert main(["pins", "generate", "--config", str(config), "--out", str(config.parent / "agents.pins"),
                 *extra]) == 0
    return dict(line.split() for line in capsys.readouterr().out.splitlines())


def test_every_agent_gets_its_own_pin_hashed_and_shown_once(tmp_path, capsys):
    config = tmp_path / "acd.yaml"
    config.write_text(CONFIG)
    clear = generate(capsys, config)
    assert set(clear) == {"11", "12", "13"} and all(len(p) == 6 and p.isdigit() for p in clear.values())
    assert len(set(clear.values())) == 3              # (10^-5 odds of a false failure)
    pins = tmp_path / "agents.pins"
    assert pins.stat().st_mode & 0o777 == 0o600
    assert not any(pin in pins.read_text() for pin in clear.values())
    loaded = load_config(config)
    assert loaded.warnings == ()
    assert all(pin_verifies(loaded.agents[a].pin, pin) for a, pin in clear.items())
    assert not pin_verifies(loaded.agents["11"].pin, clear["12"]) or clear["11"] == clear["12"]


def test_one_agent_is_issued_a_new_pin_and_the_others_keep_theirs(tmp_path, capsys):
    config = tmp_path / "acd.yaml"
    config.write_text(CONFIG)
    first = generate(capsys, config)
    handout = tmp_path / "handout.txt"
    assert generate(capsys, config, "--agents", "12", "--digits", "8", "--clear-out", str(handout)) == {}
    assert handout.stat().st_mode & 0o777 == 0o600
    again = dict(line.split() for line in handout.read_text().splitlines())
    assert set(again) == {"12"} and len(again["12"]) == 8
    loaded = load_config(config)
    assert pin_verifies(loaded.agents["11"].pin, first["11"]) and pin_verifies(loaded.agents["12"].pin, again["12"])


def test_unknown_agents_and_bad_lengths_are_refused(tmp_path, capsys):
    config = tmp_path / "acd.yaml"
    config.write_text(CONFIG)
    out = str(tmp_path / "agents.pins")
    assert main(["pins", "generate", "--config", str(config), "--out", out, "--agents", "11,99"]) == 1
    assert "no agents 99" in capsys.readouterr().err
    assert main(["pins", "generate", "--config", str(config), "--out", out, "--digits", "3"]) == 1
    assert not (tmp_path / "agents.pins").exists()


def test_the_demo_issues_pins_its_agents_panel_can_use(tmp_path):
    from types import SimpleNamespace

    from acd.demo import demo_pins, sandbox_config

    source = tmp_path / "acd.yaml"
    source.write_text(CONFIG.replace("'13': {skills", "'13': {pin: '4444', skills"))
    var = tmp_path / "var"
    clear = demo_pins(load_config(source), var)
    assert set(clear) == {"11", "12"}                     # 13 keeps the config's own
    assert (var / "demo-pins.txt").stat().st_mode & 0o777 == 0o600
    sandbox = SimpleNamespace(ami_port=5038, ami_username="acd", ami_secret="s")
    demo = load_config(sandbox_config(source, tmp_path / "demo.yaml", sandbox, 4573, var))
    assert pin_verifies(demo.agents["11"].pin, clear["11"]) and demo.agents["13"].pin == "4444"


def test_check_prints_what_should_change(tmp_path, capsys):
    config = tmp_path / "acd.yaml"
    config.write_text(CONFIG.replace("'13': {skills", "'13': {pin: '4444', skills"))
    assert main(["check", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "clear-text PIN in the config for 1 of 3 agents" in err and "no pins file yet" in err
