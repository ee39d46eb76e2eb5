"""Configuration reload while serving: a changed file (or SIGHUP) puts new functions, rules,
guards and upstream credentials in place for the next request; a bad file is rejected with
its reasons and the running configuration keeps serving."""
import json
import signal
import time

import pytest

from conftest import curl, share_with_postern
from identity_material import mint

TD = "spiffe://example.org"
WEB, OPS = f"{TD}/ns/app/sa/web", f"{TD}/ns/ops/sa/admin"


def policy(tmp_path, rules="[]", token="inference-token"):
    return f"""
operations:
  - {{ methods: [GET], path: /headers, function: inference, name: headers }}
functions:
  inference:
    callers: ['{TD}/ns/app/*']
    upstream_credential: {{ file: {tmp_path / token} }}
rules: {rules}
"""


@pytest.fixture
def running(start_postern, model_server, keys, tmp_path):
    (tmp_path / "inference-token").write_text("first-secret\n")
    (tmp_path / "rotated-token").write_text("second-secret\n")
    share_with_postern(tmp_path)
    p = start_postern(upstreams={"model": model_server}, routes=[("/", "model", False)], tls=keys.tls_yaml(),
                      identity=keys.identity_yaml(), extra=policy(tmp_path))
    p.original = p.config.read_text()
    return p


def headers_seen(p, keys, caller=WEB):
    status, _, body = curl("--cacert", str(keys.dir / "ca-example.org.pem"), "-H",
                           f"authorization: Bearer {mint(keys.svid_key, sub=caller)}", f"{p.url}/headers")
    return status, json.loads(body) if status == 200 else body


def rewrite(p, text):
    """Replaces the file as a ConfigMap update does: a new file renamed over the old."""
    staged = p.config.with_suffix(".new")
    staged.write_text(text)
    staged.chmod(0o644)
    staged.rename(p.config)


def wait_for(p, message, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = p.stderr_path.read_text()
        if message in text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"no '{message}' in: {p.stderr_path.read_text()}")


def test_a_changed_file_applies_to_the_next_request(running, keys, tmp_path):
    assert headers_seen(running, keys)[1]["authorization"] == "Bearer first-secret"
    deny = "[{ name: app-frozen, effect: deny, namespaces: [app] }]"
    rewrite(running, running.original.replace("rules: []", f"rules: {deny}"))
    log = wait_for(running, "configuration reloaded")
    assert "changed: rules" in log
    status, body = headers_seen(running, keys)
    assert status == 403 and b"app-frozen" in body
    # The function's credential follows the file the configuration names now.
    rewrite(running, running.original.replace("inference-token", "rotated-token"))
    wait_for(running, "changed: functions, rules")
    status, seen = headers_seen(running, keys)
    assert status == 200 and seen["authorization"] == "Bearer second-secret"


@pytest.mark.parametrize("bad,reason", [
    ("rules: [{ name: x, effect: perhaps }]", "rules[0].effect: expected one of allow, deny, approval"),
    ("rules: [{ name: x, effect: deny }\n", "not valid YAML"),
    ("functions: { inference: { callers: ['*'] } }", "functions.inference.callers[0]"),
])
def test_a_bad_file_is_rejected_and_the_running_one_keeps_serving(running, keys, bad, reason):
    rewrite(running, running.original.replace("rules: []", bad) if "rules" in bad
            else running.original.split("functions:")[0] + bad + "\n")
    log = wait_for(running, "configuration reload rejected")
    assert reason in log and "keeping the running one" in log
    status, seen = headers_seen(running, keys)
    assert status == 200 and seen["authorization"] == "Bearer first-secret"
    assert running.alive()


def test_a_missing_credential_file_rejects_the_reload(running, keys):
    rewrite(running, running.original.replace("inference-token", "no-such-token"))
    log = wait_for(running, "configuration reload rejected")
    assert "no-such-token" in log
    assert headers_seen(running, keys)[1]["authorization"] == "Bearer first-secret"


def test_sighup_rereads_and_restart_only_keys_are_said_not_applied(running, keys):
    running.proc.send_signal(signal.SIGHUP)
    wait_for(running, "configuration reread, nothing to apply")
    assert running.alive()
    rewrite(running, running.original.replace("event_loop_threads: 1", "event_loop_threads: 2"))
    running.proc.send_signal(signal.SIGHUP)
    log = wait_for(running, "takes effect on restart")
    assert "runtime changed" in log
    assert headers_seen(running, keys)[0] == 200


def test_reloads_and_rotations_under_traffic_fail_no_request(running, keys, tmp_path):
    """h2load keeps 4 connections busy while the configuration is rewritten (and SIGHUP sent)
    and the function's credential file rotated: every request is answered 200."""
    import subprocess
    import threading
    token = mint(keys.svid_key, sub=WEB)
    out = {}

    def load():
        out["run"] = subprocess.run(
            ["h2load", "-n", "3000", "-c", "4", "-m", "4", "-t", "1", "-H", f"authorization: Bearer {token}",
             f"{running.url}/headers"], capture_output=True, text=True, timeout=120)

    # h2load speaks TLS here (the fixture's listener): trust is not checked by h2load.
    thread = threading.Thread(target=load)
    thread.start()
    for round in range(4):
        time.sleep(0.3)
        rules = "[{ name: never, effect: deny, namespaces: [nowhere] }]" if round % 2 == 0 else "[]"
        rewrite(running, running.original.replace("rules: []", f"rules: {rules}"))
        running.proc.send_signal(signal.SIGHUP)
        (tmp_path / "inference-token").write_text(f"secret-{round}\n")
    thread.join(150)
    text = out["run"].stdout
    assert "3000 succeeded" in text and "status codes: 3000 2xx" in text, text[-800:]
    assert "configuration reloaded" in running.stderr_path.read_text()
