"""The two attacks that turned the PIN lockout against agents, replayed over real TCP from
many source addresses (loopback aliases 127.0.0.x, which Linux routes without set-up),
and the limits that still slow a guesser.

Seen against the demo (issue 10): 288 requests from 72 addresses locked 72 desk agents
out of their own phones; one insider who knew a valid PIN locked all 30 pensions
specialists with 150 requests, because each success cleared that address's count.

Since the API has logins, a PIN is asked only of an agent acting on itself: the web
guesser here holds the targeted agent's own session (a shared desk, a stolen token),
which is the worst left; the insider, logged in as itself, is refused before any PIN.
"""
from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import create_async_engine

from acd.api.app import make_app
from acd.config.access import AccessSettings
from acd.auth import AuthStore
from acd.config.pins import hash_pin
from acd.daemon.agents_phone import AgentPhone
from acd.pin_guard import PinGuard
from acd.daemon.live_engine import LiveEngine
from acd.engine import AgentState
from tests.auth_helpers import FAST, PASSWORD
from tests.engine_helpers import make_config
from tests.test_daemon_agents_phone import PhoneCall

QUEUES = "q:\n  requires: {topic:a: 1}\n  announcements: {first_after: 0, every: 0}\n"
DESK = [str(2001 + n) for n in range(72)]
PENSIONS = [str(2101 + n) for n in range(30)]


def pin_of(agent_id: str) -> str:
    return f"{int(agent_id) * 7 % 1_000_000:06d}"


class Clock:
    t = 1000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Centre:
    url: str
    live: LiveEngine
    phone: AgentPhone
    clock: Clock
    #: agent id -> a bearer token of that agent's own user
    tokens: dict[str, str]

    async def web(self, source: str, agent_id: str, pin: str, action: str = "login",
                  forwarded_for: str | None = None, as_agent: str | None = None) -> int:
        """One web panel request from ``source`` (a loopback alias) in the session of
        ``as_agent`` (default: the agent acted on); its HTTP status."""
        connector = aiohttp.TCPConnector(local_addr=(source, 0))
        headers = {"Authorization": f"Bearer {self.tokens[as_agent or agent_id]}"}
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.post(f"{self.url}/api/agents/{agent_id}/{action}", json={"pin": pin},
                                    headers=headers) as r:
                return r.status

    async def own_phone(self, agent_id: str, pin: str, action: str = "login") -> str:
        """The agent dials the feature code from the agent's own endpoint."""
        call = PhoneCall(f"PJSIP/agent-{agent_id}-0000001a", [action], [pin])
        await self.phone.handle(call)
        return call.vars["ACD_AGENT_RESULT"]


async def centre_of(agents: str, trusted_proxies: tuple[str, ...] = ()) -> AsyncIterator[Centre]:
    clock = Clock()
    config = make_config(QUEUES, agents)
    live = LiveEngine(config, now=clock)
    guard = PinGuard(now=clock)                    # the default limits: 3, 10, 10 in 300 s
    phone = AgentPhone(live, guard)
    with tempfile.TemporaryDirectory() as directory:
        db = create_async_engine(f"sqlite+aiosqlite:///{Path(directory) / 'users.sqlite3'}")
        store = AuthStore(db, hasher=FAST)
        await store.prepare()
        tokens = {}
        for agent_id in config.agents:
            await store.add_user(f"a{agent_id}", PASSWORD, "agent", agent_id=agent_id)
            tokens[agent_id] = await store.issue_token(f"a{agent_id}", ["agent:self"])
        runner = web.AppRunner(make_app(live, guard, auth=store,
                                        settings=AccessSettings(secure_cookies=False, trusted_proxies=trusted_proxies)))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]   # type: ignore[union-attr]
        try:
            yield Centre(f"http://127.0.0.1:{port}", live, phone, clock, tokens)
        finally:
            await runner.cleanup()
            await db.dispose()


@pytest.fixture
async def desk() -> AsyncIterator[Centre]:
    """72 desk agents, each with their own PIN (clear in the config: the hash is not what
    this test is about, and 288 argon2 checks would only slow it)."""
    agents = "".join(f"'{a}': {{pin: '{pin_of(a)}', skills: {{topic:a: 3}}}}\n" for a in DESK)
    async for centre in centre_of(agents):
        yield centre


@pytest.fixture
async def pensions() -> AsyncIterator[Centre]:
    """The insider (desk agent 2001) and the 30 pensions specialists, PINs hashed."""
    agents = "".join(f"'{a}': {{pin: '{hash_pin(pin_of(a))}', skills: {{topic:a: 3}}}}\n"
                     for a in ["2001", *PENSIONS])
    async for centre in centre_of(agents):
        yield centre


async def test_72_addresses_cannot_lock_72_agents_out_of_their_own_phones(desk: Centre) -> None:
    statuses = []
    for n, agent_id in enumerate(DESK):
        source = f"127.0.0.{2 + n}"
        statuses += [await desk.web(source, agent_id, "000000") for _ in range(4)]
    assert len(statuses) == 288 and set(statuses) <= {403, 429}
    assert statuses.count(429) == 72          # each address's 4th guess at its agent is refused unchecked
    for agent_id in DESK:
        assert await desk.own_phone(agent_id, pin_of(agent_id)) == "ok", agent_id
    assert {desk.live.engine.agents[a].state for a in DESK} == {AgentState.AVAILABLE}
    # and the web panel from the agent's own desk (another address) still works too
    assert await desk.web("127.0.0.200", "2001", pin_of("2001"), "pause") == 200


