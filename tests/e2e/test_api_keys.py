"""API keys used exactly as the platform documents them: curl -u "$KEY:", an explicit
Basic header, and Python requests with HTTPBasicAuth(api_key, ""). The server's own
certificate is the trust anchor (CURL_CA_BUNDLE / REQUESTS_CA_BUNDLE), so the lines run
unmodified, with no -k and no verify=False."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid

import requests
from requests.auth import HTTPBasicAuth

from harness import login_ok, record_secret, session


def _make_key(server, **body) -> dict:
    res = login_ok(server, "admin", server.bootstrap_password)
    record_secret(res.body["csrf_token"])
    s = session()
    r = s.post(server.url("/api/api-keys"), json={"name": "docs-example", **body},
               headers={"Cookie": f"cloud.sso={res.cookie}", "X-CSRF-Token": res.body["csrf_token"]},
               timeout=30)
    assert r.status_code == 201, r.text
    assert r.headers.get("Cache-Control") == "no-store"
    created = r.json()
    record_secret(created["key"])
    return created


def _env(server) -> dict[str, str]:
    cert = str(server.store.data_dir / "tls" / "cert.pem")
    host = server.base.removeprefix("https://")
    return {**os.environ, "CURL_CA_BUNDLE": cert, "REQUESTS_CA_BUNDLE": cert, "HOST": host}


def test_the_documented_curl_lines_work_unmodified(server):
    key = _make_key(server)["key"]
    env = {**_env(server), "KEY": key}
    for line in (
        'curl -sS -u "$KEY:" https://$HOST/api/auth/session',
        'curl -sS -H "Authorization: Basic $(echo -n "$KEY:" | base64)" https://$HOST/api/auth/session',
    ):
        cp = subprocess.run(["bash", "-c", line], env=env, capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, (line, cp.stderr)
        body = json.loads(cp.stdout)
        assert body["auth_method"] == "api_key", body
        assert body["api_key"]["name"] == "docs-example", body
        assert body["user"]["username"] == "admin", body


def test_the_documented_python_line_works_unmodified(server):
    created = _make_key(server)
    script = (
        "import os, sys, requests\n"
        "from requests.auth import HTTPBasicAuth\n"
        "api_key = os.environ['KEY']\n"
        "URL = 'https://' + os.environ['HOST'] + '/api/auth/session'\n"
        "r = requests.get(URL, auth=HTTPBasicAuth(api_key, \"\"))\n"
        "print(r.status_code)\n"
        "print(r.text)\n"
    )
    env = {**_env(server), "KEY": created["key"]}
    cp = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    status, body = cp.stdout.split("\n", 1)
    assert status == "200", cp.stdout
    body = json.loads(body)
    assert body["auth_method"] == "api_key"
    assert body["api_key"]["id"] == created["id"]


def test_a_deleted_key_gets_401_with_a_basic_challenge_from_curl(server, tmp_path):
    created = _make_key(server, permissions=["account:read", "api_keys:write"])
    env = {**_env(server), "KEY": created["key"]}
    cp = subprocess.run(
        ["bash", "-c", 'curl -sS -o /dev/null -w "%{http_code}" -u "$KEY:" -X DELETE https://$HOST/api/api-keys/'
         + created["id"]],
        env=env, capture_output=True, text=True, timeout=60)
    assert cp.stdout == "204", cp
    cp = subprocess.run(
        ["bash", "-c", 'curl -sS -D - -o /dev/null -u "$KEY:" https://$HOST/api/auth/session'],
        env=env, capture_output=True, text=True, timeout=60)
    # curl speaks HTTP/2 here (ALPN), HTTP/1.1 elsewhere: the status line says which.
    assert re.match(r"HTTP/(1\.1|2) 401", cp.stdout), cp.stdout
    assert 'www-authenticate: basic realm="gatehouse"' in cp.stdout.lower(), cp.stdout


def test_a_change_on_one_node_reaches_another_node_within_its_poll(gatehouse, server):
    # Two servers over one store (SQLite file or PostgreSQL database), as a multi-node
    # deployment runs. Each caches keys for 15 minutes, so only the invalidation poll
    # (every 5 s) can make the second node refuse a key the first one changed.
    other = gatehouse.start(store=server.store, expect_bootstrap=False)
    created = _make_key(server, permissions=["account:read", "api_keys:write"])
    cert = str(server.store.data_dir / "tls" / "cert.pem")
    auth = HTTPBasicAuth(created["key"], "")

    def status(node, method="GET", path="/api/auth/session"):
        return requests.request(method, node.url(path), auth=auth, verify=cert, timeout=30).status_code

    def wait_for(node, want, within=8.0):
        start = time.monotonic()
        while (got := status(node)) != want and time.monotonic() - start < within:
            time.sleep(0.2)
        assert got == want, f"{node.log_name} still answers {got} after {within} s"
        return time.monotonic() - start

    assert status(other) == 200  # now cached on the other node
    assert status(server, "POST", f"/api/api-keys/{created['id']}/disable") == 200
    assert status(server) == 401, "at once on the node that disabled it"
    took = wait_for(other, 401)
    print(f"disable reached the other node in {took:.1f} s")

    # A disabled key cannot enable itself; the owner signs in to do it.
    res = login_ok(server, "admin", server.bootstrap_password)
    record_secret(res.body["csrf_token"])
    r = session().post(server.url(f"/api/api-keys/{created['id']}/enable"),
                       headers={"Cookie": f"cloud.sso={res.cookie}", "X-CSRF-Token": res.body["csrf_token"]},
                       timeout=30)
    assert r.status_code == 200, r.text
    wait_for(other, 200)

    # The organisation keeps an owner while its first one is disabled.
    pw = server.store.data_dir.parent / "second-owner.pw"
    pw.write_text(record_secret("pw-" + uuid.uuid4().hex + "-Zq8!"))
    server.admin("create-user", "second-owner", "--email", "second@example.org", "--role", "owner",
                 "--password-file", str(pw))
    server.admin("disable-user", "admin")
    wait_for(other, 401)
    server.admin("enable-user", "admin")
    wait_for(other, 200)

    assert status(server, "DELETE", f"/api/api-keys/{created['id']}") == 204
    wait_for(other, 401)
