"""sipp callers that send DTMF the way carriers and softphones do, and respect the SDP
answer: the keys go as RFC 4733 events only when Asterisk's 200 OK answered
``telephone-event``, or as in-band tones in the audio (SIP INFO: rig.sipp's citizens).

Why: Asterisk 16 decodes RFC 4733 events it never negotiated, so a test that just plays
events passes even when the endpoint answers without ``telephone-event`` (the bug of
``dtmf_mode=info``, where a real carrier sends nothing). Here the caller checks the
answer first: with ``expect_telephone_event`` a 200 OK without it fails the call
(sipp's ``<ereg check_it="true">``) before any key is sent.

Each caller logs, in rig.sipp's event format (``PhoneEvent``): ``answered`` with the
first payload type of the answer's ``m=audio`` line as the peer (8: A-law, 0: u-law),
``telephone-event`` with its negotiated payload type, one ``dtmf`` per key, and
``bye`` / ``hangup``.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from rig.dtmf_pcap import Codec, events_pcap, tones_pcap
from rig.sipp import DTMF_DIGITS, SippProcess

How = Literal["rfc4733", "inband"]
#: SDP payload types and rtpmaps of what a caller may offer
_CODECS = {"alaw": (8, "PCMA/8000"), "ulaw": (0, "PCMU/8000")}
#: how long each key sounds (or its events last), seconds
_TONE = 0.12
#: the payload type the callers offer for telephone-event (and their captures use)
TELEPHONE_EVENT_PT = 101


def scenario(*, digits: str, how: How, offer: Sequence[str] = ("alaw", "ulaw"), telephone_event: bool = True,
             expect_telephone_event: bool = True, keys_pcap: Path | None = None, hold: float = 30.0,
             headers: Sequence[str] = ()) -> str:
    """The sipp scenario text of one call to ``[service]`` from ``[from_user]``.

    ``offer``: the codecs of the INVITE's SDP, in order, plus ``telephone-event/8000`` as
    payload type 101 when ``telephone_event``. The keys (``how``: ``rfc4733`` events or
    ``inband`` tones) are ``keys_pcap``, one RTP stream holding every key (rig.dtmf_pcap),
    played right after the answer. (SIP INFO: rig.sipp's citizens.) With ``expect_telephone_event``
    a 200 OK without telephone-event fails the call and no key is sent. The call then
    waits for Asterisk's BYE, or hangs up after ``hold`` seconds. ``headers``: extra
    INVITE header lines (a carrier's ``P-Asserted-Identity``)."""
    if any("\n" in header or ":" not in header for header in headers):
        raise ValueError(f"headers {headers!r}: one 'Name: value' each")
    if set(digits) - DTMF_DIGITS:
        raise ValueError(f"DTMF digits {digits!r}: 0-9 * # A-D")
    if not offer or set(offer) - set(_CODECS):
        raise ValueError(f"offer {offer!r}: one or more of {', '.join(_CODECS)}")
    if how == "rfc4733" and not telephone_event:
        raise ValueError("RFC 4733 keys need telephone-event in the offer")
    if keys_pcap is None:
        raise ValueError(f"{how} keys need their capture (rig.dtmf_pcap)")
    payload_types = [str(_CODECS[codec][0]) for codec in offer] + ([str(TELEPHONE_EVENT_PT)] if telephone_event else [])
    sdp = [f"m=audio [media_port] RTP/AVP {' '.join(payload_types)}",
           *(f"a=rtpmap:{_CODECS[codec][0]} {_CODECS[codec][1]}" for codec in offer)]
    if telephone_event:
        sdp += [f"a=rtpmap:{TELEPHONE_EVENT_PT} telephone-event/8000", f"a=fmtp:{TELEPHONE_EVENT_PT} 0-16"]
    sdp.append("a=ptime:20")
    checks = ['      <ereg regexp="m=audio [0-9]+ RTP/AVP ([0-9]+)" search_in="body" check_it="true" '
              'assign_to="first_pt,first_pt" />',
              '      <gettimeofday assign_to="sec,usec" />',
              '      <log message="[$sec] [$usec] answered [from_user] [$first_pt] [call_id]" />']
    # no pause after the last key: a capture plays on in sipp's background while the
    # scenario waits for the BYE, which the IVR may send at once
    keys = _log_keys(digits) + _play(keys_pcap)
    if expect_telephone_event:
        # last of the 200's actions: a failed check_it marks the call failed and skips the rest
        checks += ['      <ereg regexp="a=rtpmap:([0-9]+) telephone-event/8000" search_in="body" check_it="true" '
                   'assign_to="te_pt,te_pt" />',
                   '      <log message="[$sec] [$usec] telephone-event [from_user] [$te_pt] [call_id]" />']
        # and no key is sent unless it was answered: hang up instead
        keys = ('  <nop test="te_pt" next="send_keys" />\n  <nop next="hangs_up" />\n'
                '  <label id="send_keys" />\n' + keys)
    return (_TEMPLATE.replace("{SDP}", "\n".join(sdp)).replace("{CHECKS}", "\n".join(checks))
            .replace("{KEYS}", keys).replace("{HOLD_MS}", str(round(hold * 1000)))
            .replace("Max-Forwards: 70\nContent-Type: application/sdp", "\n".join(
                ["Max-Forwards: 70", *headers, "Content-Type: application/sdp"]), 1))


def _play(pcap: Path) -> str:
    if not pcap.is_file():
        raise FileNotFoundError(f"no capture at {pcap} (sipp's are in the sip-tester package)")
    return f'  <nop>\n    <action>\n      <exec play_pcap_audio="{pcap}" />\n    </action>\n  </nop>\n'


def _log_keys(digits: str) -> str:
    return "".join(f'  <nop>\n    <action>\n      <gettimeofday assign_to="sec,usec" />\n'
                   f'      <log message="[$sec] [$usec] dtmf [from_user] {digit} [call_id]" />\n'
                   '    </action>\n  </nop>\n' for digit in digits)


def caller(*, workdir: Path, sip_port: int, number: str, from_user: str, name: str, digits: str, how: How,
           offer: Sequence[str] = ("alaw", "ulaw"), first_digit_after: float = 1.0, digit_gap: float = 0.7,
           **options: Any) -> SippProcess:
    """One call to ``number`` as ``from_user`` typing ``digits`` ``how``; the RTP capture
    of the keys (events or tones in the first offered codec) is written beside the
    scenario. ``options`` go to ``scenario``. Not started."""
    if any(c.isspace() or c in "@:;<>\"" for c in number + from_user):
        raise ValueError(f"{number!r} / {from_user!r} would break the INVITE")
    workdir.mkdir(parents=True, exist_ok=True)
    write = events_pcap if how == "rfc4733" else tones_pcap
    codec: Codec = "ulaw" if offer[0] == "ulaw" else "alaw"
    keys_pcap = write(digits, workdir / f"{name}-keys.pcap", codec=codec, lead=first_digit_after,
                      gap=digit_gap - _TONE)
    path = workdir / f"{name}.xml"
    path.write_text(scenario(digits=digits, how=how, offer=offer, keys_pcap=keys_pcap, **options),
                    encoding="iso-8859-1")
    return SippProcess(path, ["-s", number, "-key", "from_user", from_user, "-m", "1", "-timeout", "60s"],
                       workdir=workdir, name=name, remote=f"127.0.0.1:{sip_port}")


_TEMPLATE = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!-- Written by rig/dtmf_calls.py: a caller that checks the SDP answer, then sends keys. -->
<scenario name="dtmf caller">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[from_user]@[local_ip]:[local_port]>;tag=[pid]DtmfTag[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:[from_user]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
{SDP}

]]></send>
  <recv response="100" optional="true" timeout="30000" />
  <recv response="180" optional="true" timeout="30000" />
  <recv response="183" optional="true" timeout="30000" />
  <recv response="200" timeout="30000">
    <action>
      <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" assign_to="remote_contact" />
{CHECKS}
    </action>
  </recv>
  <send><![CDATA[
ACK [$remote_contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[from_user]@[local_ip]:[local_port]>;tag=[pid]DtmfTag[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:[from_user]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
{KEYS}
  <recv request="BYE" timeout="{HOLD_MS}" ontimeout="hangs_up" next="far_end_hung_up" />
  <label id="hangs_up" />
  <nop>
    <action>
      <gettimeofday assign_to="sec,usec" />
      <log message="[$sec] [$usec] hangup [from_user] [service] [call_id]" />
    </action>
  </nop>
  <send retrans="500"><![CDATA[
BYE [$remote_contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[from_user]@[local_ip]:[local_port]>;tag=[pid]DtmfTag[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 100 BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" timeout="10000" next="done" />
  <label id="far_end_hung_up" />
  <nop>
    <action>
      <gettimeofday assign_to="sec,usec" />
      <log message="[$sec] [$usec] bye [from_user] [service] [call_id]" />
    </action>
  </nop>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <label id="done" />
</scenario>
"""
