"""``python -m dialplan secrets``: one strong random SIP password per agent, the file
0600, existing passwords never replaced unless asked, only new agents added, and what it
writes is what ``python -m dialplan --secrets`` reads."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from acd.config import load_config
from dialplan.__main__ import main
from dialplan.generate import Options, generate, read_secrets
from dialplan.secrets import phone_keys

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"
SMALL = """\
service: {{name: t, languages: [el]}}
skills: {{topic:a: A}}
queues:
  q: {{requires: {{topic:a: 1}}}}
agents:
{agents}
"""


def small_config(path: Path, *agent_ids: str) -> Path:
    path.write_text(SMALL.format(agents="".join(f"  '{a}': {{pin: '1234', skills: {{topic:a: 1}}}}\n"
                                                for a in agent_ids)))
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_agent_of_the_example_gets_its_own_strong_password_that_the_generator_takes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "etc" / "phones.secrets"
    assert main(["secrets", "--config", str(EXAMPLE), "--out", str(out)]) == 0
    config = load_config(EXAMPLE)
    passwords = read_secrets(out)
    assert list(passwords) == [*config.agents, "supervisor:sup-101"] == phone_keys(config)
    assert len(set(passwords.values())) == len(passwords)
    assert all(len(p) >= 24 for p in passwords.values())
    assert mode(out) == 0o600
    assert f"{len(config.agents) + 1} added, 0 rotated, 0 kept" in capsys.readouterr().out
    pjsip = generate(config, Options(secrets=passwords))["pjsip_generated.conf"]
    assert f"username=agent-2001\npassword={passwords['2001']}\n" in pjsip
    assert f"username=sup-101\npassword={passwords['supervisor:sup-101']}\n" in pjsip


def test_a_second_run_changes_nothing_and_a_new_agent_is_added_alone(tmp_path: Path) -> None:
    config, out = small_config(tmp_path / "acd.yaml", "11", "12"), tmp_path / "phones.secrets"
    assert main(["secrets", "--config", str(config), "--out", str(out)]) == 0
    first = out.read_text()
    assert main(["secrets", "--config", str(config), "--out", str(out)]) == 0
    assert out.read_text() == first
    small_config(config, "11", "12", "13")
    assert main(["secrets", "--config", str(config), "--out", str(out)]) == 0
    assert out.read_text().startswith(first)
    after = read_secrets(out)
    assert list(after) == ["11", "12", "13"] and {k: after[k] for k in ("11", "12")} == read_secrets_text(first)


def read_secrets_text(text: str) -> dict[str, str]:
    return dict(line.split() for line in text.splitlines() if line and not line.startswith("#"))


def test_rotate_replaces_only_the_named_agent_and_keeps_comments_and_agents_gone_from_the_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, out = small_config(tmp_path / "acd.yaml", "11", "12"), tmp_path / "phones.secrets"
    out.write_text("# hand-made\n11 Eleven-old-password  # desk phone\n12 Twelve-old-password\n"
                   "99 Gone-agent-password\ntrunk:carrier Carrier-password-1\n")
    out.chmod(0o644)
    assert main(["secrets", "--config", str(config), "--out", str(out)]) == 0
    assert mode(out) == 0o600                                     # tightened, nothing else changed
    assert read_secrets(out)["11"] == "Eleven-old-password"
    assert main(["secrets", "--config", str(config), "--out", str(out), "--rotate", "11"]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "# hand-made" and lines[1].startswith("11 ") and lines[1].endswith("# desk phone")
    after = read_secrets(out)
    assert after["11"] != "Eleven-old-password" and len(after["11"]) >= 24
    assert (after["12"], after["99"]) == ("Twelve-old-password", "Gone-agent-password")
    assert after["trunk:carrier"] == "Carrier-password-1"          # a trunk's line is kept, not an agent gone
    assert "1 not in the config, kept (first: 99)" in capsys.readouterr().out
    assert main(["secrets", "--config", str(config), "--out", str(out), "--rotate-all"]) == 0
    rotated = read_secrets(out)
    assert rotated["11"] != after["11"] and rotated["12"] != after["12"] and rotated["99"] == after["99"]


def test_bad_input_is_refused_and_the_file_is_left_as_it_was(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, out = small_config(tmp_path / "acd.yaml", "11"), tmp_path / "phones.secrets"
    out.write_text("11 short\n")
    assert main(["secrets", "--config", str(config), "--out", str(out)]) == 2
    assert f"{out}:1: expected" in capsys.readouterr().err
    assert out.read_text() == "11 short\n"
    out.write_text("11 Eleven-old-password\n")
    assert main(["secrets", "--config", str(config), "--out", str(out), "--rotate", "42"]) == 2
    assert "--rotate 42: no such agent" in capsys.readouterr().err
    assert out.read_text() == "11 Eleven-old-password\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []     # no temporary left


def test_a_supervisors_generated_phone_gets_its_password_beside_the_agents_kept_and_rotated_alike(
        tmp_path: Path) -> None:
    config, out = small_config(tmp_path / "acd.yaml", "11"), tmp_path / "phones.secrets"
    with config.open("a") as text:     # a channel given as a string is no phone of the generator's
        text.write("access:\n  supervisor_phones: {e.markou: {endpoint: sup-1}, a.nikolaou: PJSIP/agent-11}\n")
    assert main(["secrets", "--config", str(config), "--out", str(out)]) == 0
    first = read_secrets(out)
    assert list(first) == ["11", "supervisor:sup-1"]
    assert main(["secrets", "--config", str(config), "--out", str(out), "--rotate", "supervisor:sup-1"]) == 0
    after = read_secrets(out)
    assert after["11"] == first["11"] and after["supervisor:sup-1"] != first["supervisor:sup-1"]
