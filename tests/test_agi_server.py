"""The FastAGI server against a scripted peer playing Asterisk: routing by script name,
one reply per command even around hang-ups, and peers that misbehave cost nothing."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest

from acd.protocol import AGICommandError, AGIHangup, AGISession, FastAGIServer


def environment(script: str = "echo", **extra: str) -> bytes:
    lines = [
        "agi_network: yes", f"agi_network_script: {script}", f"agi_request: agi://127.0.0.1/{script}",
        "agi_channel: Local/100@test-00000001;2", "agi_uniqueid: 1700000000.7", "agi_calleridname: Ελένη",
        *(f"{key}: {value}" for key, value in extra.items()),
    ]
    return ("\n".join(lines) + "\n\n").encode()


class FakeAsterisk:
    """The Asterisk side of one FastAGI connection, driven line by line by the test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def dial(cls, server: FastAGIServer) -> FakeAsterisk:
        return cls(*await asyncio.open_connection("127.0.0.1", server.port))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def command(self) -> str:
        line = await asyncio.wait_for(self.reader.readline(), 2)
        return line.decode()

    async def closed(self) -> bool:
        return await asyncio.wait_for(self.reader.read(), 2) == b""

    def close(self) -> None:
        self.writer.close()


@pytest.fixture(autouse=True)
def every_log_line_is_built(caplog: pytest.LogCaptureFixture) -> None:
    """Debug level makes every log call build its record, so a bad ``extra`` key fails here."""
    caplog.set_level(logging.DEBUG, logger="acd.protocol")


@pytest.fixture
async def outcomes() -> dict[str, object]:
    return {}


@pytest.fixture
async def server(outcomes: dict[str, object]) -> AsyncIterator[FastAGIServer]:
    async def echo(session: AGISession) -> None:
        outcomes["env"] = session.env
        try:
            outcomes["name"] = await session.get_variable("CALLERID(name)")
            outcomes["digit"] = await session.stream_file("hello", "12")
            outcomes["status"] = await session.get_variable("DIALSTATUS")
        except AGIHangup as error:
            outcomes["hangup"] = error
            outcomes["hung_up_flag"] = session.hung_up
            raise

    async def bad_command(session: AGISession) -> None:
        try:
            await session.command("NOT A COMMAND")
        except AGICommandError as error:
            outcomes["error"] = error
        outcomes["after"] = await session.get_variable("X")

    async def crash(session: AGISession) -> None:
        raise RuntimeError("handler bug")

    async def idle(session: AGISession) -> None:
        await session.wait_for_hangup()
        outcomes["idle_saw_hangup"] = True

    async def helpers(session: AGISession) -> None:
        await session.answer()
        await session.set_variable("ACD_NOTE", "Κλήση για σύνταξη")
        outcomes["typed"] = await session.get_data("agent-pass", 5000, 4)
        outcomes["dial"] = (await session.exec("Dial", "PJSIP/agent-11", "15", "gm(default)")).result
        outcomes["pressed"] = await session.wait_for_digit(3000)
        await session.verbose("ok")
        await session.hangup()

    server = FastAGIServer({"echo": echo, "bad": bad_command, "crash": crash, "idle": idle, "helpers": helpers},
                           port=0, header_timeout=0.3)
    await server.start()
    yield server
    await server.stop()


async def test_handler_is_chosen_by_script_and_gets_env_query_and_args(server: FastAGIServer,
                                                                       outcomes: dict[str, object]) -> None:
    peer = await FakeAsterisk.dial(server)
    await peer.send(environment("echo?lang=el&queue=q1", agi_arg_1="first", agi_arg_2="δεύτερο"))
    assert await peer.command() == "GET VARIABLE CALLERID(name)\n"
    await peer.send("200 result=1 (Ελένη Π.)\n".encode())
    assert await peer.command() == "STREAM FILE hello 12\n"
    await peer.send(b"200 result=50 endpos=8000\n")
    assert await peer.command() == "GET VARIABLE DIALSTATUS\n"
    await peer.send(b"200 result=0\n")
    assert await peer.closed()
    env = outcomes["env"]
    assert (env.script, dict(env.query), env.args) == ("echo", {"lang": "el", "queue": "q1"}, ("first", "δεύτερο"))
    assert outcomes["name"] == "Ελένη Π."
    assert outcomes["digit"] == "2"
    assert outcomes["status"] is None


