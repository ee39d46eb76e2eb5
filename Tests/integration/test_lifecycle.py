"""The command, readiness, graceful drain, memory under a slow reader, h2c upstreams."""
import json
import os
import signal
import socket
import subprocess
import threading
import time

import h2.config
import h2.connection
import h2.events
import httpx
import pytest

from conftest import get_json, POSTERN, curl, free_port, share_with_postern, unprivileged, wait_for_port

# How much Postern may grow while a peer stops reading. Under AddressSanitizer
# (scripts/sanitize) freed memory waits in a quarantine of 16 MiB first.
GROWTH_LIMIT_MIB = 16 + (16 if os.environ.get("POSTERN_SANITIZER") == "address" else 0)


def test_help_and_version():
    out = subprocess.run([str(POSTERN), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "postern run" in out.stdout and "postern check" in out.stdout
    out = subprocess.run([str(POSTERN), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("postern ")
    out = subprocess.run([str(POSTERN), "run", "--bogus"], capture_output=True, text=True)
    assert out.returncode == 2 and "unknown option --bogus" in out.stderr


def test_check_lists_every_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen: { address: 127.0.0.1:99999 }\n"
                   "upstreams:\n  model: { url: ftp://x:1 }\n  other: { url: 'http://127.0.0.1:8000', retries: 3 }\n"
                   "routes:\n  - { prefix: /v1, upstream: missing }\n"
                   "limits: { idle_timeout: soon, max_request_body: 99999999999999GiB }\n"
                   "colour: blue\n")
    out = subprocess.run([str(POSTERN), "check", str(bad)], capture_output=True, text=True)
    assert out.returncode == 1
    problems = out.stderr.strip().splitlines()
    for expected in ["bad.yaml:1: listen.address: port must be 0-65535",
                     "bad.yaml:3: upstreams.model.url: upstream URL must start with http:// or h2c://",
                     "bad.yaml:4: upstreams.other.retries: unknown key",
                     "bad.yaml:7: limits.idle_timeout: expected a duration",
                     "bad.yaml:7: limits.max_request_body: '99999999999999GiB' is larger than 1TiB",
                     "bad.yaml:8: colour: unknown key"]:
        assert any(expected in p for p in problems), (expected, problems)
    good = subprocess.run([str(POSTERN), "check", "examples/quickstart/postern.yaml"],
                          capture_output=True, text=True, cwd=POSTERN.parents[2])
    assert good.returncode == 0, good.stderr


def test_semantic_problems_reported_after_parsing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("upstreams:\n  a: { url: 'http://127.0.0.1:1' }\n  b: { url: 'h2c://127.0.0.1:2' }\n"
                   "routes:\n  - { prefix: /v1, upstream: missing }\n")
    out = subprocess.run([str(POSTERN), "check", str(bad)], capture_output=True, text=True)
    assert out.returncode == 1 and "routes[0].upstream: no upstream called 'missing'" in out.stderr


def test_command_line_overrides_the_file(tmp_path, model_server):
    config = tmp_path / "c.yaml"
    config.write_text("upstreams: { model: { url: 'http://127.0.0.1:1' } }\n"
                      "routes: [{ prefix: /, upstream: model, public: true }]\n")
    port, admin = free_port(), free_port()
    share_with_postern(tmp_path)
    proc = subprocess.Popen(unprivileged([str(POSTERN), "run", "--config", str(config), "--listen", f"127.0.0.1:{port}",
                                          "--admin", f"127.0.0.1:{admin}", "--upstream", f"model={model_server}"]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port)
        assert curl(f"http://127.0.0.1:{port}/v1/models")[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_readiness_follows_the_upstream(start_postern):
    port = free_port()
    p = start_postern(upstreams={"model": f"http://127.0.0.1:{port}"})
    assert get_json(p.admin + "/healthz") == (200, {"status": "ok"})
    status, body = get_json(p.admin + "/readyz")
    assert status == 503 and "model" in body["reason"]
    from http.server import HTTPServer, BaseHTTPRequestHandler
    server = HTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    try:
        assert get_json(p.admin + "/readyz") == (200, {"status": "ready"})
    finally:
        server.server_close()


def test_sigterm_drains_in_flight_http1_stream_then_exits_zero(start_postern, model_server):
    p = start_postern(upstreams={"model": model_server}, limits={"drain_grace_period": "10s"})
    events, errors = [], []

    def stream():
        try:
            with httpx.Client(timeout=10) as client:
                with client.stream("GET", f"{p.url}/sse?events=6&delay=0.3") as r:
                    events.extend(line for line in r.iter_lines() if line.startswith("data:"))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    thread = threading.Thread(target=stream)
    thread.start()
    time.sleep(0.4)
    p.stopped = True
    p.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    status, body = get_json(p.admin + "/readyz")
    assert status == 503 and body["reason"] == "draining"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", p.port), timeout=1).close()
    thread.join(15)
    assert not errors and len(events) == 7 and events[-1] == "data: [DONE]"
    assert p.proc.wait(timeout=15) == 0
    # The request finished during the drain is in the request log all the same.
    assert [(e["path"], e["status"], e["outcome"]) for e in p.request_log(entries=1)] == [("/sse", 200, "ok")]


def read_frames(sock):
    """Yields (type, flags, stream_id, payload) of raw HTTP/2 frames until the peer closes.

    Raw, because python-h2 treats a received GOAWAY as the end and rejects the DATA that
    may legitimately follow it on streams the GOAWAY lets finish.
    """
    buffer = b""
    while True:
        while len(buffer) >= 9 and len(buffer) >= 9 + int.from_bytes(buffer[:3], "big"):
            length = int.from_bytes(buffer[:3], "big")
            yield buffer[3], buffer[4], int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF, buffer[9:9 + length]
            buffer = buffer[9 + length:]
        data = sock.recv(65536)
        if not data:
            return
        buffer += data


def test_sigterm_sends_goaway_to_http2_callers(start_postern, model_server):
    p = start_postern(upstreams={"model": model_server}, limits={"drain_grace_period": "10s"})
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    conn.send_headers(1, [(":method", "GET"), (":path", "/sse?events=4&delay=0.3"), (":scheme", "http"),
                          (":authority", "a")], end_stream=True)
    goaway, ended, body, signalled = None, False, b"", False
    with socket.create_connection(("127.0.0.1", p.port)) as s:
        s.sendall(conn.data_to_send())
        s.settimeout(10)
        for kind, flags, stream_id, payload in read_frames(s):
            if kind == 0x4 and not flags & 0x1:
                s.sendall(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00")  # SETTINGS ack
            if kind == 0x0 and stream_id == 1:
                body += payload
                ended = ended or bool(flags & 0x1)
                if not signalled:
                    p.stopped = True
                    p.proc.send_signal(signal.SIGTERM)
                    signalled = True
            if kind == 0x7:
                goaway = (int.from_bytes(payload[:4], "big"), int.from_bytes(payload[4:8], "big"))
    assert goaway == (1, 0)  # last stream 1 is still served, NO_ERROR
    assert ended and body.count(b"data:") == 5, body
    assert p.proc.wait(timeout=15) == 0


@pytest.mark.parametrize("upstream", ["http1", "h2c"])
@pytest.mark.parametrize("caller", ["http1", "h2c"])
def test_slow_reader_keeps_memory_bounded(start_postern, model_server, nghttpx_h2c, caller, upstream):
    """A caller that stops reading a 1 GiB response must not make Postern buffer it,
    whether the upstream is paused by not reading (HTTP/1.1) or by its window (h2c)."""
    p = start_postern(upstreams={"model": model_server if upstream == "http1" else nghttpx_h2c})
    assert curl(f"{p.url}/v1/models")[0] == 200
    baseline = p.rss_kib()
    with socket.create_connection(("127.0.0.1", p.port)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        if caller == "http1":
            s.sendall(b"GET /bytes?n=1073741824 HTTP/1.1\r\nHost: a\r\n\r\n")
        else:
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            conn.initiate_connection()
            conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2 ** 31 - 1})
            conn.increment_flow_control_window(2 ** 31 - 1 - 65535)
            conn.send_headers(1, [(":method", "GET"), (":path", "/bytes?n=1073741824"), (":scheme", "http"),
                                  (":authority", "a")], end_stream=True)
            s.sendall(conn.data_to_send())
        s.recv(1024)
        time.sleep(3)  # not reading
        grown_mib = (p.rss_kib() - baseline) / 1024
    assert grown_mib < GROWTH_LIMIT_MIB, f"postern grew by {grown_mib:.1f} MiB while the caller did not read"
    assert curl(f"{p.url}/v1/models")[0] == 200


@pytest.fixture
def nghttpx_h2c(model_server):
    """nghttpx as an independent h2c server in front of the model server."""
    port = free_port()
    model_port = model_server.rsplit(":", 1)[1]
    proc = subprocess.Popen(["nghttpx", "--conf=/dev/null", f"--frontend=127.0.0.1,{port};no-tls",
                             f"--backend=127.0.0.1,{model_port}", "--single-thread", "--no-ocsp",
                             "--errorlog-file=/dev/null", "--accesslog-file=/dev/null"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    yield f"h2c://127.0.0.1:{port}"
    proc.terminate()
    proc.wait()


@pytest.mark.parametrize("protocol", [[], ["--http2-prior-knowledge"]], ids=["http1", "h2c"])
def test_callers_reach_an_h2c_upstream(start_postern, nghttpx_h2c, protocol, tmp_path):
    p = start_postern(upstreams={"model": nghttpx_h2c})
    status, headers, body = curl(*protocol, f"{p.url}/v1/models")
    assert status == 200 and json.loads(body)["data"][0]["id"] == "quickstart-llm"
    blob = tmp_path / "blob"
    blob.write_bytes(b"0123456789" * (300 << 10))
    status, _, body = curl(*protocol, "-H", "transfer-encoding: chunked" if not protocol else "x-a: b",
                           "--data-binary", f"@{blob}", f"{p.url}/echo")
    assert status == 200 and body == blob.read_bytes()
    status, _, body = curl(*protocol, f"{p.url}/sse?events=3&delay=0.05")
    assert status == 200 and body.count(b"data:") == 4


def test_chart_default_config_is_valid(tmp_path):
    """The configuration the Helm chart mounts passes `postern check`, with test files in
    place of the ones spiffe-helper writes to /run/spiffe (in its formats)."""
    import yaml
    from identity_material import Keys, make_svids, write_spiffe_helper_bundles, jwk
    keys = Keys(make_svids(tmp_path / "spiffe"))
    (keys.dir / "svid.pem").write_bytes((keys.dir / "server.pem").read_bytes())
    (keys.dir / "svid_key.pem").write_bytes((keys.dir / "server-pkcs8.key").read_bytes())
    (keys.dir / "svid_bundle.pem").write_bytes((keys.dir / "ca-example.org.pem").read_bytes())
    write_spiffe_helper_bundles(keys.dir / "jwt_bundle.json", {"example.org": [jwk(keys.svid_key, "k1")]})
    text = (POSTERN.parents[2] / "charts" / "postern" / "values.yaml").read_text()
    values = yaml.safe_load(text.replace("/run/spiffe/", f"{keys.dir}/"))
    config = tmp_path / "chart.yaml"
    config.write_text(yaml.safe_dump(values["config"]))
    out = subprocess.run([str(POSTERN), "check", str(config)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # Credential files are read by `check` too: a missing or mismatched one is reported.
    (keys.dir / "svid_key.pem").write_bytes((keys.dir / "good.key").read_bytes())
    (keys.dir / "jwt_bundle.json").unlink()
    out = subprocess.run([str(POSTERN), "check", str(config)], capture_output=True, text=True)
    assert out.returncode == 1
    assert "private key does not match the certificate" in out.stderr
    assert "identity.jwt_issuers[0]: " + str(keys.dir / "jwt_bundle.json") + ": cannot read the file" in out.stderr


@pytest.mark.parametrize("caller", [[], ["--http2-prior-knowledge"]], ids=["http1", "h2c"])
def test_fast_upload_to_slow_upstream_keeps_memory_bounded(start_postern, model_server, caller):
    """64 MiB sent as fast as the caller can to a model server reading 64 KiB every 20 ms:
    Postern must hold back the caller, not buffer the body."""
    p = start_postern(upstreams={"model": model_server})
    assert curl(f"{p.url}/v1/models")[0] == 200
    baseline = p.rss_kib()
    peak = [baseline]
    size = 64 << 20
    upload = subprocess.Popen(["curl", "-sS", *caller, "--data-binary", "@-", "-H", "content-type: application/octet-stream",
                               f"{p.url}/slowread?delay=0.02"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def feed():
        chunk = b"u" * (1 << 20)
        try:
            for _ in range(size >> 20):
                upload.stdin.write(chunk)
            upload.stdin.close()
        except BrokenPipeError:
            pass

    feeder = threading.Thread(target=feed)
    feeder.start()
    deadline = time.time() + 4
    while time.time() < deadline:
        peak.append(p.rss_kib())
        time.sleep(0.1)
    upload.kill()
    feeder.join(10)
    grown_mib = (max(peak) - baseline) / 1024
    assert grown_mib < GROWTH_LIMIT_MIB, f"postern grew by {grown_mib:.1f} MiB while the upstream read slowly"
    assert curl(f"{p.url}/v1/models")[0] == 200


def test_sigterm_under_load_finishes_what_is_in_flight(start_postern, model_server):
    """Twenty callers keep slow requests in flight when SIGTERM arrives: every request
    Postern had accepted is answered 200, later ones are refused cleanly (a closed
    connection, never a half answer), and Postern exits 0 within the grace period."""
    import threading
    p = start_postern(upstreams={"model": model_server}, limits={"drain_grace_period": "10s"})
    results, lock = [], threading.Lock()

    def caller():
        for _ in range(20):
            try:
                status = curl(f"{p.url}/slow?seconds=0.3", timeout=15)[0]
            except RuntimeError as refused:
                # Not connected (7), closed before any answer (52) or reset (56): refused
                # cleanly. Anything else (18: a response cut short) is a half answer.
                status = "refused" if any(f"curl: ({code})" in str(refused) for code in (7, 52, 56)) else str(refused)
            with lock:
                results.append(status)
            if status != 200:
                return

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    p.stopped = True
    p.proc.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(30)
    assert p.proc.wait(timeout=15) == 0
    assert results.count(200) >= 20 and set(results) <= {200, "refused"}, set(results)
