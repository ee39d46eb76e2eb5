"""The audit trail over the wire: every exchange a leaf of a signed Merkle tree that an
independent verifier (audit_reference.py) and `postern audit` agree on; tampering caught;
a sink that fails turns requests away and recovers by itself."""
import http.client
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import audit_reference as ref
from conftest import POSTERN, RUN_UNPRIVILEGED, UNPRIVILEGED_UID, get_json


def audited(start_postern, model_server, tmp_path, audit_dir=None, settings="", routes=(("/v1/", "model"),), **kwargs):
    """Postern with an audit trail in `audit_dir` (writable by Postern's user), routes on /v1/ only."""
    audit_dir = Path(audit_dir or tmp_path / "audit")
    audit_dir.mkdir(exist_ok=True)
    if RUN_UNPRIVILEGED:
        os.chown(audit_dir, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
    key = tmp_path / "audit.pem"
    if not key.exists():
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    extra = (f"audit: {{ path: {audit_dir}/audit.jsonl, key: {key}, origin: postern/test, "
             f"checkpoint_interval: 1s{settings} }}")
    upstreams = kwargs.pop("upstreams", {"model": model_server})
    p = start_postern(upstreams=upstreams, routes=list(routes), extra=extra, **kwargs)
    p.audit_dir = audit_dir
    p.verifier = subprocess.run([str(POSTERN), "audit", "key", "--config", str(p.config)],
                                capture_output=True, text=True, check=True).stdout.strip()
    return p


def call(p, path, method="GET"):
    request = urllib.request.Request(p.url + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers.get("x-request-id"), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("x-request-id"), error.read()


def log_files(p):
    return sorted(str(f) for f in p.audit_dir.iterdir() if f.name.startswith("audit.jsonl"))


def verify(p, *args, files=None):
    return subprocess.run([str(POSTERN), "audit", "verify", *(files or log_files(p)), "--key", p.verifier, *args],
                          capture_output=True, text=True)


def test_every_exchange_is_a_leaf_and_an_independent_verifier_agrees(start_postern, model_server, tmp_path):
    p = audited(start_postern, model_server, tmp_path)
    served = [call(p, "/v1/models") for _ in range(3)]
    refused = call(p, "/nowhere")  # no public route: refused, and recorded all the same
    assert [s for s, _, _ in served] == [200, 200, 200] and refused[0] == 401
    assert p.stop() == 0

    key = ref.VerifierKey(p.verifier)
    records, leaves, checkpoints = ref.read_log(log_files(p), key)
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "postern.start" and kinds[-1] == "postern.stop"
    by_id = {r.get("request_id"): r for r in records if r["kind"] == "request"}
    for status, request_id, _ in served + [refused]:
        assert by_id[request_id]["status"] == status
    assert by_id[refused[1]]["outcome"] == "unauthenticated"
    assert all(r["v"] == 1 and r["peer"].startswith("127.0.0.1:") for r in by_id.values())
    # The last checkpoint covers everything, the stop record included.
    assert checkpoints[-1][1] == len(leaves) and checkpoints[-1][0] == "postern/test"
    result = verify(p)
    assert result.returncode == 0, result.stderr
    assert f"ok: {len(leaves)} records" in result.stdout and "(postern.stop)" in result.stdout
    # Standard output carries the same records for the cluster's collector, each naming its
    # log and the checkpoint that signed up to it; the copy verifies like the file.
    copied = [json.loads(line) for line in Path(p.stdout.name).read_text().splitlines()]
    copied_records = [r for r in copied if "index" in r]
    assert [r["log_origin"] for r in copied_records] == ["postern/test"] * len(records)
    assert all(0 <= r["log_signed"] <= r["index"] for r in copied_records)
    assert [{k: v for k, v in r.items() if k not in ("log_origin", "log_signed")} for r in copied_records] == records
    copy = subprocess.run([str(POSTERN), "audit", "verify", p.stdout.name, "--key", p.verifier],
                          capture_output=True, text=True)
    assert copy.returncode == 0 and f"ok: {len(leaves)} records" in copy.stdout, copy.stderr
    # An edited copy is caught like an edited file.
    edited = tmp_path / "copy.jsonl"
    edited.write_text(Path(p.stdout.name).read_text().replace('"status":401', '"status":200'))
    assert subprocess.run([str(POSTERN), "audit", "verify", str(edited), "--key", p.verifier],
                          capture_output=True, text=True).returncode == 1


def test_a_long_stream_is_recorded_before_its_first_byte_and_again_at_its_end(start_postern, model_server, tmp_path):
    p = audited(start_postern, model_server, tmp_path, routes=(("/", "model"),))
    with urllib.request.urlopen(p.url + "/sse?events=4&delay=0.3", timeout=10) as stream:
        request_id = stream.headers["x-request-id"]
        first = stream.readline()
        assert first.startswith(b"data: ")
        # The caller has a byte of the stream: its start is already in the file.
        started = [json.loads(line) for line in Path(log_files(p)[0]).read_text().splitlines()
                   if '"kind":"request.start"' in line]
        assert [r["request_id"] for r in started] == [request_id] and started[0]["outcome"] == "streaming"
        rest = stream.read()
    assert rest.rstrip().endswith(b"[DONE]")
    p.stop()
    records, _, _ = ref.read_log(log_files(p), ref.VerifierKey(p.verifier))
    mine = [(r["kind"], r["outcome"]) for r in records if r.get("request_id") == request_id]
    assert mine == [("request.start", "streaming"), ("request", "ok")]


def test_proofs_from_postern_check_out_with_an_independent_verifier(start_postern, model_server, tmp_path):
    p = audited(start_postern, model_server, tmp_path)
    for _ in range(6):
        call(p, "/v1/models")
    time.sleep(1.5)  # a checkpoint in the middle
    for _ in range(5):
        call(p, "/v1/models")
    p.stop()
    key = ref.VerifierKey(p.verifier)
    records, leaves, checkpoints = ref.read_log(log_files(p), key)
    final = checkpoints[-1]
    for index in (0, 3, len(leaves) - 1):
        out = subprocess.run([str(POSTERN), "audit", "prove", *log_files(p), "--key", p.verifier, "--index", str(index)],
                             capture_output=True, text=True, check=True).stdout
        proof = json.loads(out)
        assert key.open(proof["checkpoint"]) == final
        path = [ref.base64.b64decode(h) for h in proof["inclusion_proof"]]
        assert ref.verify_inclusion(leaves[index], index, final[1], path, final[2])
        assert not ref.verify_inclusion(leaves[index - 1], index, final[1], path, final[2])
    for earlier in checkpoints[:-1]:
        out = subprocess.run([str(POSTERN), "audit", "prove", *log_files(p), "--key", p.verifier,
                              "--from", str(earlier[1])], capture_output=True, text=True, check=True).stdout
        proof = json.loads(out)
        path = [ref.base64.b64decode(h) for h in proof["consistency_proof"]]
        assert ref.verify_consistency(earlier[1], earlier[2], final[1], final[2], path)


def test_tampering_is_caught_and_placed(start_postern, model_server, tmp_path):
    p = audited(start_postern, model_server, tmp_path)
    for _ in range(4):
        call(p, "/v1/models")
    time.sleep(1.5)
    trusted = tmp_path / "trusted.note"
    lines = Path(log_files(p)[0]).read_text().splitlines(keepends=True)
    trusted.write_text(json.loads([l for l in lines if l.startswith('{"checkpoint"')][-1])["checkpoint"])
    for _ in range(4):
        call(p, "/v1/models")
    p.stop()
    good = Path(log_files(p)[0]).read_text().splitlines(keepends=True)
    assert verify(p, "--trusted", str(trusted)).returncode == 0

    def check(edited):
        copy = tmp_path / "edited.jsonl"
        copy.write_text("".join(edited))
        result = verify(p, files=[str(copy)])
        assert result.returncode == 1, result.stderr
        return result.stderr

    records = [i for i, line in enumerate(good) if line.startswith('{"index"')]
    target = records[3]
    altered = list(good)
    altered[target] = altered[target].replace('"status":200', '"status":403')
    assert "do not match the signed checkpoint" in check(altered)
    # Another copy of the log (here Postern's standard output) names the altered record.
    index = json.loads(good[target])["index"]
    copy = tmp_path / "edited.jsonl"
    placed = verify(p, "--copy", p.stdout.name, files=[str(copy)])
    assert placed.returncode == 1 and f"record {index} was altered" in placed.stderr, placed.stderr
    assert placed.stderr.count("differs from the copy") == 1
    assert "deleted" in check(good[:target] + good[target + 1:])
    swapped = list(good)
    swapped[target], swapped[target + 1] = swapped[target + 1], swapped[target]
    assert "reordered" in check(swapped)
    assert "inserted" in check(good[:target] + [good[target - 1]] + good[target:])
    forged = list(good)
    last = max(i for i, line in enumerate(good) if line.startswith('{"checkpoint"'))
    forged[last] = forged[last].replace("postern/test\\n", "postern/test\\n1", 1)
    assert "signature does not verify" in check(forged)
    # A tail cut at a checkpoint hides nothing inside, but its age shows, and a rewritten
    # history no longer holds the checkpoint an auditor kept.
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(good[:records[1]]))
    assert verify(p, files=[str(cut)]).returncode == 0
    time.sleep(1.1)
    aged = verify(p, "--max-age", "1s", files=[str(cut)])
    assert aged.returncode == 1 and "cut short" in aged.stderr
    rewritten = verify(p, "--trusted", str(trusted), files=[str(cut)])
    assert rewritten.returncode == 1 and "do not cover the trusted checkpoint" in rewritten.stderr


def call_or_cut(p, path):
    """(status, request id, body), or (None, None, b"") when Postern closed the connection
    instead of answering."""
    try:
        return call(p, path)
    except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
        return None, None, b""


@pytest.mark.skipif(os.environ.get("POSTERN_SANITIZER") == "thread",
                    reason="ThreadSanitizer's own runtime faults at start-up (SIGBUS, 'nested bug') in a process "
                           "under RLIMIT_FSIZE; the plain and AddressSanitizer builds run this test")
def test_a_file_size_limit_turns_requests_away_and_serves_nothing_unrecorded(start_postern, model_server, tmp_path):
    # RLIMIT_FSIZE stands in for a full disk without privileges: writes past it fail (EFBIG).
    p = audited(start_postern, model_server, tmp_path, wrapper=["prlimit", "--fsize=6000"])
    answers = [call_or_cut(p, "/v1/models") for _ in range(40)]
    statuses = [status for status, _, _ in answers]
    assert statuses[0] == 200 and statuses[-1] == 503, statuses
    assert b"audit_unavailable" in answers[-1][2]
    code, ready = get_json(p.admin + "/readyz")
    assert code == 503 and "audit trail failing" in json.dumps(ready)
    assert "postern_audit_sink_up 0" in urllib.request.urlopen(p.admin + "/metrics").read().decode()
    assert p.alive()
    p.stop()
    # The failed write was cut back off: the file is whole and verifies.
    result = verify(p)
    assert result.returncode == 0, result.stderr
    records, _, _ = ref.read_log(log_files(p), ref.VerifierKey(p.verifier))
    recorded = {r.get("request_id") for r in records}
    # Every answer a caller got whole is in the file: the request whose record met the
    # failure had its connection closed instead of its answer completed.
    missing = [(i, rid) for i, (status, rid, _) in enumerate(answers) if status == 200 and rid not in recorded]
    assert not missing, (missing, statuses, [r.get("request_id") for r in records][-3:])
    assert statuses.count(None) <= 1


def mount_tmpfs(path, size):
    path.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs",
                                             str(path)], capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")


