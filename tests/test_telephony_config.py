"""The ``trunks:`` and ``phones:`` sections: parsed into typed settings, mistakes named
with file, line and reason, and the PJSIP sections and dialplan the generator writes
from them."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from acd.config import ConfigError, load_config_text
from acd.config.model import Config
from acd.config.telephony import Phones, phones_of, trunks_of
from dialplan.generate import GenerateError, Options, callback_dial, extensions, pjsip
from dialplan.secrets import phone_keys

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"
SANDBOX = Options(agents_at="127.0.0.1:16000")
TRUNK = """
trunks:
  carrier:
    server: sip.carrier.example:5070
    match: [192.0.2.0/24, 198.51.100.7, edge.carrier.example]
    username: "302101555000"
    register: true
    dids: ["+302101555000", "2101555000"]
    codecs: [alaw]
    callbacks: true
  backup:
    match: [203.0.113.0/28]
    dids: ["2101555999"]
    dtmf_mode: rfc4733
    trust_caller_id: false
"""


def example_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


def with_sections(extra: str) -> Config:
    return load_config_text(without_dial(example_text()) + extra, str(EXAMPLE))


def without_dial(text: str) -> str:
    assert '    dial: "PJSIP/{number}@citizens"\n' in text
    return text.replace('    dial: "PJSIP/{number}@citizens"\n', "", 1)


def uncommented_example_trunk(text: str) -> str:
    """The example's documented (commented-out) ``trunks:`` block, made live (and its
    ``ivr.callback.dial`` removed, as the block's comment says)."""
    text = without_dial(text)
    block = re.search(r"^# trunks:\n(?:#   .*\n)+", text, re.MULTILINE)
    assert block is not None, "examples/1555.yaml documents a trunks: block"
    return text.replace(block.group(0), re.sub(r"^# ?", "", block.group(0), flags=re.MULTILINE))


EXAMPLE_PHONES = "phones:\n  dtmf_mode: rfc4733\n  codecs: [alaw, ulaw]\n"


def without_phones(text: str) -> str:
    assert EXAMPLE_PHONES in text
    return text.replace(EXAMPLE_PHONES, "")


def secrets_for(config: Config) -> dict[str, str]:
    return {key: f"pw-{key.replace(':', '-')}-secret" for key in phone_keys(config)}


def test_the_example_has_phones_and_its_documented_trunk_loads() -> None:
    plain = load_config_text(example_text(), str(EXAMPLE))
    assert phones_of(plain) == Phones(dtmf_mode="rfc4733", codecs=("alaw", "ulaw"))
    assert trunks_of(plain) is None
    live = load_config_text(uncommented_example_trunk(example_text()), str(EXAMPLE))
    trunks = trunks_of(live)
    assert trunks is not None and trunks.callbacks == "carrier"
    carrier = trunks.trunks["carrier"]
    assert carrier.match == ("192.0.2.0/24", "198.51.100.7") and carrier.register and carrier.dtmf_mode == "auto"
    assert carrier.dids == ("1555", "+302101555000", "2101555000")


def test_trunks_are_typed_with_defaults() -> None:
    trunks = trunks_of(with_sections(TRUNK))
    assert trunks is not None and list(trunks.trunks) == ["carrier", "backup"] and trunks.callbacks == "carrier"
    carrier, backup = trunks.trunks["carrier"], trunks.trunks["backup"]
    assert carrier.match == ("192.0.2.0/24", "198.51.100.7", "edge.carrier.example")
    assert carrier.codecs == ("alaw",) and carrier.dtmf_mode == "auto" and carrier.trust_caller_id
    assert backup.server is None and not backup.register and backup.dtmf_mode == "rfc4733"
    assert backup.codecs == ("alaw", "ulaw") and not backup.trust_caller_id