async def test_helpers_write_the_commands_res_agi_expects(server: FastAGIServer,
                                                           outcomes: dict[str, object]) -> None:
    peer = await FakeAsterisk.dial(server)
    await peer.send(environment("helpers"))
    dialogue = [
        ("ANSWER\n", "200 result=0\n"),
        ('SET VARIABLE ACD_NOTE "Κλήση για σύνταξη"\n', "200 result=1\n"),
        ("GET DATA agent-pass 5000 4\n", "200 result=0123 (timeout)\n"),
        ("EXEC Dial PJSIP/agent-11,15,gm(default)\n", "200 result=0\n"),
        ("WAIT FOR DIGIT 3000\n", "200 result=0\n"),
        ("VERBOSE ok 1\n", "200 result=1\n"),
        ("HANGUP\n", "200 result=1\n"),
    ]
    for expected, reply in dialogue:
        assert await peer.command() == expected
        await peer.send(reply.encode())
    assert await peer.closed()
    assert (outcomes["typed"], outcomes["dial"], outcomes["pressed"]) == ("0123", 0, None)


async def test_the_server_counts_sessions_and_commands_by_verb_and_application(server: FastAGIServer) -> None:
    # what bench.live reports as each call's round trips
    peer = await FakeAsterisk.dial(server)
    await peer.send(environment("helpers"))
    for reply in ["200 result=0", "200 result=1", "200 result=0123 (timeout)", "200 result=0", "200 result=0",
                  "200 result=1", "200 result=1"]:
        await peer.command()
        await peer.send(f"{reply}\n".encode())
    assert await peer.closed()
    assert server.sessions == 1
    assert server.commands == {"ANSWER": 1, "SET VARIABLE": 1, "GET DATA": 1, "EXEC Dial": 1, "WAIT FOR DIGIT": 1,
                               "VERBOSE": 1, "HANGUP": 1}


async def test_greek_reply_split_inside_a_character_arrives_intact(server: FastAGIServer,
                                                                    outcomes: dict[str, object]) -> None:
    peer = await FakeAsterisk.dial(server)
    await peer.send(environment())
    await peer.command()
    reply = "200 result=1 (Ελένη)\n".encode()
    cut = reply.index("λ".encode()) + 1  # in the middle of the two bytes of λ
    await peer.send(reply[:cut])
    await asyncio.sleep(0.05)
    await peer.send(reply[cut:])
    await peer.command()
    await peer.send(b"200 result=0 endpos=1\n")
    await peer.command()
    await peer.send(b"200 result=1 (ANSWER)\n")
    assert await peer.closed()
    assert outcomes["name"] == "Ελένη"
    assert outcomes["status"] == "ANSWER"


async def test_hangup_notice_between_replies_does_not_shift_the_next_reply(server: FastAGIServer,
                                                                           outcomes: dict[str, object]) -> None:
    peer = await FakeAsterisk.dial(server)
    await peer.send(environment())
    await peer.command()
    await peer.send(b"200 result=1 (x)\n")
    await peer.command()
    # the caller hangs up during playback: result -1, then HANGUP, as run_agi writes them
    await peer.send(b"200 result=-1 endpos=420\nHANGUP\n")
    assert await peer.closed()
    assert isinstance(outcomes["hangup"], AGIHangup)
    assert outcomes["hung_up_flag"] is True
    assert "status" not in outcomes


@pytest.mark.parametrize("third_reply, status", [
    (b"200 result=1 (ANSWER)\n", "ANSWER"),   # a file it cannot open: the channel is still up
    (b"511 Command Not Permitted on a dead channel or intercept routine\n", None),   # a hang-up at position 0
])
async def test_a_sound_that_did_not_play_is_skipped_and_a_hang_up_shows_at_the_next_command(
        server: FastAGIServer, outcomes: dict[str, object], third_reply: bytes, status: str | None) -> None:
    peer = await FakeAsterisk.dial(server)
    await peer.send(environment())
    await peer.command()
    await peer.send(b"200 result=1 (x)\n")
    await peer.command()
    # res_agi's reply to STREAM FILE of a file it cannot open, and to a hang-up before any sample
    await peer.send(b"200 result=-1 endpos=0\n")
    await peer.command()
    await peer.send(third_reply)
    assert await peer.closed()
    assert outcomes["digit"] is None
    assert outcomes.get("status") == status
    assert isinstance(outcomes.get("hangup"), AGIHangup) == (status is None)