async def test_one_insider_cannot_lock_a_whole_team(pensions: Centre) -> None:
    """The issue's 150 requests, from the insider's own session: acting on a colleague is
    refused before any PIN is checked, so no colleague's count moves."""
    insider, own = "127.0.0.66", pin_of("2001")
    statuses = []
    for victim in PENSIONS:
        statuses += [await pensions.web(insider, victim, "000000", as_agent="2001"),
                     await pensions.web(insider, victim, "111111", as_agent="2001"),
                     await pensions.web(insider, "2001", own, "ready"),
                     await pensions.web(insider, victim, "222222", as_agent="2001"),
                     await pensions.web(insider, "2001", own, "ready")]
    assert len(statuses) == 150
    assert statuses.count(403) == 90 and set(statuses) <= {403, 200, 409}
    await test_a_session_guessing_its_own_pin_locks_only_itself(pensions)


async def test_a_session_guessing_its_own_pin_locks_only_itself(pensions: Centre) -> None:
    """Wrong PINs in one agent session from one address: pin_max_failures are checked,
    then that address is refused unchecked; a success does not clear the address's count."""
    statuses = []
    for victim in PENSIONS[:10]:
        statuses += [await pensions.web("127.0.0.67", victim, "000000"), await pensions.web("127.0.0.67", victim, "111111"),
                     await pensions.web("127.0.0.67", victim, pin_of(victim), "ready")]
    assert statuses.count(403) == 10          # pin_source_max_failures wrong PINs, then nothing is checked
    last_checked = max(i for i, status in enumerate(statuses) if status == 403)
    assert set(statuses[last_checked + 1:]) <= {429}   # the address is locked
    for victim in PENSIONS:
        assert await pensions.own_phone(victim, pin_of(victim)) == "ok", victim
        assert await pensions.web("127.0.0.77", victim, pin_of(victim), "pause") == 200, victim


async def test_web_failures_never_touch_the_own_phone_but_slow_the_guesser(desk: Centre) -> None:
    """Many addresses against one agent: after pin_agent_max_failures the agent's web
    logins are locked (the guesser gets 10 tries per lockout, not 3 per address), while
    the agent's own phone still logs in; a lockout ends after pin_lockout."""
    victim = "2001"
    statuses = [await desk.web(f"127.0.1.{n}", victim, f"{n:06d}") for n in range(1, 31)]
    assert statuses.count(403) == 10 and statuses[10:] == [429] * 20
    assert await desk.web("127.0.1.99", victim, pin_of(victim)) == 429     # even the right PIN
    assert await desk.own_phone(victim, pin_of(victim)) == "ok"
    desk.clock.t += 301
    assert await desk.web("127.0.1.99", victim, pin_of(victim), "pause") == 200


async def test_the_own_phone_has_its_own_budget(desk: Centre) -> None:
    """Three wrong PINs on the agent's own phone lock that phone, not the web panel (and
    not the other way round, above)."""
    for _ in range(3):
        assert await desk.own_phone("2002", "999999") == "bad_pin"
    assert await desk.own_phone("2002", pin_of("2002")) == "locked"
    assert await desk.web("127.0.0.9", "2002", pin_of("2002")) == 200


async def test_guesses_sent_at_once_get_no_more_tries_than_guesses_in_a_row(pensions: Centre) -> None:
    """A check in progress holds its place in the budgets: 20 wrong PINs sent together
    from one address (argon2 checks take a while) still get only pin_max_failures checks."""
    statuses = await asyncio.gather(*(pensions.web("127.0.0.50", "2101", f"{n:06d}") for n in range(20)))
    assert sorted(statuses) == [403] * 3 + [429] * 17
    assert await pensions.own_phone("2101", pin_of("2101")) == "ok"


async def test_behind_a_trusted_proxy_each_client_has_its_own_count_and_others_cannot_pose() -> None:
    """Through the TLS proxy (127.0.0.5, trusted) every request comes from one address:
    its X-Forwarded-For tells the clients apart, so twelve agents' typos do not lock the
    whole centre. The header from anyone else is ignored: no posing as many addresses."""
    agents = "".join(f"'{a}': {{pin: '{pin_of(a)}', skills: {{topic:a: 3}}}}\n" for a in DESK[:12])
    async for centre in centre_of(agents, trusted_proxies=("127.0.0.5",)):
        through_proxy = [await centre.web("127.0.0.5", a, "000000", forwarded_for=f"203.0.113.7, 10.0.0.{n}")
                         for n, a in enumerate(DESK[:12])]
        assert through_proxy == [403] * 12
        forged = [await centre.web("127.0.0.6", a, "000000", forwarded_for=f"10.0.1.{n}")
                  for n, a in enumerate(DESK[:12])]
        assert forged == [403] * 10 + [429] * 2
