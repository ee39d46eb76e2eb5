"""SIEM export: every record (approvals' whole life included) shipped to Debian's rsyslog as RFC 5424 over TCP, as OCSF
events that validate against OCSF's published 1.3.0 schema, each naming the log, its
index and the newest checkpoint so the SIEM's copy can be checked against the signed log."""
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import jsonschema
import pytest
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

import audit_reference as ref
from conftest import POSTERN, RUN_UNPRIVILEGED, UNPRIVILEGED_UID, free_port, wait_for_port
from test_audit import audited, call, log_files

CLASSES = {3003: "authorize_session", 6002: "application_lifecycle", 6003: "api_activity"}


def start_rsyslog(work, tls=None):
    """Debian's rsyslogd receiving RFC 5424 over TCP (or TLS with `tls`: (ca, cert, key)),
    writing each message's MSGID, structured data and MSG to a file."""
    daemon = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not Path(daemon).exists():
        pytest.skip("Debian's rsyslog is not installed (scripts/setup installs it)")
    port = free_port()
    work.mkdir()
    received = work / "received.log"
    driver = ""
    module = 'module(load="imtcp")'
    if tls:
        ca, cert, key = tls
        driver = (f' DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile="{ca}"'
                  f' DefaultNetstreamDriverCertFile="{cert}" DefaultNetstreamDriverKeyFile="{key}"')
        module = 'module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")'
    config = work / "rsyslog.conf"
    config.write_text(f"""
global(workDirectory="{work}" maxMessageSize="64k"{driver})
{module}
template(name="fields" type="string" string="%msgid%|%structured-data%|%msg%\\n")
input(type="imtcp" address="127.0.0.1" port="{port}")
*.* action(type="omfile" file="{received}" template="fields")
""")
    process = subprocess.Popen([daemon, "-n", "-f", str(config), "-i", str(work / "pid")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process, port, received


@pytest.fixture
def rsyslog(tmp_path):
    process, port, received = start_rsyslog(tmp_path / "rsyslog")
    yield port, received
    process.terminate()
    process.wait(timeout=10)


def ocsf_validators():
    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version="1.3.0"))
    return {uid: jsonschema.Draft202012Validator(schema.get_class_schema(class_name=name))
            for uid, name in CLASSES.items()}


def received_messages(path, count, timeout=10):
    deadline = time.time() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count or time.time() > deadline:
            return [line.split("|", 2) for line in lines]
        time.sleep(0.1)


def test_every_record_reaches_rsyslog_as_a_valid_ocsf_event(start_postern, model_server, tmp_path, rsyslog):
    port, received = rsyslog
    p = audited(start_postern, model_server, tmp_path,
                settings=f", syslog: {{ address: '127.0.0.1:{port}', format: ocsf }}")
    for _ in range(3):
        call(p, "/v1/models")
    call(p, "/nowhere")
    try:  # an admin API call without a token: refused, and recorded and shipped as well
        urllib.request.urlopen(p.admin + "/admin/v1/revocations", timeout=5)
    except urllib.error.HTTPError as error:
        assert error.code == 401
    p.stop()
    records, _, _ = ref.read_log(log_files(p), ref.VerifierKey(p.verifier))
    messages = received_messages(received, len(records))
    assert len(messages) == len(records), (len(messages), len(records))

    validators = ocsf_validators()
    kinds = set()
    for (msgid, sd, body), record in zip(messages, records):
        event = json.loads(body.strip())
        validators[event["class_uid"]].validate(event)
        params = dict(re.findall(r'(\w+)="([^"]*)"', sd))
        assert params["origin"] == "postern/test" and int(params["index"]) == record["index"]
        assert msgid == record["kind"] and event["metadata"]["sequence"] == record["index"]
        assert event["unmapped"]["postern"] == record  # the signed record itself rides along
        kinds.add(record["kind"])
        if record["kind"] == "request":
            assert event["class_uid"] == 6003 and event["api"]["request"]["uid"] == record["request_id"]
            assert event["status_id"] == (1 if record["outcome"] == "ok" else 2)
    assert {"postern.start", "request", "admin.call", "postern.stop"} <= kinds


def test_a_receiver_that_comes_late_still_gets_what_was_queued(start_postern, model_server, tmp_path):
    port = free_port()  # nothing listens yet
    p = audited(start_postern, model_server, tmp_path,
                settings=f", syslog: {{ address: '127.0.0.1:{port}', format: json }}")
    for _ in range(3):
        call(p, "/v1/models")
    time.sleep(0.5)
    metrics = urllib.request.urlopen(p.admin + "/metrics").read().decode()
    pending = re.search(r'postern_audit_export_pending\{target="127.0.0.1:\d+"\} (\d+)', metrics)
    assert pending and int(pending.group(1)) >= 4  # start + three requests, waiting
    assert call(p, "/v1/models")[0] == 200  # an absent SIEM never stops the data path
    with socket_server(port) as accepted:
        deadline = time.time() + 5
        while accepted.data().count(b"<134>1 ") < 5 and time.time() < deadline:  # local0.info
            time.sleep(0.1)
        data = accepted.data()
    frames = re.findall(rb"(\d+) (<\d+>1 )", data)
    assert len(frames) >= 5 and b'"kind":"request"' in data


