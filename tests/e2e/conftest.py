"""Fixtures: start the real gatehouse binary, per test, on SQLite or PostgreSQL."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import harness
from harness import Server, Store


def pytest_report_header(config):
    return [f"gatehouse binary: {harness.BINARY}", f"database backend: {harness.backend()}"]


def pytest_sessionstart(session):
    # Fail loudly (never skip) when the environment is incomplete.
    harness.backend()
    if harness.backend() == "postgres":
        harness.postgres_socket_dir()
    if not harness.BINARY.exists():
        raise pytest.UsageError(f"{harness.BINARY} is missing: run `cargo build --bins` first")
    harness.LOG_DIR.mkdir(parents=True, exist_ok=True)


class Gatehouse:
    """Factory for stores and servers; every server started is stopped at teardown."""

    def __init__(self, tmp_path: Path, test_name: str):
        self.tmp_path = tmp_path
        self.prefix = f"e2e-{harness.backend()}-{harness.safe_name(test_name)}"
        self.servers: list[Server] = []
        self._n = itertools.count(1)
        self._stores = itertools.count(1)

    def store(self) -> Store:
        return Store.create(self.tmp_path, f"store{next(self._stores)}")

    def server(self, store: Store | None = None, extra_args: list[str] | None = None,
               env: dict[str, str] | None = None, umask: int = -1) -> Server:
        """A server object, not yet started (umask -1 inherits the runner's)."""
        srv = Server(store=store or self.store(), log_name=f"{self.prefix}-{next(self._n)}",
                     extra_args=list(extra_args or []), env=env, umask=umask)
        self.servers.append(srv)
        return srv

    def start(self, store: Store | None = None, extra_args: list[str] | None = None,
              expect_bootstrap: bool | None = None, env: dict[str, str] | None = None,
              umask: int = -1) -> Server:
        return self.server(store, extra_args, env, umask).start(expect_bootstrap=expect_bootstrap)

    def finish(self) -> list[str]:
        problems = []
        for srv in self.servers:
            if srv.proc is None:
                continue
            if srv.running():
                try:
                    code = srv.stop()
                except AssertionError as e:
                    problems.append(f"{srv.log_name}: {e}")
                    continue
                if code != 0:
                    problems.append(f"{srv.log_name}: exit code {code} after SIGTERM\n{srv.stderr_tail()}")
        return problems


@pytest.fixture
def gatehouse(tmp_path, request):
    gh = Gatehouse(tmp_path, request.node.name)
    yield gh
    problems = gh.finish()
    if problems:
        pytest.fail("server shutdown problems:\n" + "\n".join(problems))


@pytest.fixture
def server(gatehouse) -> Server:
    """A freshly started server on an empty store, with a bootstrap admin."""
    srv = gatehouse.start()
    assert srv.bootstrap_username == "admin", srv.lines
    assert srv.bootstrap_password, srv.lines
    return srv
