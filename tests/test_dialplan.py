"""The generated Asterisk files (dialplan.generate) as text: complete, linted by a
third-party checker, and refusing options that cannot work."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from acd.config import load_config
from acd.config.model import Config
from dialplan.generate import FEATURE_CODES, GenerateError, Options, extensions, generate, pjsip, queues, read_secrets

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "1555.yaml"
LINT = Path(sys.executable).with_name("asterisklint")
SANDBOX = Options(agents_at="127.0.0.1:16000")


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(EXAMPLE)


def contexts(text: str) -> dict[str, str]:
    """Context name -> its body."""
    parts = re.split(r"^\[([^\]]+)\]\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_generated_dialplan_passes_asterisklint(config: Config, tmp_path: Path) -> None:
    if not LINT.is_file():
        pytest.fail("asterisklint is not installed in the virtualenv (pip install asterisklint)")
    (tmp_path / "extensions_generated.conf").write_text(extensions(config, SANDBOX), encoding="utf-8")
    # the base extensions.conf Asterisk really reads, which includes the generated file
    (tmp_path / "extensions.conf").write_text((ROOT / "asterisk-config" / "extensions.conf").read_text())
    done = subprocess.run([str(LINT), "dialplan-check", "extensions.conf"], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "ALINT_IGNORE": ""})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "" and done.stderr.strip() == ""


def test_lint_catches_a_broken_dialplan(tmp_path: Path) -> None:
    """The lint step above can fail: a dialplan with an unbalanced expression is reported."""
    (tmp_path / "extensions.conf").write_text("[general]\n[globals]\n[x]\nexten => s,1,GotoIf($[${A} = 1?y)\n")
    done = subprocess.run([str(LINT), "dialplan-check", "extensions.conf"], cwd=tmp_path, capture_output=True)
    assert done.returncode != 0


def test_service_number_runs_the_ivr_then_the_waiting_room(config: Config) -> None:
    inbound = contexts(extensions(config, SANDBOX))["acd-inbound"]
    assert "exten => 1555,1,Answer()" in inbound
    assert "AGI(agi://127.0.0.1:4573/ivr)" in inbound
    assert '"${ACD_IVR_RESULT}" = "queue"]?acd-waiting,s,1' in inbound


def test_every_queue_has_a_direct_test_extension(config: Config) -> None:
    inbound = contexts(extensions(config, SANDBOX))["acd-inbound"]
    for name in config.queues:
        assert f"exten => q-{name},1," in inbound and f"Set(ACD_QUEUE={name})" in inbound


def test_without_a_daemon_the_caller_takes_the_app_queue_fallback(config: Config) -> None:
    text = extensions(config, SANDBOX)
    parts = contexts(text)
    assert "Queue(acd-fallback)" in parts["acd-fallback"]
    assert "Goto(acd-fallback,s,1)" in parts["acd-inbound"]                  # IVR did not finish
    assert "GotoIf($[${ACD_TRIES} > 10]?acd-fallback,s,1)" in parts["acd-waiting"]   # no daemon to wait with


def test_fallback_queue_holds_every_agent_phone(config: Config) -> None:
    members = re.findall(r"^member => PJSIP/(agent-\d+),", queues(config), flags=re.M)
    assert sorted(members) == sorted(agent.endpoint for agent in config.agents.values())


def test_overrides_reach_every_agi_call(config: Config) -> None:
    text = extensions(config, Options(agi_host="10.0.0.5", agi_port=4999, agents_at="127.0.0.1:1"))
    urls = re.findall(r"AGI\((agi://[^/]+)/", text)
    assert urls and set(urls) == {"agi://10.0.0.5:4999"}


def test_agents_feature_codes_call_the_agent_handler(config: Config) -> None:
    agents = contexts(extensions(config, SANDBOX))["acd-agents"]
    for action, code in FEATURE_CODES.items():
        assert f"exten => {code},1,AGI(agi://127.0.0.1:4573/agent,{action})" in agents
    assert "exten => _*13X,1,AGI(agi://127.0.0.1:4573/agent,pause,${EXTEN:3})" in agents
    # escalation to the back office: the current or just-ended call, optionally to unit N
    assert FEATURE_CODES["escalate"] == "*15"
    assert "exten => _*15X,1,AGI(agi://127.0.0.1:4573/agent,escalate,${EXTEN:3})" in agents


def test_max_wait_exits_each_have_an_extension(config: Config) -> None:
    exits = contexts(extensions(config, SANDBOX))["acd-exit"]
    for kind in ("callback", "voicemail", "ticket", "queue", "goodbye"):
        assert f"exten => {kind},1," in exits


def test_agent_endpoints_follow_the_contract(config: Config) -> None:
    text = pjsip(config, SANDBOX)
    for agent in config.agents.values():
        section = text.split(f"[{agent.endpoint}]\ntype=endpoint\n", 1)[1].split("\n\n", 1)[0]
        assert "context=acd-agents" in section and "dtmf_mode=info" in section and "direct_media=no" in section
        assert f"contact=sip:{agent.endpoint}@127.0.0.1:16000" in text


def test_registering_phones_need_a_password_each(config: Config, tmp_path: Path) -> None:
    with pytest.raises(GenerateError, match="no SIP password"):
        pjsip(config)
    secrets = tmp_path / "secrets"
    secrets.write_text("".join(f"{agent_id} pw-{agent_id}-secret\n" for agent_id in config.agents))
    text = pjsip(config, Options(secrets=read_secrets(secrets)))
    assert "type=auth" in text and "password=pw-2001-secret" in text and "max_contacts=1" in text


def test_weak_secret_line_is_refused_with_its_line(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.write_text("# phones\n2001 short\n")
    with pytest.raises(GenerateError, match=r"secrets:2:"):
        read_secrets(secrets)


def test_bad_options_are_refused(config: Config) -> None:
    with pytest.raises(GenerateError, match="TCP port"):
        extensions(config, Options(agi_port=70000))
    with pytest.raises(GenerateError, match="not dialable"):
        extensions(config, Options(service_number="15 55"))


def test_cli_writes_the_three_files(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "dialplan", "--config", str(EXAMPLE), "--out", str(tmp_path),
                           "--agents-at", "127.0.0.1:16000", "--agi-port", "4600"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(generate(load_config(EXAMPLE), SANDBOX))
    assert "agi://127.0.0.1:4600/ivr" in (tmp_path / "extensions_generated.conf").read_text()


def test_cli_refuses_a_bad_config_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8").replace("prompt: caller_type_menu", "prompt: nope"),
                   encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "dialplan", "--config", str(bad), "--out", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    assert re.search(r"bad\.yaml:\d+: .*unknown prompt 'nope'", done.stderr)
    assert not (tmp_path / "out").exists()
