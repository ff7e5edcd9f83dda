"""The live demo runs by itself for a bounded time, serves callers and leaves nothing running."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys

import pytest

from tests.needs import missing

pytestmark = pytest.mark.asterisk


def test_demo_serves_callers_prints_figures_every_second_and_stops_by_itself(tmp_path):
    if shutil.which("asterisk") is None or shutil.which("sipp") is None:
        missing("asterisk and sipp are needed for the live demo")
    run = subprocess.run([sys.executable, "-m", "acd.demo", "--seconds", "4", "--rate", "4", "--talk", "1",
                          "--keep", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert sum(" waiting " in line for line in lines) >= 4
    final = lines[-1]
    assert final.startswith("demo: offered ") and " answered " in final
    offered = int(final.split("offered ")[1].split(",")[0])
    answered = int(final.split("answered ")[1].split(",")[0])
    # the demo waits for the calls under way: every caller offered was answered
    assert answered > 0 and answered == offered
    assert "Traceback" not in run.stderr, run.stderr
    queue_log = (tmp_path / "var" / "queue_log").read_text().splitlines()
    assert sum("|CONNECT|" in line for line in queue_log) >= answered
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert leftovers == []


def test_the_demos_pages_and_routes_need_the_login_it_prints(tmp_path):
    """While the demo runs, every page and route but health and login refuses an anonymous
    request (401, 403 or the login page); the supervisor login it prints opens them."""
    import http.cookiejar
    import json
    import urllib.error
    import urllib.request

    from acd.api import make_app
    from acd.config import load_config
    from acd.daemon.live_engine import LiveEngine
    from acd.demo import DEFAULT_CONFIG

    if shutil.which("asterisk") is None or shutil.which("sipp") is None:
        missing("asterisk and sipp are needed for the live demo")
    live = LiveEngine(load_config(DEFAULT_CONFIG))
    routes = {(r.method, r.resource.canonical) for r in make_app(live).router.routes() if r.resource is not None}
    live.clock.cancel()
    demo = subprocess.Popen([sys.executable, "-m", "acd.demo", "--seconds", "30", "--rate", "1", "--talk", "1",
                             "--keep", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = password = None
        for line in demo.stdout:                     # type: ignore[union-attr]
            if line.startswith("wallboard http://"):
                base = line.split()[1].rstrip("/")
            if line.startswith("log in as supervisor, password "):
                password = line.split()[-1]
                break
        if not (base and password):
            demo.wait(60)
            raise AssertionError(f"the demo printed no wallboard address and login:\n{demo.stderr.read()}")  # type: ignore[union-attr]

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                return None

        anonymous = urllib.request.build_opener(NoRedirect)
        answered = {}
        for method, path in sorted(routes):
            url = base + path.format(agent_id="2001", action="logout", call_id="c1", ticket_id="t1")
            request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None,
                                             headers={"Content-Type": "application/json"})
            try:
                status = anonymous.open(request, timeout=10).status
            except urllib.error.HTTPError as error:
                status = error.code
            answered[(method, path)] = status
        open_ones = {k: v for k, v in answered.items() if v < 300}
        assert set(open_ones) <= {("GET", "/api/health"), ("GET", "/login"), ("GET", "/auth.js"), ("HEAD", "/api/health"),
                                  ("HEAD", "/login"), ("HEAD", "/auth.js")}, open_ones
        assert answered.pop(("POST", "/api/login")) == 400                   # open, but {} is no login
        assert all(v in (302, 401, 403) for k, v in answered.items() if k not in open_ones), answered
        assert answered[("GET", "/")] == 302 and answered[("GET", "/api/queues")] == 401
        jar = http.cookiejar.CookieJar()
        person = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = urllib.request.Request(base + "/api/login", method="POST", headers={"Content-Type": "application/json"},
                                       data=json.dumps({"name": "supervisor", "password": password}).encode())
        assert person.open(login, timeout=10).status == 200
        queues = json.loads(person.open(base + "/api/queues", timeout=10).read())
        assert "pensions" in queues["queues"] or queues["queues"]
    finally:
        demo.send_signal(signal.SIGINT)           # the demo's own clean-up stops Asterisk and sipp
        demo.wait(60)
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert leftovers == []
