"""The AMI client against a scripted peer playing Asterisk's manager: login, answers by
ActionID, event lists, callbacks that fail, and a link that drops and comes back."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from acd.protocol import AMIActionError, AMIAuthError, AMIClient, AMIConnectionLost, AMIMessage
from tests.waiting import eventually


class FakeManager:
    """Just enough of main/manager.c to test the client: banner, Login, Ping, a list
    action, an action that never answers, and events pushed by the test."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.actions: list[dict[str, str]] = []
        self.logins = 0
        self.channels = ["1700000000.1", "1700000000.2"]

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)

    async def stop(self) -> None:
        self.drop_all()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def drop_all(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    async def push(self, text: str) -> None:
        for writer in self.writers:
            writer.write(text.replace("\n", "\r\n").encode())
            await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/5.0.4\r\n")
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                action = dict(line.split(": ", 1) for line in raw.decode().strip().split("\r\n"))
                self.actions.append(action)
                reply = self._answer(action)
                if reply:
                    writer.write(reply.replace("\n", "\r\n").encode())
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _answer(self, action: dict[str, str]) -> str:
        name, aid = action["Action"], action["ActionID"]
        if name == "Login":
            if action.get("Secret") != "s3cret":
                return f"Response: Error\nActionID: {aid}\nMessage: Authentication failed\n\n"
            self.logins += 1
            return f"Response: Success\nActionID: {aid}\nMessage: Authentication accepted\n\n"
        if name == "Ping":
            return f"Response: Success\nActionID: {aid}\nPing: Pong\nTimestamp: 1.0\n\n"
        if name == "CoreShowChannels":
            items = "".join(f"Event: CoreShowChannel\nActionID: {aid}\nUniqueid: {u}\nCallerIDName: Νίκος\n\n"
                            for u in self.channels)
            return (f"Response: Success\nActionID: {aid}\nEventList: start\nMessage: Channels will follow\n\n"
                    f"Event: Hangup\nUniqueid: unrelated\n\n{items}"
                    f"Event: CoreShowChannelsComplete\nActionID: {aid}\nEventList: Complete\n"
                    f"ListItems: {len(self.channels)}\n\n")
        if name == "QueueStatus":
            return f"Response: Error\nActionID: {aid}\nMessage: No such queue\n\n"
        if name == "Logoff":
            return f"Response: Goodbye\nActionID: {aid}\nMessage: Thanks for all the fish.\n\n"
        return ""  # "Slow": never answered


@pytest.fixture(autouse=True)
def every_log_line_is_built(caplog: pytest.LogCaptureFixture) -> None:
    """Debug level makes every log call build its record, so a bad ``extra`` key fails here."""
    caplog.set_level(logging.DEBUG, logger="acd.protocol")


@pytest.fixture
async def manager() -> AsyncIterator[FakeManager]:
    fake = FakeManager()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def client(manager: FakeManager) -> AsyncIterator[AMIClient]:
    ami = AMIClient("127.0.0.1", manager.port, "acd", "s3cret", min_backoff=0.05, max_backoff=0.2,
                    action_timeout=1.0)
    await ami.connect()
    yield ami
    await ami.close()


async def test_login_asks_for_events_and_keeps_the_banner(client: AMIClient, manager: FakeManager) -> None:
    login = manager.actions[0]
    assert (login["Action"], login["Username"], login["Secret"], login["Events"]) == ("Login", "acd", "s3cret", "on")
    assert client.banner == "Asterisk Call Manager/5.0.4"
    assert client.connected


async def test_login_asks_only_for_the_event_classes_given(manager: FakeManager) -> None:
    ami = AMIClient("127.0.0.1", manager.port, "acd", "s3cret", action_timeout=1.0, events="call,system")
    await ami.connect()
    try:
        assert manager.actions[-1]["Events"] == "call,system"
    finally:
        await ami.close()


async def test_wrong_secret_raises_auth_error(manager: FakeManager) -> None:
    ami = AMIClient("127.0.0.1", manager.port, "acd", "wrong")
    with pytest.raises(AMIAuthError):
        await ami.connect()
    assert not ami.connected
    await ami.close()


async def test_action_returns_the_response_with_its_action_id(client: AMIClient, manager: FakeManager) -> None:
    pong, other = await asyncio.gather(client.action("Ping"), client.action("Ping"))
    assert pong.get("Ping") == "Pong" and other.get("Ping") == "Pong"
    assert pong.action_id != other.action_id
    assert {pong.action_id, other.action_id} == {a["ActionID"] for a in manager.actions[1:]}


async def test_actions_sent_are_counted_by_name(client: AMIClient) -> None:
    await client.action("Ping")
    await client.action_list("CoreShowChannels")
    await client.action("Ping")
    assert client.sent == {"Ping": 2, "CoreShowChannels": 1}


async def test_action_fields_and_repeated_variables_reach_asterisk(client: AMIClient, manager: FakeManager) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await client.action("Slow", timeout=0.1, Channel="Local/100@test", Variable="A=Γ")
    assert manager.actions[-1]["Channel"] == "Local/100@test"
    assert manager.actions[-1]["Variable"] == "A=Γ"


async def test_action_list_collects_its_events_and_leaves_others_to_callbacks(client: AMIClient) -> None:
    hangups: list[AMIMessage] = []
    client.on_event("Hangup", hangups.append)
    channels = await client.action_list("CoreShowChannels")
    assert [m.get("Uniqueid") for m in channels] == ["1700000000.1", "1700000000.2"]
    assert channels[0].get("CallerIDName") == "Νίκος"
    await eventually(lambda: len(hangups) == 1)
    assert hangups[0].get("Uniqueid") == "unrelated"


async def test_action_list_error_raises_with_asterisks_message(client: AMIClient) -> None:
    with pytest.raises(AMIActionError, match="No such queue"):
        await client.action_list("QueueStatus", Queue="nope")


async def test_action_list_of_a_plain_action_returns_empty(client: AMIClient) -> None:
    assert await client.action_list("Ping") == []


async def test_events_reach_named_star_sync_and_async_callbacks(client: AMIClient, manager: FakeManager) -> None:
    seen: list[str] = []

    async def later(message: AMIMessage) -> None:
        await asyncio.sleep(0)
        seen.append("async " + message.name)

    client.on_event("dialend", lambda m: seen.append("named " + m.get("DialStatus")))
    client.on_event("*", lambda m: seen.append("star " + m.name))
    client.on_event("DialEnd", later)
    await manager.push("Event: DialEnd\nDialStatus: ANSWER\n\n")
    await eventually(lambda: len(seen) == 3)
    assert sorted(seen) == ["async DialEnd", "named ANSWER", "star DialEnd"]


async def test_raising_callback_is_logged_and_the_reader_lives_on(client: AMIClient, manager: FakeManager,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def broken(message: AMIMessage) -> None:
        raise RuntimeError("callback bug")

    async def broken_async(message: AMIMessage) -> None:
        raise RuntimeError("async callback bug")

    client.on_event("Hangup", broken)
    client.on_event("Hangup", broken_async)
    client.on_event("Hangup", lambda m: seen.append(m.get("Uniqueid")))
    with caplog.at_level(logging.ERROR):
        await manager.push("Event: Hangup\nUniqueid: 1\n\nEvent: Hangup\nUniqueid: 2\n\n")
        await eventually(lambda: seen == ["1", "2"])
        await asyncio.sleep(0.02)
    assert "callback bug" in caplog.text and "async callback bug" in caplog.text
    assert (await client.action("Ping")).get("Ping") == "Pong"


async def test_pending_actions_fail_when_the_link_drops(client: AMIClient, manager: FakeManager) -> None:
    slow = asyncio.create_task(client.action("Slow", timeout=5))
    listing = asyncio.create_task(client.action_list("Slow", timeout=5))
    await eventually(lambda: sum(a["Action"] == "Slow" for a in manager.actions) == 2)
    manager.drop_all()
    with pytest.raises(AMIConnectionLost):
        await asyncio.wait_for(slow, 1)
    with pytest.raises(AMIConnectionLost):
        await asyncio.wait_for(listing, 1)


async def test_reconnects_with_backoff_and_resyncs_after_each_login(manager: FakeManager) -> None:
    resyncs: list[int] = []

    async def resync(ami: AMIClient) -> None:
        channels = await ami.action_list("CoreShowChannels")
        resyncs.append(len(channels))

    ami = AMIClient("127.0.0.1", manager.port, "acd", "s3cret", min_backoff=0.05, max_backoff=0.2)
    ami.on_connect(resync)
    await ami.connect()
    await eventually(lambda: resyncs == [2])
    port = manager.port
    await manager.stop()  # Asterisk restarts: down for a while, several attempts fail
    await eventually(lambda: not ami.connected)
    with pytest.raises(AMIConnectionLost):
        await ami.action("Ping")
    await asyncio.sleep(0.4)
    manager.channels = ["1700000000.9"]
    await manager.start(port)
    await eventually(lambda: resyncs == [2, 1], timeout=3)
    assert manager.logins == 2
    assert (await ami.action("Ping")).get("Ping") == "Pong"
    await ami.close()


async def test_close_logs_off_and_stops_reconnecting(manager: FakeManager) -> None:
    ami = AMIClient("127.0.0.1", manager.port, "acd", "s3cret", min_backoff=0.05, max_backoff=0.1)
    await ami.connect()
    await ami.close()
    await eventually(lambda: manager.actions[-1]["Action"] == "Logoff")
    await asyncio.sleep(0.3)
    assert manager.logins == 1
    assert not ami.connected


async def test_connect_to_nothing_raises_connection_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(OSError):
        await AMIClient("127.0.0.1", port, "acd", "s3cret").connect()


def test_backoff_bounds_are_checked() -> None:
    with pytest.raises(ValueError):
        AMIClient("127.0.0.1", 5038, "a", "b", min_backoff=5, max_backoff=1)


async def test_keepalive_notices_a_half_open_link_within_10_s_and_reconnects() -> None:
    """Issue 9: a link whose peer went silent (no FIN, no RST: blackholed by the proxy)
    is declared dead by the unanswered Ping and reconnected, within 10 s."""
    from rig.tcp_proxy import TcpProxy

    manager = FakeManager()
    await manager.start()
    proxy = TcpProxy("127.0.0.1", manager.port)
    await proxy.start()
    client = AMIClient("127.0.0.1", proxy.port, "acd", "s3cret", keepalive=2.0, keepalive_timeout=2.0,
                       min_backoff=0.2, max_backoff=1.0)
    lost: list[str] = []
    client.on_disconnect(lost.append)
    loop = asyncio.get_running_loop()
    try:
        await client.connect()
        await asyncio.sleep(2.5)
        assert [a["Action"] for a in manager.actions].count("Ping") >= 1   # idle: pinged, answered
        assert client.connected and lost == []
        proxy.blackhole()
        silent_at = loop.time()
        while client.connected:
            assert loop.time() - silent_at < 10, "half-open link not noticed within 10 s"
            await asyncio.sleep(0.05)
        assert "keepalive" in lost[0]
        noticed = loop.time() - silent_at
        proxy.resume()
        while not client.connected:
            assert loop.time() - silent_at < 20, "not reconnected"
            await asyncio.sleep(0.05)
        assert manager.logins == 2 and noticed <= 4.5
    finally:
        await client.close()
        await proxy.stop()
        await manager.stop()
