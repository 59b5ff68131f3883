"""A throwaway PostgreSQL server for tests and benches (``initdb`` + ``pg_ctl``).

The suite (``tests/conftest.py``) and ``bench/store_backends.py`` start one
server each in a temp folder, on a free loopback port, with the fast, unsafe
settings a test needs (``fsync=off``...). PostgreSQL refuses to run as root:
when we are root the server runs as the Debian ``postgres`` system user
(``runuser -u postgres``) with a folder that user owns; otherwise as us.

Two kinds of login, as a real deployment has them:

* the superuser ``postgres`` over the Unix socket in the temp folder, with
  ``trust`` (:meth:`PgServer.admin`), for creating databases and killing
  connections;
* the application role ``litmine`` over TCP on 127.0.0.1 with a random
  password checked by ``scram-sha-256`` (:meth:`PgServer.url`), so every test
  URL carries a password that must never appear in logs or errors.

Databases are cheap copies of a template (``CREATE DATABASE ... TEMPLATE``):
migrate the template once, then :meth:`PgServer.create_database` per test.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

APP_USER = "litmine"
"""The password-authenticated role test URLs log in as (owner of each test database)."""

READ_ONLY_USER = "litmine_reader"
"""A role with CONNECT and SELECT only (``serve`` with a read-only role)."""

FAST_SETTINGS = {
    # Throwaway data: durability buys nothing and costs most of the time.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "128MB",
    "log_min_messages": "warning",
    # A test database is a copy of the template; the copy is faster by files
    # than through the WAL when the template is small (PostgreSQL >= 15).
}


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when PostgreSQL is absent.

    Looks at ``pg_config --bindir``, then Debian's ``/usr/lib/postgresql/<v>/bin``
    (newest first), then ``PATH``.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            candidates.append(Path(out))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    candidates.extend(Path(p) for p in reversed(versions))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def unavailable_reason() -> str | None:
    """One line saying why no server can be started here, or None when one can."""
    if find_bindir() is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's "
            "'postgresql' package (.ci/run does) to run the PostgreSQL half of the suite"
        )
    if os.geteuid() == 0 and _system_user() is None:
        return "running as root and no 'postgres' system user to run the server as"
    return None


def _system_user() -> str | None:
    import pwd

    try:
        return pwd.getpwnam("postgres").pw_name
    except KeyError:
        return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running throwaway server; build it with :meth:`start`, end it with :meth:`stop`.

    Attributes:
        bindir: Folder of the PostgreSQL programs.
        root: The temp folder holding the data dir, socket and log.
        port: TCP port on 127.0.0.1 (the socket uses the same number).
        password: The application role's password.
    """

    bindir: Path
    root: Path
    port: int
    password: str
    run_as: str | None = None
    _counter: int = field(default=0, repr=False)

    # ------------------------------------------------------------------ life cycle

    @classmethod
    def start(cls, *, settings: dict[str, str] | None = None) -> PgServer:
        """initdb a temp folder, start the server and create the roles.

        Args:
            settings: Extra ``postgresql.conf`` settings (over :data:`FAST_SETTINGS`).

        Raises:
            RuntimeError: PostgreSQL is missing or would not start (the log is quoted).
        """
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        bindir = find_bindir()
        assert bindir is not None
        run_as = _system_user() if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="litmine-pg-"))
        if run_as:
            shutil.chown(root, user=run_as, group=run_as)
        server = cls(bindir, root, _free_port(), secrets.token_urlsafe(18), run_as)
        try:
            server._initdb({**FAST_SETTINGS, **(settings or {})})
            server._pg_ctl("start", "-w", "-t", "60", "-l", str(server.log))
            server._create_roles()
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def sockdir(self) -> Path:
        return self.root

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root)
        if proc.returncode != 0:
            tail = ""
            with contextlib.suppress(OSError):
                tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"{' '.join(argv[:2])} failed ({proc.returncode}): "
                f"{proc.stderr.strip() or proc.stdout.strip()}\n{tail}"
            )
        return proc

    def _initdb(self, conf: dict[str, str]) -> None:
        locale = "C.UTF-8" if _has_locale("C.UTF-8") else "C"
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            f"--locale={locale}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
            "--no-instructions",
        )
        lines = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.sockdir}'",
            *(f"{k} = '{v}'" for k, v in conf.items()),
        ]
        with (self.datadir / "postgresql.conf").open("a") as f:
            f.write("\n# litmine tests\n" + "\n".join(lines) + "\n")

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), *args)

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart -m <mode>``: every connection is cut."""
        self._pg_ctl("restart", "-w", "-t", "60", "-m", mode, "-l", str(self.log))

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server but keep its folder (see :meth:`start_again`)."""
        self._pg_ctl("stop", "-w", "-t", "60", "-m", mode)

    def start_again(self) -> None:
        """Start the server stopped by :meth:`stop_server`."""
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log))

    def stop(self) -> None:
        """Stop the server (immediately: the data is thrown away) and delete its folder."""
        if (self.datadir / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self._pg_ctl("stop", "-w", "-t", "30", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ logins

    def admin(self, dbname: str = "postgres") -> Any:
        """A superuser psycopg connection over the Unix socket, in autocommit mode."""
        import psycopg

        return psycopg.connect(
            host=str(self.sockdir),
            port=self.port,
            user="postgres",
            dbname=dbname,
            autocommit=True,
        )

    def url(self, dbname: str, *, user: str = APP_USER, password: str | None = None) -> str:
        """``postgresql://user:password@127.0.0.1:port/dbname`` (by default the app role)."""
        return f"postgresql://{user}:{password or self.password}@127.0.0.1:{self.port}/{dbname}"

    def _create_roles(self) -> None:
        from psycopg import sql

        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(APP_USER), sql.Literal(self.password)
                )
            )
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(READ_ONLY_USER), sql.Literal(self.password)
                )
            )

    # ------------------------------------------------------------------ databases

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """Create a database owned by the application role; return its URL.

        Args:
            name: Database name; a fresh ``t<N>`` when None.
            template: Copy this database (which must have no open connections).
        """
        from psycopg import sql

        if name is None:
            self._counter += 1
            name = f"t{os.getpid()}_{self._counter}"
        query = sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(APP_USER)
        )
        if template:
            # FILE_COPY: a small template is copied by files far faster than
            # through the WAL (the PostgreSQL 15 default, WAL_LOG).
            query += sql.SQL(" TEMPLATE {} STRATEGY FILE_COPY").format(sql.Identifier(template))
        with self.admin() as conn:
            conn.execute(query)
            # public belongs to pg_database_owner (PostgreSQL 15): the owner may create.
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(name), sql.Identifier(READ_ONLY_USER)
                )
            )
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, ending its connections first."""
        from psycopg import sql

        with self.admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def snapshot(self, dbname: str, schema: str = "public") -> DatabaseSeed:
        """Remember ``dbname``'s tables and the rows they hold now (after migrating).

        :meth:`reset_database` then brings the database back to this state.
        """
        from psycopg import sql

        with self.admin(dbname) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,)
                )
            ]
            rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
            identities: list[tuple[str, str]] = []
            for table in tables:
                columns = conn.execute(
                    "SELECT column_name, is_identity FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = %s AND is_generated = 'NEVER' "
                    "ORDER BY ordinal_position",
                    (schema, table),
                ).fetchall()
                names = [c[0] for c in columns]
                data = conn.execute(
                    sql.SQL("SELECT {} FROM {}.{}").format(
                        sql.SQL(", ").join(map(sql.Identifier, names)),
                        sql.Identifier(schema),
                        sql.Identifier(table),
                    )
                ).fetchall()
                if data:
                    rows[table] = (names, data)
                    identities += [(table, c[0]) for c in columns if c[1] == "YES"]
        return DatabaseSeed(dbname, schema, tables, rows, identities)

    def reset_database(self, seed: DatabaseSeed) -> str:
        """Empty every table of ``seed``'s database and put its seed rows back; return the URL.

        Ends the application role's connections to it first. As good as a fresh
        copy of a migrated template for the store (same tables, same rows,
        identities restarted) at a fraction of the cost: ``CREATE DATABASE``
        checkpoints and copies every file (0.6 s or more for the migrated
        schema, measured; a reset takes a few tens of milliseconds).
        """
        from psycopg import sql

        self.terminate(seed.dbname)
        with self.admin(seed.dbname) as conn, conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '10s'")
            conn.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(seed.schema, t) for t in seed.tables)
                )
            )
            for table, (names, data) in seed.rows.items():
                with conn.cursor() as cur:
                    cur.executemany(
                        sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ({})").format(
                            sql.Identifier(seed.schema, table),
                            sql.SQL(", ").join(map(sql.Identifier, names)),
                            sql.SQL(", ").join(sql.Placeholder() * len(names)),
                        ),
                        data,
                    )
            for table, column in seed.identities:
                conn.execute(
                    sql.SQL(
                        "SELECT setval(pg_get_serial_sequence(%s, %s), "
                        "COALESCE((SELECT max({}) FROM {}), 0) + 1, false)"
                    ).format(sql.Identifier(column), sql.Identifier(seed.schema, table)),
                    (f"{seed.schema}.{table}", column),
                )
        return self.url(seed.dbname)

    def terminate(self, dbname: str, *, user: str = APP_USER) -> int:
        """``pg_terminate_backend`` every connection of ``user`` to ``dbname``; return how many."""
        with self.admin() as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND usename = %s AND pid <> pg_backend_pid()",
                (dbname, user),
            ).fetchone()
        return int(row[0]) if row else 0

    def grant_read_only(self, dbname: str, schema: str = "public") -> str:
        """Give :data:`READ_ONLY_USER` SELECT on ``schema`` of ``dbname``; return its URL."""
        from psycopg import sql

        with self.admin(dbname) as conn:
            conn.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                    sql.Identifier(schema), sql.Identifier(READ_ONLY_USER)
                )
            )
            conn.execute(
                sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
                    sql.Identifier(schema), sql.Identifier(READ_ONLY_USER)
                )
            )
        return self.url(dbname, user=READ_ONLY_USER)

    def database_size(self, dbname: str) -> int:
        """``pg_database_size`` in bytes."""
        with self.admin() as conn:
            row = conn.execute("SELECT pg_database_size(%s)", (dbname,)).fetchone()
        return int(row[0]) if row else 0


@dataclass
class DatabaseSeed:
    """A database's tables and the rows they held when :meth:`PgServer.snapshot` ran."""

    dbname: str
    schema: str
    tables: list[str]
    rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]]
    identities: list[tuple[str, str]]


def _has_locale(name: str) -> bool:
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout
    except OSError:
        return False
    wanted = name.lower().replace("-", "")
    return any(line.strip().lower().replace("-", "") == wanted for line in out.splitlines())


@contextlib.contextmanager
def running_server(**kwargs: Any) -> Iterator[PgServer]:
    """A started :class:`PgServer`, stopped (and deleted) on exit."""
    server = PgServer.start(**kwargs)
    try:
        yield server
    finally:
        server.stop()


def database_name(url: str) -> str:
    """The database name at the end of a ``postgresql://`` URL."""
    return url.rsplit("/", 1)[-1].split("?", 1)[0]