@pytest.mark.parametrize("reply", [
    b"200 result=0 endpos=4160\n",      # Asterisk 16: sanitize_waitstream_return makes the stop a 0
    b"200 result=1000 endpos=4160\n",   # AST_CONTROL_STREAM_STOP itself, should a build pass it on
    b"200 result=1002 endpos=4160\n",   # ... or STREAM_RESTART (a pause or restart of a plain file stops it)
])
async def test_a_sound_stopped_over_ami_is_no_digit_and_no_hang_up(server: FastAGIServer,
                                                                  outcomes: dict[str, object], reply: bytes) -> None:
    """ControlPlayback's stop ends STREAM FILE early (endpos below the file's length): the
    session reads "stopped, no digit" and goes on with the next command."""
    peer = await FakeAsterisk.dial(server)
    await peer.send(environment())
    await peer.command()
    await peer.send(b"200 result=1 (x)\n")
    assert await peer.command() == "STREAM FILE hello 12\n"
    await peer.send(reply)
    assert await peer.command() == "GET VARIABLE DIALSTATUS\n"
    await peer.send(b"200 result=1 (ANSWER)\n")
    assert await peer.closed()
    assert outcomes["digit"] is None
    assert outcomes["status"] == "ANSWER" and "hangup" not in outcomes


async def test_commands_after_hangup_get_their_own_replies_and_511_raises(server: FastAGIServer,
                                                                          outcomes: dict[str, object]) -> None:
    peer = await FakeAsterisk.dial(server)
    await peer.send(environment())
    await peer.command()
    await peer.send(b"HANGUP\n")  # notice first: the GET VARIABLE reply still follows
    await asyncio.sleep(0.05)
    await peer.send(b"200 result=1 (still here)\n")
    await peer.command()
    await peer.send(b"511 Command Not Permitted on a dead channel or intercept routine\n")
    assert await peer.closed()
    assert outcomes["name"] == "still here"
    assert isinstance(outcomes["hangup"], AGIHangup)


async def test_connection_closed_mid_command_raises_hangup(server: FastAGIServer,
                                                           outcomes: dict[str, object]) -> None:
    peer = await FakeAsterisk.dial(server)
    await peer.send(environment())
    await peer.command()
    peer.close()
    for _ in range(100):
        if "hangup" in outcomes:
            break
        await asyncio.sleep(0.01)
    assert isinstance(outcomes["hangup"], AGIHangup)


async def test_unknown_command_raises_command_error_and_the_session_goes_on(
        server: FastAGIServer, outcomes: dict[str, object]) -> None:
    peer = await FakeAsterisk.dial(server)
    await peer.send(environment("bad"))
    assert await peer.command() == "NOT A COMMAND\n"
    await peer.send(b"510 Invalid or unknown command\n")
    await peer.command()
    await peer.send(b"200 result=1 (fine)\n")
    assert await peer.closed()
    error = outcomes["error"]
    assert isinstance(error, AGICommandError) and error.code == 510
    assert outcomes["after"] == "fine"


async def test_idle_handler_learns_of_the_hangup_without_sending_anything(
        server: FastAGIServer, outcomes: dict[str, object]) -> None:
    peer = await FakeAsterisk.dial(server)
    await peer.send(environment("idle"))
    await asyncio.sleep(0.05)
    await peer.send(b"HANGUP\n")
    assert await peer.closed()
    assert outcomes["idle_saw_hangup"] is True