@pytest.mark.parametrize("section, where, reason", [
    ("trunks:\n  carrier:\n    match: [10.0.0.0/8]\n    dids: ['1555']\n    dtmf_mode: rfc2833\n",
     "trunks.carrier.dtmf_mode", "not one of rfc4733, auto"),
    ("trunks:\n  carrier:\n    match: [10.0.0.300]\n    dids: ['1555']\n",
     "trunks.carrier.match[0]", "not an IP address, a CIDR range"),
    ("trunks:\n  carrier:\n    dids: ['1555']\n", "trunks.carrier", "no 'match'"),
    ("trunks:\n  carrier:\n    match: [10.0.0.1]\n    dids: ['15 55']\n", "trunks.carrier.dids[0]", "2 to 20 digits"),
    ("trunks:\n  carrier:\n    match: [10.0.0.1]\n    dids: ['1555']\n    codecs: [alaw, speex]\n",
     "trunks.carrier.codecs[1]", "not one of alaw"),
    ("trunks:\n  carrier:\n    server: a.example\n    dids: ['1555']\n    register: true\n",
     "trunks.carrier.register", "needs 'server' and 'username'"),
    ("trunks:\n  carrier:\n    match: [10.0.0.1]\n    dids: ['1555']\n",
     "trunks", "no 'server' to send them to"),
    ("trunks:\n  a:\n    server: a.example\n    dids: ['1555']\n  b:\n    server: b.example\n    dids: ['1555']\n",
     "trunks.b.dids[0]", "already a number of trunk 'a'"),
    ("trunks:\n  carrier:\n    server: a.example\n    dids: ['1555']\n    pasword: x\n",
     "trunks.carrier", "unknown key 'pasword'"),
    ("trunks:\n  agent-7:\n    server: a.example\n    dids: ['1555']\n", "trunks.agent-7", "agents' endpoints"),
    ("phones:\n  dtmf_mode: sip_info\n", "phones.dtmf_mode", "not one of"),
    ("phones:\n  codecs: [alaw, alaw]\n", "phones.codecs", "listed twice"),
])
def test_trunk_mistakes_name_line_and_reason(section: str, where: str, reason: str) -> None:
    text = without_phones(without_dial(example_text())) + "\n" + section
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "1555.yaml")
    message = str(caught.value)
    assert where in message and reason in message and "1555.yaml:" in message
    assert caught.value.line is not None and caught.value.line > without_phones(example_text()).count("\n")


def test_a_trunk_and_ivr_callback_dial_together_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"1555.yaml:\d+: ivr.callback.dial: .*remove ivr.callback.dial"):
        load_config_text(example_text() + TRUNK, "1555.yaml")


def section(text: str, name: str, kind: str) -> set[str]:
    body = text.split(f"[{name}]\ntype={kind}\n", 1)[1].split("\n\n", 1)[0]
    return set(body.splitlines())


def test_generator_writes_each_trunks_endpoint_identify_aor_auth_and_registration() -> None:
    config = with_sections(TRUNK)
    text = pjsip(config, Options(secrets={**secrets_for(config), "trunk:carrier": "carrier-pw-123"}))
    assert "[citizens]" not in text
    assert {"context=acd-inbound", "allow=alaw", "dtmf_mode=auto", "trust_id_inbound=yes", "aors=carrier",
            "outbound_auth=carrier", "from_user=302101555000", "direct_media=no"} <= section(text, "carrier", "endpoint")
    assert section(text, "carrier", "identify") == {
        "endpoint=carrier", "match=192.0.2.0/24,198.51.100.7,edge.carrier.example"}
    assert section(text, "carrier", "aor") == {"contact=sip:sip.carrier.example:5070"}
    assert section(text, "carrier", "auth") == {"auth_type=userpass", "username=302101555000",
                                                 "password=carrier-pw-123"}
    assert {"server_uri=sip:sip.carrier.example:5070", "client_uri=sip:302101555000@sip.carrier.example:5070",
            "outbound_auth=carrier", "contact_user=302101555000", "auth_rejection_permanent=no"
            } <= section(text, "carrier", "registration")
    backup = section(text, "backup", "endpoint")
    assert {"dtmf_mode=rfc4733", "allow=alaw,ulaw"} <= backup
    assert not any(line.startswith(("trust_id_inbound", "aors", "outbound_auth")) for line in backup)
    assert "[backup]\ntype=registration" not in text and "[backup]\ntype=auth" not in text


def test_a_trunk_that_authenticates_needs_its_password_in_the_secrets() -> None:
    config = with_sections(TRUNK)
    with pytest.raises(GenerateError, match="'trunk:carrier <password>'"):
        pjsip(config, Options(secrets=secrets_for(config)))


