"""Organisations over real HTTPS: two organisations with owners, admins, members and keys
of every kind; every admin route tried across the boundary answers 404 and changes
nothing; organisation API keys used with `curl -u "KEY:"`; the Team Computer Key, the SCIM
key; the last-owner guard under many parallel requests; the operator's `admin org`
commands.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import threading

from harness import assert_error, login_ok, record_secret, session


class Member:
    """A signed-in person (cookie + CSRF)."""

    def __init__(self, server, username: str, password: str):
        res = login_ok(server, username, password)
        self.server = server
        self.username = username
        self.id = res.body["user"]["id"]
        self.s = session()
        self.s.headers.update({"Cookie": f"cloud.sso={res.cookie}", "X-CSRF-Token": res.csrf_token})

    def get(self, path: str, **kw):
        return self.s.get(self.server.url(path), timeout=30, **kw)

    def post(self, path: str, body=None):
        return self.s.post(self.server.url(path), json=body, timeout=30)

    def delete(self, path: str):
        return self.s.delete(self.server.url(path), timeout=30)


def person(server, name: str, org: str, role: str) -> Member:
    password = record_secret("pw-" + secrets.token_urlsafe(18))
    pw = server.store.data_dir.parent / f"{name}.pw"
    pw.write_text(password)
    server.admin("create-user", name, "--email", f"{name}@example.org", "--org", org, "--role", role,
                 "--password-file", str(pw))
    m = Member(server, name, password)
    m.password = password
    return m


def curl(server, key: str, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
    """`curl -u "KEY:"`, the documented way to use an API key."""
    args = ["curl", "-sk", "-o", "-", "-w", "\n%{http_code}", "-u", f"{key}:", "-X", method]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    cp = subprocess.run(args + [server.url(path)], capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    text, _, code = cp.stdout.rpartition("\n")
    return int(code), text


def two_orgs(server):
    server.admin("org", "create", "acme", "--edition", "enterprise")
    server.admin("org", "create", "globex", "--edition", "enterprise")
    a = {"owner": person(server, "owner-a", "acme", "owner"),
         "admin": person(server, "admin-a", "acme", "admin"),
         "member": person(server, "mem-a", "acme", "member")}
    b = {"owner": person(server, "owner-b", "globex", "owner"),
         "admin": person(server, "admin-b", "globex", "admin"),
         "member": person(server, "mem-b", "globex", "member")}
    return a, b


def make_keys(org: dict) -> dict:
    owner, member = org["owner"], org["member"]
    keys = {}
    r = owner.post("/api/admin/keys", {"name": "ci", "permissions": ["org:members:read", "org:keys:read"]})
    assert r.status_code == 201, r.text
    keys["public"] = r.json()
    r = owner.post("/api/admin/team-computer-key")
    assert r.status_code == 201, r.text
    keys["team_computer"] = r.json()
    r = owner.post("/api/admin/scim-key")
    assert r.status_code == 201, r.text
    keys["scim"] = r.json()
    r = member.post("/api/api-keys", {"name": "laptop"})
    assert r.status_code == 201, r.text
    keys["personal"] = r.json()
    for k in keys.values():
        record_secret(k["key"])
    return keys


def test_every_admin_route_across_the_boundary_answers_404_and_changes_nothing(server):
    a, b = two_orgs(server)
    b_keys = make_keys(b)
    make_keys(a)
    attacker = a["owner"]

    b_members = [b["owner"], b["admin"], b["member"]]
    for m in b_members:
        for method, path, body in [
            ("GET", f"/api/admin/members/{m.id}", None),
            ("POST", f"/api/admin/members/{m.id}/role", {"role": "member"}),
            ("POST", f"/api/admin/members/{m.id}/disable", None),
            ("POST", f"/api/admin/members/{m.id}/enable", None),
            ("POST", f"/api/admin/members/{m.id}/reset-2sv", {"reason": "cross-tenant probe"}),
            ("POST", f"/api/admin/members/{m.id}/password-link", None),
        ]:
            r = attacker.get(path) if method == "GET" else attacker.post(path, body)
            assert_error(r, 404, "not_found")
    for kind, k in b_keys.items():
        for method, path, body in [
            ("GET", f"/api/admin/keys/{k['id']}", None),
            ("POST", f"/api/admin/keys/{k['id']}/disable", None),
            ("POST", f"/api/admin/keys/{k['id']}/enable", None),
            ("POST", f"/api/admin/keys/{k['id']}/duplicate", {}),
            ("DELETE", f"/api/admin/keys/{k['id']}", None),
        ]:
            if method == "GET":
                r = attacker.get(path)
            elif method == "DELETE":
                r = attacker.delete(path)
            else:
                r = attacker.post(path, body)
            assert_error(r, 404, "not_found")
    # A's lists hold nothing of B's; an owner filter naming B's member is refused.
    listed = attacker.get("/api/admin/members").json()
    assert sorted(m["username"] for m in listed) == ["admin-a", "mem-a", "owner-a"]
    keys = attacker.get("/api/admin/keys").json()
    assert {k["id"] for k in keys}.isdisjoint(k["id"] for k in b_keys.values())
    assert len(keys) == 4, keys
    r = attacker.get("/api/admin/keys", params={"owner": "mem-b"})
    assert_error(r, 422, "validation_failed")
    # The organisation-wide documents are A's own: B's records and policy never show.
    b_ids = {m.id for m in b_members}
    for e in attacker.get("/api/admin/audit", params={"limit": "200"}).json():
        assert e["subject"]["id"] not in b_ids and e["actor"]["id"] not in b_ids, e
    for line in attacker.get("/api/admin/audit/export").text.splitlines():
        assert json.loads(line)["subject"]["id"] not in b_ids, line
    policy = attacker.get("/api/admin/policy").json()["policy"]
    r = attacker.s.put(server.url("/api/admin/policy"), json=dict(policy, token_max_hours=2, token_default_hours=2),
                       timeout=30)
    assert r.status_code == 200, r.text
    assert b["owner"].get("/api/admin/policy").json()["policy"]["token_max_hours"] == 24

    # Nothing of B's changed: every key still works, every member still signs in as before.
    seen = {k["id"]: k for k in b["owner"].get("/api/admin/keys").json()}
    assert all(seen[k["id"]]["enabled"] for k in b_keys.values()), seen
    members = {m["username"]: m for m in b["owner"].get("/api/admin/members").json()}
    assert members["owner-b"]["role"] == "owner" and members["admin-b"]["role"] == "admin"
    assert not any(m["disabled"] for m in members.values())
    code, _ = curl(server, b_keys["personal"]["key"], "GET", "/api/auth/session")
    assert code == 200

    # An organisation API key of A cannot read B.
    a_public = attacker.post("/api/admin/keys", {"name": "reader", "permissions": ["org:members:read"]}).json()
    record_secret(a_public["key"])
    code, text = curl(server, a_public["key"], "GET", "/api/admin/members")
    assert code == 200, text
    assert sorted(m["username"] for m in json.loads(text)) == ["admin-a", "mem-a", "owner-a"]
    code, text = curl(server, a_public["key"], "GET", f"/api/admin/members/{b['member'].id}")
    assert code == 404, text


def test_public_api_keys_follow_the_documented_journey_with_curl(server):
    a, _ = two_orgs(server)
    owner, member = a["owner"], a["member"]
    # Members see none of it.
    assert_error(member.get("/api/admin/keys"), 403, "insufficient_permissions")
    assert_error(member.post("/api/admin/keys", {"name": "x", "permissions": ["org:keys:read"]}),
                 403, "insufficient_permissions")

    options = owner.get("/api/admin/keys/options").json()
    assert options["public_api_keys"] is True
    names = {p["name"] for p in options["permissions"]}
    assert {"org:members:read", "org:members:write", "org:keys:read", "org:keys:write", "org:audit:read"} <= names
    assert "api_keys:write" not in names

    r = owner.post("/api/admin/keys", {"type": "public", "name": "deploy",
                                        "permissions": ["org:members:read", "org:keys:read"]})
    assert r.status_code == 201, r.text
    created = r.json()
    key = record_secret(created["key"])
    assert created["type"] == "public" and created["type_label"] == "Public API Key"
    assert created["created_by"] == "owner-a" and created["owner"] is None

    code, text = curl(server, key, "GET", "/api/admin/keys")
    assert code == 200, text
    listed = {k["id"]: k for k in json.loads(text)}
    assert listed[created["id"]]["last_used_at"] is None or listed[created["id"]]["last_used_ip"]
    code, text = curl(server, key, "POST", f"/api/admin/members/{member.id}/disable")
    assert code == 403 and json.loads(text)["error"] == "insufficient_permissions", text

    # Duplicate with adjusted permissions: a new secret; the original is unchanged.
    r = owner.post(f"/api/admin/keys/{created['id']}/duplicate",
                   {"name": "deploy (members only)", "permissions": ["org:members:read"]})
    assert r.status_code == 201, r.text
    dup = r.json()
    record_secret(dup["key"])
    assert dup["key"] != key and dup["permissions"] == ["org:members:read"]
    assert owner.get(f"/api/admin/keys/{created['id']}").json()["permissions"] == ["org:keys:read", "org:members:read"]
    code, _ = curl(server, dup["key"], "GET", "/api/admin/keys")
    assert code == 403

    # Deleting takes disabling first; disabled keys stop at once; deletion is final.
    r = owner.delete(f"/api/admin/keys/{created['id']}")
    body = assert_error(r, 409, "conflict")
    assert "disable" in body["message"].lower(), body
    r = owner.post(f"/api/admin/keys/{created['id']}/disable")
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert curl(server, key, "GET", "/api/admin/keys")[0] == 401
    assert owner.post(f"/api/admin/keys/{created['id']}/enable").json()["enabled"] is True
    assert curl(server, key, "GET", "/api/admin/keys")[0] == 200
    owner.post(f"/api/admin/keys/{created['id']}/disable")
    assert owner.delete(f"/api/admin/keys/{created['id']}").status_code == 204
    assert_error(owner.get(f"/api/admin/keys/{created['id']}"), 404, "not_found")
    assert curl(server, key, "GET", "/api/admin/keys")[0] == 401

    # The key survives its creator: owner-a disabled, the duplicate still answers.
    admin2 = person(server, "owner-a2", "acme", "owner")
    assert admin2.post(f"/api/admin/members/{owner.id}/disable").status_code == 200
    assert curl(server, dup["key"], "GET", "/api/admin/members")[0] == 200

    # Bad input is a readable 4xx.
    for body in [{"name": "x", "permissions": []}, {"name": "x", "permissions": ["api_keys:write"]},
                 {"name": "", "permissions": ["org:keys:read"]}, {"type": "scim", "name": "x", "permissions": []}]:
        r = admin2.post("/api/admin/keys", body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["message"], r.text


def test_the_team_edition_offers_only_the_team_computer_key_and_the_scim_key(server):
    server.admin("org", "create", "smallco")
    owner = person(server, "small-owner", "smallco", "owner")
    options = owner.get("/api/admin/keys/options").json()
    assert options["edition"] == "team" and options["public_api_keys"] is False
    assert "Enterprise Level Feature" in options["edition_note"]
    r = owner.post("/api/admin/keys", {"name": "ci", "permissions": ["org:keys:read"]})
    body = assert_error(r, 403, "forbidden")
    assert "Enterprise Level Feature" in body["message"]

    r = owner.post("/api/admin/team-computer-key")
    assert r.status_code == 201, r.text
    tck = r.json()
    record_secret(tck["key"])
    assert tck["type_label"] == "Team Computer Key" and tck["permissions"] == ["ssh_keys:read_all"]
    body = assert_error(owner.post("/api/admin/team-computer-key"), 409, "conflict")
    assert "delete the existing one" in body["message"]
    owner.post(f"/api/admin/keys/{tck['id']}/disable")
    assert owner.delete(f"/api/admin/keys/{tck['id']}").status_code == 204
    again = owner.post("/api/admin/team-computer-key")
    assert again.status_code == 201, again.text
    record_secret(again.json()["key"])

    # The SCIM key: regenerating kills the old one at once (401, not just 403).
    first = owner.post("/api/admin/scim-key").json()
    record_secret(first["key"])
    assert curl(server, first["key"], "GET", "/api/admin/org")[0] == 403, "live, but good for SCIM only"
    second = owner.post("/api/admin/scim-key").json()
    record_secret(second["key"])
    assert curl(server, first["key"], "GET", "/api/admin/org")[0] == 401, "the old SCIM key is dead"
    assert curl(server, second["key"], "GET", "/api/admin/org")[0] == 403
    scim = owner.get("/api/admin/keys", params={"type": "scim"}).json()
    assert [k["id"] for k in scim] == [second["id"]]
    page = owner.get("/api/admin/keys", params={"limit": "1"})
    assert page.status_code == 200 and len(page.json()) == 1
    nxt = page.headers["Link"]
    assert "cursor=" in nxt and "limit=1" in nxt, nxt


def test_the_last_owner_survives_many_parallel_demotions(server):
    server.admin("org", "create", "racy")
    owners = [person(server, f"racer{i}", "racy", "owner") for i in range(8)]
    results: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(len(owners))

    def demote(me: Member):
        start.wait()
        r = me.post(f"/api/admin/members/{me.id}/role", {"role": "member"})
        with lock:
            results.append(r.status_code)

    threads = [threading.Thread(target=demote, args=(o,)) for o in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(results) == [200] * 7 + [409], results
    listed = server.admin("org", "members", "racy", "--json").stdout
    roles = [m["role"] for m in json.loads(listed)]
    assert roles.count("owner") == 1, roles

    # The one left cannot be disabled, demoted or moved away by the operator either.
    last = next(m["username"] for m in json.loads(listed) if m["role"] == "owner")
    for args in (["org", "set-role", last, "admin"], ["disable-user", last], ["org", "move", last, "--to", "default"]):
        cp = server.admin(*args, check=False)
        assert cp.returncode != 0 and "last active owner" in cp.stderr, (args, cp.stderr)


def test_members_are_run_from_the_admin_api(server):
    a, _ = two_orgs(server)
    owner, admin, member = a["owner"], a["admin"], a["member"]
    listed = admin.get("/api/admin/members").json()
    me = next(m for m in listed if m["username"] == "mem-a")
    assert me["role"] == "member" and me["two_step_verification"] is False and me["last_sign_in_at"]
    assert [m["username"] for m in admin.get("/api/admin/members", params={"role": "owner"}).json()] == ["owner-a"]
    body = assert_error(admin.get("/api/admin/members", params={"rol": "owner"}), 400, "invalid_request")
    assert "it takes role, status, limit and cursor" in body["message"], body
    body = assert_error(admin.get("/api/admin/keys", params={"kind": "scim"}), 400, "invalid_request")
    assert "it takes type, owner, status, limit and cursor" in body["message"], body
    first = admin.get("/api/admin/members", params={"status": "active", "limit": "1"})
    assert first.status_code == 200 and len(first.json()) == 1, first.text
    assert "&status=active>" in first.headers["Link"], first.headers["Link"]
    rest = admin.get(first.headers["Link"].split(">")[0].lstrip("<"))
    assert rest.status_code == 200 and first.json()[0]["id"] not in [m["id"] for m in rest.json()]

    # A role change reaches every credential at once, a bearer token too.
    r = admin.post("/api/tokens", {"expires_in_hours": 1})
    assert r.status_code == 201, r.text
    bearer = {"Authorization": f"Bearer {record_secret(r.json()['token'])}"}
    assert session().get(server.url("/api/admin/members"), headers=bearer, timeout=30).status_code == 200
    assert owner.post(f"/api/admin/members/{admin.id}/role", {"role": "member"}).status_code == 200
    r = session().get(server.url("/api/admin/members"), headers=bearer, timeout=30)
    assert_error(r, 403, "insufficient_permissions")
    assert owner.post(f"/api/admin/members/{admin.id}/role", {"role": "admin"}).status_code == 200

    # An admin runs members but cannot make owners or touch one.
    assert admin.post(f"/api/admin/members/{member.id}/role", {"role": "admin"}).status_code == 200
    assert_error(admin.post(f"/api/admin/members/{member.id}/role", {"role": "owner"}), 403, "forbidden")
    assert_error(admin.post(f"/api/admin/members/{owner.id}/disable"), 403, "forbidden")
    assert_error(admin.post(f"/api/admin/members/{member.id}/role", {"role": "boss"}), 422, "validation_failed")

    # Disabling ends the member's session and API keys at once.
    r = member.post("/api/api-keys", {"name": "k"})
    key = record_secret(r.json()["key"])
    assert curl(server, key, "GET", "/api/auth/session")[0] == 200
    assert admin.post(f"/api/admin/members/{member.id}/disable").json()["disabled"] is True
    assert member.get("/api/auth/session").status_code == 401
    assert curl(server, key, "GET", "/api/auth/session")[0] == 401
    assert admin.post(f"/api/admin/members/{member.id}/enable").json()["disabled"] is False
    assert curl(server, key, "GET", "/api/auth/session")[0] == 200

    # Reset 2SV wants a reason and is audited with it.
    assert_error(owner.post(f"/api/admin/members/{member.id}/reset-2sv", {"reason": " "}), 422, "validation_failed")
    r = owner.post(f"/api/admin/members/{member.id}/reset-2sv", {"reason": "lost phone, checked by video"})
    assert r.status_code == 200 and r.json()["factors_removed"] == 0
    audit = json.loads(server.admin("audit", "--limit", "20", "--json").stdout)
    assert any(e["action"] == "mfa.reset_by_admin" and "lost phone" in (e.get("detail") or "") for e in audit)

    # The operator's view.
    orgs = {o["name"]: o for o in json.loads(server.admin("org", "list", "--json").stdout)}
    assert orgs["acme"]["edition"] == "enterprise" and "default" in orgs
    cp = server.admin("org", "create", "acme", check=False)
    assert cp.returncode != 0 and "exists already" in cp.stderr
    cp = server.admin("org", "members", "nowhere", check=False)
    assert cp.returncode != 0 and "no organisation named" in cp.stderr
