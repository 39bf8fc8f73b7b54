"""The admin panel's API over real HTTPS: a new member's one-time set-password link, the
policy document with each field explained and enforced, the audit log's filters (who,
what, which credential, when) and its streamed JSON Lines and CSV export (100,000
records in bounded memory, parsed with Python's own json and csv), and `gatehouse org …`
for an admin holding an organisation key."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import requests

import harness
from harness import BINARY, assert_error, login, new_password, record_secret, session
from test_orgs import curl, person, two_orgs


def link_secret(url: str) -> str:
    path, _, secret = url.partition("#")
    assert path.endswith("/set-password") and secret.startswith("gsp_"), url
    return record_secret(secret)


def set_password(server, secret: str, password: str) -> requests.Response:
    return session().post(server.url("/api/auth/set-password"), json={"link": secret, "password": password},
                          timeout=60)


def test_a_new_member_sets_their_own_password_through_a_one_time_link(server):
    a, b = two_orgs(server)
    owner, admin = a["owner"], a["admin"]
    r = admin.post("/api/admin/members", {"username": "Newbie", "email": "newbie@example.org",
                                          "display_name": "New Bie"})
    assert r.status_code == 201, r.text
    body = r.json()
    member = body["member"]
    assert member["username"] == "newbie" and member["role"] == "member" and member["last_sign_in_at"] is None
    assert member["password_set"] is False
    first = link_secret(body["set_password_url"])
    assert body["set_password_url"].startswith(server.base), body
    assert body["expires_at"]
    # No password can sign in before the member chose one.
    assert login(server, "newbie", "").status in (400, 401, 422)
    assert login(server, "newbie", first).status == 401

    # Adding an owner takes an owner; a taken username is 409; bad input names its field.
    assert_error(admin.post("/api/admin/members", {"username": "boss", "email": "b@example.org", "role": "owner"}),
                 403, "forbidden")
    assert_error(admin.post("/api/admin/members", {"username": "newbie", "email": "n@example.org"}), 409, "conflict")
    body = assert_error(admin.post("/api/admin/members", {"username": "x y", "email": "n@example.org"}),
                        422, "validation_failed")
    assert body["field"] == "username", body
    assert_error(a["member"].post("/api/admin/members", {"username": "sneak", "email": "s@example.org"}),
                 403, "insufficient_permissions")

    # A fresh link replaces the first; another organisation cannot issue one.
    assert_error(b["owner"].post(f"/api/admin/members/{member['id']}/password-link"), 404, "not_found")
    r = owner.post(f"/api/admin/members/{member['id']}/password-link")
    assert r.status_code == 200, r.text
    second = link_secret(r.json()["set_password_url"])
    body = assert_error(set_password(server, first, new_password()), 422, "validation_failed")
    assert "ask your administrator for a new one" in body["message"], body

    # A refused password loses nothing: the link still works afterwards.
    body = assert_error(set_password(server, second, "short"), 422, "validation_failed")
    assert body["field"] == "password", body
    chosen = record_secret(new_password())
    r = set_password(server, second, chosen)
    assert r.status_code == 200 and r.json() == {"username": "newbie"}, r.text
    assert login(server, "newbie", chosen).status == 200
    assert owner.get(f"/api/admin/members/{member['id']}").json()["password_set"] is True
    # Once used, the link is dead, and an admin cannot issue one for a member with a password.
    assert_error(set_password(server, second, new_password()), 422, "validation_failed")
    assert_error(owner.post(f"/api/admin/members/{member['id']}/password-link"), 409, "conflict")
    assert_error(set_password(server, "gsp_" + "A" * 43, new_password()), 422, "validation_failed")
    assert_error(set_password(server, "not-a-link", new_password()), 422, "validation_failed")

    # A link signs in as the member, so only a credential that could hold that session
    # hands one out: no admin for an owner, no organisation key at all.
    r = owner.post("/api/admin/members", {"username": "co-owner", "email": "co@example.org", "role": "owner"})
    assert r.status_code == 201, r.text
    co_owner = r.json()["member"]
    link_secret(r.json()["set_password_url"])
    assert_error(admin.post(f"/api/admin/members/{co_owner['id']}/password-link"), 403, "forbidden")
    r = owner.post("/api/admin/keys", {"name": "hr", "permissions": ["org:members:read", "org:members:write"]})
    org_key = record_secret(r.json()["key"])
    code, text = curl(server, org_key, "POST", "/api/admin/members", {"username": "viakey", "email": "k@example.org"})
    assert code == 403 and "own sign-in" in text, text
    code, text = curl(server, org_key, "POST", f"/api/admin/members/{co_owner['id']}/password-link")
    assert code == 403, text
    r = admin.post("/api/tokens", {"expires_in_hours": 1, "permissions": ["org:members:write"]})
    narrow = {"Authorization": f"Bearer {record_secret(r.json()['token'])}"}
    r = session().post(server.url("/api/admin/members"), json={"username": "viatoken", "email": "t@example.org",
                                                               "role": "admin"}, headers=narrow, timeout=30)
    assert_error(r, 403, "insufficient_permissions")

    # A pending link dies when the member is promoted or disabled: it was handed out for
    # the member as they were.
    r = admin.post("/api/admin/members", {"username": "pending", "email": "p@example.org"})
    pending, pending_link = r.json()["member"], link_secret(r.json()["set_password_url"])
    assert owner.post(f"/api/admin/members/{pending['id']}/role", {"role": "admin"}).status_code == 200
    assert_error(set_password(server, pending_link, new_password()), 422, "validation_failed")
    r = owner.post(f"/api/admin/members/{pending['id']}/password-link")
    relink = link_secret(r.json()["set_password_url"])
    assert owner.post(f"/api/admin/members/{pending['id']}/disable").status_code == 200
    assert_error(set_password(server, relink, new_password()), 422, "validation_failed")

    audit = owner.get("/api/admin/audit", params={"action": "member."}).json()
    created = next(e for e in audit if e["action"] == "member.created" and e["subject"]["username"] == "newbie")
    assert created["actor"]["username"] == "admin-a" and created["subject"]["username"] == "newbie", created
    assert created["credential"] == {"kind": "session", "id": None}, created


def test_the_policy_is_one_document_each_field_explained_and_enforced(server):
    a, b = two_orgs(server)
    owner, admin, member = a["owner"], a["admin"], a["member"]
    doc = admin.get("/api/admin/policy").json()
    names = [f["name"] for f in doc["fields"]]
    assert set(names) == set(doc["policy"]), (names, doc["policy"])
    assert all(f["label"] and len(f["effect"]) > 20 for f in doc["fields"]), doc["fields"]
    assert doc["server_limits"]["api_keys"] >= 1
    assert_error(member.get("/api/admin/policy"), 403, "insufficient_permissions")

    policy = dict(doc["policy"], token_max_hours=8, token_default_hours=4, max_api_keys_per_account=1,
                  api_key_expirations=["7", "30"], api_key_default_expiration="7")
    r = session().put(server.url("/api/admin/policy"), json=policy, timeout=30,
                      headers=dict(owner.s.headers))
    assert r.status_code == 200, r.text
    saved = r.json()["policy"]
    assert saved["max_api_keys_per_account"] == 1

    # Each field takes effect for members at once.
    r = member.post("/api/api-keys", {"name": "one"})
    assert r.status_code == 201 and r.json()["expires_at"], r.text
    record_secret(r.json()["key"])
    body = assert_error(member.post("/api/api-keys", {"name": "two"}), 422, "validation_failed")
    assert body["field"] == "api_keys", body
    body = assert_error(member.post("/api/tokens", {"expires_in_hours": 9}), 422, "validation_failed")
    assert "8 hours" in body["message"], body
    # Another organisation is untouched.
    assert b["owner"].get("/api/admin/policy").json()["policy"]["token_max_hours"] == 24

    # A refused policy names the field and changes nothing; the whole document is needed.
    bad = dict(policy, api_key_default_expiration="90")
    put = lambda body: session().put(server.url("/api/admin/policy"), json=body, timeout=30,  # noqa: E731
                                     headers=dict(owner.s.headers))
    body = assert_error(put(bad), 422, "validation_failed")
    assert body["field"] == "api_key_default_expiration", body
    body = assert_error(put(dict(policy, max_tokens_per_account=0)), 422, "validation_failed")
    assert body["field"] == "max_tokens_per_account", body
    partial = {k: v for k, v in policy.items() if k != "require_mfa"}
    assert put(partial).status_code in (400, 422)
    assert admin.get("/api/admin/policy").json()["policy"] == saved

    changed = owner.get("/api/admin/audit", params={"action": "org.policy_changed"}).json()
    assert len(changed) == 1, changed
    assert "max_api_keys_per_account" in changed[0]["detail"] and "token_max_hours" in changed[0]["detail"]
    assert changed[0]["actor"]["username"] == "owner-a", changed[0]


def test_the_audit_log_says_who_did_what_with_which_credential_and_filters(server):
    a, b = two_orgs(server)
    owner, mem = a["owner"], a["member"]
    r = owner.post("/api/admin/keys", {"name": "hr-sync", "permissions": ["org:members:write", "org:audit:read"]})
    assert r.status_code == 201, r.text
    key = record_secret(r.json()["key"])
    key_id = r.json()["id"]
    # The organisation key disables a member: the record names the key.
    code, text = curl(server, key, "POST", f"/api/admin/members/{mem.id}/disable")
    assert code == 200, text
    code, text = curl(server, key, "GET", f"/api/admin/audit?credential={key_id}")
    assert code == 200, text
    by_key = json.loads(text)
    assert [e["action"] for e in by_key] == ["user.disabled"], by_key
    rec = by_key[0]
    assert rec["credential"] == {"kind": "api_key", "id": key_id}, rec
    assert rec["subject"]["username"] == "mem-a" and rec["ip"] and rec["at"].endswith("Z"), rec

    # Filters by actor, action (exact or prefix) and time; another org sees none of it.
    created = owner.get("/api/admin/audit", params={"actor": "OWNER-A", "action": "org_key."}).json()
    assert created and all(e["actor"]["username"] == "owner-a" and e["action"].startswith("org_key.")
                           for e in created), created
    assert owner.get("/api/admin/audit", params={"until": "2000-01-01"}).json() == []
    assert owner.get("/api/admin/audit", params={"since": "2000-01-01", "action": "user.disabled"}).json()
    assert b["owner"].get("/api/admin/audit", params={"credential": key_id}).json() == []
    assert all(e["subject"]["username"] not in ("mem-a", "owner-a")
               for e in b["owner"].get("/api/admin/audit", params={"limit": "200"}).json())
    for params, field in [({"since": "yesterday"}, "since"), ({"action": "x' OR 1=1"}, "action"),
                          ({"since": "2026-02-01", "until": "2026-01-01"}, "until")]:
        body = assert_error(owner.get("/api/admin/audit", params=params), 422, "validation_failed")
        assert body["field"] == field, body
    assert_error(owner.get("/api/admin/audit", params={"who": "x"}), 400, "invalid_request")
    plain = person(server, "plain-a", "acme", "member")
    assert_error(plain.get("/api/admin/audit"), 403, "insufficient_permissions")
    assert_error(a["admin"].get("/api/admin/audit/export", params={"format": "xml"}), 422, "validation_failed")

    # Cursor pages walk back in time without repeats.
    seen, url = [], "/api/admin/audit?limit=2"
    while url:
        page = owner.get(url)
        assert page.status_code == 200, page.text
        seen += [e["id"] for e in page.json()]
        url = page.headers.get("Link", "").split(">")[0].lstrip("<") or None
    assert len(seen) == len(set(seen)) >= 5, seen

    # A user agent a spreadsheet would run is defused in the CSV, kept as is in JSON Lines.
    evil = '=HYPERLINK("https://evil.example","x")'
    r = owner.s.post(server.url(f"/api/admin/members/{mem.id}/enable"), headers={"User-Agent": evil}, timeout=30)
    assert r.status_code == 200, r.text
    # An operator's command is the operator's doing, not the member's.
    server.admin("disable-user", "mem-a")
    rows = list(csv.DictReader(io.StringIO(owner.get("/api/admin/audit/export", params={"format": "csv"}).text)))
    lines = [json.loads(l) for l in owner.get("/api/admin/audit/export").text.splitlines()]
    exports = lambda recs, key: [r for r in recs if key(r) != "audit.exported"]  # noqa: E731
    rows, lines = exports(rows, lambda r: r["action"]), exports(lines, lambda r: r["action"])
    assert len(rows) == len(lines) == len(seen) + 2, (len(rows), len(lines), len(seen))
    assert [r["id"] for r in rows] == [l["id"] for l in lines]
    by_key_row = next(r for r in rows if r["action"] == "user.disabled" and r["credential_kind"] == "api_key")
    assert by_key_row["credential_id"] == key_id, by_key_row
    enabled = next(r for r in rows if r["action"] == "user.enabled")
    assert enabled["user_agent"] == "'" + evil, enabled
    assert next(l for l in lines if l["action"] == "user.enabled")["user_agent"] == evil
    by_operator = next(l for l in lines if l["action"] == "user.disabled" and l["credential"]["kind"] == "operator")
    assert by_operator["actor"] == {"id": None, "username": "@operator"}, by_operator
    assert owner.get("/api/admin/audit", params={"action": "audit.exported"}).json()[0]["actor"]["username"] == "owner-a"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def insert_audit_rows(server, org_id: str, n: int, detail: str) -> None:
    """n records of the organisation, written straight into the store (the API would take
    minutes to make so many)."""
    base = 1_700_000_000
    if harness.backend() == "sqlite":
        import sqlite3
        db = sqlite3.connect(server.store.data_dir / "gatehouse.db", timeout=30)
        db.executemany(
            "INSERT INTO audit_event (audit_event_id, created_at, action, detail, ip, org_id, username) "
            "VALUES (?, ?, 'bulk.test', ?, '192.0.2.1', ?, 'bulk')",
            ((f"ev_bulk{i:08d}", base + i // 3, detail, org_id) for i in range(n)))
        db.commit()
        db.close()
    else:
        sql = ("INSERT INTO audit_event (audit_event_id, created_at, action, detail, ip, org_id, username) "
               f"SELECT 'ev_bulk' || lpad(i::text, 8, '0'), {base} + i / 3, 'bulk.test', '{detail}', "
               f"'192.0.2.1', '{org_id}', 'bulk' FROM generate_series(0, {n - 1}) AS i")
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server.store.database_url, "-c", sql],
                       check=True, capture_output=True, timeout=300)


def test_an_export_of_100000_records_streams_in_bounded_memory_and_parses(server):
    a, _ = two_orgs(server)
    owner = a["owner"]
    org_id = owner.get("/api/admin/org").json()["id"]
    n = 100_000
    detail = "d" * 400
    insert_audit_rows(server, org_id, n, detail)
    pid = server.proc.pid

    for fmt in ("jsonl", "csv"):
        base = rss_kib(pid)
        peak = [base]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(pid))
                time.sleep(0.005)

        t = threading.Thread(target=sample)
        t.start()
        size, count = 0, 0
        try:
            with owner.s.get(server.url("/api/admin/audit/export"), params={"format": fmt, "action": "bulk."},
                             stream=True, timeout=600) as res:
                assert res.status_code == 200, res.text
                assert res.headers.get("Transfer-Encoding") == "chunked", res.headers
                assert "attachment" in res.headers["Content-Disposition"]
                # Parsed as it arrives with the standard library's own parsers.
                lines = (l.decode() for l in res.iter_lines() if l)
                if fmt == "jsonl":
                    for line in lines:
                        size += len(line)
                        rec = json.loads(line)
                        assert rec["action"] == "bulk.test" and rec["detail"] == detail
                        count += 1
                else:
                    for row in csv.DictReader(lines):
                        size += len(row["detail"])
                        assert row["action"] == "bulk.test" and row["ip"] == "192.0.2.1"
                        count += 1
        finally:
            done.set()
            t.join()
        assert count == n, (fmt, count)
        grew_mib = (peak[0] - base) / 1024
        print(f"{fmt}: {size / 2**20:.0f} MiB exported, server RSS grew {grew_mib:.1f} MiB")
        # Holding the export would take more than its size; streaming holds a batch.
        assert size > 30 * 2**20, size
        assert grew_mib < 24, f"{fmt}: the server grew {grew_mib:.1f} MiB while exporting {size / 2**20:.0f} MiB"


def test_org_admins_run_keys_members_policy_and_audit_from_the_cli(server, tmp_path):
    a, _ = two_orgs(server)
    owner = a["owner"]
    r = owner.post("/api/admin/keys", {"name": "ops", "permissions": [
        "org:keys:read", "org:keys:write", "org:members:read", "org:members:write", "org:audit:read"]})
    assert r.status_code == 201, r.text
    key = record_secret(r.json()["key"])
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "xdg"), GATEHOUSE_API_KEY=key)
    trust = ["--server", server.base, "--fingerprint", server.fingerprint]

    def run(*args: str) -> subprocess.CompletedProcess:
        cp = subprocess.run([str(BINARY), "org", *args, *trust], capture_output=True, text=True, env=env,
                            timeout=120, stdin=subprocess.DEVNULL)
        assert "panicked" not in cp.stderr, cp.stderr
        return cp

    def ok(*args: str) -> str:
        cp = run(*args)
        assert cp.returncode == 0, (args, cp.stdout, cp.stderr)
        return cp.stdout

    listed = json.loads(ok("keys", "list", "--type", "public", "--json"))
    assert [k["name"] for k in listed] == ["ops"], listed
    cp = run("keys", "create", "--name", "reader", "--permission", "org:members:read")
    assert cp.returncode == 0 and "only time the key is shown" in cp.stderr, cp.stderr
    new_key = record_secret(cp.stdout.strip())
    assert curl(server, new_key, "GET", "/api/admin/members")[0] == 200
    cp = run("keys", "delete", "reader")
    assert cp.returncode != 0 and "disable" in cp.stderr, cp.stderr
    assert "disabled" in ok("keys", "disable", "reader")
    assert curl(server, new_key, "GET", "/api/admin/members")[0] == 401
    assert "deleted" in ok("keys", "delete", "reader")
    assert "reader" not in ok("keys", "list")

    cp = run("members", "add", "carol", "--email", "carol@example.org")
    assert cp.returncode != 0 and "own sign-in" in cp.stderr, cp.stderr
    # The owner's own sign-in adds members.
    env.pop("GATEHOUSE_API_KEY")
    login = subprocess.run([str(BINARY), "login", *trust, "--username", "owner-a"], input=owner.password + "\n",
                           capture_output=True, text=True, env=env, timeout=120)
    assert login.returncode == 0, login.stderr
    out = ok("members", "add", "carol", "--email", "carol@example.org")
    secret = link_secret(out.strip())
    assert set_password(server, secret, record_secret(new_password())).status_code == 200
    table = ok("members", "list", "--role", "member")
    assert "carol" in table and "mem-a" in table and "owner-a" not in table, table
    cp = run("members", "set-role", "nobody", "admin")
    assert cp.returncode != 0 and "no member of your organisation" in cp.stderr, cp.stderr

    policy = ok("policy")
    assert "token_max_hours" in policy and "The longest lifetime a new token may have" in policy, policy
    assert "max_api_keys_per_account           = server limit" in policy, policy
    exported = ok("audit", "--format", "csv", "--action", "member.")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert any(r["action"] == "member.created" and r["subject_username"] == "carol" for r in rows), rows
    jsonl = [json.loads(l) for l in ok("audit", "--actor", "owner-a").splitlines()]
    assert jsonl and all(e["actor"]["username"] == "owner-a" for e in jsonl)
    cp = run("audit", "--since", "soon")
    assert cp.returncode != 0 and "--since" in cp.stderr, cp.stderr
