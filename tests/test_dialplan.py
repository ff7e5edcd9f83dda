"""The generated Asterisk files (dialplan.generate) as text: complete, linted by a
third-party checker, and refusing options that cannot work."""
from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from acd.config import ConfigError, load_config, load_config_text
from acd.config.model import Config
from acd.engine.lines import qualifies
from dialplan.generate import (FEATURE_CODES, GenerateError, Options, emergency_lines, extensions, generate, pjsip,
                               queues, read_secrets)
from dialplan.secrets import phone_keys

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "1555.yaml"
LINT = Path(sys.executable).with_name("asterisklint")
SANDBOX = Options(agents_at="127.0.0.1:16000")


VIOLENCE_TEAM = {f"agent-{n}" for n in range(2901, 2911)}
#: a second 24/7 line with its own team, reached by no key of the IVR
SECOND_LINE = {
    "  topic:violence: Reports": "  topic:trafficking: Human trafficking reports\n  topic:violence: Reports",
    "    record: true\n": "    record: true\n  trafficking:\n    requires: {topic:trafficking: 2}\n"
                          "    priority: 20\n    always_open: true\n",
    "\ndaemon:": "  trafficking:\n    ids: 2951-2953\n    skills: {topic:trafficking: 4}\n\ndaemon:",
}


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(EXAMPLE)


def example(replacements: dict[str, str]) -> Config:
    """The example with some text replaced (each must occur once)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return load_config_text(text, str(EXAMPLE))


def queue_sections(text: str) -> dict[str, str]:
    """queues_generated.conf: queue name -> its body."""
    return contexts(text)


def members(body: str) -> dict[str, int]:
    """A queue's member endpoints and their penalties."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^member => PJSIP/([^,]+),(\d+),", body, flags=re.M)}


