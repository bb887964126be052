"""A private PostgreSQL server for the end-to-end tests.

Wraps scripts/pg-test-server.sh (docs/TESTING.md): a fresh cluster in a
temporary folder under /tmp (as root the server runs as the system user
honeycomb-pg, which must be able to enter the folder: pytest's own tmp_path,
mode 0700, would not do), listening on a free port of 127.0.0.1, superuser
`honeycomb` without a password. Starting one takes about a second.

    server = PgServer().start()
    uri = server.create_database("events")   # postgresql://honeycomb@127.0.0.1:PORT/events
    server.kill()                              # the server dies (pg_ctl stop -m immediate)
    server.resume()                            # ... and comes back on the same port
    server.stop()                              # stopped, folder removed

Standard library only; SQL goes through Debian's psql.
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("HONEYCOMB_SOURCE_DIR", Path(__file__).resolve().parents[2]))
SCRIPT = SOURCE_DIR / "scripts" / "pg-test-server.sh"

_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _version_key(path):
    """/usr/lib/postgresql/15/bin/psql -> (15,), for picking the newest."""
    return tuple(int(part) for part in re.findall(r"\d+", Path(path).parts[-3]))


def psql_path():
    """The newest psql in /usr/lib/postgresql/*/bin (the server's own
    version), else the one on PATH (Debian's wrapper)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"), key=_version_key)
    if found:
        return found[-1]
    on_path = shutil.which("psql")
    if on_path:
        return on_path
    raise AssertionError("psql not found: run scripts/install-deps.sh (Debian package postgresql-client)")


class PgServer:
    """One private PostgreSQL server. `folder` None: a new temporary folder,
    made at start() and removed by stop()."""

    def __init__(self, folder=None, timeout=120):
        self.folder = Path(folder) if folder is not None else None
        self.timeout = timeout
        self.uri = None
        self.port = None

    # ---- the server ----

    def _script(self, command):
        if not SCRIPT.exists():
            raise AssertionError(f"{SCRIPT} not found (HONEYCOMB_SOURCE_DIR={SOURCE_DIR})")
        r = subprocess.run(["bash", str(SCRIPT), command, str(self.folder)], capture_output=True, text=True,
                           timeout=self.timeout)
        if r.returncode != 0:
            raise AssertionError(f"pg-test-server.sh {command} {self.folder} failed ({r.returncode}):\n"
                                 f"{r.stdout}{r.stderr}")
        return r.stdout.strip()

    def start(self):
        """A fresh cluster (a server already running from the folder is
        stopped and its data removed first); returns self."""
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="hc-pg-", dir="/tmp"))
        self.uri = self._script("start")
        self.port = int((self.folder / "port").read_text().strip())
        return self

    def stop(self):
        """Stops the server and removes its folder. Safe to call twice."""
        if self.folder is not None and self.folder.exists():
            self._script("stop")
        self.uri = None

    def kill(self):
        """Stops the server at once (pg_ctl stop -m immediate: clients cut
        off, no checkpoint), keeping its data."""
        self._script("kill")

    def resume(self):
        """Starts the server again on the same port (the same URI) and waits
        until it accepts connections."""
        self._script("resume")

    def restart(self):
        """kill() then resume() in one step (pg_ctl restart -m immediate)."""
        self._script("restart")

    def running(self):
        if self.folder is None:
            return False
        r = subprocess.run(["bash", str(SCRIPT), "status", str(self.folder)], capture_output=True, text=True,
                           timeout=self.timeout)
        return r.returncode == 0

    def log(self):
        """The server's log (postgres.log) so far."""
        path = self.folder / "postgres.log" if self.folder is not None else None
        return path.read_text(errors="replace") if path is not None and path.exists() else ""

    # ---- databases ----

    def uri_for(self, database):
        """The URI of `database` on this server."""
        assert self.uri is not None, "the server is not started"
        return self.uri.rsplit("/", 1)[0] + "/" + database

    def psql(self, sql, database="postgres"):
        """Runs `sql` with psql (stops at the first error); returns its
        output, unaligned, tuples only (`a|b` per row)."""
        r = subprocess.run([psql_path(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.uri_for(database),
                            "-c", sql], capture_output=True, text=True, timeout=self.timeout)
        if r.returncode != 0:
            raise AssertionError(f"psql on {database}: {sql}\nfailed ({r.returncode}): {r.stderr.strip()}")
        return r.stdout.strip()

    def create_database(self, name):
        """Creates the database `name` (lower-case letters, digits, `_`) and
        returns its URI."""
        if not _DATABASE_NAME.match(name):
            raise ValueError(f"not a plain database name: {name!r}")
        self.psql(f"CREATE DATABASE {name}")
        return self.uri_for(name)

    def drop_database(self, name):
        """Drops `name`, cutting off whoever is still connected to it."""
        if not _DATABASE_NAME.match(name):
            raise ValueError(f"not a plain database name: {name!r}")
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
