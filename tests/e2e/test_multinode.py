"""Three nodes over one PostgreSQL database, as a multi-node deployment runs: a
revocation made on one node is refused on the others through the change feed
(LISTEN/NOTIFY) well before the fallback poll, and a node whose listener connection
was killed reconnects, resyncs and converges.

These tests always run on PostgreSQL (the multi-node store), whichever backend the
rest of the suite uses; the SQLite stage creates a database on the same throwaway
cluster. Timings are loose on purpose: the fallback poll runs every 15 s while the feed
is live, so a refusal within FEED_BOUND seconds shows the feed did it; the measured
bound is bench/revocation.sh's job.
"""

from __future__ import annotations

import subprocess
import time
import uuid

import requests
from requests.auth import HTTPBasicAuth

from harness import (
    COOKIE_NAME,
    Store,
    create_postgres_database,
    login_ok,
    postgres_socket_dir,
    record_secret,
    session,
)

FEED_BOUND = 4.0
POLL_BOUND = 25.0


def _cluster(gatehouse, tmp_path, n: int = 3):
    store = Store(data_dir=tmp_path / "pg-store", database_url=create_postgres_database())
    store.data_dir.mkdir()
    first = gatehouse.start(store=store)
    nodes = [first] + [gatehouse.start(store=store, expect_bootstrap=False) for _ in range(n - 1)]
    for node in nodes:
        _wait_listener(node, "connected")
    return nodes


