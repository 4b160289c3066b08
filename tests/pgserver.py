"""A throwaway PostgreSQL server for the test session.

``pg_url`` starts one server per session: ``initdb`` into a temporary directory, trust
authentication, listening on 127.0.0.1 only on a free port, its unix socket inside the
directory, ``fsync=off``. ``pg_db_url`` gives each test a database of its own.

When the PostgreSQL binaries are missing the tests are skipped, except under
``LGTT_REQUIRE_POSTGRES=1`` (CI), where they fail: CI never skips them silently.

As root, the server runs as the ``postgres`` user (``runuser -u postgres --``):
PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["PgServer", "create_database", "free_port", "pg_db_url", "pg_server", "pg_url"]

_USER = "postgres"  # the database superuser initdb creates
_TEST_DB = "lgtt_test"
#: a role that must give its password (scram), for testing authentication failures
PASSWORD_ROLE = "lgtt_pw"


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int
    run_as: str | None  # OS user the server runs as (None: the current user)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = _TEST_DB, user: str = _USER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / tool), *args]
        if self.run_as is not None:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def _bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        bindir = Path(found).resolve().parent
        if (bindir / "pg_ctl").exists():
            return bindir
    versions = []
    for d in Path("/usr/lib/postgresql").glob("*/bin"):
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            key = tuple(int(p) for p in re.findall(r"\d+", d.parent.name))
            versions.append((key, d))
    return max(versions)[1] if versions else None


def _missing(reason: str) -> None:
    if os.environ.get("LGTT_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (LGTT_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(f"PostgreSQL tests need a server: {reason}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    import pwd

    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return user
    return None


def _start(bindir: Path) -> PgServer:
    run_as = _run_as()
    if os.geteuid() == 0 and run_as is None:
        _missing("running as root, and no `postgres` user or `runuser` to start it as")
    root = Path(tempfile.mkdtemp(prefix="lgtt-pg-"))
    if run_as is not None:
        shutil.chown(root, user=run_as)
    server = PgServer(bindir, root, 0, run_as)
    init = server.run(
        "initdb",
        "-D",
        str(server.datadir),
        "-U",
        _USER,
        "--auth=trust",
        "--no-sync",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        _missing(f"initdb failed: {(init.stderr or init.stdout).strip()}")
    # One role must authenticate with a password (for the auth-failure test); every
    # other loopback connection is trusted.
    hba = server.datadir / "pg_hba.conf"
    hba.write_text(
        f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
        "local all all trust\n"
        "host all all 127.0.0.1/32 trust\n"
    )
    last = ""
    for _ in range(5):  # a free port can be taken between finding and binding it
        server.port = free_port()
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {server.port} -k {root}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        started = server.run(
            "pg_ctl", "-D", str(server.datadir), "-l", str(root / "log"), "-w", "-o", opts, "start"
        )
        if started.returncode == 0:
            return server
        log = root / "log"
        last = log.read_text(errors="replace")[-2000:] if log.exists() else started.stderr
    shutil.rmtree(root, ignore_errors=True)
    _missing(f"the server did not start: {last.strip()}")
    raise AssertionError("unreachable")


def _stop(server: PgServer) -> None:
    server.run("pg_ctl", "-D", str(server.datadir), "-m", "fast", "-w", "stop")
    shutil.rmtree(server.root, ignore_errors=True)


def _admin(server: PgServer, *sql: str) -> None:
    import psycopg

    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        for stmt in sql:
            conn.execute(stmt.encode())


_counter = itertools.count(1)


def create_database(server: PgServer, prefix: str = "lgtt_t") -> str:
    """A new empty database on the session server; its URL."""
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    _admin(server, f'CREATE DATABASE "{name}"')
    return server.url(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bindir = _bindir()
    if bindir is None:
        _missing("no initdb on PATH or in /usr/lib/postgresql/*/bin")
        return
    server = _start(bindir)
    try:
        _admin(
            server,
            f"CREATE DATABASE {_TEST_DB}",
            f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'right-password'",
        )
        yield server
    finally:
        _stop(server)


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> str:
    """``postgresql://postgres@127.0.0.1:PORT/lgtt_test`` on the session's server."""
    return pg_server.url()


@pytest.fixture
def pg_db_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database for one test (dropped afterwards)."""
    url = create_database(pg_server)
    yield url
    name = url.rsplit("/", 1)[1]
    with contextlib.suppress(Exception):  # the whole cluster goes at the end anyway
        _admin(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