class socket_server:
    """A bare TCP receiver that collects what it is sent."""

    def __init__(self, port):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.chunks = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        connection, _ = self.sock.accept()
        connection.settimeout(3)
        try:
            while chunk := connection.recv(65536):
                self.chunks.append(chunk)
        except OSError:
            pass

    def data(self):
        return b"".join(self.chunks)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.sock.close()


def test_an_approvals_life_is_in_the_trail_and_reaches_the_siem(start_postern, model_server, tmp_path, rsyslog, keys):
    from test_approvals import ALICE, OPS, POLICY, admin, approval_id, load
    port, received = rsyslog
    audit_dir = tmp_path / "audit"
    audit_dir.mkdir()
    if RUN_UNPRIVILEGED:
        os.chown(audit_dir, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
    key = tmp_path / "audit.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    audit = (f"audit: {{ path: {audit_dir}/audit.jsonl, key: {key}, origin: postern/test, "
             f"syslog: {{ address: '127.0.0.1:{port}', format: ocsf }} }}")
    p = start_postern(upstreams={"model": model_server}, public=False, identity=keys.jwt_svid_yaml(),
                      extra=POLICY + audit, admin=f"operators: ['{OPS}']")
    p.audit_dir = audit_dir
    approved = approval_id(load(p, keys, '{"model": "m", "n": 1}')[1])
    admin(p, keys, "POST", f"/admin/v1/approvals/{approved}/approve", {"reason": "change 7"})
    expiring = approval_id(load(p, keys, '{"model": "m", "n": 2}')[1])
    time.sleep(2.5)  # pending_ttl: 2s
    admin(p, keys, "GET", f"/admin/v1/approvals/{expiring}", caller=OPS)
    p.stop()
    verifier = subprocess.run([str(POSTERN), "audit", "key", "--config", str(p.config)], capture_output=True,
                              text=True, check=True).stdout.strip()
    records, _, _ = ref.read_log(log_files(p), ref.VerifierKey(verifier))
    life = [(r["kind"], r["approval"]) for r in records if r["kind"].startswith("approval.")]
    assert life == [("approval.pending", approved), ("approval.approved", approved),
                    ("approval.pending", expiring), ("approval.expired", expiring)]
    decided = next(r for r in records if r["kind"] == "approval.approved")
    assert decided["verdicts"] == [{"approver": ALICE, "decision": "approve", "reason": "change 7"}]
    assert decided["requester"].endswith("/sa/deployer") and len(decided["digest"]) == 64
    messages = received_messages(received, len(records))
    validators = ocsf_validators()
    events = [json.loads(body) for _, _, body in messages]
    for event in events:
        validators[event["class_uid"]].validate(event)
    sessions = [e for e in events if e["class_uid"] == 3003]
    assert [e["status"] for e in sessions] == ["pending", "approved", "pending", "expired"]


def make_server_certificate(directory):
    """A CA and a certificate for `localhost` it signed, with openssl."""
    directory.mkdir()
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(ca_key),
        "-out", str(ca), "-days", "1", "-subj", "/CN=test syslog CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=localhost")
    ext = directory / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-out", str(cert),
        "-days", "1", "-extfile", str(ext))
    return ca, cert, key


def test_records_reach_rsyslog_over_tls_and_an_untrusted_receiver_gets_nothing(start_postern, model_server, tmp_path):
    ca, cert, key = make_server_certificate(tmp_path / "pki")
    process, port, received = start_rsyslog(tmp_path / "rsyslog", tls=(ca, cert, key))
    other_ca, _, _ = make_server_certificate(tmp_path / "other")
    try:
        p = audited(start_postern, model_server, tmp_path,
                    settings=f", syslog: {{ address: '127.0.0.1:{port}', format: json, "
                             f"tls: {{ ca: {ca}, server_name: localhost }} }}")
        for _ in range(3):
            call(p, "/v1/models")
        p.stop()
        records, _, _ = ref.read_log(log_files(p), ref.VerifierKey(p.verifier))
        messages = received_messages(received, len(records))
        assert [json.loads(body) for _, _, body in messages] == records
        # A receiver whose certificate does not chain to the configured CA is sent nothing.
        (tmp_path / "second").mkdir()
        q = audited(start_postern, model_server, tmp_path / "second",
                    settings=f", syslog: {{ address: '127.0.0.1:{port}', format: json, "
                             f"tls: {{ ca: {other_ca}, server_name: localhost }} }}")
        call(q, "/v1/models")
        time.sleep(0.5)
        metrics = urllib.request.urlopen(q.admin + "/metrics").read().decode()
        assert re.search(r'postern_audit_exported_records_total\{target="127.0.0.1:\d+"\} 0', metrics)
        q.stop()
        time.sleep(0.3)
        assert len(received.read_text().splitlines()) == len(records)
    finally:
        process.terminate()
        process.wait(timeout=10)