def test_trunk_match_option_overrides_every_trunk_for_a_sandbox() -> None:
    config = with_sections(TRUNK)
    text = pjsip(config, Options(agents_at="127.0.0.1:16000", trunk_match="127.0.0.1",
                                 secrets={"trunk:carrier": "carrier-pw-123"}))
    assert section(text, "carrier", "identify") == {"endpoint=carrier", "match=127.0.0.1"}
    assert section(text, "backup", "identify") == {"endpoint=backup", "match=127.0.0.1"}
    with pytest.raises(GenerateError, match="trunk match"):
        pjsip(config, Options(agents_at="127.0.0.1:1", trunk_match="10.0.0.1; drop"))


def test_without_trunks_one_local_trunk_negotiates_rfc4733() -> None:
    config = load_config_text(example_text(), str(EXAMPLE))
    text = pjsip(config, SANDBOX)
    assert {"dtmf_mode=auto", "allow=alaw,ulaw", "context=acd-inbound"} <= section(text, "citizens", "endpoint")
    assert section(text, "citizens", "identify") == {"endpoint=citizens", "match=127.0.0.1"}
    assert callback_dial(config) == "PJSIP/{number}@citizens"


def test_dids_land_at_the_service_entry_and_callbacks_go_out_through_the_trunk() -> None:
    config = with_sections(TRUNK)
    inbound = extensions(config, SANDBOX).split("[acd-inbound]\n", 1)[1].split("\n\n", 1)[0]
    for did in ("+302101555000", "2101555000", "2101555999"):
        assert f"exten => {did},1,Goto(1555,1)" in inbound
    assert callback_dial(config) == "PJSIP/{number}@carrier"
    callback = extensions(config, SANDBOX).split("[acd-callback]\n", 1)[1]
    assert "exten => _X.,1,Dial(PJSIP/${EXTEN}@carrier,60," in callback      # out through the trunk


def test_phones_codecs_and_dtmf_reach_every_agent_endpoint() -> None:
    config = load_config_text(without_phones(example_text()) + "phones:\n  dtmf_mode: auto_info\n  codecs: [ulaw, alaw]\n",
                              str(EXAMPLE))
    text = pjsip(config, SANDBOX)
    for agent in config.agents.values():
        assert {"dtmf_mode=auto_info", "allow=ulaw,alaw"} <= section(text, agent.endpoint, "endpoint")


ROOT = EXAMPLE.parent.parent


def test_acd_check_names_a_trunk_mistake_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "1555.yaml"
    bad.write_text(without_dial(example_text()) + TRUNK.replace("192.0.2.0/24", "192.0.2.0/33"), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "acd.cli", "check", "--config", str(bad)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert re.search(r"1555\.yaml:\d+: trunks\.carrier\.match\[0\]: '192\.0\.2\.0/33' is not", done.stderr), done.stderr
    good = tmp_path / "good.yaml"
    good.write_text(uncommented_example_trunk(example_text()), encoding="utf-8")
    assert subprocess.run([sys.executable, "-m", "acd.cli", "check", "--config", str(good)], cwd=ROOT,
                          capture_output=True).returncode == 0


def test_dialplan_command_reads_the_trunk_password_and_overrides_match(tmp_path: Path) -> None:
    config_file = tmp_path / "1555.yaml"
    config_file.write_text(uncommented_example_trunk(example_text()), encoding="utf-8")
    secrets = tmp_path / "secrets"
    secrets.write_text("# the carrier's digest password\ntrunk:carrier Carrier-pw-2024\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "dialplan", "--config", str(config_file), "--out",
                           str(tmp_path / "out"), "--agents-at", "127.0.0.1:16000", "--secrets", str(secrets),
                           "--trunk-match", "127.0.0.1"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "out" / "pjsip_generated.conf").read_text()
    assert section(text, "carrier", "identify") == {"endpoint=carrier", "match=127.0.0.1"}
    assert "password=Carrier-pw-2024" in section(text, "carrier", "auth")
    assert "client_uri=sip:302101555000@sip.carrier.example:5060" in section(text, "carrier", "registration")