def test_a_full_disk_refuses_requests_then_recovers_with_nothing_lost(start_postern, model_server, tmp_path):
    disk = tmp_path / "disk"
    mount_tmpfs(disk, "256k")
    try:
        p = audited(start_postern, model_server, tmp_path, audit_dir=disk)
        assert call(p, "/v1/models")[0] == 200
        filler = disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:  # fill the disk to the last page
            while True:
                os.write(fd, b"x" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        statuses = [call_or_cut(p, "/v1/models") for _ in range(30)]
        refused = [s for s in statuses if s[0] == 503]
        assert refused and all(b"audit_unavailable" in body for _, _, body in refused)
        assert get_json(p.admin + "/readyz")[0] == 503
        filler.unlink()
        deadline = time.time() + 3
        while call(p, "/v1/models")[0] != 200:
            assert time.time() < deadline, "did not recover once the disk had room"
            time.sleep(0.1)
        assert get_json(p.admin + "/readyz")[0] == 200
        p.stop()
        result = verify(p)
        assert result.returncode == 0, result.stderr
        records, _, _ = ref.read_log(log_files(p), ref.VerifierKey(p.verifier))
        recorded = {r["request_id"]: r["status"] for r in records if r["kind"] == "request"}
        # Every answer a caller got, served or refused, is in the log (the one whose record
        # met the full disk was cut off instead of completed).
        for status, request_id, _ in statuses:
            assert status is None or recorded.get(request_id) == status
        assert [s for s, _, _ in statuses].count(None) <= 1
    finally:
        subprocess.run(["umount", "-l", str(disk)])


def test_a_recording_shows_and_replays_an_exchange_masked_and_timed_and_an_altered_one_is_caught(start_postern, model_server, tmp_path):
    p = audited(start_postern, model_server, tmp_path, routes=(("/", "model"),),
                settings=", recordings: { max_exchange_bytes: 64KiB }", masking="{ default: { detectors: all } }")
    secret = {"customer": "ann.lee@example.com", "card": "4111 1111 1111 1111"}
    request = urllib.request.Request(p.url + "/echo", data=json.dumps(secret).encode(), method="POST",
                                     headers={"content-type": "application/json", "x-api-key": "not-a-real-token",
                                              "cookie": "session=abc"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        echoed, echo_id = reply.read(), reply.headers["x-request-id"]
    assert b"ann.lee@example.com" not in echoed  # masked on the way back, as always
    with urllib.request.urlopen(p.url + "/sse?events=2&delay=0.5", timeout=10) as stream:
        sse_id = stream.headers["x-request-id"]
        stream.read()
    with urllib.request.urlopen(p.url + "/sse?events=1&delay=0&api_key=sk-live-123", timeout=10) as stream:
        keyed_id = stream.headers["x-request-id"]
        stream.read()
    p.stop()
    recordings = (p.audit_dir / "recordings.jsonl").read_text()
    for never in ("ann.lee@example.com", "4111 1111 1111 1111", "not-a-real-token", "session=abc", "sk-live-123"):
        assert never not in recordings and ref.base64.b64encode(never.encode()).decode()[:16] not in recordings

    def show(request_id):
        return subprocess.run([str(POSTERN), "audit", "show", request_id, *log_files(p), "--key", p.verifier],
                              capture_output=True, text=True)

    shown = json.loads(show(echo_id).stdout)
    assert shown["record"]["request_id"] == echo_id and len(shown["record"]["recording_sha256"]) == 64
    sent = json.loads("".join(c["text"] for c in shown["recording"]["request"]["chunks"]))
    assert set(sent) == {"customer", "card"} and "example.com" not in sent["customer"]
    got = "".join(c["text"] for c in shown["recording"]["response"]["chunks"])
    assert got == echoed.decode()  # exactly what the caller got
    headers = dict(shown["recording"]["request"]["headers"])
    assert "x-api-key" not in headers and "cookie" not in headers and headers["content-type"] == "application/json"
    # An event stream keeps the time of every chunk.
    times = [c["at_ms"] for c in json.loads(show(sse_id).stdout)["recording"]["response"]["chunks"]]
    assert len(times) >= 3 and times[-1] - times[0] >= 400

    def replay(request_id):
        target = model_server.removeprefix("http://")
        return subprocess.run([str(POSTERN), "audit", "replay", request_id, *log_files(p), "--key", p.verifier,
                               "--to", target], capture_output=True, text=True)

    # The recorded request, sent again, gets the recorded answer (the echo of a masked
    # body is that body, the event stream the same events); a credential in the query is
    # never recorded, so that replay asks something else and says so.
    for request_id in (echo_id, sse_id):
        same = replay(request_id)
        assert same.returncode == 0 and same.stdout.startswith("same: status 200"), same.stdout + same.stderr
    assert json.loads(show(sse_id).stdout)["recording"]["request"]["path"] == "/sse?events=2&delay=0.5"
    assert json.loads(show(keyed_id).stdout)["recording"]["request"]["path"] == "/sse?events=1&delay=0&api_key=[withheld]"
    # A recording edited after the fact no longer matches the digest its signed record holds.
    altered = recordings.replace('"status":200', '"status":201', 1)
    (p.audit_dir / "recordings.jsonl").write_text(altered)
    result = show(echo_id)
    assert result.returncode == 1 and "missing or altered" in result.stderr


def test_a_grpc_stream_is_recorded_message_by_message_and_replays_to_the_same_answer(start_postern, model_server,
                                                                                     grpc_server, tmp_path):
    import grpc
    import grpc_echo
    p = audited(start_postern, grpc_server, tmp_path, routes=(("/", "model"),),
                settings=", recordings: { max_exchange_bytes: 64KiB }")
    with grpc.insecure_channel(p.target) as channel:
        echo = grpc_echo.stub(channel)
        sent = [b"first", b"second message", b"x" * 3000]
        bidi = echo["Bidi"](iter(sent), timeout=10)
        assert list(bidi) == sent
        bidi_id = dict(bidi.initial_metadata())["x-request-id"]
        streamed = echo["ServerStream"](b"3 10 0.3", timeout=10)
        assert len(list(streamed)) == 3
        stream_id = dict(streamed.initial_metadata())["x-request-id"]
    p.stop()

    key = ref.VerifierKey(p.verifier)
    records, _, _ = ref.read_log(log_files(p), key)
    # Any gRPC call may be a long stream: its start is in the trail before its first message.
    kinds = [(r["kind"], r["index"]) for r in records if r.get("request_id") == stream_id]
    assert [k for k, _ in kinds] == ["request.start", "request"], kinds
    shown = subprocess.run([str(POSTERN), "audit", "show", stream_id, *log_files(p), "--key", p.verifier],
                           capture_output=True, text=True, check=True)
    response = json.loads(shown.stdout)["recording"]["response"]
    # One chunk per message, whatever DATA frames carried them, each with its own time.
    assert [c["message_bytes"] for c in response["chunks"]] == [10, 10, 10]
    times = [c["at_ms"] for c in response["chunks"]]
    assert times[2] - times[0] >= 500, times
    assert ["grpc-status", "0"] in response["trailers"]
    request = json.loads(subprocess.run([str(POSTERN), "audit", "show", bidi_id, *log_files(p), "--key", p.verifier],
                                        capture_output=True, text=True, check=True).stdout)["recording"]["request"]
    assert [ref.base64.b64decode(c["base64"]) for c in request["chunks"]] == sent

    def replay(request_id):
        return subprocess.run([str(POSTERN), "audit", "replay", request_id, *log_files(p), "--key", p.verifier,
                               "--to", grpc_server.removeprefix("h2c://")], capture_output=True, text=True)

    # Replayed over HTTP/2 to the model server, each call gets the recorded messages and status.
    for request_id, messages in ((bidi_id, 3), (stream_id, 3)):
        same = replay(request_id)
        assert same.returncode == 0, same.stdout + same.stderr
        assert same.stdout.startswith(f"same: status 200, {messages} gRPC message(s)"), same.stdout


def test_showing_and_replaying_through_the_sidecar_are_themselves_recorded(start_postern, model_server, keys, tmp_path):
    from identity_material import mint
    oncall, web = "spiffe://example.org/ns/sre/sa/oncall", "spiffe://example.org/ns/app/sa/web"
    p = audited(start_postern, model_server, tmp_path, routes=(("/", "model"),),
                settings=", recordings: { max_exchange_bytes: 64KiB }", identity=keys.jwt_svid_yaml(),
                admin=f"operators: ['{oncall}']")
    request = urllib.request.Request(p.url + "/echo", data=b'{"q": "hello"}', method="POST",
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        echo_id = reply.headers["x-request-id"]
    admin = p.admin.removeprefix("http://")

    def audit(verb, *args, caller=oncall):
        token = tmp_path / "token"
        token.write_text(mint(keys.svid_key, sub=caller))
        return subprocess.run([str(POSTERN), "audit", verb, *args, "--admin", admin, "--token-file", str(token)],
                              capture_output=True, text=True)

    shown = audit("show", echo_id, "--reason", "incident 42")
    assert shown.returncode == 0, shown.stderr
    exchange = json.loads(shown.stdout)
    assert exchange["record"]["request_id"] == echo_id
    assert json.loads(exchange["recording"]["request"]["chunks"][0]["text"]) == {"q": "hello"}
    replayed = audit("replay", echo_id, "--to", model_server)
    assert replayed.returncode == 0 and replayed.stdout.startswith("same: status 200"), replayed.stdout + replayed.stderr
    # Only operators may look, and a request that was never recorded is not found.
    refused = audit("show", echo_id, caller=web)
    assert refused.returncode == 1 and "403" in refused.stderr
    missing = audit("show", "no-such-request")
    assert missing.returncode == 1 and "404" in missing.stderr
    assert audit("replay", echo_id).returncode != 0  # a replay says where it goes
    p.stop()

    records, _, _ = ref.read_log(log_files(p), ref.VerifierKey(p.verifier))
    accesses = [r for r in records if r["kind"].startswith("recording.")]
    assert [(r["kind"], r["actor"], r["request_id"]) for r in accesses] == [
        ("recording.shown", oncall, echo_id), ("recording.replayed", oncall, echo_id)]
    assert accesses[0]["reason"] == "incident 42" and accesses[1]["to"] == model_server
    assert accesses[0]["recording_sha256"] == next(r for r in records if r.get("request_id") == echo_id
                                                   and r["kind"] == "request")["recording_sha256"]


def test_replay_over_tls_speaks_http1_and_grpc_with_alpn(start_postern, model_server, grpc_server, tmp_path):
    import ssl
    import threading
    from concurrent import futures
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import grpc
    import grpc_echo
    from test_audit_export import make_server_certificate
    ca, cert, key = make_server_certificate(tmp_path / "tls")

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            self.send_response(200)
            self.send_header("content-type", self.headers["content-type"])
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    https = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    https.socket = context.wrap_socket(https.socket, server_side=True)
    threading.Thread(target=https.serve_forever, daemon=True).start()
    secure = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    secure.add_generic_rpc_handlers((grpc_echo.handler(),))
    grpc_port = secure.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())]))
    secure.start()
    try:
        p = audited(start_postern, model_server, tmp_path, routes=(("/echo", "model"), ("/postern.test.Echo/", "grpc")),
                    settings=", recordings: { max_exchange_bytes: 64KiB }",
                    upstreams={"model": model_server, "grpc": grpc_server})
        request = urllib.request.Request(p.url + "/echo", data=b'{"q": 1}', method="POST",
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            echo_id = reply.headers["x-request-id"]
        with grpc.insecure_channel(p.target) as channel:
            bidi = grpc_echo.stub(channel)["Bidi"](iter([b"one", b"two"]), timeout=10)
            assert list(bidi) == [b"one", b"two"]
            grpc_id = dict(bidi.initial_metadata())["x-request-id"]
        p.stop()
        for request_id, port in ((echo_id, https.server_address[1]), (grpc_id, grpc_port)):
            result = subprocess.run([str(POSTERN), "audit", "replay", request_id, *log_files(p), "--key", p.verifier,
                                     "--to", f"https://localhost:{port}", "--ca", str(ca)], capture_output=True, text=True)
            assert result.returncode == 0 and result.stdout.startswith("same: status 200"), result.stdout + result.stderr
        # The server's certificate is checked: another CA's is refused.
        refused = subprocess.run([str(POSTERN), "audit", "replay", echo_id, *log_files(p), "--key", p.verifier,
                                  "--to", f"https://localhost:{https.server_address[1]}", "--ca", str(p.config)],
                                 capture_output=True, text=True)
        assert refused.returncode == 1, refused.stdout + refused.stderr
    finally:
        https.shutdown()
        secure.stop(grace=None)
