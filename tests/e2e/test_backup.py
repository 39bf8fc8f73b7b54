"""`gatehouse admin backup` and the README's restore, step by step: an online SQLite
backup taken while the server serves, restored into the data folder of a stopped
server; for PostgreSQL, the pointer to pg_dump and a pg_dump/pg_restore round trip."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading

from requests.auth import HTTPBasicAuth

from harness import (
    BINARY,
    COOKIE_NAME,
    Store,
    create_postgres_database,
    login_ok,
    postgres_socket_dir,
    record_secret,
    session,
)


def _new_key(node, name: str) -> str:
    res = login_ok(node, "admin", node.bootstrap_password)
    record_secret(res.body["csrf_token"])
    r = session().post(node.url("/api/api-keys"), json={"name": name, "permissions": ["account:read"]},
                       headers={"Cookie": f"{COOKIE_NAME}={res.cookie}", "X-CSRF-Token": res.body["csrf_token"]},
                       timeout=30)
    assert r.status_code == 201, r.text
    return record_secret(r.json()["key"])


def _works(node, key: str) -> int:
    return session().get(node.url("/api/auth/session"), auth=HTTPBasicAuth(key, ""), timeout=30).status_code


def _sqlite_store(gatehouse) -> Store:
    store = gatehouse.store()
    if store.database_url:
        # This test is about the SQLite file; the PostgreSQL one is below.
        store = Store(data_dir=store.data_dir)
    return store


def test_an_online_backup_restores_to_the_moment_it_was_taken(gatehouse, tmp_path):
    store = _sqlite_store(gatehouse)
    srv = gatehouse.start(store=store)
    before = _new_key(srv, "before-backup")

    # Requests keep being served while the backup runs.
    stop = threading.Event()
    statuses: list[int] = []

    def load() -> None:
        while not stop.is_set():
            statuses.append(_works(srv, before))

    t = threading.Thread(target=load, daemon=True)
    t.start()
    out = tmp_path / "backups" / "gatehouse-backup.db"
    out.parent.mkdir()
    try:
        cp = srv.admin("backup", "--output", str(out))
    finally:
        stop.set()
        t.join(30)
    assert statuses and set(statuses) == {200}, f"requests during the backup: {set(statuses)}"
    assert "integrity check passed" in cp.stdout, cp.stdout
    assert "master key" in cp.stdout and "not in the backup" in cp.stdout, cp.stdout
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600, oct(os.stat(out).st_mode)

    # An existing file is never overwritten.
    again = srv.admin("backup", "--output", str(out), check=False)
    assert again.returncode != 0 and "already exists" in again.stderr, again.stderr

    after = _new_key(srv, "after-backup")
    assert _works(srv, after) == 200

    # The README's restore: stop the server, put the backup in place of the database,
    # remove the old write-ahead log, keep the same master key, start.
    assert srv.stop() == 0
    db = store.data_dir / "gatehouse.db"
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    shutil.copy2(out, db)
    os.chmod(db, 0o600)
    restored = gatehouse.start(store=store, expect_bootstrap=False)
    assert _works(restored, before) == 200, "a key from before the backup works after the restore"
    assert _works(restored, after) == 401, "a key created after the backup is not in it"
    login_ok(restored, "admin", srv.bootstrap_password)


def test_backup_refuses_a_missing_store_and_points_postgres_to_pg_dump(gatehouse, tmp_path):
    missing = Store(data_dir=tmp_path / "nothing-here")
    cp = subprocess.run([*_admin_cmd(missing), "backup", "--output", str(tmp_path / "x.db")],
                        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert cp.returncode != 0 and "no Gatehouse data folder" in cp.stderr, cp.stderr
    assert not (tmp_path / "x.db").exists()

    pg = Store(data_dir=tmp_path / "pg", database_url=create_postgres_database())
    pg.data_dir.mkdir()
    srv = gatehouse.start(store=pg)
    cp = srv.admin("backup", "--output", str(tmp_path / "pg.db"), check=False)
    assert cp.returncode != 0, cp.stdout
    assert "pg_dump" in cp.stderr and "pg_restore" in cp.stderr and "master key" in cp.stderr, cp.stderr
    assert not (tmp_path / "pg.db").exists()


def _admin_cmd(store: Store) -> list[str]:
    return [str(BINARY), "admin", *store.args()]


def test_a_pg_dump_restores_into_a_new_database(gatehouse, tmp_path):
    """The PostgreSQL half of the README's procedure: pg_dump while serving, pg_restore
    into an empty database, the same data folder (master key) beside it."""
    source = Store(data_dir=tmp_path / "pg-src", database_url=create_postgres_database())
    source.data_dir.mkdir()
    srv = gatehouse.start(store=source)
    key = _new_key(srv, "dumped")
    sock = postgres_socket_dir()
    dump = tmp_path / "gatehouse.dump"
    src_db = source.database_url.split("///", 1)[1].split("?", 1)[0]
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", "-h", sock, "-U", "postgres", src_db],
                   check=True, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert srv.stop() == 0

    target_url = create_postgres_database()
    target_db = target_url.split("///", 1)[1].split("?", 1)[0]
    subprocess.run(["pg_restore", "--no-owner", "-h", sock, "-U", "postgres", f"--dbname={target_db}", str(dump)],
                   check=True, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    restored_store = Store(data_dir=source.data_dir, database_url=target_url)
    restored = gatehouse.start(store=restored_store, expect_bootstrap=False)
    assert _works(restored, key) == 200