async def test_unknown_script_answers_failure_and_closes(server: FastAGIServer,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    peer = await FakeAsterisk.dial(server)
    with caplog.at_level(logging.ERROR):
        await peer.send(environment("nosuch"))
        assert await peer.command() == "FAILURE\n"
        assert await peer.closed()
    assert [r.script for r in caplog.records if "unknown" in r.getMessage()] == ["nosuch"]


async def test_handler_exception_is_logged_and_the_server_keeps_serving(
        server: FastAGIServer, outcomes: dict[str, object], caplog: pytest.LogCaptureFixture) -> None:
    peer = await FakeAsterisk.dial(server)
    with caplog.at_level(logging.ERROR):
        await peer.send(environment("crash"))
        assert await peer.closed()
    assert "handler bug" in caplog.text
    await test_handler_is_chosen_by_script_and_gets_env_query_and_args(server, outcomes)


async def test_client_closing_before_its_headers_costs_nothing(server: FastAGIServer,
                                                               outcomes: dict[str, object]) -> None:
    for partial in (b"", b"agi_network: yes\nagi_chan"):
        peer = await FakeAsterisk.dial(server)
        await peer.send(partial)
        peer.close()
    loop_lag = await _loop_lag()
    assert loop_lag < 0.1
    await test_handler_is_chosen_by_script_and_gets_env_query_and_args(server, outcomes)


async def test_garbage_peer_is_closed_at_once(server: FastAGIServer, caplog: pytest.LogCaptureFixture) -> None:
    peer = await FakeAsterisk.dial(server)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        await peer.send(b"GET / HTTP/1.1\r\nHost: acd\r\n\r\n")
        assert await peer.closed()
    assert time.monotonic() - started < 0.25  # before header_timeout: garbage is known at once
    assert "garbage" in caplog.text


async def test_stalled_peer_is_closed_after_the_header_timeout(server: FastAGIServer,
                                                               outcomes: dict[str, object]) -> None:
    peers = [await FakeAsterisk.dial(server) for _ in range(20)]
    for peer in peers:
        await peer.send(b"agi_network: yes\n")
    started = time.monotonic()
    await test_handler_is_chosen_by_script_and_gets_env_query_and_args(server, outcomes)
    assert time.monotonic() - started < 0.25  # stalled peers do not delay a real call
    for peer in peers:
        assert await peer.closed()
    assert time.monotonic() - started >= 0.25


async def test_port_zero_reports_the_real_port_and_stop_ends_live_sessions(
        outcomes: dict[str, object], caplog: pytest.LogCaptureFixture) -> None:
    server = FastAGIServer({"idle": lambda s: s.wait_for_hangup()}, port=0)
    await server.start()
    assert server.port > 0
    peer = await FakeAsterisk.dial(server)
    await peer.send(environment("idle"))
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(server.stop(), 2)
        assert await peer.closed()
        await asyncio.sleep(0.05)           # asyncio reports a failed connection task here
    # a session ended by stop() is a normal end, not "Exception in callback ..." from asyncio
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_header_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FastAGIServer({}, header_timeout=0)


async def _loop_lag() -> float:
    started = time.monotonic()
    await asyncio.sleep(0.01)
    return time.monotonic() - started - 0.01


async def test_only_the_asterisk_hosts_are_served(outcomes: dict[str, object],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """A fake client from another address (127.0.0.2, a loopback alias) is closed before
    anything it sends is read; Asterisk's address is served; a reload can add hosts."""
    ran: list[str] = []

    async def wait(session: AGISession) -> None:
        ran.append(str(session.env.get("agi_channel")))
        await session.set_variable("ACD_WAIT_RESULT", "x")

    server = FastAGIServer({"wait": wait}, port=0, allowed=["127.0.0.1"])
    await server.start()
    try:
        stranger = FakeAsterisk(*await asyncio.open_connection("127.0.0.1", server.port,
                                                               local_addr=("127.0.0.2", 0)))
        with caplog.at_level(logging.WARNING):
            await stranger.send(environment("wait"))
            try:
                assert await stranger.closed()
            except ConnectionResetError:      # closed with our bytes unread: the kernel resets
                pass
        refusals = [r for r in caplog.records if "not Asterisk" in r.getMessage()]
        assert ran == [] and len(refusals) == 1 and "127.0.0.2" in refusals[0].peer
        asterisk = await FakeAsterisk.dial(server)
        await asterisk.send(environment("wait"))
        assert (await asterisk.command()).startswith("SET VARIABLE ACD_WAIT_RESULT")
        assert ran == ["Local/100@test-00000001;2"]
        server.allow(["127.0.0.1", "127.0.0.2"])
        again = FakeAsterisk(*await asyncio.open_connection("127.0.0.1", server.port, local_addr=("127.0.0.2", 0)))
        await again.send(environment("wait"))
        assert (await again.command()).startswith("SET VARIABLE")
    finally:
        await server.stop()
