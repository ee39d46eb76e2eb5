"""Debian's PostgreSQL, started by a test in a temporary directory on 127.0.0.1 with
SCRAM-SHA-256 password authentication, as a platform team would run it; stopped and
started again to play a store that goes away."""
import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import RUN_UNPRIVILEGED, UNPRIVILEGED_UID, free_port, share_with_postern, wait_for_port


def as_server_user(command):
    """The server refuses to run as root, and initdb needs a user with a passwd entry:
    Debian's package makes `postgres`."""
    if os.getuid() != 0:
        return list(command)
    entry = pwd.getpwnam("postgres")
    return ["setpriv", "--reuid", str(entry.pw_uid), "--regid", str(entry.pw_gid), "--clear-groups",
            "--inh-caps=-all", *command]


def binaries():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("Debian's postgresql is not installed (scripts/setup installs it)")
    return Path(found[-1]).parent


class PostgresServer:
    USER, DATABASE, PASSWORD = "postern", "postern", "s3cret-for-tests"

    def __init__(self, directory, tls=None):
        """`tls`: (certificate, key) the server presents, with `ssl=on`."""
        self.bin = binaries()
        self.dir = Path(directory)
        self.dir.mkdir()
        self.data = self.dir / "data"
        self.port = free_port()
        password_file = self.dir / "superuser-password"
        password_file.write_text("superuser-password\n")
        share_with_postern(self.dir)  # the folders above, for the server's user
        entry = pwd.getpwnam("postgres") if os.getuid() == 0 else None
        if entry:
            for path in (self.dir, password_file):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        subprocess.run(as_server_user([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                                     "--auth=scram-sha-256", f"--pwfile={password_file}", "-E", "UTF8"]),
                       check=True, capture_output=True)
        self.options = []
        if tls:
            cert, key = (self.dir / "server.pem", self.dir / "server.key")
            shutil.copy(tls[0], cert)
            shutil.copy(tls[1], key)
            if os.getuid() == 0:
                for path in (cert, key):
                    os.chown(path, entry.pw_uid, entry.pw_gid)
            self.options = ["-c", "ssl=on", "-c", f"ssl_cert_file={cert}", "-c", f"ssl_key_file={key}"]
        self.start()
        self.psql("postgres", f"CREATE ROLE {self.USER} LOGIN PASSWORD '{self.PASSWORD}'")
        self.psql("postgres", f"CREATE DATABASE {self.DATABASE} OWNER {self.USER}")
        self.password_file = self.dir / "postern-password"
        self.password_file.write_text(self.PASSWORD + "\n")
        os.chmod(self.password_file, 0o644)
        self.url = f"postgres://{self.USER}@127.0.0.1:{self.port}/{self.DATABASE}"

    def start(self):
        # Starting a sidecar opens the test's folders to Postern's user: the server wants its own shut.
        os.chmod(self.data, 0o700)
        for key in self.dir.glob("server.key"):
            os.chmod(key, 0o600)
        self.proc = subprocess.Popen(as_server_user([str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                                                   "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.dir}", *self.options]),
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir / "server.log", "a"))
        wait_for_port(self.port, timeout=20)
        deadline = time.time() + 20
        while subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                             capture_output=True).returncode != 0:
            assert time.time() < deadline, "postgres did not become ready"
            time.sleep(0.1)

    def stop(self):
        """A fast shutdown: clients are disconnected, as when the database goes away."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=20)

    def psql(self, database, sql, user="postgres", password="superuser-password"):
        psql = shutil.which("psql") or str(self.bin / "psql")
        return subprocess.run([psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", database, "-tAc", sql],
                              env={**os.environ, "PGPASSWORD": password}, check=True, capture_output=True, text=True).stdout


STORES = ["memory", "sqlite", "postgres"]


@pytest.fixture(scope="module")
def shared_postgres(tmp_path_factory):
    """One server for a module's tests (each gets a database of its own from `store_yaml`)."""
    server = PostgresServer(tmp_path_factory.mktemp("store") / "postgres")
    yield server
    server.stop()


def store_yaml(request, tmp_path):
    """The `store` section for the test's store parameter (empty: in memory)."""
    if request.param == "sqlite":
        directory = tmp_path / "state"
        directory.mkdir()
        if RUN_UNPRIVILEGED:
            os.chown(directory, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
        return f"store: {{ url: 'sqlite://{directory}/state.sqlite' }}\n"
    if request.param == "postgres":
        server = request.getfixturevalue("postgres")
        database = f"t{abs(hash(request.node.nodeid)) % 10**9}"
        server.psql("postgres", f"CREATE DATABASE {database} OWNER {server.USER}")
        url = server.url.rsplit("/", 1)[0] + "/" + database
        return f"store: {{ url: '{url}', password_file: {server.password_file} }}\n"
    return ""
