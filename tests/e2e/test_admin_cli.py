"""The operator CLI (`gatehouse admin ...`, `gatehouse config ...`) against a live server's store."""

from __future__ import annotations

import os
import subprocess
import uuid

import harness
from harness import assert_error, get_session, login, login_ok, new_password


def _password_file(tmp_path, password: str):
    path = tmp_path / f"pw-{uuid.uuid4().hex[:8]}"
    path.write_text(password)
    os.chmod(path, 0o600)
    return path


def _username() -> str:
    return "user" + uuid.uuid4().hex[:8]


def test_create_user_then_login(server, tmp_path):
    name, password = _username(), new_password()
    server.admin("create-user", name, "--email", f"{name}@example.test", "--display-name", "Test Person",
                 "--password-file", str(_password_file(tmp_path, password)))

    listing = server.admin("list-users")
    assert name in listing.stdout, listing.stdout
    assert password not in listing.stdout + listing.stderr

    res = login_ok(server, name, password)
    assert res.body["user"]["username"] == name, res.body
    assert res.body["user"]["email"] == f"{name}@example.test", res.body
    assert res.body["user"]["display_name"] == "Test Person", res.body
    r = get_session(server, res.cookie)
    assert r.status_code == 200 and r.json()["user"]["username"] == name, r.text


def test_disable_user_blocks_login(server, tmp_path):
    name, password = _username(), new_password()
    server.admin("create-user", name, "--email", f"{name}@example.test",
                 "--password-file", str(_password_file(tmp_path, password)))
    login_ok(server, name, password)

    server.admin("disable-user", name)
    res = login(server, name, password)
    assert res.status == 401, (res.status, res.response.text)
    assert res.cookie is None


def test_set_password(server, tmp_path):
    name, old, new = _username(), new_password(), new_password()
    server.admin("create-user", name, "--email", f"{name}@example.test",
                 "--password-file", str(_password_file(tmp_path, old)))
    login_ok(server, name, old)
    server.admin("set-password", name, "--password-file", str(_password_file(tmp_path, new)))
    assert_error(login(server, name, old).response, 401, "invalid_credentials")
    login_ok(server, name, new)


def test_password_length_limits(server, tmp_path):
    for bad in (new_password(11), new_password(129)):
        name = _username()
        cp = server.admin("create-user", name, "--email", f"{name}@example.test",
                          "--password-file", str(_password_file(tmp_path, bad)), check=False)
        assert cp.returncode != 0, f"a {len(bad)}-character password was accepted"
        assert bad not in cp.stdout + cp.stderr
        assert name not in server.admin("list-users").stdout
    for good in (new_password(12), new_password(128)):
        name = _username()
        server.admin("create-user", name, "--email", f"{name}@example.test",
                     "--password-file", str(_password_file(tmp_path, good)))
        login_ok(server, name, good)


# Weak passwords an operator might type, and a word each refusal must contain.
WEAK_PASSWORDS = [
    (" " * 12, "only spaces"),
    ("111111111111", "pattern repeated"),
    ("passwordpassword", "pattern repeated"),
    ("123456789012", "consecutive"),
    ("abcdefghijkl", "consecutive"),
    ("qwertyuiopas", "consecutive"),
    ("administrator", "too common"),
    ("\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11\uff12\uff13\uff14", "too common"),
    ("gatehouse2026!", "service name"),
]


def _assert_refused(cp, password: str, expected: str) -> None:
    assert cp.returncode == 1, (password, cp.returncode, cp.stdout, cp.stderr)
    assert "panicked" not in cp.stderr, cp.stderr
    message = cp.stderr.strip()
    assert message.startswith("error: password: "), message
    assert expected in message, (password, message)
    assert "choose" in message or "must" in message, message
    if password.strip():
        assert password not in cp.stdout + cp.stderr, "the password is never echoed"


def test_create_user_and_set_password_refuse_weak_passwords_with_a_readable_message(server, tmp_path):
    victim, good = _username(), new_password()
    server.admin("create-user", victim, "--email", f"{victim}@example.test",
                 "--password-file", str(_password_file(tmp_path, good)))
    for password, expected in WEAK_PASSWORDS:
        name = _username()
        cp = server.admin("create-user", name, "--email", f"{name}@example.test",
                          "--password-file", str(_password_file(tmp_path, password)), check=False)
        _assert_refused(cp, password, expected)
        assert name not in server.admin("list-users").stdout
        cp = server.admin("set-password", victim, "--password-file", str(_password_file(tmp_path, password)),
                          check=False)
        _assert_refused(cp, password, expected)
    own_name = f"{victim.upper()}-2026!"
    cp = server.admin("set-password", victim, "--password-file", str(_password_file(tmp_path, own_name)),
                      check=False)
    _assert_refused(cp, own_name, "user name")
    login_ok(server, victim, good)


def test_admin_listings_escape_invisible_and_bidi_characters(server):
    # A failed sign-in records the name as typed; the audit listing must not replay it raw.
    hostile = "evil\u202egnp.exe\u200b\x1b[2J"
    assert login(server, hostile, new_password()).status == 401
    shown = server.admin("audit", "--limit", "20").stdout
    assert "evil\\u{202e}gnp.exe\\u{200b}\\u{1b}[2J" in shown, shown
    for raw in ("\u202e", "\u200b", "\x1b"):
        assert raw not in shown, shown


def test_config_example_passes_config_check(tmp_path):
    cp = subprocess.run([str(harness.BINARY), "config", "example"], capture_output=True, text=True,
                        stdin=subprocess.DEVNULL, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip(), "config example printed nothing"
    example = tmp_path / "example.toml"
    example.write_text(cp.stdout)
    cp = subprocess.run([str(harness.BINARY), "config", "check", "--config", str(example)],
                        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert cp.returncode == 0, f"the example config does not pass its own check: {cp.stdout}{cp.stderr}"

    broken = tmp_path / "broken.toml"
    broken.write_text("this is = = not toml [\n")
    cp = subprocess.run([str(harness.BINARY), "config", "check", "--config", str(broken)],
                        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert cp.returncode != 0, "config check accepted a broken file"


def test_admin_policy_limits_api_key_expirations_at_once(server, tmp_path):
    shown = server.admin("policy")
    assert "api_key_expirations           = none,7,30,60,90" in shown.stdout, shown.stdout
    server.admin("policy", "--api-key-expirations", "7,30", "--api-key-default-expiration", "7",
                 "--require-disable-before-delete", "true")
    res = login_ok(server, "admin", server.bootstrap_password)
    harness.record_secret(res.body["csrf_token"])
    headers = {"Cookie": f"cloud.sso={res.cookie}", "X-CSRF-Token": res.body["csrf_token"]}
    s = harness.session()
    r = s.post(server.url("/api/api-keys"), json={"name": "long", "expires_in_days": 90}, headers=headers, timeout=30)
    assert_error(r, 422, "validation_failed")
    assert "not allowed" in r.json()["message"], r.text
    r = s.post(server.url("/api/api-keys"), json={"name": "ok"}, headers=headers, timeout=30)
    assert r.status_code == 201, r.text
    harness.record_secret(r.json()["key"])
    r = s.delete(server.url(f"/api/api-keys/{r.json()['id']}"), headers=headers, timeout=30)
    assert_error(r, 409, "conflict")
    bad = server.admin("policy", "--api-key-expirations", "7", "--api-key-default-expiration", "90", check=False)
    assert bad.returncode != 0 and "allowed" in bad.stderr, (bad.stdout, bad.stderr)