def _readyz(node) -> dict:
    r = session().get(node.url("/readyz"), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _wait_listener(node, want: str, within: float = 15.0) -> dict:
    start = time.monotonic()
    while (body := _readyz(node))["invalidations"]["listener"] != want:
        assert time.monotonic() - start < within, f"{node.log_name}: listener {body} after {within} s"
        time.sleep(0.1)
    return body


class Admin:
    """The bootstrap admin signed in on one node (cookie + CSRF token)."""

    def __init__(self, node):
        self.node = node
        res = login_ok(node, "admin", node.bootstrap_password)
        record_secret(res.body["csrf_token"])
        self.headers = {"Cookie": f"{COOKIE_NAME}={res.cookie}", "X-CSRF-Token": res.body["csrf_token"]}

    def call(self, method: str, path: str, **kw) -> requests.Response:
        return session().request(method, self.node.url(path), headers=self.headers, timeout=30, **kw)


def _refused_everywhere(nodes, probe, within: float) -> float:
    """Seconds until every node answers 401 to `probe(node)`."""
    start = time.monotonic()
    pending = list(nodes)
    while pending:
        pending = [n for n in pending if probe(n) != 401]
        took = time.monotonic() - start
        assert not pending or took < within, (
            f"still accepted on {[n.log_name for n in pending]} after {within} s")
        if pending:
            time.sleep(0.05)
    return time.monotonic() - start


def _key_probe(key: str):
    return lambda node: session().get(node.url("/api/auth/session"), auth=HTTPBasicAuth(key, ""),
                                      timeout=30).status_code


def _cookie_probe(cookie: str):
    return lambda node: session().get(node.url("/api/auth/session"),
                                      headers={"Cookie": f"{COOKIE_NAME}={cookie}"}, timeout=30).status_code


def _bearer_probe(token: str):
    return lambda node: session().get(node.url("/api/auth/session"),
                                      headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code


def _new_key(admin: Admin) -> dict:
    r = admin.call("POST", "/api/api-keys", json={"name": f"multi-node-{uuid.uuid4().hex[:8]}", "permissions": ["account:read"]})
    assert r.status_code == 201, r.text
    record_secret(r.json()["key"])
    return r.json()


def test_each_kind_of_revocation_reaches_every_node_through_the_feed(gatehouse, tmp_path):
    nodes = _cluster(gatehouse, tmp_path)
    writer, others = nodes[0], nodes[1:]
    admin = Admin(writer)
    took: dict[str, float] = {}

    # An API key disabled on node 1.
    key = _new_key(admin)
    probe = _key_probe(key["key"])
    assert all(probe(n) == 200 for n in others), "the key works (and is cached) everywhere first"
    assert admin.call("POST", f"/api/api-keys/{key['id']}/disable").status_code == 200
    took["api key disabled"] = _refused_everywhere(others, probe, FEED_BOUND)

    # A session signed out on node 1.
    res = login_ok(writer, "admin", writer.bootstrap_password)
    record_secret(res.body["csrf_token"])
    probe = _cookie_probe(res.cookie)
    assert all(probe(n) == 200 for n in others)
    r = session().post(writer.url("/api/auth/logout"), timeout=30,
                       headers={"Cookie": f"{COOKIE_NAME}={res.cookie}", "X-CSRF-Token": res.csrf_token})
    assert r.status_code == 204, r.text
    took["session ended"] = _refused_everywhere(others, probe, FEED_BOUND)

    # A token revoked on node 1.
    r = admin.call("POST", "/api/tokens", json={"expires_in_hours": 1})
    assert r.status_code == 201, r.text
    token = r.json()
    record_secret(token["token"])
    probe = _bearer_probe(token["token"])
    assert all(probe(n) == 200 for n in others)
    assert admin.call("DELETE", f"/api/tokens/{token['id']}").status_code == 204
    took["token revoked"] = _refused_everywhere(others, probe, FEED_BOUND)

    # An account disabled by the operator CLI, a process of its own: its notification
    # reaches the running nodes too.
    pw = tmp_path / "bob.pw"
    pw.write_text(record_secret("pw-" + uuid.uuid4().hex + "-Zq8!"))
    writer.admin("create-user", "bob", "--email", "bob@example.org", "--password-file", str(pw))
    bob = [login_ok(n, "bob", pw.read_text()) for n in others]
    for b in bob:
        record_secret(b.body["csrf_token"])
    probes = [_cookie_probe(b.cookie) for b in bob]
    assert all(p(n) == 200 for p, n in zip(probes, others))
    writer.admin("disable-user", "bob")
    start = time.monotonic()
    for p, n in zip(probes, others):
        _refused_everywhere([n], p, FEED_BOUND - (time.monotonic() - start))
    took["account disabled (CLI)"] = time.monotonic() - start

    print("propagation to nodes 2 and 3: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in took.items()))


def _terminate_listeners() -> int:
    """Kills every connection that is LISTENing; returns how many."""
    sql = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
           "WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()")
    out = subprocess.run(["psql", "-X", "-q", "-At", "-h", postgres_socket_dir(), "-U", "postgres",
                          "-d", "postgres", "-c", sql],
                         check=True, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return int(out.stdout.strip())


def test_a_node_whose_listener_was_killed_resyncs_and_converges(gatehouse, tmp_path):
    nodes = _cluster(gatehouse, tmp_path, n=2)
    writer, other = nodes
    admin = Admin(writer)
    before = _readyz(other)["invalidations"]["listener_resyncs"]

    # A change made while the listener is down is not lost: the reconnect resyncs.
    key = _new_key(admin)
    probe = _key_probe(key["key"])
    assert probe(other) == 200
    assert _terminate_listeners() >= 2, "each node holds a listening connection"
    assert admin.call("POST", f"/api/api-keys/{key['id']}/disable").status_code == 200
    took = _refused_everywhere([other], probe, POLL_BOUND)
    print(f"a change made while the listener was down reached the other node in {took * 1000:.0f} ms")

    # The listener is back (a resync counted) and carries the next change at once.
    start = time.monotonic()
    while _readyz(other)["invalidations"]["listener_resyncs"] <= before:
        assert time.monotonic() - start < 15, f"no resync after the listener was killed: {_readyz(other)}"
        time.sleep(0.1)
    _wait_listener(other, "connected")
    key = _new_key(admin)
    probe = _key_probe(key["key"])
    assert probe(other) == 200
    assert admin.call("POST", f"/api/api-keys/{key['id']}/disable").status_code == 200
    took = _refused_everywhere([other], probe, FEED_BOUND)
    print(f"after the reconnect, a change reached the other node in {took * 1000:.0f} ms")


def test_a_single_sqlite_node_reports_no_listener(server):
    body = _readyz(server)
    if server.store.database_url:
        assert body["invalidations"]["listener"] == "connected", body
    else:
        assert body["invalidations"]["listener"] == "not_used", body
    assert body["signing_keys"] == "loaded" and body["store"] == "up", body
