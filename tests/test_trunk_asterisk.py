"""The generated trunk in a real (sandboxed) Asterisk 16: it accepts the endpoint with
its DTMF mode, codecs and caller-id trust, identifies by the carrier's addresses, and
registers with a carrier's registrar (a sipp that checks the digest credentials)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from acd.config import load_config_text
from dialplan.generate import Options, generate
from rig.asterisk import AsteriskSandbox
from rig.sipp import SCENARIOS, Phones, SippProcess
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"
USER = "302101555000"


def config_with_trunk(registrar_port: int, *, dtmf_mode: str = "auto") -> str:
    text = EXAMPLE.read_text(encoding="utf-8").replace('    dial: "PJSIP/{number}@citizens"\n', "", 1)
    return text + f"""
trunks:
  carrier:
    server: 127.0.0.1:{registrar_port}
    match: [127.0.0.0/8, 192.0.2.0/24]
    username: "{USER}"
    register: true
    dids: ["+302101555000", "2101555000"]
    dtmf_mode: {dtmf_mode}
    codecs: [alaw, ulaw]
"""


def registrar(phones: Phones, password: str) -> SippProcess:
    process = SippProcess(SCENARIOS / "carrier_registrar.xml",
                          ["-key", "user", USER, "-key", "password", password, "-m", "1"],
                          workdir=phones.workdir, name=f"registrar-{len(phones.started) + 1}")
    phones.started.append(process)
    return process.start()


def field(cli: str, name: str) -> str:
    found = re.search(rf"^\s*{name}\s*:\s*(.*?)\s*$", cli, re.MULTILINE)
    assert found, f"no {name} in:\n{cli}"
    return found.group(1)


async def test_trunk_registers_with_digest_and_asterisk_accepts_its_endpoint(
        asterisk: AsteriskSandbox, phones: Phones) -> None:
    carrier = registrar(phones, "carrier-pw-123")
    config = load_config_text(config_with_trunk(carrier.port), str(EXAMPLE))
    asterisk.apply(generate(config, Options(agents_at="127.0.0.1:16000",
                                            secrets={"trunk:carrier": "carrier-pw-123"})))  # raises on ERROR
    endpoint = asterisk.cli("pjsip show endpoint carrier")
    assert field(endpoint, "dtmf_mode") == "auto"
    assert field(endpoint, "trust_id_inbound") == "true"
    assert field(endpoint, "context") == "acd-inbound"
    assert field(endpoint, "allow") == "(alaw|ulaw)"
    assert field(endpoint, "outbound_auth") == "carrier"
    assert "127.0.0.0/8" in endpoint and "192.0.2.0/24" in endpoint      # the identify's match
    await eventually(lambda: any(e.event == "registered" for e in carrier.events()), timeout=30,
                     what="the carrier's registrar accepted Asterisk's digest REGISTER")
    assert [e.phone for e in carrier.events() if e.event == "registered"] == [USER]
    await eventually(lambda: re.search(r"carrier/sip:127\.0\.0\.1:\d+\s+carrier\s+Registered",
                                       asterisk.cli("pjsip show registrations")), timeout=10,
                     what="pjsip show registrations says Registered")
    inbound = asterisk.cli("dialplan show acd-inbound")
    assert "'+302101555000'" in inbound and "'2101555000'" in inbound and "Goto(1555,1)" in inbound


async def test_a_wrong_trunk_password_is_refused_by_the_carrier(
        asterisk: AsteriskSandbox, phones: Phones) -> None:
    carrier = registrar(phones, "the-carriers-own")
    config = load_config_text(config_with_trunk(carrier.port), str(EXAMPLE))
    asterisk.apply(generate(config, Options(agents_at="127.0.0.1:16000",
                                            secrets={"trunk:carrier": "not-the-right-one"})))
    await eventually(lambda: any(e.event == "refused" for e in carrier.events()), timeout=30,
                     what="the registrar refused the wrong digest")
    await eventually(lambda: "Registered" not in asterisk.cli("pjsip show registrations")
                     and "carrier/sip:" in asterisk.cli("pjsip show registrations"), timeout=10,
                     what="the registration is listed and not Registered")
