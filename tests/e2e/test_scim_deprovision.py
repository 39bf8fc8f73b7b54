"""Deprovisioning through SCIM ends everything at once. A user provisioned by SCIM gets a
password through the owner's one-time set-password link, signs in (a cookie session),
makes an API key and a bearer token, adds an SSH public key that a real OpenSSH sshd
accepts (AuthorizedKeysCommand = `gatehouse ssh authorized-keys`, with the
organisation's Team Computer Key and its cache on) and stores an SSH private key. Then
the identity provider sends `active: false` (or DELETE): the very next request with each
credential is 401 and sshd refuses the key. Re-activating restores password sign-in
only: the old key and token stay dead and the SSH keys are gone.

Needs root (real local accounts and a real sshd, as test_ssh.py); fails, never skips,
otherwise.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest

from harness import login, new_password, record_secret, session
from test_admin_panel import link_secret, set_password
from test_orgs import Member, curl, person
from test_scim import Scim, assert_scim_error, audit, members, scim_key, subject, user_body
from test_ssh import Cluster, ensure_unix_user, keygen, pub
from test_ssh_private_keys import private_lines

USERS = ("gh-dana", "gh-erin")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("the SCIM deprovisioning tests must run as root (they create accounts and run sshd)")
    for name in USERS:
        ensure_unix_user(name)
    c = Cluster(Path(f"/run/gatehouse-scim-e2e-{secrets.token_hex(4)}"), tmp_path_factory.mktemp("sshd"))
    c.start()
    yield c
    c.stop()


class Provisioned:
    """A SCIM-provisioned member of acme holding one of each credential."""

    def __init__(self, server, cluster, tmp_path: Path, username: str):
        server.admin("org", "create", "acme", "--edition", "enterprise")
        self.owner = person(server, "acme-owner", "acme", "owner")
        self.scim_key = scim_key(self.owner)
        self.scim = Scim(server, self.scim_key["key"])
        r = self.owner.post("/api/admin/team-computer-key")
        assert r.status_code == 201, r.text
        cluster.configure(server, record_secret(r.json()["key"]), cache=True)
        cluster.clear_cache()
        self.server, self.cluster, self.username = server, cluster, username

        self.user = self.scim.create_user(username, email=f"{username}@acme.example", display=username)
        self.path = f"/Users/{self.user['id']}"
        member = members(self.owner)[username]
        assert member["password_set"] is False, member
        r = self.owner.post(f"/api/admin/members/{member['id']}/password-link")
        assert r.status_code == 200, r.text
        self.password = new_password()
        r = set_password(server, link_secret(r.json()["set_password_url"]), self.password)
        assert r.status_code == 200 and r.json() == {"username": username}, r.text

        self.me = Member(server, username, self.password)
        r = self.me.post("/api/api-keys", {"name": "laptop"})
        assert r.status_code == 201, r.text
        self.api_key_id, self.api_key = r.json()["id"], record_secret(r.json()["key"])
        r = self.me.post("/api/tokens", {"expires_in_hours": 1})
        assert r.status_code == 201, r.text
        self.token = record_secret(r.json()["token"])
        self.ssh_key = keygen(tmp_path, f"{username}-login", "-t", "ed25519")
        r = self.me.post("/api/ssh-keys", {"name": "laptop", "key": pub(self.ssh_key)})
        assert r.status_code == 201, r.text
        stored = keygen(tmp_path, f"{username}-deploy", "-t", "ed25519")
        for line in private_lines(stored):
            record_secret(line)
        r = self.me.post("/api/ssh-private-keys", {"name": "deploy", "private_key": stored.read_text()})
        assert r.status_code == 201, r.text

    def credentials(self) -> dict:
        """What each credential gets on its next use (HTTP status, or whether sshd let it in)."""
        url = self.server.url("/api/auth/session")
        return {
            "cookie": self.me.get("/api/auth/session").status_code,
            "api key": session().get(url, auth=(self.api_key, ""), timeout=30).status_code,
            "bearer token": session().get(url, headers={"Authorization": f"Bearer {self.token}"},
                                          timeout=30).status_code,
            "ssh": self.cluster.login(self.username, self.ssh_key)[0],
        }


ALIVE = {"cookie": 200, "api key": 200, "bearer token": 200, "ssh": True}
DEAD = {"cookie": 401, "api key": 401, "bearer token": 401, "ssh": False}


def test_active_false_ends_every_credential_at_once_and_reactivation_restores_only_the_password(
        server, cluster, tmp_path):
    p = Provisioned(server, cluster, tmp_path, "gh-dana")
    assert p.credentials() == ALIVE, f"see {cluster.log}"

    got = p.scim.patch_ok(p.path, {"op": "replace", "path": "active", "value": False})
    assert got["active"] is False
    assert p.credentials() == DEAD
    assert login(server, "gh-dana", p.password).status in (401, 403), "no sign-in while deactivated"
    assert members(p.owner)["gh-dana"]["disabled"] is True

    got = p.scim.patch_ok(p.path, {"op": "replace", "path": "active", "value": True})
    assert got["active"] is True
    again = Member(server, "gh-dana", p.password)
    assert again.get("/api/auth/session").status_code == 200
    still = p.credentials()
    assert still == DEAD, "the old session, key and token stay dead; the SSH key is gone"
    assert again.get("/api/ssh-keys").json() == []
    assert again.get("/api/ssh-private-keys").json() == []
    keys = again.get("/api/api-keys").json()
    assert not [k for k in keys if k["id"] == p.api_key_id and not k.get("revoked_at")], keys

    # The way back in is the ordinary one: a new key works, on the API and on the cluster.
    r = again.post("/api/ssh-keys", {"name": "laptop", "key": pub(p.ssh_key)})
    assert r.status_code == 201, r.text
    assert cluster.login("gh-dana", p.ssh_key)[0], f"see {cluster.log}"
    fresh = record_secret(again.post("/api/api-keys", {"name": "new laptop"}).json()["key"])
    assert curl(server, fresh, "GET", "/api/auth/session")[0] == 200

    records = [e for e in audit(p.owner, "scim.user.") if subject(e) == "gh-dana"]
    actions = [e["action"] for e in records]
    assert {"scim.user.created", "scim.user.deactivated", "scim.user.reactivated"} <= set(actions), actions
    for e in records:
        assert e["credential"] == {"kind": "api_key", "id": p.scim_key["id"]}, e


def test_delete_ends_every_credential_at_once_and_the_user_is_gone(server, cluster, tmp_path):
    p = Provisioned(server, cluster, tmp_path, "gh-erin")
    assert p.credentials() == ALIVE, f"see {cluster.log}"

    r = p.scim.delete(p.path)
    assert r.status_code == 204, r.text
    assert p.credentials() == DEAD
    assert login(server, "gh-erin", p.password).status in (401, 403)
    assert_scim_error(p.scim.get(p.path), 404)
    assert p.scim.found("/Users", 'userName eq "gh-erin"') == []
    assert_scim_error(p.scim.post("/Users", user_body("gh-erin")), 409, "uniqueness")
    m = members(p.owner)["gh-erin"]
    assert m["disabled"] is True, m
    cp, _ = cluster.akc("gh-erin")
    assert cp.stdout == "", cp.stdout
    # Whatever an owner does next, the key, the token and the SSH key were revoked for good.
    assert p.owner.post(f"/api/admin/members/{m['id']}/enable").status_code in (200, 409)
    after = p.credentials()
    assert (after["api key"], after["bearer token"], after["ssh"]) == (401, 401, False), after
    assert_scim_error(p.scim.get(p.path), 404)


def test_deactivation_on_one_node_ends_every_credential_on_another_within_its_poll(gatehouse, server):
    # Two servers over one store, as a multi-node deployment runs: the second node has the
    # session, key and token cached, and only the published invalidation (polled every
    # 5 s) can make it refuse them.
    other = gatehouse.start(store=server.store, expect_bootstrap=False)
    server.admin("org", "create", "acme", "--edition", "enterprise")
    owner = person(server, "acme-owner", "acme", "owner")
    scim = Scim(server, scim_key(owner)["key"])
    frank = person(server, "frank", "acme", "member")
    api_key = record_secret(frank.post("/api/api-keys", {"name": "laptop"}).json()["key"])
    token = record_secret(frank.post("/api/tokens", {"expires_in_hours": 1}).json()["token"])

    def on_other() -> dict:
        url = other.url("/api/auth/session")
        return {
            "cookie": session().get(url, headers={"Cookie": frank.s.headers["Cookie"]}, timeout=30).status_code,
            "api key": session().get(url, auth=(api_key, ""), timeout=30).status_code,
            "bearer token": session().get(url, headers={"Authorization": f"Bearer {token}"},
                                          timeout=30).status_code,
        }

    assert on_other() == {"cookie": 200, "api key": 200, "bearer token": 200}, "cached on the other node"
    user = scim.found("/Users", 'userName eq "frank"')[0]
    scim.patch_ok(f"/Users/{user['id']}", {"op": "Replace", "path": "active", "value": "False"})
    start = time.monotonic()
    while (got := on_other()) != {"cookie": 401, "api key": 401, "bearer token": 401} \
            and time.monotonic() - start < 8.0:
        time.sleep(0.2)
    assert got == {"cookie": 401, "api key": 401, "bearer token": 401}, got
    print(f"deactivation reached the other node in {time.monotonic() - start:.1f} s")
