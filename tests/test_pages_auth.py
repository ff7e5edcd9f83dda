"""The pages' side of logging in, run in node: every API call of a page carries the
session's CSRF token, a 401 takes the browser to the login page and back, and the
login page never sends anyone to another site afterwards."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.needs import missing

API = Path(__file__).resolve().parent.parent / "acd" / "api"
PAGES = ("wallboard.html", "agent.html", "backoffice.html", "login.html")

#: a browser's globals, enough for auth.js and the login page's script
BROWSER = """
const calls = [];
globalThis.location = { href: '', pathname: '/backoffice', search: '?unit=a' };
globalThis.document = { cookie: 'other=1; acd_csrf=tok%2Ben', getElementById: () => ({ addEventListener() {},
                        value: '' }) };
globalThis.fetch = async (url, options) => { calls.push({ url, options }); return { status: STATUS, ok: STATUS < 300 }; };
"""


def node(script: str) -> dict:
    if shutil.which("node") is None:
        missing("node is needed to run the pages' scripts")
    run = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("page", PAGES)
def test_every_pages_script_parses_and_calls_the_api_through_auth_js(page, tmp_path):
    html = (API / page).read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert scripts
    for i, script in enumerate(scripts):
        (tmp_path / f"{i}.js").write_text(script, encoding="utf-8")
        if shutil.which("node") is None:
            missing("node is needed to check the pages' scripts")
        check = subprocess.run(["node", "--check", str(tmp_path / f"{i}.js")], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    if page != "login.html":
        assert '<script src="/auth.js"></script>' in html
        assert "fetch(" not in "".join(scripts), "pages call the API through api() (auth.js), never fetch()"


def test_api_sends_the_csrf_token_and_a_401_goes_to_the_login_page_and_back():
    auth = (API / "auth.js").read_text(encoding="utf-8")
    ok = node(BROWSER.replace("STATUS", "200") + auth + """
(async () => {
  await api('/api/tickets/t1/claim', { method: 'POST', headers: { 'Content-Type': 'application/json' } });
  console.log(JSON.stringify({ headers: calls[0].options.headers, href: location.href }));
})();""")
    assert ok == {"headers": {"X-CSRF-Token": "tok+en", "Content-Type": "application/json"}, "href": ""}
    gone = node(BROWSER.replace("STATUS", "401") + auth + """
(async () => {
  let error = null;
  try { await api('/api/tickets'); } catch (e) { error = e.message; }
  console.log(JSON.stringify({ href: location.href, error }));
})();""")
    assert gone == {"href": "/login?next=%2Fbackoffice%3Funit%3Da", "error": "not logged in"}


@pytest.mark.parametrize(("next_", "target"), [("/agent", "/agent"), ("//evil.example/x", "/"),
                                               ("https://evil.example/", "/"), (None, "/")])
def test_the_login_page_goes_back_only_to_a_page_of_this_site(next_, target):
    html = (API / "login.html").read_text(encoding="utf-8")
    (script,) = re.findall(r"<script>(.*?)</script>", html, re.S)
    search = "" if next_ is None else "?next=" + next_
    result = node(BROWSER.replace("STATUS", "200").replace("search: '?unit=a'", f"search: {json.dumps(search)}")
                  + script.replace("const target", "globalThis.target") + "\nconsole.log(JSON.stringify({ target }));")
    assert result == {"target": target}
