"""Start-up as a platform team meets it: credential files that spiffe-helper writes a moment
after the pod starts are waited for (not ready meanwhile, never a crash loop), `postern check`
reports every problem in one pass with its line and why a file cannot be read, and
Postern's own messages can be JSON lines."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import get_json, POSTERN, RUN_UNPRIVILEGED, curl, free_port, share_with_postern, unprivileged, wait_for_port
from identity_material import Keys, make_svids, mint


def wait_until(predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def spiffe_config(tmp_path, directory, model_server, wait="30s", extra=""):
    port, admin = free_port(), free_port()
    config = tmp_path / "postern.yaml"
    config.write_text(
        f"listen: {{ address: 127.0.0.1:{port}, tls: {{ certificate: {directory}/server.pem, "
        f"private_key: {directory}/server-pkcs8.key }} }}\n"
        f"admin: {{ address: 127.0.0.1:{admin} }}\n"
        f"upstreams: {{ model: {{ url: '{model_server}' }} }}\n"
        f"identity: {{ trust_domain: example.org, reload_interval: 200ms, wait_for_credentials: {wait}, "
        f"x509_bundles: {{ example.org: {directory}/ca-example.org.pem }}, "
        f"jwt_issuers: [{{ kind: jwt-svid, bundle: {directory}/example.org.jwks, audience: 'spiffe://example.org/postern' }}] }}\n"
        + extra)
    share_with_postern(tmp_path)
    return config, port, admin


def start(config, stderr):
    return subprocess.Popen(unprivileged([str(POSTERN), "run", "--config", str(config)]),
                            stdout=subprocess.DEVNULL, stderr=stderr)


def test_missing_credential_files_are_waited_for(tmp_path, model_server):
    made = Keys(make_svids(tmp_path / "made"))
    spiffe = tmp_path / "spiffe"   # what spiffe-helper will fill in, not there yet
    config, port, admin = spiffe_config(tmp_path, spiffe, model_server)
    log = tmp_path / "stderr"
    with open(log, "w") as stderr:
        proc = start(config, stderr)
    try:
        wait_for_port(admin)
        status, body = get_json(f"http://127.0.0.1:{admin}/readyz")
        assert status == 503 and "waiting for credential files" in body["reason"]
        assert f"{spiffe}/server.pem" in body["reason"]
        assert get_json(f"http://127.0.0.1:{admin}/healthz")[0] == 200  # alive: no restart
        assert "waiting for credential files" in log.read_text()
        time.sleep(1)
        assert proc.poll() is None
        # spiffe-helper writes the files
        shutil.copytree(made.dir, spiffe)
        share_with_postern(spiffe)
        wait_until(lambda: get_json(f"http://127.0.0.1:{admin}/readyz")[0] == 200)
        status, _, _ = curl("--cacert", str(spiffe / "ca-example.org.pem"), "-H",
                            f"authorization: Bearer {mint(made.svid_key)}", f"https://127.0.0.1:{port}/v1/models")
        assert status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_the_wait_has_a_limit(tmp_path, model_server):
    config, _, _ = spiffe_config(tmp_path, tmp_path / "never", model_server, wait="1s")
    out = subprocess.run(unprivileged([str(POSTERN), "run", "--config", str(config)]),
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert "server.pem: cannot read the file: no such file" in out.stderr


def test_a_signal_ends_the_wait(tmp_path, model_server):
    config, _, admin = spiffe_config(tmp_path, tmp_path / "never", model_server)
    proc = start(config, subprocess.PIPE)
    wait_for_port(admin)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert "SIGTERM while waiting for credentials" in proc.stderr.read().decode()


def test_files_that_exist_but_are_wrong_fail_start_up(tmp_path, model_server):
    made = Keys(make_svids(tmp_path / "made"))
    (made.dir / "server-pkcs8.key").write_text("not a key\n")
    config, _, _ = spiffe_config(tmp_path, made.dir, model_server)
    started = time.time()
    out = subprocess.run(unprivileged([str(POSTERN), "run", "--config", str(config)]),
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and time.time() - started < 10
    assert "listen.tls" in out.stderr


def test_check_reports_parse_and_semantic_problems_in_one_pass(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("upstreams:\n  a: { url: 'http://127.0.0.1:1' }\n"
                   "routes:\n  - { prefix: /v1, upstream: missing }\n"
                   "identity: { max_token_lifetime: 30d, colour: red }\n"
                   "limits: { idle_timeout: 300, max_request_body: 64mb }\n")
    out = subprocess.run([str(POSTERN), "check", str(bad)], capture_output=True, text=True)
    assert out.returncode == 1
    for expected in ["bad.yaml:4: routes[0].upstream: no upstream called 'missing'",
                     "bad.yaml:5: identity.colour: unknown key",
                     "bad.yaml:5: identity.max_token_lifetime:",
                     "bad.yaml:6: limits.idle_timeout: '300' needs a unit"]:
        assert expected in out.stderr, (expected, out.stderr)
    assert "max_request_body" not in out.stderr  # 64mb is a size


@pytest.mark.parametrize("case", ["missing", "directory", "unreadable"])
def test_check_says_why_a_file_cannot_be_read(tmp_path, case):
    path = tmp_path / "postern.yaml"
    if case == "directory":
        path.mkdir()
    elif case == "unreadable":
        if not RUN_UNPRIVILEGED:
            pytest.skip("root reads every file")
        path.write_text("upstreams: { a: { url: 'http://127.0.0.1:1' } }\n")
    share_with_postern(tmp_path)
    if case == "unreadable":
        os.chmod(path, 0o600)  # the folders are open to Postern, the file is not
    out = subprocess.run(unprivileged([str(POSTERN), "check", str(path)]), capture_output=True, text=True)
    reason = {"missing": "no such file", "directory": "is a directory", "unreadable": "permission denied"}[case]
    assert out.returncode == 1 and f"cannot read the file: {reason}" in out.stderr, out.stderr


def test_check_help_prints_help():
    out = subprocess.run([str(POSTERN), "check", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "postern check FILE" in out.stdout


def test_messages_on_standard_error_can_be_json_lines(tmp_path, model_server):
    made = Keys(make_svids(tmp_path / "made"))
    config, _, admin = spiffe_config(tmp_path, made.dir, model_server, extra="runtime: { log_format: json }\n")
    proc = start(config, subprocess.PIPE)
    wait_for_port(admin)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    lines = [json.loads(line) for line in proc.stderr.read().decode().splitlines()]
    assert lines and all({"ts", "level", "message"} <= set(line) for line in lines)
    assert any("listening on" in line["message"] and line["level"] == "info" for line in lines)
    assert lines[-1]["message"] == "postern: stopped"
    # Problems too, even when other keys are wrong.
    bad = tmp_path / "bad.yaml"
    bad.write_text("runtime: { log_format: json }\nupstreams: { a: { url: 'ftp://x' } }\n")
    out = subprocess.run([str(POSTERN), "run", "--config", str(bad)], capture_output=True, text=True)
    problem = json.loads(out.stderr.splitlines()[0])
    assert out.returncode == 1 and problem["level"] == "error" and "upstreams.a.url" in problem["message"]
