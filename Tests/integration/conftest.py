"""Fixtures for Postern's wire tests: real servers and a real Postern, on 127.0.0.1 only."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest

ROOT = Path(__file__).resolve().parents[2]
# POSTERN_BIN runs the suite against another build (e.g. one with --sanitize=address).
POSTERN = Path(os.environ.get("POSTERN_BIN", ROOT / ".build" / "debug" / "postern"))
MODEL_SERVER = ROOT / "examples" / "quickstart" / "model_server.py"
# Postern runs as the chart runs it: an unprivileged user with no capabilities. Only when
# the suite itself runs as root can it switch; POSTERN_TEST_AS_ROOT=1 keeps root.
UNPRIVILEGED_UID = 65532
# Each test names its store: none falls back to a machine-wide state directory.
os.environ.setdefault("POSTERN_STATE_DIR", "/nonexistent/postern-tests")
RUN_UNPRIVILEGED = os.geteuid() == 0 and os.environ.get("POSTERN_TEST_AS_ROOT") != "1"
sys.path.insert(0, str(Path(__file__).parent))
import grpc_echo  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unprivileged(command):
    """`command` as UID/GID 65532 without supplementary groups or capabilities."""
    if not RUN_UNPRIVILEGED:
        return list(command)
    uid = str(UNPRIVILEGED_UID)
    return ["setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", "--inh-caps=-all", *command]


def share_with_postern(path):
    """Lets the unprivileged Postern read what a test wrote for it: the tree under `path`
    (pytest makes its temporary folders 0700, openssl writes keys 0600) and the folders
    above it."""
    path = Path(path)
    if not RUN_UNPRIVILEGED:
        return path
    for directory, _, files in os.walk(path):
        os.chmod(directory, 0o755)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o005)
    return path


def wait_for_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


@pytest.fixture(scope="session")
def model_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(MODEL_SERVER), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait()


@pytest.fixture(scope="session")
def grpc_server():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                         options=[("grpc.max_receive_message_length", 64 << 20),
                                  ("grpc.max_send_message_length", 64 << 20)])
    server.add_generic_rpc_handlers((grpc_echo.handler(), grpc_echo.inference_handler()))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"h2c://127.0.0.1:{port}"
    server.stop(grace=None)


class Postern:
    """A running `postern run`, its addresses and its output."""

    def __init__(self, tmp_path, upstreams, routes=None, limits=None, extra_args=(), public=True,
                 tls=None, identity=None, masking=None, route_masking=None, extra="", admin="", wrapper=()):
        """Routes are public (no identity needed) unless `public=False`: the data-path tests
        are about proxying; the identity tests pass `tls` and `identity` (YAML flow text);
        `extra` is more YAML for the file's end, `admin` more keys of `admin`; `wrapper`
        runs Postern under another command (`prlimit`)."""
        self.config = tmp_path / "postern.yaml"
        listen = "listen: { address: 127.0.0.1:0" + (f", tls: {tls}" if tls else "") + " }"
        lines = [listen, f"admin: {{ address: 127.0.0.1:0{', ' + admin if admin else ''} }}",
                 "runtime: { event_loop_threads: 1 }", "upstreams:"]
        for name, spec in upstreams.items():
            if isinstance(spec, str):
                spec = {"url": spec}
            lines.append(f"  {name}: {{ " + ", ".join(f"{k}: {v}" for k, v in spec.items()) + " }")
        if routes is None and len(upstreams) == 1:
            routes = [("/", next(iter(upstreams)))]
        if routes:
            lines.append("routes:")
            for route in routes:
                policy = (route_masking or {}).get(route[0])
                lines.append(f"  - {{ prefix: '{route[0]}', upstream: {route[1]}, "
                             f"public: {str(route[2] if len(route) > 2 else public).lower()}"
                             + (f", masking: {policy}" if policy else "") + " }")
        if identity:
            lines.append(f"identity: {identity}")
        if masking:
            lines.append(f"masking: {masking}")
        if limits:
            lines.append("limits:")
            lines += [f"  {k}: {v}" for k, v in limits.items()]
        if extra:
            lines.append(extra)
        self.config.write_text("\n".join(lines) + "\n")
        self.stdout = open(tmp_path / "requests.jsonl", "w+")
        self.stderr_path = tmp_path / "postern.log"
        self.stderr = open(self.stderr_path, "w+")
        share_with_postern(tmp_path)
        self.proc = subprocess.Popen([*wrapper, *unprivileged([str(POSTERN), "run", "--config", str(self.config), *extra_args])],
                                     stdout=self.stdout, stderr=self.stderr)
        deadline = time.time() + 15
        while time.time() < deadline:
            text = self.stderr_path.read_text()
            match = re.search(r"listening on 127\.0\.0\.1:(\d+), admin on 127\.0\.0\.1:(\d+)", text)
            if match:
                self.port, self.admin_port = int(match.group(1)), int(match.group(2))
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"postern exited {self.proc.returncode}: {text}")
            time.sleep(0.05)
        else:
            # Not left behind: a process that never came up is no test's to stop later.
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("postern did not start: " + self.stderr_path.read_text())
        self.stopped = False
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"
        self.target = f"127.0.0.1:{self.port}"

    def alive(self):
        return self.proc.poll() is None

    def rss_kib(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def request_log(self, entries):
        """The request log, once it holds at least `entries` lines. Postern writes lines in
        batches at the end of an event-loop tick, which may be just after the caller has
        its answer."""
        import json
        deadline = time.time() + 5
        while True:
            self.stdout.flush()
            lines = [json.loads(line) for line in Path(self.stdout.name).read_text().splitlines() if line.strip()]
            if len(lines) >= entries or time.time() > deadline:
                return lines
            time.sleep(0.02)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def start_postern(tmp_path, tmp_path_factory):
    started = []

    def start(**kwargs):
        directory = tmp_path / f"p{len(started)}" if started else tmp_path
        directory.mkdir(exist_ok=True)
        share_with_postern(tmp_path_factory.getbasetemp())
        instance = Postern(directory, **kwargs)
        started.append(instance)
        return instance

    (tmp_path).mkdir(exist_ok=True)
    yield start
    crashed = [i for i in started if not i.stopped and not i.alive()]
    for instance in started:
        instance.stop(sig=signal.SIGKILL)
    # Bad input must never take Postern down: a test whose Postern died on its own fails.
    assert not crashed, "postern died: " + crashed[0].stderr_path.read_text()[-3000:]


@pytest.fixture
def postern(start_postern, model_server, grpc_server):
    """Postern with the model server as `model` (HTTP/1.1) and the gRPC server as `grpc` (h2c)."""
    return start_postern(upstreams={"model": model_server, "grpc": grpc_server},
                         routes=[("/postern.test.Echo/", "grpc"), ("/", "model")])


def get_json(url):
    """(status, parsed JSON body) of a GET, error statuses included."""
    import json
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """SVIDs, JWT keys and bundles for a test module (identity_material), made once."""
    from identity_material import Keys, make_svids
    return Keys(make_svids(tmp_path_factory.mktemp("identity")))


def admin_api(p, token, method, path, body=None):
    """Calls Postern's admin API with a bearer token (or none): (status, JSON)."""
    import urllib.error
    import urllib.request
    request = urllib.request.Request(f"{p.admin}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode())
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def curl(*args, timeout=30, input=None):
    """Runs curl and returns (status, headers dict, body bytes)."""
    out = subprocess.run(["curl", "-sS", "-i", *args], capture_output=True, timeout=timeout, input=input)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.decode())
    raw = out.stdout
    head, _, body = raw.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body