def contexts(text: str) -> dict[str, str]:
    """Context name -> its body."""
    parts = re.split(r"^\[([^\]]+)\]\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


@pytest.mark.parametrize("variant", ["1555", "two 24/7 lines", "no degraded choice"])
def test_generated_dialplan_passes_asterisklint(variant: str, tmp_path: Path) -> None:
    if not LINT.is_file():
        pytest.fail("asterisklint is not installed in the virtualenv (pip install asterisklint)")
    config = {"1555": lambda: load_config(EXAMPLE),
              "two 24/7 lines": lambda: example({**SECOND_LINE, "degraded: {prompt: [": 'degraded: {keys: {"*": '
                                                 'trafficking}, timeout: 3.5, prompt: ['}),
              "no degraded choice": lambda: example({"  degraded: {prompt": "  # degraded: {prompt"})}[variant]()
    (tmp_path / "extensions_generated.conf").write_text(extensions(config, SANDBOX), encoding="utf-8")
    # the base extensions.conf Asterisk really reads, which includes the generated file
    (tmp_path / "extensions.conf").write_text((ROOT / "asterisk-config" / "extensions.conf").read_text())
    done = subprocess.run([str(LINT), "dialplan-check", "extensions.conf"], cwd=tmp_path, capture_output=True,
                          # asterisklint does not check hints at all (a notice, not a finding):
                          # the live tests load them into Asterisk itself
                          text=True, env={**os.environ, "ALINT_IGNORE": "I_NOTIMPL_HINT"})
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
    general = members(queue_sections(queues(config))["acd-fallback"])
    assert sorted(general) == sorted(agent.endpoint for agent in config.agents.values())


# -- the degraded path's 24/7 line ---------------------------------------------------------

def test_degraded_path_asks_for_the_emergency_key_in_both_languages(config: Config) -> None:
    fallback = contexts(extensions(config, SANDBOX))["acd-fallback"]
    assert "same => n,Background(acd/el/degraded_choice&acd/en/degraded_choice)" in fallback
    assert "same => n,WaitExten(5)" in fallback            # the IVR's timeout
    # the IVR's key for the violence line, 9, is the degraded path's key too
    assert config.ivr.nodes["language"].options["9"].queue == "violence"
    assert "exten => 9,1,Goto(acd-fallback-violence,s,1)" in fallback


def test_no_key_or_a_wrong_key_goes_to_the_all_agents_queue(config: Config) -> None:
    fallback = contexts(extensions(config, SANDBOX))["acd-fallback"]
    steps = [line.strip() for line in fallback.splitlines() if line.startswith((" same", "exten"))]
    wait = steps.index("same => n,WaitExten(5)")
    # WaitExten's timeout runs on into the next priority: the general queue
    assert steps[wait + 1].startswith("same => n(general),Log(WARNING")
    assert steps[wait + 2] == "same => n,Queue(acd-fallback)"
    assert "exten => i,1,Goto(s,general)" in steps


def test_caller_who_chose_the_violence_line_in_the_ivr_skips_the_question(config: Config) -> None:
    fallback = contexts(extensions(config, SANDBOX))["acd-fallback"]
    goto = fallback.index('GotoIf($["${ACD_QUEUE}" = "violence"]?acd-fallback-violence,s,1)')
    assert goto < fallback.index("Background(")


def test_violence_line_has_its_own_queue_of_only_its_team_named_as_the_daemon_names_it(config: Config) -> None:
    parts = contexts(extensions(config, SANDBOX))
    assert "same => n,Queue(violence)" in parts["acd-fallback-violence"]      # the context keeps its name
    section = queue_sections(queues(config))["violence"]
    assert set(members(section)) == VIOLENCE_TEAM
    # the engine's own rule decides who qualifies
    violence = config.queues["violence"]
    assert set(members(section)) == {agent.endpoint for agent in config.agents.values()
                                     if qualifies(agent.skills, violence.requirements)}
    # the queue's own ring timeout and wrap-up
    assert "\ntimeout=20\n" in section and "\nwrapuptime=60\n" in section


def test_violence_team_takes_its_line_first(config: Config) -> None:
    sections = queue_sections(queues(config))
    weight = re.search(r"^weight=(\d+)$", sections["violence"], flags=re.M)
    assert weight and int(weight[1]) > 0
    assert "weight=" not in sections["acd-fallback"]        # app_queue's default: 0
    # in the all-agents queue the violence team only takes callers nobody else can
    general = members(sections["acd-fallback"])
    assert {endpoint for endpoint, penalty in general.items() if penalty} == VIOLENCE_TEAM
    assert set(general.values()) == {0, 1}


def test_degraded_path_has_no_clock_so_the_247_line_answers_at_night(config: Config) -> None:
    parts = contexts(extensions(config, SANDBOX))
    for name in ("acd-fallback", "acd-fallback-violence"):
        assert not re.search(r"IfTime|IFTIME|STRFTIME|\$\{EPOCH\}", parts[name])
    assert config.queues["violence"].always_open


def test_emergency_key_can_be_set_in_the_config() -> None:
    config = example({"degraded: {prompt: [": 'degraded: {keys: {"7": violence}, timeout: 3, prompt: ['})
    fallback = contexts(extensions(config, SANDBOX))["acd-fallback"]
    assert "exten => 7,1,Goto(acd-fallback-violence,s,1)" in fallback
    assert "exten => 9," not in fallback and "WaitExten(3)" in fallback


def test_default_key_follows_the_ivr() -> None:
    config = example({'        "9": {queue: violence}  # the emergency': '        "7": {queue: violence}  # the emergency'})
    assert config.ivr.degraded.keys == {"7": "violence"}


def test_each_247_line_gets_its_own_degraded_queue_and_key() -> None:
    config = example({**SECOND_LINE, "degraded: {prompt: [": 'degraded: {keys: {"8": trafficking}, prompt: ['})
    parts = contexts(extensions(config, SANDBOX))
    assert "exten => 9,1,Goto(acd-fallback-violence,s,1)" in parts["acd-fallback"]
    assert "exten => 8,1,Goto(acd-fallback-trafficking,s,1)" in parts["acd-fallback"]
    assert "same => n,Queue(trafficking)" in parts["acd-fallback-trafficking"]
    sections = queue_sections(queues(config))
    assert set(members(sections["trafficking"])) == {"agent-2951", "agent-2952", "agent-2953"}
    assert set(members(sections["violence"])) == VIOLENCE_TEAM
    # the engine's order of their callers: weight x priority, violence 3 x 10 above trafficking 1 x 20
    weights = {line.queue.name: line.weight for line in emergency_lines(config)}
    assert weights == {"violence": 2, "trafficking": 1}


def test_247_line_the_ivr_cannot_reach_needs_a_key() -> None:
    with pytest.raises(ConfigError, match=r"1555\.yaml:\d+: .*'trafficking' by no key"):
        example(SECOND_LINE)


def test_degraded_choice_naming_a_missing_prompt_is_refused_at_load() -> None:
    with pytest.raises(ConfigError, match=r"1555\.yaml:\d+: .*unknown prompt 'nope'"):
        example({"degraded: {prompt: [degraded_choice@el, degraded_choice@en]}": "degraded: {prompt: nope}"})


@pytest.mark.parametrize(("keys", "reason"), [
    ('{"9": pensions}', "'pensions' is not a 24/7 queue"),
    ('{"x": violence}', "key 'x' must be one key of the phone"),
    ('{"8": nowhere}', "unknown queue 'nowhere'"),
])
def test_bad_degraded_keys_are_refused_with_their_line(keys: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=r"1555\.yaml:\d+: .*" + re.escape(reason)):
        example({"degraded: {prompt: [": f"degraded: {{keys: {keys}, prompt: ["})


def test_without_degraded_settings_only_ivr_choosers_reach_the_247_line() -> None:
    config = example({"  degraded: {prompt": "  # degraded: {prompt"})
    parts = contexts(extensions(config, SANDBOX))
    assert "Background(" not in parts["acd-fallback"] and "WaitExten(" not in parts["acd-fallback"]
    assert '"${ACD_QUEUE}" = "violence"]?acd-fallback-violence,s,1' in parts["acd-fallback"]
    assert set(members(queue_sections(queues(config))["violence"])) == VIOLENCE_TEAM


def test_247_line_nobody_qualifies_for_is_refused(config: Config) -> None:
    # (the loader's sim section refuses this file already; a config without one would not)
    violence = dataclasses.replace(config.queues["violence"], requirements={"topic:violence": 6})
    config = dataclasses.replace(config, queues={**config.queues, "violence": violence})
    with pytest.raises(GenerateError, match="no agent qualifies for the 24/7 queue 'violence'"):
        queues(config)


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
        assert {"context=acd-agents", "dtmf_mode=rfc4733", "direct_media=no", "allow=alaw,ulaw"} <= set(section.splitlines())
        assert f"contact=sip:{agent.endpoint}@127.0.0.1:16000" in text


def test_citizens_trunk_negotiates_rfc4733_and_hears_in_band_tones(config: Config) -> None:
    trunk = pjsip(config, SANDBOX).split("[citizens]\ntype=endpoint\n", 1)[1].split("\n\n", 1)[0]
    # auto: telephone-event offered and answered; in-band detection when the far end offers none
    assert {"context=acd-inbound", "dtmf_mode=auto", "allow=alaw,ulaw", "direct_media=no"} <= set(trunk.splitlines())


def test_registering_phones_need_a_password_each(config: Config, tmp_path: Path) -> None:
    with pytest.raises(GenerateError, match="no SIP password"):
        pjsip(config)
    secrets = tmp_path / "secrets"
    secrets.write_text("".join(f"{key} pw-{key.replace(':', '-')}-secret\n" for key in phone_keys(config)))
    text = pjsip(config, Options(secrets=read_secrets(secrets)))
    assert "type=auth" in text and "password=pw-2001-secret" in text and "max_contacts=1" in text


def test_registering_phones_can_be_qualified_and_answered_behind_nat(config: Config) -> None:
    secrets = {key: f"pw-{key.replace(':', '-')}" for key in phone_keys(config)}
    plain = pjsip(config, Options(secrets=secrets))
    assert "qualify_frequency" not in plain and "rewrite_contact" not in plain
    text = pjsip(config, Options(secrets=secrets, qualify_frequency=30, nat=True))
    for name in [*(agent.endpoint for agent in config.agents.values()), "sup-101"]:
        endpoint = text.split(f"[{name}]\ntype=endpoint\n", 1)[1].split("\n\n", 1)[0]
        aor = text.split(f"[{name}]\ntype=aor\n", 1)[1].split("\n\n", 1)[0]
        assert {"rewrite_contact=yes", "force_rport=yes", "rtp_symmetric=yes"} <= set(endpoint.splitlines())
        assert "qualify_frequency=30" in aor.splitlines()
    with pytest.raises(GenerateError, match="qualify frequency"):
        pjsip(config, Options(secrets=secrets, qualify_frequency=-1))


def section(text: str, name: str, kind: str) -> set[str]:
    """The lines of one ``[name]`` section of ``type=kind`` in pjsip_generated.conf."""
    return set(text.split(f"[{name}]\ntype={kind}\n", 1)[1].split("\n\n", 1)[0].splitlines())


def test_a_supervisors_phone_of_its_own_is_written_as_an_agents_in_a_context_that_reaches_nothing(
        config: Config) -> None:
    assert config.access.supervisor_phones == {"e.markou": "PJSIP/sup-101"}     # examples/1555.yaml
    secrets = {key: f"pw-{key.replace(':', '-')}" for key in phone_keys(config)}
    text = pjsip(config, Options(secrets=secrets, qualify_frequency=30, nat=True))
    agent, supervisor = section(text, "agent-2001", "endpoint"), section(text, "sup-101", "endpoint")
    # the agents' writer: same codecs, DTMF, media and NAT lines; only the context and caller id differ
    assert supervisor ^ agent == {"context=acd-supervisors", "context=acd-agents", "aors=sup-101", "auth=sup-101",
                                  "aors=agent-2001", "auth=agent-2001", next(x for x in agent if x.startswith("callerid="))}
    assert section(text, "sup-101", "auth") == {"auth_type=userpass", "username=sup-101",
                                                "password=pw-supervisor-sup-101"}
    assert section(text, "sup-101", "aor") == section(text, "agent-2001", "aor")
    # the context exists and is empty: a call from the phone finds no extension (not the trunk,
    # no feature code); ChanSpy runs on the Originate'd channel without the dialplan
    body = contexts(extensions(config, SANDBOX))["acd-supervisors"]
    assert [line for line in body.splitlines() if line.strip() and not line.startswith(";")] == []
    sandbox = pjsip(config, SANDBOX)
    assert "contact=sip:sup-101@127.0.0.1:16000" in sandbox and "[sup-101]\ntype=auth" not in sandbox


def test_a_supervisors_phone_needs_its_password_and_a_channel_given_as_a_string_is_not_written(
        config: Config) -> None:
    agents_only = {agent_id: f"pw-{agent_id}-secret" for agent_id in config.agents}
    with pytest.raises(GenerateError, match="no SIP password.*first: supervisor:sup-101"):
        pjsip(config, Options(secrets=agents_only))
    as_string = example({"    e.markou: {endpoint: sup-101}": "    e.markou: PJSIP/sup-101"})
    assert as_string.access.supervisor_phones == {"e.markou": "PJSIP/sup-101"}
    assert "[sup-101]" not in pjsip(as_string, Options(secrets=agents_only))     # rings an endpoint made elsewhere


@pytest.mark.parametrize(("phone", "extra", "reason"), [
    ("{endpoint: carrier}", "trunks:\n  carrier: {server: 192.0.2.1, dids: ['1555']}\n", "'carrier' is a trunk's name"),
    ("{endpoint: citizens}", "", "'citizens' is a trunk's name"),
    ("{endpoint: agent-2001}", "", "and not 'agent-'"),
    ("{endpoint: SIP/sup-101}", "", "the generator writes PJSIP endpoints only"),
    ("{endpoint: 1sup}", "", "must start with a letter"),
    ("{phone: sup-101}", "", "phone"),
])
def test_a_supervisors_endpoint_the_generator_cannot_write_is_refused_with_its_line(
        phone: str, extra: str, reason: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("    e.markou: {endpoint: sup-101}", f"    e.markou: {phone}")
    text = text.replace('    dial: "PJSIP/{number}@citizens"\n', "") + extra
    line = 1 + text.splitlines().index(f"    e.markou: {phone}")
    with pytest.raises(ConfigError, match=re.escape(reason)) as error:
        load_config_text(text, "acd.yaml")
    assert (error.value.file, error.value.line) == ("acd.yaml", line)


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


def test_reentry_after_an_exit_keeps_the_place_only_for_a_callback(config: Config) -> None:
    """Issue 9 item 1: the callback exit keeps ACD_ENQUEUED_AT (the engine gives a
    callback no max wait), the queue exit resets it (the new queue's max wait starts)."""
    exits = contexts(extensions(config, SANDBOX))["acd-exit"]
    callback = exits.split("exten => callback,1,", 1)[1].split("exten => ", 1)[0]
    queue = exits.split("exten => queue,1,", 1)[1].split("exten => ", 1)[0]
    assert "Set(ACD_ENQUEUED_AT=)" in queue and "ACD_ENQUEUED_AT" not in callback


def test_a_caller_handed_over_by_a_stopping_daemon_tries_again_at_once_then_the_fallback(config: Config) -> None:
    from acd.call_contract import WAIT_HANDOVER as HANDED_OVER

    waiting = contexts(extensions(config, SANDBOX))["acd-waiting"]
    assert f'"${{ACD_WAIT_RESULT}}" = "{HANDED_OVER}"]?handover)' in waiting
    assert "n(handover),Set(ACD_WAIT_RESULT=)" in waiting and "Set(ACD_TRIES=8)" in waiting
    assert waiting.index('"${DIALSTATUS}" = "ANSWER"]?answered') < waiting.index("Set(ACD_TRIES=$[${ACD_TRIES} + 1])")


def test_caller_who_chose_any_topic_already_is_not_asked_again_on_the_degraded_path(config: Config) -> None:
    """A caller a stopping daemon handed over has chosen its topic in the IVR: the 24/7
    line's callers go to its team, the others straight to their topic's app_queue queue
    (a topic no queue has any more: the unknown topic's queue)."""
    fallback = contexts(extensions(config, SANDBOX))["acd-fallback"]
    skip = fallback.index('GotoIf($["${ACD_QUEUE}" != ""]?general)')
    assert fallback.index('"violence"]?acd-fallback-violence,s,1)') < skip < fallback.index("Background(")
    assert fallback.index('GotoIf($["${ACD_QUEUE}" = "pensions"]?topic)') < skip


def test_with_two_daemons_a_caller_and_an_agents_code_try_the_second_fastagi(config: Config) -> None:
    from dataclasses import replace

    parts = contexts(extensions(config, replace(SANDBOX, standby_agi="10.0.0.2:4573")))
    waiting = parts["acd-waiting"]
    second = waiting.index("agi://10.0.0.2:4573/wait")
    assert second < waiting.index('"${DIALSTATUS}" = "ANSWER"]?answered)', second)
    assert "AGI(agi://10.0.0.2:4573/agent,login)" in parts["acd-agents"]
    assert "AGI(agi://10.0.0.2:4573/agent,pause,${EXTEN:3})" in parts["acd-agents"]
    assert "agi://10.0.0.2" not in extensions(config, SANDBOX)


def test_fallback_members_are_named_as_the_queue_log_names_the_agents(config: Config) -> None:
    from acd.config.model import member_name

    names = {line.split(",")[2] for line in queues(config).splitlines() if line.startswith("member =>")}
    assert names == {member_name(agent) for agent in config.agents.values()}


def test_an_agent_name_app_queue_cannot_carry_is_refused_with_the_agent() -> None:
    from tests.engine_helpers import make_config

    bad = make_config("q: {requires: {topic:a: 1}}\n", "'11': {name: 'Pappa, Anna', pin: '1234', skills: {topic:a: 1}}\n")
    with pytest.raises(GenerateError, match="agent 11's name 'Pappa, Anna'"):
        queues(bad)


# -- the degraded path's queue names: the daemon's ------------------------------------------

def test_a_caller_of_known_topic_goes_to_the_app_queue_queue_named_as_the_daemons(config: Config) -> None:
    """Issue 12: the queue_log names the queue the same whichever path took the call."""
    fallback = contexts(extensions(config, SANDBOX))["acd-fallback"]
    steps = [line.strip() for line in fallback.splitlines()]
    for name, queue in config.queues.items():
        if not queue.always_open:
            assert f'same => n,GotoIf($["${{ACD_QUEUE}}" = "{name}"]?topic)' in steps
    topic = next(i for i, step in enumerate(steps) if step.startswith("same => n(topic),"))
    assert steps[topic + 1:topic + 3] == ["same => n,Queue(${ACD_QUEUE})", "same => n,Hangup()"]
    # the only way to the label is a name the GotoIfs compared: an unknown name is the general queue's
    assert fallback.count("?topic)") == len(config.queues) - 1


def test_each_topic_queue_rings_its_qualified_agents_first_and_the_247_team_last(config: Config) -> None:
    sections = queue_sections(queues(config))
    every = {agent.endpoint for agent in config.agents.values()}
    for name, queue in config.queues.items():
        if queue.always_open:
            continue
        section = sections[name]
        penalties = members(section)
        assert set(penalties) == every                         # callers are still answered
        qualified = {agent.endpoint for agent in config.agents.values()
                     if qualifies(agent.skills, queue.requirements)} - VIOLENCE_TEAM
        assert qualified and {e for e, p in penalties.items() if p == 0} == qualified
        assert {e for e, p in penalties.items() if p == 2} == VIOLENCE_TEAM
        assert {e for e, p in penalties.items() if p == 1} == every - qualified - VIOLENCE_TEAM
        assert f"\ntimeout={queue.ring_timeout:g}\n" in section and f"\nwrapuptime={queue.wrapup:g}\n" in section
        assert f"\nmusicclass={queue.music_class}\n" in section and "weight=" not in section
    assert sections["labour"].count("\nwrapuptime=20\n") == 1          # each queue its own wrap-up
    # no acd-fallback-<queue> app_queue queue any more: the queues are the config's and acd-fallback
    assert set(sections) == {"acd-fallback", *config.queues}


def test_every_member_takes_its_state_from_the_agents_hint_not_a_pause_flag(config: Config) -> None:
    states = contexts(extensions(config, SANDBOX))["acd-agent-states"]
    member_lines = [line for line in queues(config).splitlines() if line.startswith("member =>")]
    assert all(line.endswith(f"hint:{line.split('/')[1].split(',')[0]}@acd-agent-states") for line in member_lines)
    for agent in config.agents.values():
        assert f"exten => {agent.endpoint},hint,PJSIP/{agent.endpoint}&Custom:acd-{agent.endpoint}" in states


@pytest.mark.parametrize(("name", "reason"), [
    ("acd-fallback", "queue name 'acd-fallback' is reserved"),
    ("ACD-Fallback", "queue name 'ACD-Fallback' is reserved"),
    ("general", "queue name 'general' is reserved"),
    ("Pensions", "queue name 'Pensions' differs from queue 'pensions' only in case"),
])
def test_a_queue_name_app_queue_would_confuse_is_refused_with_its_line(name: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=r"1555\.yaml:\d+: .*" + re.escape(reason)) as info:
        example({"\n  unemployment:\n": f"\n  {name}:\n"})
    assert info.value.line == EXAMPLE.read_text(encoding="utf-8").splitlines().index("  unemployment:") + 1


def test_the_callback_leg_notes_the_citizens_answer_in_astdb_at_the_answer(config: Config) -> None:
    """A callback made twice after a failover: the citizen answered while no daemon
    listened, and the outcome died with the channel. Dial's U() runs on the answer, on
    the citizen's channel, before the bridge (apps/app_dial.c), and AstDB outlives
    channels and daemons: the next daemon asks it before a try."""
    found = contexts(extensions(config, SANDBOX))
    dial = found["acd-callback"]
    assert ",60,U(acd-callback-answered^${ACD_CALLID}))" in dial
    note = found["acd-callback-answered"]
    assert "exten => s,1,Set(DB(acd-callback/${ARG1})=answered)" in note and "Return()" in note
